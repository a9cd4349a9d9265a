"""Every notebook starts with the Colab cell (tools/colab_cell.py), and the cell installs
vaelib in Colab only: anywhere else it does nothing and prints nothing."""
from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import colab_cell  # noqa: E402  (tools/colab_cell.py)

NOTEBOOKS = sorted(ROOT.glob("chapters/*.ipynb")) + sorted(ROOT.glob("pages/*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT)))
def test_notebook_starts_with_the_colab_cell(path):
    first = nbformat.read(path, as_version=4).cells[0]
    assert first.cell_type == "code" and first.source == colab_cell.source(), (
        f"{path.name} must start with the Colab cell: run "
        f"python tools/colab_cell.py {path.relative_to(ROOT)}")
    assert first.metadata.get("tags") == ["remove-cell"], "hide it on the website: remove-cell"
    assert not first.get("outputs"), "outside Colab the cell prints nothing"


def _run(source: str, colab: bool, monkeypatch) -> list:
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda args, **kw: calls.append((args, kw)))
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    else:
        monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    exec(compile(source, "<colab cell>", "exec"), {})
    return calls


def test_the_cell_does_nothing_outside_colab(monkeypatch, capsys):
    assert _run(colab_cell.source(), colab=False, monkeypatch=monkeypatch) == []
    assert capsys.readouterr() == ("", "")


def test_the_cell_installs_vaelib_from_the_repository_in_colab(monkeypatch):
    [(args, kw)] = _run(colab_cell.source(), colab=True, monkeypatch=monkeypatch)
    assert args[:4] == [sys.executable, "-m", "pip", "install"]
    assert args[-1] == "vaelib @ git+https://github.com/vae-book/vae-book@main"
    assert kw == {"check": True}


def test_the_requirement_follows_the_configured_repository():
    config = {"repository": {"url": "https://github.com/someone/fork/", "branch": "edition-2"}}
    expected = "vaelib @ git+https://github.com/someone/fork@edition-2"
    assert colab_cell.requirement(config) == expected
    assert "someone/fork@edition-2" in colab_cell.source(config)


def test_put_first_inserts_once_and_updates(tmp_path):
    path = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# T")]), path)
    assert colab_cell.put_first(path) and not colab_cell.put_first(path)
    cells = nbformat.read(path, as_version=4).cells
    assert [c.cell_type for c in cells] == ["code", "markdown"]
    assert cells[0].source == colab_cell.source()
