"""The live sliders, as a lecturer uses them: JupyterLab in headless Chromium.

Starts JupyterLab on 127.0.0.1 over a copy of the how-to notebook (a copy, so that
JupyterLab's autosave never touches the committed file), runs all cells from the menu,
drags a slider and checks that the figure changes and that the page shows the live
widget rather than the static HTML fallback, and that the kernel drew the slider frames
lazily (a cell added to the copy prints ``vaelib.widgets.frames_mode()``), as in a lecture. Skips when Chromium or playwright
is missing, except under ``CI=true``, where it fails instead.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from _browser import CHROMIUM_ARGS, chromium_executable, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "pages" / "how_to_use.ipynb"

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory):
    root = tmp_path_factory.mktemp("lab")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(
        'from vaelib.widgets import frames_mode\nprint(f"frames: {frames_mode()}")'))
    nbformat.write(nb, root / NOTEBOOK.name)
    port = _free_port()
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
           "--ip=127.0.0.1", f"--ServerApp.root_dir={root}", "--IdentityProvider.token=",
           "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True", "--allow-root",
           "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    # as a lecturer starts it: no VAEBOOK_FRAMES (make test sets it for the builds)
    env = {k: v for k, v in os.environ.items() if k != "VAEBOOK_FRAMES"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**env, "JUPYTER_CONFIG_DIR": str(root / ".config")})
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("JupyterLab did not start within 60 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_live_slider_redraws_the_figure_in_jupyterlab(lab_url):
    executable = chromium_executable()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{lab_url}/lab/tree/{NOTEBOOK.name}")
        page.wait_for_selector(".jp-Notebook", timeout=60_000)
        # wait until the kernel is connected and idle before running anything
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)
        time.sleep(1)
        page.get_by_role("menuitem", name="Run", exact=True).click(timeout=30_000)
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click(timeout=30_000)
        # the live widget (not the static fallback) appears once the explorer cell ran
        page.wait_for_selector(".widget-image", timeout=120_000)
        image = page.locator(".widget-image").first
        image.scroll_into_view_if_needed()
        before = image.get_attribute("src")
        handle = page.locator(".widget-hslider .noUi-handle").first
        box = handle.bounding_box()
        y = box["y"] + box["height"] / 2
        page.mouse.move(box["x"] + box["width"] / 2, y)
        page.mouse.down()
        page.mouse.move(box["x"] + 200, y, steps=4)
        page.mouse.up()
        start = time.perf_counter()
        while image.get_attribute("src") == before and time.perf_counter() - start < 5:
            time.sleep(0.005)
        elapsed = time.perf_counter() - start
        assert image.get_attribute("src") != before, "moving the σ slider did not redraw"
        print(f"live redraw observed after {1e3 * elapsed:.0f} ms", file=sys.stderr)
        # the kernel JupyterLab started drew the frames lazily (vaelib.widgets.frames_mode)
        page.get_by_text("frames: lazy").wait_for(timeout=60_000)
        assert not errors, f"JavaScript errors in JupyterLab: {errors}"
        browser.close()
