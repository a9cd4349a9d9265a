"""The first cell of every notebook: in Colab it installs ``vaelib``; elsewhere it does nothing.

Usage: .venv/bin/python tools/colab_cell.py chapters/NN_topic.ipynb [...]
    puts the cell first in each notebook (or brings an existing one up to date).

A notebook opened in Colab from the website's launch button runs on Colab's own Python,
which has torch, numpy and the rest but not this book's library. The cell installs it
from the repository named in ``_config.yml`` (``repository.url`` at ``repository.branch``)
with pip, and only when ``google.colab`` is loaded, i.e. only in Colab. Anywhere else
(JupyterLab, Binder, the website's build, nbval) it prints nothing and changes nothing, so
nbval compares no output for it. Tagged ``remove-cell``, it appears neither on the website
nor in the PDF or the slides. ``tests/test_colab.py`` checks every notebook starts with it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
CELL_ID = "colab-install"
TAGS = ["remove-cell"]


def requirement(config: dict | None = None) -> str:
    """``vaelib @ git+<repository.url>@<branch>``: what pip installs in Colab."""
    config = config or yaml.safe_load((ROOT / "_config.yml").read_text())
    repo = config["repository"]
    return f"vaelib @ git+{repo['url'].rstrip('/')}@{repo.get('branch', 'main')}"


def source(config: dict | None = None) -> str:
    """The exact source of the cell."""
    return (
        "# In Colab, install the book's library vaelib from its repository; elsewhere\n"
        "# (JupyterLab, Binder, the website's build, the tests) it is installed already\n"
        "# and this cell does nothing.\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        "    import subprocess\n"
        "\n"
        '    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",\n'
        f'                    "{requirement(config)}"], check=True)')


def new_cell(config: dict | None = None):
    cell = nbformat.v4.new_code_cell(source(config))
    cell.id = CELL_ID
    cell.metadata["tags"] = list(TAGS)
    return cell


def put_first(path: Path) -> bool:
    """Make the cell the first of ``path``; True if the file changed."""
    nb = nbformat.read(path, as_version=4)
    cell = new_cell()
    others = [c for c in nb.cells if c.get("id") != CELL_ID]
    if nb.cells and nb.cells[0].get("id") == CELL_ID and nb.cells[0].source == cell.source \
            and nb.cells[0].metadata.get("tags") == TAGS:
        return False
    nb.cells = [cell, *others]
    nbformat.write(nb, path)
    return True


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(f"{arg}: {'updated' if put_first(Path(arg)) else 'already up to date'}")
