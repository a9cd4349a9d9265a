"""Sphinx extension: the book in two languages, built from one source.

The English website lives at ``_build/html`` and each translation at
``_build/html/<lang>`` with the same page paths (``_ext/build.py`` builds it with
``language`` set and the gettext catalogs of ``locale/``). This extension adds what the
pages of both editions need:

* a **language switcher** in the header of every page, linking to the same page in
  the other edition (relative links, so the site works from any address and from
  ``file://``), and ``<link rel="alternate" hreflang=...>`` for the same pair;
* the **settings that are text** (``html_title``, the search box placeholder, the
  footer) and the themes' strings their own catalogs lack, translated through the
  ``sphinx`` catalog of ``locale/<lang>/LC_MESSAGES``,
  and put into that catalog's template by ``make translations``, so every string a
  reader sees goes through the same catalogs and the same completeness test;
* **Japanese typography** (``static/bilingual.css``): a Japanese font stack, strict
  line breaking (kinsoku), phrase-aware breaking of headings and captions, no synthetic
  italics;
* the **captions of the table of contents** ("Chapters"), which sphinx-external-toc adds
  after Sphinx has translated the page, translated from the root page's catalog;
* the **search page's messages** that Sphinx's own Japanese catalog leaves empty (it
  said nothing when a search ended), from the same ``sphinx`` catalog;
* **Japanese search**: Sphinx indexes Japanese pages with TinySegmenter
  (``sphinx.search.ja.DefaultSplitter``) but its search page splits a query only at
  spaces and punctuation, so a query such as 近似事後分布 (one run of characters) never
  matched the index's 近似 / 事後 / 分布. :class:`SearchJapanese` gives the search page
  the same segmenter, with the same model tables, in JavaScript.
"""
from __future__ import annotations

import json
import posixpath
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.search.ja import DefaultSplitter
from sphinx.search.ja import SearchJapanese as _SphinxSearchJapanese

HERE = Path(__file__).resolve().parent

#: The editions: code -> (name of the language in itself, "this page in <language>",
#: output directory relative to the English site).
EDITIONS = {
    "en": ("English", "This page in English", ""),
    "ja": ("日本語", "このページの日本語版", "ja"),
}
#: Settings whose values readers see: translated through the ``sphinx`` catalog.
TEXT_SETTINGS = ("html_title", "author", "html_theme_options.search_bar_text",
                 "html_theme_options.extra_footer", "nb_code_prompt_show",
                 "nb_code_prompt_hide")
#: Strings the themes put on every page through gettext that their Japanese catalogs
#: leave untranslated (read off the built pages): translated in the ``sphinx`` catalog,
#: which sphinx-book-theme's catalog falls back to (:func:`theme_fallback`).
THEME_STRINGS = ("Launch interactive content", "Launch on", "Open issue", "Repository",
                 "Source repositories", "Color mode", "System Settings",
                 "© Copyright %(copyright)s.")


def _language(app: Sphinx) -> str:
    return app.config.language if app.config.language in EDITIONS else "en"


def _other(language: str) -> str:
    return "ja" if language == "en" else "en"


def edition_link(pagename: str, language: str, target: str) -> str:
    """Relative URL, from page ``pagename`` of edition ``language``, of the same page in ``target``."""
    here = posixpath.join(EDITIONS[language][2], pagename)
    there = posixpath.join(EDITIONS[target][2], pagename) + ".html"
    return posixpath.relpath(there, posixpath.dirname(here) or ".")


# -- text settings ----------------------------------------------------------------------
def _get(config, dotted: str):
    name, _, key = dotted.partition(".")
    value = getattr(config, name, None)
    return value.get(key) if key and isinstance(value, dict) else value


def _set(config, dotted: str, value: str) -> None:
    name, _, key = dotted.partition(".")
    if key:
        getattr(config, name)[key] = value
    else:
        setattr(config, name, value)


def translate_settings(app: Sphinx, config) -> None:
    """Translate the text settings; add the language switcher to the article header."""
    from sphinx.locale import _

    if _language(app) != "en":
        for dotted in TEXT_SETTINGS:
            value = _get(config, dotted)
            if value:
                _set(config, dotted, _(value))
    options = config.html_theme_options
    end = list(options.get("article_header_end") or ["article-header-buttons.html"])
    if "language-switcher.html" not in end:
        options["article_header_end"] = ["language-switcher.html", *end]
    config.templates_path.append(str(HERE / "templates"))
    config.html_static_path.append(str(HERE / "static"))


def extract_settings(app: Sphinx) -> None:
    """For ``make translations``: put the book's interface strings into the ``sphinx`` catalog.

    They are the text settings, and the strings of Sphinx's search page that Sphinx's
    own catalog of a translation leaves empty (see :func:`complete_js_translations`).
    """
    if app.builder.name != "gettext":
        return
    from sphinx.builders.gettext import MsgOrigin

    catalog = app.builder.catalogs["sphinx"]
    config_file = Path(app.srcdir) / "_config.yml"
    lines = config_file.read_text(encoding="utf8").splitlines()
    for dotted in TEXT_SETTINGS:
        value = _get(app.config, dotted)
        if value:  # located at its line of _config.yml, or at line 0: a jupyter-book default
            line = next((n for n, text in enumerate(lines, 1) if value in text), 0)
            catalog.add(value, MsgOrigin(str(config_file), line))
    for msgid in THEME_STRINGS:
        catalog.add(msgid, MsgOrigin(__file__, 0))
    for language in EDITIONS:
        path, messages = _sphinx_js_catalog(language)
        for msgid in sorted(k for k, v in messages.items() if not v):
            catalog.add(msgid, MsgOrigin(str(path), 0))


def theme_fallback(app: Sphinx) -> None:
    """Let sphinx-book-theme's catalog fall back to the ``sphinx`` one (the book's first)."""
    if _language(app) == "en":
        return
    from sphinx.locale import translators

    booktheme, chain = translators.get(("general", "booktheme")), translators.get(("general", "sphinx"))
    if booktheme is not None and chain is not None:
        booktheme.add_fallback(chain)


# -- the search page's own strings ------------------------------------------------------
def _read_js_catalog(path: Path) -> dict:
    """The data of a JavaScript catalog, ``Documentation.addTranslations({...});``."""
    text = path.read_text(encoding="utf8")
    return json.loads(text[text.index("(") + 1:text.rindex(")")])


def _sphinx_js_catalog(language: str) -> tuple[Path, dict[str, str]]:
    """Sphinx's JavaScript catalog of ``language`` (``sphinx.js``): its path and messages."""
    import sphinx

    path = Path(sphinx.__file__).parent / "locale" / language / "LC_MESSAGES" / "sphinx.js"
    return path, (_read_js_catalog(path)["messages"] if path.exists() else {})


def complete_js_translations(app: Sphinx, exception) -> None:
    """Fill the empty messages of the search page's catalog (``_static/translations.js``).

    Sphinx's Japanese ``sphinx.js`` maps "Search finished, found ... page(s)" to an empty
    string, so the search page said nothing when a search ended. Each empty message
    takes the book's translation (the ``sphinx`` catalog of ``locale/``), or is dropped,
    which shows the English text instead of nothing.
    """
    if exception or app.builder.format != "html" or _language(app) == "en":
        return
    from sphinx.locale import _

    js = Path(app.outdir) / "_static" / "translations.js"
    if not js.exists():
        return
    data = _read_js_catalog(js)
    messages = data["messages"]
    for msgid in [k for k, v in messages.items() if not v]:
        if _(msgid) != msgid:
            messages[msgid] = _(msgid)
        else:
            del messages[msgid]
    js.write_text(f"Documentation.addTranslations({json.dumps(data, ensure_ascii=False)});\n",
                  encoding="utf8")


# -- table of contents ------------------------------------------------------------------
def translate_toc_captions(app: Sphinx, doctree) -> None:
    """Translate the part captions of the table of contents ("Chapters", ...).

    sphinx-external-toc inserts the toctrees into the root page after Sphinx's own
    translation step, so their captions are extracted into the root page's catalog but
    never replaced; this replaces them from that catalog, as Sphinx does for a toctree
    written in the page.
    """
    if _language(app) == "en" or app.builder.name == "gettext":
        return
    from sphinx import addnodes
    from sphinx.locale import init as init_locale
    from sphinx.util.i18n import docname_to_domain

    toctrees = [node for node in doctree.findall(addnodes.toctree) if node.get("caption")]
    if not toctrees:
        return
    dirs = [str(Path(app.srcdir) / d) for d in app.config.locale_dirs]
    domain = docname_to_domain(app.env.docname, app.config.gettext_compact)
    catalog, _ = init_locale(dirs, app.config.language, domain)
    for node in toctrees:
        node["caption"] = catalog.gettext(node["caption"])


# -- switcher -----------------------------------------------------------------------------
def add_switcher(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    language = _language(app)
    other = _other(language)
    url = edition_link(pagename, language, other)
    name, this_page, _ = EDITIONS[other]
    context["edition_switch"] = {"url": url, "lang": other, "name": name, "title": this_page}
    context["metatags"] = context.get("metatags", "") + (
        f'\n<link rel="alternate" hreflang="{other}" href="{url}">')


# -- search -------------------------------------------------------------------------------
def _splitter_tables() -> dict:
    """DefaultSplitter's model (its weights and character classes), as plain JSON data."""
    tables = {name: value for name, value in vars(DefaultSplitter).items()
              if name.endswith("__") and not name.startswith("_")}
    classes = [[pattern.pattern, value] for pattern, value in DefaultSplitter.patterns_.items()]
    return {"tables": tables, "classes": classes}


_JS_SPLITTER = """
/* Japanese query splitter: sphinx.search.ja.DefaultSplitter (TinySegmenter) in JavaScript,
 * with the same model tables, so a query is cut into the same words as the index. */
var splitQuery = (function () {
  var model = %(model)s;
  var t = model.tables;
  var classes = model.classes.map(function (c) { return [new RegExp("^" + c[0]), c[1]]; });
  function ctype(ch) {
    for (var i = 0; i < classes.length; i++) { if (classes[i][0].test(ch)) { return classes[i][1]; } }
    return "O";
  }
  function ts(table, key) {
    return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : 0;
  }
  function segment(input) {
    var chars = Array.from(input);
    if (!chars.length) { return []; }
    var seg = ["B3", "B2", "B1"].concat(chars, ["E1", "E2", "E3"]);
    var ct = ["O", "O", "O"].concat(chars.map(ctype), ["O", "O", "O"]);
    var result = [], word = seg[3], p1 = "U", p2 = "U", p3 = "U";
    for (var i = 4; i < seg.length - 3; i++) {
      var w1 = seg[i - 3], w2 = seg[i - 2], w3 = seg[i - 1], w4 = seg[i], w5 = seg[i + 1], w6 = seg[i + 2];
      var c1 = ct[i - 3], c2 = ct[i - 2], c3 = ct[i - 1], c4 = ct[i], c5 = ct[i + 1], c6 = ct[i + 2];
      var score = t.BIAS__
        + ts(t.UP1__, p1) + ts(t.UP2__, p2) + ts(t.UP3__, p3)
        + ts(t.BP1__, p1 + p2) + ts(t.BP2__, p2 + p3)
        + ts(t.UW1__, w1) + ts(t.UW2__, w2) + ts(t.UW3__, w3)
        + ts(t.UW4__, w4) + ts(t.UW5__, w5) + ts(t.UW6__, w6)
        + ts(t.BW1__, w2 + w3) + ts(t.BW2__, w3 + w4) + ts(t.BW3__, w4 + w5)
        + ts(t.TW1__, w1 + w2 + w3) + ts(t.TW2__, w2 + w3 + w4)
        + ts(t.TW3__, w3 + w4 + w5) + ts(t.TW4__, w4 + w5 + w6)
        + ts(t.UC1__, c1) + ts(t.UC2__, c2) + ts(t.UC3__, c3)
        + ts(t.UC4__, c4) + ts(t.UC5__, c5) + ts(t.UC6__, c6)
        + ts(t.BC1__, c2 + c3) + ts(t.BC2__, c3 + c4) + ts(t.BC3__, c4 + c5)
        + ts(t.TC1__, c1 + c2 + c3) + ts(t.TC2__, c2 + c3 + c4)
        + ts(t.TC3__, c3 + c4 + c5) + ts(t.TC4__, c4 + c5 + c6)
        /* UQ1 twice, as in the Python splitter that built the index */
        + ts(t.UQ1__, p1 + c1) + ts(t.UQ2__, p2 + c2) + ts(t.UQ1__, p3 + c3)
        + ts(t.BQ1__, p2 + c2 + c3) + ts(t.BQ2__, p2 + c3 + c4)
        + ts(t.BQ3__, p3 + c2 + c3) + ts(t.BQ4__, p3 + c3 + c4)
        + ts(t.TQ1__, p2 + c1 + c2 + c3) + ts(t.TQ2__, p2 + c2 + c3 + c4)
        + ts(t.TQ3__, p3 + c1 + c2 + c3) + ts(t.TQ4__, p3 + c2 + c3 + c4);
      var p = "O";
      if (score > 0) { result.push(word.trim()); word = ""; p = "B"; }
      p1 = p2; p2 = p3; p3 = p;
      word += seg[i];
    }
    result.push(word.trim());
    return result;
  }
  /* The index keeps words of two or more characters (SearchJapanese.word_filter). */
  return function (query) {
    return query.split(/[^\\p{Letter}\\p{Number}_\\p{Emoji_Presentation}]+/gu)
      .flatMap(segment)
      .filter(function (word) { return word.length > 1; });
  };
})();
"""


class SearchJapanese(_SphinxSearchJapanese):
    """Sphinx's Japanese search, with its query splitter in JavaScript (see module docstring)."""

    js_splitter_code = _JS_SPLITTER % {"model": json.dumps(_splitter_tables(), ensure_ascii=False)}


def setup(app: Sphinx):
    app.add_search_language(SearchJapanese)
    app.connect("config-inited", translate_settings, priority=400)  # before the theme reads them
    app.connect("builder-inited", extract_settings)
    app.connect("builder-inited", theme_fallback)
    app.connect("doctree-read", translate_toc_captions)
    app.connect("html-page-context", add_switcher)
    app.connect("build-finished", complete_js_translations)
    app.add_css_file("bilingual.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
