"""Build one edition of the book, or extract its messages, from the one source.

The English website is built by ``jupyter-book build .`` (``make book``). This script
builds the same project with a few settings changed, through jupyter-book's own
configuration machinery (``_config.yml`` and ``_toc.yml`` are read exactly as
``jupyter-book build`` reads them)::

    python _ext/build.py html ja     # the Japanese website, into _build/html/ja
    python _ext/build.py gettext     # the English messages, one .pot per page, into _build/gettext
    python _ext/build.py gettext --outdir DIR --quiet   # the same, elsewhere, warnings only

The Japanese build reuses the English build's execution cache
(``_build/.jupyter_cache``): notebooks are executed once, by whichever build runs
first. Message extraction executes nothing (it reads the committed outputs), so it
needs no kernel and takes seconds.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
#: Languages the book is translated into (each has locale/<lang>/LC_MESSAGES).
TRANSLATIONS = ("ja",)


def overrides(builder: str, language: str) -> dict:
    """Sphinx settings that differ from ``_config.yml`` for this builder and language."""
    settings = {
        "external_toc_path": str(ROOT / "_toc.yml"),
        "nitpicky": True,
        "latex_individualpages": False,  # jupyter-book expects the key
        # One execution cache for every edition: the English build's.
        "nb_execution_cache_path": str(BUILD / ".jupyter_cache"),
    }
    if language != "en":
        settings["language"] = language
    if builder == "gettext":
        settings["nb_execution_mode"] = "off"  # outputs are not translated: read, never run
    return settings


def output_dirs(builder: str, language: str) -> tuple[Path, Path]:
    """(output directory, doctree directory) of a build; English HTML is jupyter-book's."""
    if builder == "gettext":
        return BUILD / "gettext", BUILD / ".doctrees-gettext"
    suffix = "" if language == "en" else f"-{language}"
    out = BUILD / "html" if language == "en" else BUILD / "html" / language
    return out, BUILD / f".doctrees{suffix}"


def build(builder: str, language: str = "en", outdir: Path | None = None,
          quiet: bool = False) -> int:
    """Run one Sphinx build with warnings as errors; return its status code.

    ``outdir`` replaces the default output directory (the doctrees stay where they are,
    so a second extraction reads only the pages that changed).
    """
    from jupyter_book.sphinx import build_sphinx

    default_outdir, doctreedir = output_dirs(builder, language)
    result = build_sphinx(ROOT, outdir or default_outdir, noconfig=True,
                          path_config=str(ROOT / "_config.yml"),
                          confoverrides=overrides(builder, language), builder=builder,
                          doctreedir=doctreedir, warningiserror=True, keep_going=True,
                          quiet=quiet)
    if isinstance(result, Exception):
        return 1
    return int(result or 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("builder", choices=["html", "gettext"])
    parser.add_argument("language", nargs="?", default="en", choices=("en", *TRANSLATIONS))
    parser.add_argument("--outdir", type=Path, help="instead of the default output directory")
    parser.add_argument("--quiet", action="store_true", help="warnings and errors only")
    args = parser.parse_args(argv)
    if args.builder == "gettext" and args.language != "en":
        parser.error("messages are extracted from the English source: omit the language")
    return build(args.builder, args.language, outdir=args.outdir, quiet=args.quiet)


if __name__ == "__main__":
    sys.exit(main())
