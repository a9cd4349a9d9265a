"""Build the book as a PDF with XeLaTeX: ``_build/pdf/vae-book.pdf`` (``-ja`` etc. per language).

Usage: .venv/bin/python tools/pdf.py [--language en]

The LaTeX sources come from Jupyter Book's Sphinx configuration (``_config.yml``, whose
``sphinx.config.latex_elements`` hold the fonts and the TeX macros) with three
overrides: the language (Sphinx's ``language``, which picks the gettext catalogs under
``locale/`` and LaTeX's hyphenation), the output folder ``_build/pdf/<language>/`` and
the notebook execution cache of the website build (``_build/.jupyter_cache``), so the
notebooks are executed once for the website, the PDF and the slides. ``latexmk`` then
runs XeLaTeX until the cross-references settle. The result is copied to
``_build/pdf/vae-book.pdf`` for English and ``_build/pdf/vae-book-<language>.pdf``
otherwise; ``tests/test_pdf.py`` checks it (every chapter, no "??", no missing glyph).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PDF_DIR = ROOT / "_build" / "pdf"
NAME = "vae-book"


def pdf_path(language: str) -> Path:
    """Where the PDF of ``language`` ends up."""
    return PDF_DIR / (f"{NAME}.pdf" if language == "en" else f"{NAME}-{language}.pdf")


def tex_macros(config: dict) -> str:
    """``\\newcommand`` lines for the book's MathJax macros (``_config.yml``, one source)."""
    macros = config["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]
    lines = []
    for name, body in macros.items():
        body, n_args = (body, 0) if isinstance(body, str) else body
        lines.append(f"\\newcommand{{\\{name}}}" + (f"[{n_args}]" if n_args else "")
                     + f"{{{body}}}")
    return "\n".join(lines)


def build_latex(language: str) -> Path:
    """Write the LaTeX sources of the book in ``language``; return their folder."""
    import yaml
    from jupyter_book.sphinx import build_sphinx

    out = PDF_DIR / language / "latex"
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    latex_elements = dict(config["sphinx"]["config"].get("latex_elements", {}))
    latex_elements["preamble"] = (latex_elements.get("preamble", "") + "\n"
                                  + tex_macros(config))
    overrides = {
        "latex_elements": latex_elements,
        "external_toc_path": str(ROOT / "_toc.yml"),
        "latex_individualpages": False,
        "nitpicky": True,
        "language": language,
        "locale_dirs": ["locale/"],
        "nb_execution_cache_path": str(ROOT / "_build" / ".jupyter_cache"),
    }
    result = build_sphinx(ROOT, out, noconfig=True, path_config=str(ROOT / "_config.yml"),
                          confoverrides=overrides, builder="latex", warningiserror=True,
                          keep_going=True, freshenv=True)
    if result:
        raise SystemExit(f"the LaTeX build of the book ({language}) failed: see above")
    return out


def compile_pdf(latex_dir: Path) -> Path:
    """Run latexmk (XeLaTeX, as Sphinx's Makefile sets it up) in ``latex_dir``."""
    tex = [p for p in latex_dir.glob("*.tex") if p.stem == NAME]
    if not tex:
        raise SystemExit(f"no {NAME}.tex in {latex_dir}; check latex_documents in _config.yml")
    done = subprocess.run(["make", "-C", str(latex_dir), "all-pdf", "LATEXMKOPTS=-silent"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode:
        print(done.stdout[-5000:], file=sys.stderr)
        raise SystemExit(f"XeLaTeX failed; the log is {latex_dir / (NAME + '.log')}")
    return latex_dir / f"{NAME}.pdf"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--language", default="en")
    args = parser.parse_args()
    if not shutil.which("xelatex") or not shutil.which("latexmk"):
        raise SystemExit("XeLaTeX/latexmk are not installed: run `make pdf-deps` "
                         "(Debian's TeX Live, as root)")
    pdf = compile_pdf(build_latex(args.language))
    target = pdf_path(args.language)
    shutil.copyfile(pdf, target)
    print(f"PDF: {target.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
