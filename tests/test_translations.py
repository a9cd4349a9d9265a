"""The Japanese edition cannot fall out of step with the English one.

Extracts the English messages from the current source (``_ext/build.py gettext``, no
notebook is executed) and compares them with the catalogs in ``locale/ja/LC_MESSAGES``:
every message must be translated, not fuzzy, not obsolete, not stale, not the English
copied unchanged (unless marked ``# keep``), and must carry over every inline formula,
code span and reference target. A failure names the page, the kind of problem, the
start of the paragraph and where it stands in the source.

Pages listed in ``locale/ja/pending.txt`` (the chapters, while they are rewritten) are
reported as expected failures; a pending page that is complete fails, so that its line
is removed.

Widget captions must be where gettext sees them: a notebook that passes ``caption=`` to
``vaelib.widgets.explore`` fails, with the way to move it (``CONTRIBUTING.md``).
"""
from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest
import yaml
from babel.messages.catalog import Catalog, Message

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "_ext"))
import translations  # noqa: E402

LANGUAGE = "ja"
PENDING = translations.pending(LANGUAGE)
SHOWN = 12  # problems quoted in a failure message


def _toc_pages() -> list[str]:
    """Docnames of the book, from _toc.yml (root first)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf8"))
    pages = [toc["root"]]
    for part in toc.get("parts", []):
        pages += [entry["file"] for entry in part.get("chapters", [])]
    return pages


def _catalog_names() -> list[str]:
    return sorted(set(_toc_pages()) | set(translations.catalogs(LANGUAGE)) | {"sphinx"})


@pytest.fixture(scope="module")
def problems(tmp_path_factory) -> dict[str, list[translations.Problem]]:
    pot_dir = tmp_path_factory.mktemp("gettext")
    translations.extract(pot_dir)
    return translations.check(LANGUAGE, pot_dir)


def _expect_complete(name: str, found: list, what: str) -> None:
    """Fail with a readable report, or xfail when the page is pending."""
    if name in PENDING:
        if found:
            pytest.xfail(f"{name}: {what} pending ({len(found)} problems); "
                         f"listed in locale/{LANGUAGE}/{translations.PENDING_FILE}")
        pytest.fail(f"{name} is complete: remove it from locale/{LANGUAGE}/{translations.PENDING_FILE}")
    if found:
        lines = [f"{name}: {len(found)} problems ({what})"]
        lines += [f"  {problem}" for problem in found[:SHOWN]]
        if len(found) > SHOWN:
            lines.append(f"  ... and {len(found) - SHOWN} more: `make translations`, then "
                         f"translate locale/{LANGUAGE}/LC_MESSAGES/{name}.po")
        pytest.fail("\n".join(lines), pytrace=False)


@pytest.mark.parametrize("name", _catalog_names())
def test_catalog_is_complete(problems, name):
    _expect_complete(name, problems.get(name, []), "Japanese translation")


def test_pending_pages_are_pages():
    unknown = PENDING - set(_toc_pages())
    assert not unknown, f"locale/{LANGUAGE}/{translations.PENDING_FILE} names no page: {sorted(unknown)}"


def _explore_captions(notebook: Path) -> list[str]:
    """Code cells that pass ``caption=`` to ``explore``: gettext cannot see that text."""
    found = []
    for index, cell in enumerate(json.loads(notebook.read_text(encoding="utf8"))["cells"], 1):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
        try:
            tree = ast.parse("\n".join(lines))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None))
                    == "explore" and any(k.arg == "caption" for k in node.keywords)):
                found.append(f"cell {index}: explore(..., caption=...): move the caption to the "
                             "cell metadata mystnb.figure.caption (CONTRIBUTING.md, Widgets)")
    return found


@pytest.mark.parametrize("name", [p for p in _toc_pages() if (ROOT / f"{p}.ipynb").exists()])
def test_widget_captions_are_translatable(name):
    _expect_complete(name, _explore_captions(ROOT / f"{name}.ipynb"), "widget captions")


# -- the checker itself, on small catalogs with one problem each ---------------------------
def test_english_words_ignore_formulas_code_and_reference_targets():
    assert translations.english_words(r"$\log p_\theta(\bm{x})$ and `vaelib.elbo`") == ["and"]
    assert translations.english_words(r"\E_q[\log q] = \operatorname{Var}(x) + \mathrm{const}") == []
    assert translations.english_words(r"\text{amortization gap} = a - b") == ["amortization", "gap"]
    assert translations.english_words("{doc}`ベイズの定理 <chapters/01_bayes_evidence>`") == []
    assert translations.english_words("{doc}`The model <chapters/03_vae_model>`") == ["The", "model"]
    assert translations.english_words("変分下限 (ELBO)、KL、VAE") == []


def test_fixed_parts_are_formulas_code_and_targets():
    parts = translations.fixed_parts(r"See {eq}`eq-a` and {doc}`the model <ch/x>`: $a + b$, `f()`, [x](https://e.org).")
    assert parts == ["$a + b$", "`f()`", "eq-a", "ch/x", "https://e.org"]
    assert translations.fixed_parts(r"$\text{gap} = 1$") == []  # translatable words inside


def _write(path: Path, messages: dict[str, tuple[str, set, list]], obsolete=()) -> Path:
    catalog = Catalog(locale="ja")
    for msgid, (msgstr, flags, comments) in messages.items():
        catalog.add(msgid, msgstr, locations=[("page.md", 1)], flags=flags, user_comments=comments)
    for msgid in obsolete:
        catalog.obsolete[msgid] = Message(msgid, "古い訳")
    translations.write(path, catalog)
    return path


@pytest.mark.parametrize("msgid, entry, kind", [
    ("A sentence.", ("", set(), []), "untranslated"),
    ("A sentence.", ("文。", {"fuzzy"}, []), "fuzzy"),
    ("A sentence.", ("A sentence.", set(), []), "English copied"),
    ("See $a$.", ("見よ。", set(), []), "translation lost"),
])
def test_check_catalog_names_each_problem(tmp_path, msgid, entry, kind):
    pot = _write(tmp_path / "page.pot", {msgid: ("", set(), [])})
    po = _write(tmp_path / "page.po", {msgid: entry})
    found = translations.check_catalog(po, pot, tmp_path)
    assert len(found) == 1 and found[0].kind.startswith(kind), found
    assert msgid in str(found[0])


def test_check_catalog_accepts_kept_english_and_untranslatable_text(tmp_path):
    messages = {"variational EM": ("variational EM", set(), ["keep"]), "$a = b$": ("$a = b$", set(), []),
                "A sentence with $a$.": ("$a$ を含む文。", set(), [])}
    pot = _write(tmp_path / "page.pot", {m: ("", set(), []) for m in messages})
    po = _write(tmp_path / "page.po", messages)
    assert translations.check_catalog(po, pot, tmp_path) == []


def test_check_catalog_reports_new_stale_and_obsolete_messages(tmp_path):
    pot = _write(tmp_path / "page.pot", {"New English.": ("", set(), [])})
    po = _write(tmp_path / "page.po", {"Old English.": ("古い英語。", set(), [])}, obsolete=["Gone."])
    kinds = sorted(p.kind.split(" ")[0] for p in translations.check_catalog(po, pot, tmp_path))
    assert kinds == ["new", "obsolete", "stale"]


def test_fill_untranslatable_fills_only_what_has_no_english(tmp_path):
    po = _write(tmp_path / "page.po", {
        r"\log p(x) = \log \int p(x, z)\, dz": ("", set(), []),       # a formula: filled
        "変分下限 (ELBO)": ("", set(), []),                              # Japanese already: filled
        "$a, b$": ("$a$、$b$", set(), []),                              # the translator's own: kept
        "A sentence with $a$.": ("", set(), [])})                       # English: left to translate
    assert translations.fill_untranslatable(po) == 2
    strings = {m.id: m.string for m in translations.read(po) if m.id}
    assert strings == {r"\log p(x) = \log \int p(x, z)\, dz": r"\log p(x) = \log \int p(x, z)\, dz",
                       "変分下限 (ELBO)": "変分下限 (ELBO)", "$a, b$": "$a$、$b$",
                       "A sentence with $a$.": ""}
