"""Open every page of both editions of the built website in headless Chromium, as a reader would.

Checks, on every page of the English site (``_build/html``) and of the Japanese one
(``_build/html/ja``): the display math was typeset by MathJax (no raw TeX left, no
MathJax error), no JavaScript error was raised by the page, every static slider of
``vaelib.widgets`` changes its figure when moved, and the language switcher leads to
the same page of the other edition, whose switcher leads back. On the Japanese site:
Japanese text is drawn with a Japanese font, and the site search finds Japanese words.

The pages load MathJax, require.js and the widget HTML manager from public CDNs, which
this machine cannot reach: the test serves those URLs from local copies installed from
the npm registry (``make browser-deps`` puts them in ``.cache/js``) and blocks every
other outside request. Needs ``make book`` first. Skips with a reason when the site,
Chromium, playwright or the JavaScript copies are missing, except under ``CI=true``,
where it fails instead: in CI it must run.
"""
from __future__ import annotations

import functools
import http.server
import re
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import quote, urljoin, urlparse

import pytest
from _browser import CHROMIUM_ARGS, chromium_executable, is_redirect, missing, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "_build" / "html"
JS = ROOT / ".cache" / "js" / "node_modules"

pytestmark = pytest.mark.browser


def _local_copy(url: str) -> Path | None:
    """Map a CDN URL the site uses to the local npm copy of the same file."""
    u = urlparse(url)
    path = u.path
    if u.netloc == "cdn.jsdelivr.net" and path.startswith("/npm/mathjax@3/"):
        return JS / "mathjax" / path.split("/", 3)[3]
    if u.netloc == "cdnjs.cloudflare.com" and path.endswith("/require.min.js"):
        return JS / "requirejs" / "require.js"
    if u.netloc in ("cdn.jsdelivr.net", "unpkg.com") and "@jupyter-widgets/html-manager" in path:
        return JS / "@jupyter-widgets" / "html-manager" / "dist" / path.rsplit("/dist/", 1)[1]
    return None


CONTENT_TYPES = {".js": "application/javascript", ".woff": "font/woff", ".woff2": "font/woff2",
                 ".css": "text/css", ".json": "application/json", ".svg": "image/svg+xml"}


@pytest.fixture(scope="module")
def site_url():
    if not (SITE / "index.html").exists():
        missing(f"the website is not built ({SITE}); run `make book` first")
    handler = functools.partial(_QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def browser():
    executable = chromium_executable()
    if not (JS / "mathjax" / "es5" / "tex-mml-chtml.js").exists():
        missing("the local copies of MathJax/require.js are missing; run `make browser-deps`")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _pages() -> list[str]:
    if not SITE.exists():
        return ["(site not built)"]
    pages = sorted(str(p.relative_to(SITE)) for p in SITE.rglob("*.html")  # both editions
                   if not any(part.startswith("_") for part in p.relative_to(SITE).parts))
    return pages or ["(site not built)"]


def _route(route, site_url: str, blocked: list[str]):
    url = route.request.url
    if url.startswith(site_url) and route.request.resource_type == "document":
        # The page pins the CDN's require.js with a subresource-integrity hash; the local
        # copy served below is the same library from the npm registry but not the same
        # bytes, so the hash is dropped for that one script tag.
        response = route.fetch()
        body = re.sub(r'(<script[^>]*?)\s+integrity="[^"]*"([^>]*require\.min\.js)',
                      r"\1\2", response.text())
        body = re.sub(r'(<script[^>]*require\.min\.js"[^>]*?)\s+integrity="[^"]*"',
                      r"\1", body)
        return route.fulfill(response=response, body=body)
    if url.startswith(site_url) or url.startswith("data:"):
        return route.continue_()
    local = _local_copy(url)
    if local is not None and local.is_file():
        return route.fulfill(status=200, body=local.read_bytes(),
                             headers={"Content-Type": CONTENT_TYPES.get(local.suffix,
                                                                        "application/octet-stream"),
                                      "Access-Control-Allow-Origin": "*"})
    blocked.append(url)
    return route.abort()


@pytest.mark.parametrize("page_path", _pages())
def test_page_renders_math_and_sliders_without_errors(browser, site_url, page_path):
    if page_path == "(site not built)":
        missing("the website is not built; run `make book` first")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    blocked: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route("**/*", lambda route: _route(route, site_url, blocked))
    try:
        page.goto(f"{site_url}/{page_path}", wait_until="load")
        n_math = page.locator("div.math").count()
        if n_math:
            page.wait_for_function(
                "() => window.MathJax && MathJax.startup && MathJax.startup.promise"
                " && document.querySelectorAll('div.math mjx-container').length"
                " >= document.querySelectorAll('div.math').length", timeout=30_000)
            page.evaluate("() => MathJax.startup.promise")
            untypeset = page.evaluate(
                "() => [...document.querySelectorAll('div.math')]"
                ".filter(d => !d.querySelector('mjx-container')).map(d => d.textContent.slice(0, 80))")
            assert not untypeset, f"display math left as raw TeX: {untypeset}"
            # MathJax marks a TeX error with <mjx-merror>, and an undefined macro (a
            # missing entry in the book's MathJax macros) as red text.
            merrors = page.evaluate(
                "() => [...document.querySelectorAll('mjx-container mjx-merror,"
                " mjx-container mjx-mtext[style*=\"color: red\"]')]"
                ".map(e => e.getAttribute('data-mjx-error') || ('in ' + ((e.closest('.math') || {}).id || 'a formula without id')))")
            assert not merrors, f"MathJax could not typeset: {merrors}"
        explorers = page.locator(".vaebook-explorer")
        for i in range(explorers.count()):
            explorer = explorers.nth(i)
            img = explorer.locator("img.vaebook-frame")
            sliders = explorer.locator("input.vaebook-slider")
            assert sliders.count() >= 1
            for j in range(sliders.count()):
                slider = sliders.nth(j)
                before = img.get_attribute("src")
                start = slider.input_value()
                maximum = int(slider.get_attribute("max"))
                target = str(maximum if int(start) != maximum else 0)
                slider.evaluate("(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }",
                                target)
                after = img.get_attribute("src")
                name = slider.get_attribute("data-param")
                assert after != before, (
                    f"{page_path}: moving slider {name!r} of explorer {i} did not change its figure")
                slider.evaluate("(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }",
                                start)
                assert img.get_attribute("src") == before
        if not is_redirect(SITE / page_path):
            _check_switcher(page, site_url, page_path)
        assert not errors, f"JavaScript errors on {page_path}: {errors}"
    finally:
        page.close()


def _twin(page_path: str) -> str:
    """The same page in the other edition: x.html <-> ja/x.html."""
    return page_path.removeprefix("ja/") if page_path.startswith("ja/") else f"ja/{page_path}"


def _check_switcher(page, site_url: str, page_path: str) -> None:
    switches = page.locator("a.edition-switch")
    assert switches.count() == 1, f"{page_path}: {switches.count()} language switchers, expected 1"
    here = f"{site_url}/{page_path}"
    there = urljoin(here, switches.first.get_attribute("href"))
    assert there == f"{site_url}/{_twin(page_path)}", f"{page_path}: the switcher leads to {there}"
    response = page.request.get(there)
    assert response.ok, f"{page_path}: the switcher's page {there} answers {response.status}"
    back = re.search(r'class="btn btn-sm edition-switch" href="([^"]+)"', response.text())
    assert back and urljoin(there, back.group(1)) == here, (
        f"{page_path}: the switcher of {there} does not lead back")


@pytest.fixture()
def page(browser, site_url):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route("**/*", lambda route: _route(route, site_url, []))
    yield page
    page.close()
    assert not errors, f"JavaScript errors: {errors}"


def test_japanese_text_is_set_in_a_japanese_font(page, site_url):
    """Chromium reports which installed fonts drew the landing page's first paragraph."""
    if not shutil.which("fc-list") or not subprocess.run(
            ["fc-list", ":lang=ja"], capture_output=True, text=True).stdout.strip():
        missing("no Japanese font is installed; run `make browser-deps` (fonts-noto-cjk)")
    page.goto(f"{site_url}/ja/intro.html", wait_until="load")
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": "article.bd-article p"})["nodeId"]
    fonts = [f["familyName"] for f in cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]]
    assert any(re.search(r"CJK|JP|Hiragino|Gothic|Meiryo", f) for f in fonts), (
        f"the Japanese paragraph was drawn with {fonts}: no Japanese font")
    style = page.evaluate("() => [getComputedStyle(document.body).lineBreak,"
                          " getComputedStyle(document.querySelector('h1')).wordBreak]")
    assert style == ["strict", "auto-phrase"], f"Japanese line breaking not applied: {style}"


#: Queries and a page each must find: article terms (glossary) and words of our own prose.
SEARCHES = [("近似事後分布", "pages/glossary.html"), ("変分下限", "pages/glossary.html"),
            ("再構成誤差", "pages/glossary.html"), ("平均場近似", "pages/glossary.html"),
            ("モンテカルロ推定", "pages/how_to_use.html"), ("スライダーの仕組み", "pages/how_to_use.html")]


@pytest.mark.parametrize("query, expected", SEARCHES)
def test_japanese_search_finds_japanese_words(page, site_url, query, expected):
    page.goto(f"{site_url}/ja/search.html?q={quote(query)}", wait_until="load")
    page.wait_for_function(
        "() => { const s = document.querySelector('#search-results .search-summary');"
        " return s && s.textContent.trim().length > 0; }", timeout=30_000)
    found = page.evaluate("() => [...document.querySelectorAll('#search-results ul.search li a')]"
                          ".map(a => a.getAttribute('href'))")
    assert any(href.split("?")[0].split("#")[0] == expected for href in found), (
        f"searching {query!r} found {found}, not {expected}")
    summary = page.locator("#search-results .search-summary").text_content()
    assert re.search(r"[\u3040-\u30ff]", summary), f"the search summary is not Japanese: {summary!r}"


def test_query_splitter_cuts_like_the_index(page, site_url):
    """The search page cuts a query into the words Sphinx's Japanese splitter indexed."""
    from sphinx.search.ja import DefaultSplitter

    samples = ["近似事後分布", "変分下限を最大化します", "再構成誤差と正則化項",
               "平均場近似の事後分布", "潜在変数モデルの周辺尤度は計算できません",
               "モンテカルロ推定の標準誤差", "ELBOの勾配"]
    page.goto(f"{site_url}/ja/search.html", wait_until="load")
    splitter = DefaultSplitter({})
    for text in samples:
        expected = [w for w in splitter.split(text) if len(w) > 1]
        assert page.evaluate("t => splitQuery(t)", text) == expected, text
