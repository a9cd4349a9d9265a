"""The slide decks (``make slides``): what the cell metadata puts on a slide, and each deck
in headless Chromium, as a lecturer presents it.

The first tests run the deck builder (``tools/slides.py``) on small notebooks. The
browser test opens every deck of ``_build/slides`` from a local server with every outside
request blocked (reveal.js and MathJax are the deck's own copies), steps through every
slide, checks that the math was typeset and that dragging each slider changes its
figure, and that the deck has speaker notes. It needs ``make slides`` and
``make browser-deps``; without them it skips with a reason, except under ``CI=true``.
"""
from __future__ import annotations

import functools
import http.server
import sys
import threading
from pathlib import Path

import nbformat
import pytest
from _browser import CHROMIUM_ARGS, chromium_executable, missing, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
DECKS = ROOT / "_build" / "slides"
sys.path.insert(0, str(ROOT / "tools"))
import slides  # noqa: E402  (tools/slides.py)

EXPECTED = [f"{p.stem}.slides.html" for p in sorted((ROOT / "chapters").glob("*.ipynb"))]
EXPECTED.append("how_to_use.slides.html")


# -- the deck builder ---------------------------------------------------------------------
def md(source, kind=None, **lecture):
    cell = nbformat.v4.new_markdown_cell(source)
    if kind:
        cell.metadata["slideshow"] = {"slide_type": kind}
    if lecture:
        cell.metadata["lecture"] = lecture
    return cell


def code(source, kind=None, outputs=(), **lecture):
    cell = nbformat.v4.new_code_cell(source)
    if kind:
        cell.metadata["slideshow"] = {"slide_type": kind}
    if lecture:
        cell.metadata["lecture"] = lecture
    cell.outputs = [nbformat.v4.new_output("display_data", data) for data in outputs]
    return cell


def deck(*cells, chapter=3):
    nb = nbformat.v4.new_notebook(cells=list(cells))
    return [(c.cell_type, c.metadata.get("slideshow", {}).get("slide_type"),
             c.metadata.get("tags", []), c.source, c.get("outputs", []))
            for c in slides.deck_notebook(nb, chapter).cells]


def test_marked_cells_go_on_slides_and_unmarked_prose_into_the_notes():
    macros = md("$\\def\\x{1}$", "slide")
    macros.metadata["tags"] = ["remove-cell"]
    cells = deck(
        macros,
        md("# Title", "slide"),
        md("Prose the lecturer says."),
        code("x = 1"),
        code("plot()", "subslide", outputs=[{"text/plain": "<Figure>", "image/png": "AAAA"}]),
        code("shown()", "-", show="code"),
        md("Appears on click.", "fragment"),
        md("Not in the deck.", "skip"),
        md("Explicit note.", "notes"),
    )
    kinds = [(c[0], c[1]) for c in cells]
    assert kinds == [("markdown", "slide"), ("markdown", "notes"), ("code", "subslide"),
                     ("code", "-"), ("markdown", "fragment"), ("markdown", "notes")]
    assert cells[1][3] == "Prose the lecturer says."
    assert cells[2][2] == ["remove-input"] and cells[3][2] == []   # show code keeps the source


def test_a_math_cell_keeps_headings_equations_and_questions_on_the_slide():
    cells = deck(md("## Section\n\nLong prose.\n\n$$\na = b\n$$ (eq-a)\n\n"
                    "**Question.** Why?\n\nMore prose with {eq}`eq-a`.", "slide", show="math"))
    assert [c[1] for c in cells] == ["slide", "notes"]
    assert cells[0][3] == "## Section\n\n$$\na = b \\tag{3.1}$$\n\n**Question.** Why?"
    assert cells[1][3] == "Long prose.\n\nMore prose with (3.1)."


def test_myst_roles_and_directives_become_markdown():
    text = slides.myst_to_markdown(
        "See {doc}`the first chapter <../chapters/01_bayes_evidence>` and "
        "{cite}`kingma2014auto`.\n\n```{note}\nA note.\n```\n\n"
        "```{prf:theorem} The bound\n:label: thm-x\nIt holds.\n```\n\n"
        "```{solution-start} ex-1\n:class: dropdown\n```\nsecret\n```{solution-end}\n```\nafter",
        {})
    assert "the first chapter" in text and "[kingma2014auto]" in text
    assert slides.myst_to_markdown("{doc}`../chapters/01_bayes_evidence`", {}) == \
        "Bayes' theorem and why the evidence is intractable"
    assert "> **Note.** A note." in text and "> **Theorem** (The bound). It holds." in text
    assert "secret" not in text and text.endswith("after")


def test_an_unmarked_notebook_gets_an_automatic_deck():
    explorer = {"text/html": '<div class="vaebook-explorer">slider</div>',
                "application/vnd.jupyter.widget-view+json": {"model_id": "x"},
                "image/png": "AAAA"}
    cells = deck(md("# Title\n\nOpening.\n\n## First\n\n$$x$$\n\nProse."),
                 md("**Question.** What moves?"),
                 code("explore(draw, sigma=[1, 2])", outputs=[explorer]),
                 code("helper = 1"))
    assert [(c[0], c[1]) for c in cells] == [
        ("markdown", "slide"), ("markdown", "notes"), ("markdown", "slide"),
        ("markdown", "notes"), ("markdown", "subslide"), ("code", "-")]
    # the kernel-free slider, never a widget view or the PDF's still
    assert list(cells[-1][4][0]["data"]) == ["text/html"]


# -- every deck in a browser --------------------------------------------------------------
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def deck_url():
    if not DECKS.is_dir():
        missing(f"the slides are not built ({DECKS}); run `make slides`")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(DECKS)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    executable = chromium_executable()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.mark.browser
@pytest.mark.parametrize("name", EXPECTED)
def test_deck_steps_through_typesets_math_and_moves_its_sliders(browser, deck_url, name):
    if not (DECKS / name).exists():
        missing(f"{name} is not built; run `make slides`")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors, outside = [], []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
        (deck_url, "data:")) else (outside.append(route.request.url), route.abort()))
    try:
        page.goto(f"{deck_url}/{name}", wait_until="load")
        page.wait_for_function("() => window.Reveal && Reveal.isReady() && window.MathJax"
                               " && MathJax.startup && MathJax.startup.promise", timeout=30_000)
        page.evaluate("() => MathJax.startup.promise")
        total = page.evaluate("() => Reveal.getTotalSlides()")
        assert total >= 2, f"{name} has {total} slide(s)"
        seen = set()
        page.evaluate("() => Reveal.slide(0, 0)")
        for _ in range(total):
            seen.add(page.evaluate("() => JSON.stringify(Reveal.getIndices())"))
            page.evaluate("() => Reveal.next()")
        assert len(seen) == total, f"stepping through {name} reached {len(seen)} of {total} slides"
        raw = page.evaluate(
            "() => [...document.querySelectorAll('.reveal .slides section')]"
            ".flatMap(s => [...s.querySelectorAll('p, li, h1, h2, h3, blockquote')])"
            ".map(e => e.textContent).filter(t => /\\$\\$|\\\\\\(|\\\\frac|\\\\mathbb/.test(t))"
            ".map(t => t.slice(0, 80))")
        assert not raw, f"math left as raw TeX in {name}: {raw[:3]}"
        assert page.locator(".reveal mjx-container").count() > 0, f"no typeset math in {name}"
        merrors = page.locator(".reveal mjx-merror").count()
        assert merrors == 0, f"MathJax could not typeset {merrors} formula(s) in {name}"
        assert page.locator(".reveal aside.notes").count() > 0, f"{name} has no speaker notes"
        _drag_every_slider(page, name)
        assert not errors, f"JavaScript errors in {name}: {errors}"
        assert not outside, f"{name} asked the network for {outside[:3]}"
    finally:
        page.close()


def _drag_every_slider(page, name: str) -> None:
    explorers = page.locator(".reveal .vaebook-explorer")
    for i in range(explorers.count()):
        explorer = explorers.nth(i)
        page.evaluate("(el) => Reveal.slide(...Object.values(Reveal.getIndices("
                      "el.closest('section'))))", explorer.element_handle())
        page.wait_for_timeout(50)
        img = explorer.locator("img.vaebook-frame")
        sliders = explorer.locator("input.vaebook-slider")
        assert sliders.count() >= 1
        for j in range(sliders.count()):
            slider = sliders.nth(j)
            if int(slider.get_attribute("max")) == 0:
                continue
            before, start = img.get_attribute("src"), slider.input_value()
            box = slider.bounding_box()
            assert box and box["width"] > 0, f"slider {j} of explorer {i} in {name} is not visible"
            x = box["x"] + (2 if int(start) > 0 else box["width"] - 2)   # drag to the far end
            page.mouse.click(x, box["y"] + box["height"] / 2)
            assert slider.input_value() != start, f"{name}: slider {j} of explorer {i} did not move"
            assert img.get_attribute("src") != before, (
                f"{name}: moving slider {j} of explorer {i} did not change its figure")
            # back to where it was, so the next slider starts from the initial figure
            slider.evaluate("(el, v) => { el.value = v; el.dispatchEvent(new Event('input')); }",
                            start)
            assert img.get_attribute("src") == before
