"""The two editions of the built website: the same pages, each in its language, searchable.

Reads the HTML that ``make book`` wrote (``_build/html`` and ``_build/html/ja``); the
browser test (``test_browser.py``) opens the same pages in Chromium. Skips with a reason
when the site is not built, except under ``CI=true``, where it fails instead.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from _browser import is_redirect, missing
from sphinx.search.ja import DefaultSplitter

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
JA = SITE / "ja"
sys.path.insert(0, str(ROOT / "_ext"))
import translations  # noqa: E402

#: Article terms the Japanese search must find, on the glossary page at least.
TERMS = ["近似事後分布", "変分下限", "再構成誤差", "正則化項", "平均場近似", "周辺尤度"]
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def site() -> Path:
    for index in (SITE / "index.html", JA / "index.html"):
        if not index.exists():
            missing(f"the website is not built ({index} is missing); run `make book` first")
    return SITE


def _pages(root: Path, skip: tuple[str, ...] = ()) -> set[str]:
    """HTML pages under ``root``, relative to it (theme files and sources excluded)."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*.html")
            if not any(part.startswith("_") for part in p.relative_to(root).parts)
            and p.relative_to(root).parts[0] not in skip}


def test_every_english_page_has_a_japanese_twin(site):
    english, japanese = _pages(site, skip=("ja",)), _pages(site / "ja")
    assert english, "no English page was built"
    assert not english - japanese, f"English pages without a Japanese twin: {sorted(english - japanese)}"
    assert not japanese - english, f"Japanese pages without an English twin: {sorted(japanese - english)}"


def test_each_edition_declares_its_language(site):
    wrong = [f"{lang}/{page}" for lang, root, skip in (("en", site, ("ja",)), ("ja", site / "ja", ()))
             for page in _pages(root, skip) if not is_redirect(root / page)
             and f'<html lang="{lang}"' not in (root / page).read_text(encoding="utf8")]
    assert not wrong, f"pages whose <html lang> is not their edition's: {wrong}"


def test_translated_pages_read_in_japanese(site):
    """The title of every page whose catalog is complete is Japanese in the Japanese edition."""
    pending = translations.pending("ja")
    english_titles = []
    for page in _pages(site / "ja"):
        docname = page.removesuffix(".html")
        if docname in pending or docname in ("search", "genindex", "prf-prf") or is_redirect(
                site / "ja" / page):
            continue  # Sphinx's own pages, and index.html, which forwards to the landing page
        h1 = re.search(r"<h1[^>]*>(.*?)</h1>", (site / "ja" / page).read_text(encoding="utf8"), re.S)
        if h1 is None or not JAPANESE.search(h1.group(1)):
            english_titles.append((page, h1 and re.sub("<[^>]+>", "", h1.group(1)).strip()))
    assert not english_titles, f"Japanese pages with an untranslated title: {english_titles}"


def test_landing_pages_say_the_other_edition_exists(site):
    english = (site / "intro.html").read_text(encoding="utf8")
    japanese = (site / "ja" / "intro.html").read_text(encoding="utf8")
    # the sentence of the landing page (the header switcher is a different link)
    assert '<a href="ja/intro.html" hreflang="ja" lang="ja">' in english
    assert '<a href="../intro.html" hreflang="en" lang="en">' in japanese


def _search_index(root: Path) -> dict:
    text = (root / "searchindex.js").read_text(encoding="utf8")
    return json.loads(text[text.index("(") + 1: text.rindex(")")])


def test_japanese_search_index_finds_the_article_terms(site):
    """Sphinx's Japanese splitter indexes the words of each term on the glossary page.

    A query is cut into the same words in the browser (``_ext/bilingual.py``); the
    browser test runs real queries. Without that, a term such as 近似事後分布 would be one
    query word that the index (which holds 近似, 事後, 分布) does not contain.
    """
    index = _search_index(site / "ja")
    glossary = index["docnames"].index("pages/glossary")
    splitter = DefaultSplitter({})
    for term in TERMS:
        words = [w for w in splitter.split(term) if len(w) > 1]
        assert len(words) >= 2 and term not in index["terms"], term
        for word in words:
            docs = index["terms"].get(word, [])
            docs = docs if isinstance(docs, list) else [docs]
            assert glossary in docs, f"{word!r} (of {term}) is not indexed on the glossary page"
