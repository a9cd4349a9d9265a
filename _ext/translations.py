"""The translation catalogs: extract, update, check.

``locale/<lang>/LC_MESSAGES/<page>.po`` holds the translation of one page (``gettext_compact``
is off), and ``sphinx.po`` the book's own interface strings (title, search box, footer).
::

    python _ext/translations.py update   # make translations: extract, update the catalogs
    python _ext/translations.py check    # every problem of every catalog (what the test checks)
    python _ext/translations.py stats    # messages per catalog, how many translated

``update`` extracts the English messages (``_ext/build.py gettext``), updates the catalogs
with ``sphinx-intl`` (new messages empty, changed ones fuzzy with the old translation,
deleted ones kept as obsolete ``#~`` entries to copy from), then fills in the messages
that have nothing to translate (formulas, code, references, Japanese words): their
translation is the message itself.

A message is **complete** when its translation is non-empty and not fuzzy, every inline
formula, code span and reference of the English is in it unchanged, and it is not the
English text copied: a translation identical to an English message that contains English
words needs the translator comment ``# keep`` (the glossary's English column, a section
name the source article itself writes in English).
"""
from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from babel.messages import pofile

sys.path.insert(0, str(Path(__file__).resolve().parent))
import build  # noqa: E402  (the sibling module _ext/build.py)

ROOT = build.ROOT
LOCALE = ROOT / "locale"
POT_DIR = build.BUILD / "gettext"
#: Pages whose translation is pending (one docname a line); see ``pending()``.
PENDING_FILE = "pending.txt"
#: po files are not wrapped: one message, one line, so a changed paragraph is one diff line.
LINE_WIDTH = 0

_TEXT_IN_MATH = re.compile(r"\\(?:text|textrm|textit|textbf|mbox)\{([^{}]*)\}")
_NAME_IN_MATH = re.compile(r"\\(?:operatorname|mathrm|mathbf|mathit|mathcal|mathbb|mathsf)\{[^{}]*\}")
_INLINE_MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$", re.S)
_TEX_COMMAND = re.compile(r"\\[A-Za-z]+")
_ROLE = re.compile(r"\{[\w:.-]+\}`([^`]*)`")
_CODE = re.compile(r"``.+?``|`[^`\n]+`")
_URL_OR_TAG = re.compile(r"https?://[^\s)>]+|<[^<>\n]+>")
_LINK_TARGET = re.compile(r"\]\(([^)\s]+)\)")
_PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\$\{\w+\}")  # filled in by Sphinx or its JavaScript
_ENGLISH_WORD = re.compile(r"[A-Za-z][a-z]{2,}")
_KEEP = re.compile(r"^keep\b", re.I)


def english_words(text: str) -> list[str]:
    """Words of English prose in a message, outside formulas, code and reference targets.

    Words of three or more letters count (``the``, ``Monte``, ``Carlo``); acronyms such as
    ELBO, VAE, KL and single-letter symbols do not. Text inside ``\\text{...}`` counts:
    it is prose set in a formula.
    """
    words = " ".join(_TEXT_IN_MATH.findall(text))
    text = _TEXT_IN_MATH.sub(" ", text)
    text = _NAME_IN_MATH.sub(" ", text)
    text = _INLINE_MATH.sub(" ", text)
    text = _TEX_COMMAND.sub(" ", text)
    text = _ROLE.sub(lambda m: m.group(1).rsplit("<", 1)[0] if "<" in m.group(1) else " ", text)
    text = _CODE.sub(" ", text)
    text = _LINK_TARGET.sub("]", text)
    text = _URL_OR_TAG.sub(" ", text)
    text = _PLACEHOLDER.sub(" ", text)
    return _ENGLISH_WORD.findall(text + " " + words)


def fixed_parts(text: str) -> list[str]:
    """What a translation must carry over unchanged: inline formulas, code, reference
    targets, and the placeholders (``%(name)s``, ``${name}``) Sphinx fills in.

    Inline formulas that hold ``\\text{...}`` may be translated; display formulas are
    whole messages and are not listed here.
    """
    parts = [m for m in _INLINE_MATH.findall(text) if not _TEXT_IN_MATH.search(m)]
    parts += _CODE.findall(_ROLE.sub(" ", text))
    for m in _ROLE.finditer(text):
        body = m.group(1)
        target = body.rsplit("<", 1)[1].rstrip(">") if body.endswith(">") and "<" in body else body
        parts.append(target)
    parts += _LINK_TARGET.findall(text)
    parts += _PLACEHOLDER.findall(text)
    return parts


# -- catalogs -----------------------------------------------------------------------------
def read(path: Path):
    with open(path, "rb") as f:
        return pofile.read_po(f)


def write(path: Path, catalog) -> None:
    with open(path, "wb") as f:
        pofile.write_po(f, catalog, width=LINE_WIDTH)


def catalogs(language: str) -> dict[str, Path]:
    """Catalog name (``pages/glossary``, ``sphinx``) -> po file."""
    base = LOCALE / language / "LC_MESSAGES"
    return {p.relative_to(base).with_suffix("").as_posix(): p for p in sorted(base.rglob("*.po"))}


def templates(pot_dir: Path) -> dict[str, Path]:
    """Catalog name -> pot file of an extraction."""
    return {p.relative_to(pot_dir).with_suffix("").as_posix(): p
            for p in sorted(pot_dir.rglob("*.pot"))}


def pending(language: str) -> set[str]:
    """Pages whose translation is pending: ``locale/<lang>/pending.txt``, one a line.

    The completeness test reports their problems as expected failures instead of failing.
    Without the file, every catalog must be complete.
    """
    path = LOCALE / language / PENDING_FILE
    if not path.exists():
        return set()
    lines = (line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf8").splitlines())
    return {line for line in lines if line}


def extract(pot_dir: Path = POT_DIR) -> dict[str, Path]:
    """Extract the English messages into ``pot_dir`` (emptied first); return its templates.

    Sphinx runs in its own process (``_ext/build.py gettext``): it changes global state
    (docutils' registries, the translators) that must not leak into a test session.
    """
    shutil.rmtree(pot_dir, ignore_errors=True)
    command = [sys.executable, str(Path(build.__file__)), "gettext", "--outdir", str(pot_dir)]
    quiet = pot_dir != POT_DIR
    result = subprocess.run(command + ["--quiet"] * quiet, capture_output=quiet, text=True)
    if result.returncode:
        raise RuntimeError(f"message extraction failed:\n{result.stdout or ''}{result.stderr or ''}")
    return templates(pot_dir)


def fill_untranslatable(path: Path) -> int:
    """Translate each new or changed message without English words by itself; return how many.

    A translator's own version of such a message (say, Japanese punctuation) is kept
    until its English changes.
    """
    catalog = read(path)
    filled = 0
    for message in catalog:
        if not message.id or english_words(message.id):
            continue
        if not message.string or message.fuzzy:
            message.string = message.id
            message.flags.discard("fuzzy")
            filled += 1
    if filled or catalog.fuzzy:
        catalog.fuzzy = False
        write(path, catalog)
    return filled


def update(language: str) -> None:
    """``make translations``: extract, update with sphinx-intl, fill the untranslatable."""
    extract()
    subprocess.run([str(Path(sys.executable).parent / "sphinx-intl"), "update", "-p", str(POT_DIR),
                    "-d", str(LOCALE), "-l", language, "-w", str(LINE_WIDTH)], check=True)
    pages, filled = templates(POT_DIR), 0
    for name, path in catalogs(language).items():
        if name not in pages:
            print(f"{path.relative_to(ROOT)}: its page no longer exists; delete the file")
        filled += fill_untranslatable(path)
    print(f"{filled} new messages with nothing to translate (formulas, code, Japanese) filled in")
    stats(language)


# -- checks -------------------------------------------------------------------------------
@dataclass
class Problem:
    kind: str      # untranslated, fuzzy, obsolete, stale, english, markup, missing catalog, ...
    message: str   # the English message (msgid), empty for problems of a whole catalog
    where: str     # source location of the message

    def __str__(self) -> str:
        start = " ".join(self.message.split())
        start = (start[:70] + "…") if len(start) > 70 else start
        return f"{self.kind}: \"{start}\"" + (f" ({self.where})" if self.where else "")


def _location(message, base: Path) -> str:
    """Where a message stands in the source: ``intro.md:12`` or ``chapters/x.ipynb, cell 7``.

    ``base`` is the directory the catalog's locations are relative to.
    """
    for file, line in message.locations[:1]:
        path = (base / file).resolve()
        path = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else file
        # myst-nb numbers the lines of a notebook as cell * 10000 + line in the cell
        return f"{path}, cell {line // 10000}" if path.endswith(".ipynb") else f"{path}:{line}"
    return ""


def check_catalog(po: Path | None, pot: Path | None, pot_dir: Path) -> list[Problem]:
    """Every problem of one catalog against the messages extracted from the English source.

    Locations in a template are relative to the directory it was extracted into
    (``pot_dir``); in a catalog, to where ``make translations`` extracts (``_build/gettext``).
    """
    if po is None:
        return [Problem("missing catalog (run `make translations`)", "", "")]
    catalog = read(po)
    problems = [Problem("obsolete (#~ entry: delete it once its text is reused)", m.id, "")
                for m in catalog.obsolete.values()]
    if pot is None:
        return problems + [Problem("catalog of a page that no longer exists (delete the file)", "", "")]
    english = {m.id: m for m in read(pot) if m.id}
    translated = {m.id: m for m in catalog if m.id}
    for msgid, source in english.items():
        message = translated.get(msgid)
        if message is None:
            problems.append(Problem("new English text, not in the catalog (run `make translations`)",
                                    msgid, _location(source, pot_dir)))
        elif not message.string:
            problems.append(Problem("untranslated", msgid, _location(source, pot_dir)))
        elif message.fuzzy:
            problems.append(Problem("fuzzy (the English changed: check the translation, "
                                    "then remove the fuzzy flag)", msgid, _location(source, pot_dir)))
        elif message.string == msgid and english_words(msgid) and not any(
                _KEEP.match(c) for c in message.user_comments):
            problems.append(Problem("English copied unchanged (translate it, or add the "
                                    "translator comment `# keep`)", msgid, _location(source, pot_dir)))
        else:
            lost = [p for p in fixed_parts(msgid) if p not in message.string]
            if lost:
                problems.append(Problem(f"translation lost {lost!r}", msgid, _location(source, pot_dir)))
    for msgid in translated.keys() - english.keys():
        problems.append(Problem("stale (its English text is gone: run `make translations`)",
                                msgid, _location(translated[msgid], POT_DIR)))
    return problems


def check(language: str, pot_dir: Path) -> dict[str, list[Problem]]:
    """Problems of every catalog, by catalog name, against the templates in ``pot_dir``."""
    pos, pots = catalogs(language), templates(pot_dir)
    return {name: check_catalog(pos.get(name), pots.get(name), pot_dir)
            for name in sorted(pos.keys() | pots.keys())}


def stats(language: str) -> None:
    """Print, per catalog: messages, translated, fuzzy, untranslated; and the totals."""
    rows, totals = [], [0, 0, 0, 0]
    for name, path in catalogs(language).items():
        messages = [m for m in read(path) if m.id]
        done = sum(bool(m.string) and not m.fuzzy for m in messages)
        fuzzy = sum(m.fuzzy for m in messages)
        counts = [len(messages), done, fuzzy, len(messages) - done - fuzzy]
        totals = [a + b for a, b in zip(totals, counts)]
        rows.append((name, *counts))
    rows.append(("total", *totals))
    print(f"{'catalog':32} {'messages':>8} {'translated':>10} {'fuzzy':>6} {'empty':>6}")
    for name, n, done, fuzzy, empty in rows:
        print(f"{name:32} {n:8} {done:10} {fuzzy:6} {empty:6}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["update", "check", "stats"])
    parser.add_argument("--language", default="ja", choices=build.TRANSLATIONS)
    args = parser.parse_args(argv)
    if args.command == "update":
        update(args.language)
    elif args.command == "stats":
        stats(args.language)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            extract(Path(tmp))
            problems = check(args.language, Path(tmp))
        skipped = pending(args.language)
        failed = False
        for name, found in problems.items():
            if found:
                failed |= name not in skipped
                print(f"{name}{' (pending)' if name in skipped else ''}: {len(found)} problems")
                for problem in found[:5]:
                    print(f"    {problem}")
        return int(failed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
