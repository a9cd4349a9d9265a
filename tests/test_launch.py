"""Launch buttons: every notebook page links to Binder and Colab correctly, and the Binder
environment (``binder/``) resolves.

The link test reads the built website (``make book``; skips without it, except under
``CI=true``). The resolution test runs ``pip install --dry-run --ignore-installed`` on
``binder/requirements.txt`` plus this checkout (vaelib): it proves that the pins form one
consistent, installable set for CPython 3.11 on Linux x86-64 with torch's CPU build and
no CUDA package, and that vaelib's own dependencies are met by them. PyTorch's CPU index
is out of reach on a machine limited to PyPI; there the local copy of the same CPU wheel
(pip's ``find-links``) stands in for it, and the test says so. It does not prove that
mybinder.org builds the image, which needs Docker and the network.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from _browser import missing

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
BINDER = ROOT / "binder"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
NOTEBOOKS = sorted(ROOT.glob("chapters/*.ipynb")) + sorted(ROOT.glob("pages/*.ipynb"))
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        href = dict(attrs).get("href")
        if tag == "a" and href and href.startswith("http"):
            self.hrefs.append(href)


def _repository() -> tuple[str, str, str]:
    repo = CONFIG["repository"]
    owner, name = urlparse(repo["url"]).path.strip("/").split("/")[:2]
    return owner, name, repo.get("branch", "main")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_launch_links_open_this_notebook_on_binder_and_colab(notebook):
    page = SITE / notebook.relative_to(ROOT).with_suffix(".html")
    if not page.exists():
        missing(f"the website is not built ({page.relative_to(ROOT)}); run `make book`",
                "launch-link test")
    parser = _Links()
    parser.feed(page.read_text())
    path = notebook.relative_to(ROOT).as_posix()
    owner, name, branch = _repository()
    binder = [h for h in parser.hrefs if urlparse(h).netloc == urlparse(
        CONFIG["launch_buttons"]["binderhub_url"]).netloc]
    colab = [h for h in parser.hrefs if urlparse(h).netloc == "colab.research.google.com"]
    assert len(binder) == 1 and len(colab) == 1, f"{page.name}: Binder {binder}, Colab {colab}"
    url = urlparse(binder[0])
    assert url.scheme == "https" and url.path == f"/v2/gh/{owner}/{name}/{branch}"
    assert parse_qs(url.query) == {"urlpath": [f"lab/tree/{path}"]}   # JupyterLab, this file
    url = urlparse(colab[0])
    assert url.scheme == "https" and not url.query
    assert url.path == f"/github/{owner}/{name}/blob/{branch}/{path}"
    assert (ROOT / path).is_file()
    placeholders = [h for h in parser.hrefs if "example.org" in h or "example.com" in h]
    assert not placeholders, f"{page.name} links to a placeholder: {placeholders}"


def test_binder_environment_is_the_tested_one_with_cpu_torch():
    lines = [ln.strip() for ln in (BINDER / "requirements.txt").read_text().splitlines()
             if ln.strip() and not ln.startswith("#")]
    assert lines == [f"--extra-index-url {TORCH_CPU_INDEX}", "-r ../requirements.txt"]
    assert (BINDER / "runtime.txt").read_text().strip() == \
        f"python-{sys.version_info.major}.{sys.version_info.minor}"
    post_build = BINDER / "postBuild"
    assert os.access(post_build, os.X_OK)
    assert "pip install --no-deps --no-cache-dir ." in post_build.read_text()


def _reachable(url: str, timeout: float = 8) -> bool:
    try:
        urllib.request.urlopen(url, timeout=timeout)
        return True
    except OSError:
        return False


def _local_cpu_wheel(version: str) -> Path | None:
    """pip's find-links copy of torch ``version``'s CPU build, if this machine has one."""
    done = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True,
                          text=True)
    dirs = re.findall(r"find-links='([^']*)'", done.stdout) + [os.environ.get("PIP_FIND_LINKS", "")]
    for d in filter(None, " ".join(dirs).split()):
        wheels = sorted(Path(d.removeprefix("file://")).glob(f"torch-{version}+cpu-*.whl"))
        if wheels:
            return wheels[0]
    return None


def test_binder_requirements_resolve(tmp_path):
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)$", (ROOT / "requirements.txt").read_text(),
                           re.M))
    requirements = (BINDER / "requirements.txt").read_text().replace(
        "-r ../requirements.txt", f"-r {ROOT / 'requirements.txt'}")
    if not _reachable("https://pypi.org/simple/pip/"):
        missing("PyPI is out of reach: cannot resolve binder/requirements.txt", "Binder test")
    if not _reachable(f"{TORCH_CPU_INDEX}/torch/"):
        wheel = _local_cpu_wheel(pins["torch"])
        if wheel is None:
            missing(f"neither {TORCH_CPU_INDEX} nor a local torch {pins['torch']}+cpu wheel "
                    "is available", "Binder test")
        print(f"{TORCH_CPU_INDEX} is out of reach: {wheel.name} from pip's find-links stands in")
        requirements = requirements.replace(f"--extra-index-url {TORCH_CPU_INDEX}", "")
    (tmp_path / "requirements.txt").write_text(requirements)
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
         "--report", str(report), "-r", str(tmp_path / "requirements.txt"), str(ROOT)],
        capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, f"binder/requirements.txt does not resolve:\n{done.stderr[-3000:]}"
    resolved = {i["metadata"]["name"].lower().replace("_", "-"): i["metadata"]["version"]
                for i in json.loads(report.read_text())["install"]}
    assert resolved["torch"] == f"{pins['torch']}+cpu", resolved["torch"]
    assert not [n for n in resolved if n.startswith(("nvidia-", "triton"))], "CUDA packages"
    assert resolved["vaelib"]
    for name, version in pins.items():   # what CI tested is what Binder installs
        key = name.lower().replace("_", "-")
        assert resolved[key].split("+")[0] == version, (name, resolved[key], version)
