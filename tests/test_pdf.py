"""The PDF of the book (``make pdf``): complete, every reference resolved, every glyph drawn.

Reads what a reader gets (``pdftotext`` of ``_build/pdf/vae-book.pdf``, and of
``vae-book-<language>.pdf`` for every other language built) and what XeLaTeX said while
making it (its log). Skips with a reason when the PDF has not been built or poppler's
``pdftotext`` is missing, except under ``CI=true``, where it fails instead.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from _browser import missing

ROOT = Path(__file__).resolve().parents[1]
PDF_DIR = ROOT / "_build" / "pdf"
BOOK_NOTEBOOKS = sorted(ROOT.glob("chapters/*.ipynb")) + sorted(ROOT.glob("pages/*.ipynb"))


def _languages() -> list[str]:
    built = sorted(p.parent.parent.name for p in PDF_DIR.glob("*/latex/vae-book.log"))
    return built or ["en"]


def _pdf(language: str) -> Path:
    return PDF_DIR / ("vae-book.pdf" if language == "en" else f"vae-book-{language}.pdf")


@pytest.fixture(scope="module", params=_languages())
def built(request):
    language = request.param
    pdf, log = _pdf(language), PDF_DIR / language / "latex" / "vae-book.log"
    if not pdf.exists() or not log.exists():
        missing(f"the PDF is not built ({pdf.relative_to(ROOT)}); run `make pdf`", "PDF test")
    if not shutil.which("pdftotext"):
        missing("poppler's pdftotext is not installed; run `make pdf-deps`", "PDF test")
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    return language, text, log.read_text(errors="replace")


def _code_cells(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


def _title(path: Path) -> str:
    for cell in json.loads(path.read_text())["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and source.startswith("# "):
            return source.splitlines()[0][2:].strip()
    raise AssertionError(f"{path} has no title")


def test_no_unresolved_reference(built):
    language, text, log = built
    assert "??" not in text, f"an unresolved reference prints '??' in the {language} PDF"
    undefined = re.findall(r"(?:Reference|Citation|Hyper reference) `[^']*' on page \d+ undefined"
                           r"|There were undefined (?:references|citations)", log)
    assert not undefined, f"XeLaTeX found undefined references: {undefined[:5]}"


def test_no_missing_glyph(built):
    language, _, log = built
    absent = sorted(set(re.findall(r"Missing character: There is no (.+?) in font", log)))
    assert not absent, (f"the {language} PDF lacks glyphs for {absent}: add a font that has "
                        "them to latex_elements in _config.yml")


def _plain(text: str) -> str:
    """One line, straight quotes: how a title reads in the source and in the PDF alike."""
    return " ".join(text.translate(str.maketrans("‘’“”", "''\"\"")).split())


def test_every_chapter_proof_exercise_and_the_bibliography_are_in(built):
    language, text, _ = built
    flat = _plain(text)
    if language == "en":
        for path in sorted(ROOT.glob("chapters/*.ipynb")):
            assert _plain(_title(path)) in flat, f"{path.name} is missing from the PDF"
        assert "Solution to Exercise" in flat
        assert re.search(r"\bProof\.", flat)
    else:   # the Japanese edition: proofs begin 証明． (CONTRIBUTING.md, Translating)
        assert "証明．" in flat and "Proof." not in flat, "proofs are missing or untranslated"
    entries = re.findall(r"^\[\d+\] (.*)$", text, re.M)
    assert any("Kingma" in e for e in entries), "the bibliography's entries are missing"


def test_every_slider_is_a_captioned_still(built):
    language, text, _ = built
    assert "<Explorer with sliders" not in text, "a slider printed as its text description"
    n_explorers = sum("explore(" in src for nb in BOOK_NOTEBOOKS for src in _code_cells(nb))
    assert n_explorers > 0
    # counted in the LaTeX source: in the PDF's text a page break may split the line
    tex = (PDF_DIR / language / "latex" / "vae-book.tex").read_text()
    stills = re.findall(r"\\sphinxincludegraphics[^\n]*\n(?:.*\n){0,6}?.*Interactive on the "
                        r"website \(sliders:", tex)
    if language == "en":
        assert len(stills) == n_explorers
