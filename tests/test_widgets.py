"""Tests of the slider mechanism (vaelib.widgets). The browser test checks the JavaScript."""
import base64
import json
import re

import numpy as np
import pytest

from vaelib.widgets import MAX_FRAMES, Explorer, explore, render_png

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def draw(fig, sigma, L=1):
    ax = fig.subplots()
    x = np.linspace(-3, 3, 50)
    ax.plot(x, np.exp(-x**2 / (2 * sigma**2)) * L)
    ax.set_ylim(0, 10)


def test_render_png_is_a_deterministic_png():
    a = render_png(draw, (3, 2), 50, sigma=1.0)
    b = render_png(draw, (3, 2), 50, sigma=1.0)
    assert a.startswith(PNG_MAGIC) and a == b
    assert render_png(draw, (3, 2), 50, sigma=2.0) != a


def test_explore_renders_every_combination_once():
    calls = []

    def counting(fig, sigma, L):
        calls.append((sigma, L))
        draw(fig, sigma, L)

    e = explore(counting, sigma=[0.5, 1.0, 2.0], L=[1, 3], figsize=(3, 2), dpi=40)
    assert isinstance(e, Explorer)
    assert calls == [(s, n) for s in (0.5, 1.0, 2.0) for n in (1, 3)]
    assert len(e.index) == 6 and len(e.frames) == 6
    assert e.frame_for(sigma=2.0, L=3) == render_png(draw, (3, 2), 40, sigma=2.0, L=3)


def test_identical_frames_are_stored_once():
    e = explore(lambda fig, sigma, L: draw(fig, sigma), sigma=[1.0, 2.0], L=[1, 2, 3],
                figsize=(3, 2), dpi=40)
    assert len(e.frames) == 2 and e.index == [0, 0, 0, 1, 1, 1]


def test_live_slider_swaps_the_cached_frame():
    e = explore(draw, sigma=[0.5, 1.0], L=[1, 2], figsize=(3, 2), dpi=40,
                initial={"L": 2})
    w = e.widget
    assert e.image.value == e.frame_for(sigma=0.5, L=2)
    e.sliders[0].value = 1.0
    assert e.image.value == e.frame_for(sigma=1.0, L=2)
    e.sliders[1].value = 1
    assert e.image.value == e.frame_for(sigma=1.0, L=1)
    assert w.children[1] is e.image


def test_static_html_carries_every_frame_and_one_slider_per_parameter():
    e = explore(draw, sigma=[0.5, 1.0, 2.0], L=[1, 2], figsize=(3, 2), dpi=40,
                labels={"L": "samples"}, caption="A caption")
    html = e.to_html()
    assert html.count('class="vaebook-slider"') == 2
    assert "samples" in html and "A caption" in html and e.dom_id in html
    payload = re.search(r'<script type="application/json" class="vaebook-data">(.*?)</script>',
                        html, re.S).group(1)
    data = json.loads(payload.replace("<\\/", "</"))
    assert data["shape"] == [3, 2] and data["labels"] == [["0.5", "1", "2"], ["1", "2"]]
    decoded = [base64.b64decode(f) for f in data["frames"]]
    assert decoded == e.frames
    # the row-major index used by the JavaScript agrees with frame_for
    assert decoded[data["index"][2 * 2 + 1]] == e.frame_for(sigma=2.0, L=2)


def test_mimebundle_has_stable_text_html_and_a_widget_view():
    e = explore(draw, sigma=[0.5, 1.0], figsize=(3, 2), dpi=40)
    bundle = e._repr_mimebundle_()
    assert bundle["text/plain"] == "<Explorer with sliders (σ: 2 values); 2 distinct frames>"
    assert bundle["text/html"] == e.to_html()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_same_frames_give_the_same_dom_id():
    a = explore(draw, sigma=[0.5, 1.0], figsize=(3, 2), dpi=40)
    b = explore(draw, sigma=[0.5, 1.0], figsize=(3, 2), dpi=40)
    c = explore(draw, sigma=[0.5, 2.0], figsize=(3, 2), dpi=40)
    assert a.dom_id == b.dom_id != c.dom_id


@pytest.mark.parametrize("kwargs, exc, match", [
    ({}, ValueError, "at least one slider"),
    ({"sigma": 1.0}, TypeError, "list of slider values"),
    ({"sigma": []}, ValueError, "at least one value"),
    ({"sigma": [1.0, 1.0]}, ValueError, "repeated"),
    ({"sigma": list(range(1, MAX_FRAMES + 2))}, ValueError, "MAX_FRAMES"),
    ({"sigma": [1.0], "initial": {"L": 1}}, ValueError, "not a slider"),
    ({"sigma": [1.0], "initial": {"sigma": 3.0}}, ValueError, "not one of"),
])
def test_explore_rejects_bad_input(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        explore(draw, **kwargs)


def test_explore_rejects_a_non_callable():
    with pytest.raises(TypeError, match="plot must be a function"):
        explore("draw", sigma=[1.0])


def test_frame_for_rejects_values_that_were_not_rendered():
    e = explore(draw, sigma=[0.5, 1.0], figsize=(3, 2), dpi=40)
    with pytest.raises(ValueError, match="was not rendered"):
        e.frame_for(sigma=0.7)
