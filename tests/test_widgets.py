"""Tests of the slider mechanism (vaelib.widgets). The browser test checks the JavaScript."""
import base64
import io
import json
import os
import re
import sys
import time

import numpy as np
import pytest
from PIL import Image

from vaelib import _frames
from vaelib.widgets import (FRAMES_ENV, MAX_FRAMES, PDF_METADATA_KEY, Explorer, PdfFigure,
                            explore, frames_mode, render_png)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def draw(fig, sigma, L=1):
    ax = fig.subplots()
    x = np.linspace(-3, 3, 50)
    ax.plot(x, np.exp(-x**2 / (2 * sigma**2)) * L)
    ax.set_ylim(0, 10)


@pytest.fixture(autouse=True)
def all_frames(monkeypatch):
    """Every test draws all frames before explore returns unless it says otherwise."""
    monkeypatch.setenv(FRAMES_ENV, "all")


def test_render_png_is_a_deterministic_png():
    a = render_png(draw, (3, 2), 50, sigma=1.0)
    b = render_png(draw, (3, 2), 50, sigma=1.0)
    assert a.startswith(PNG_MAGIC) and a == b
    assert render_png(draw, (3, 2), 50, sigma=2.0) != a


def test_explore_renders_every_combination_once(tmp_path):
    # Frames are drawn in forked workers, so the calls are counted in a file, which
    # every process appends to.
    log = tmp_path / "calls"

    def counting(fig, sigma, L):
        with open(log, "a") as f:
            f.write(f"{sigma} {L}\n")
        draw(fig, sigma, L)

    e = explore(counting, sigma=[0.5, 1.0, 2.0], L=[1, 3], figsize=(3, 2), dpi=40)
    assert isinstance(e, Explorer)
    calls = sorted(tuple(line.split()) for line in log.read_text().splitlines())
    grid = sorted((str(s), str(n)) for s in (0.5, 1.0, 2.0) for n in (1, 3))
    # every combination once, plus the initial one again at print resolution
    assert calls == sorted(grid + [("0.5", "1")])
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


def test_mimebundle_has_stable_text_html_a_print_still_and_a_widget_view():
    e = explore(draw, sigma=[0.5, 1.0], figsize=(3, 2), dpi=40, initial={"sigma": 1.0},
                caption="A caption.")
    bundle, metadata = e._repr_mimebundle_()
    assert bundle["text/plain"] == "<Explorer with sliders (σ: 2 values); 2 distinct frames>"
    assert bundle["text/html"] == e.to_html()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    # the still for the PDF: the initial values at twice the resolution
    still = base64.b64decode(bundle["image/png"])
    assert still == render_png(draw, (3, 2), 80, sigma=1.0)
    assert Image.open(io.BytesIO(still)).size == (240, 160)
    assert metadata[PDF_METADATA_KEY] == {
        "caption": "A caption.",
        "note": "Interactive on the website (sliders: σ); shown here at σ = 1."}


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


# -- when the frames are drawn: all at once in parallel, or lazily in the background ---
def test_parallel_frames_are_the_frames_of_one_process(monkeypatch):
    grid = dict(sigma=[0.5, 1.0, 2.0], L=[1, 2, 3], figsize=(3, 2), dpi=40)
    parallel = explore(draw, **grid)
    monkeypatch.setattr(_frames, "CAN_FORK", False)
    monkeypatch.setattr("vaelib.widgets.CAN_FORK", False)
    sequential = explore(draw, **grid)
    assert parallel.frames == sequential.frames and parallel.index == sequential.index
    assert parallel.to_html() == sequential.to_html()


@pytest.mark.parametrize("env, session, colab, expected", [
    ({}, None, False, "all"),                       # nbclient, nbval, scripts
    ({}, "chapters/01.ipynb", False, "lazy"),       # a kernel started by a Jupyter server
    ({}, None, True, "lazy"),                       # Colab
    ({FRAMES_ENV: "all"}, "chapters/01.ipynb", False, "all"),   # the Makefile wins
    ({FRAMES_ENV: " Lazy "}, None, False, "lazy"),
])
def test_frames_mode_tells_a_live_kernel_from_a_build(monkeypatch, env, session, colab,
                                                      expected):
    monkeypatch.delenv(FRAMES_ENV, raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if session:
        monkeypatch.setenv("JPY_SESSION_NAME", session)
        monkeypatch.setitem(sys.modules, "ipykernel", sys.modules.get("ipykernel", object()))
    if colab:
        monkeypatch.setitem(sys.modules, "google.colab", object())
    assert frames_mode() == expected


def test_frames_mode_rejects_an_unknown_value(monkeypatch):
    monkeypatch.setenv(FRAMES_ENV, "fast")
    with pytest.raises(ValueError, match="'all'.*'lazy'"):
        explore(draw, sigma=[1.0])


def gated(gate):
    """A draw function whose frames other than sigma=0.5 wait until ``gate`` exists."""
    def draw_gated(fig, sigma, L=1):
        while sigma != 0.5 and not gate.exists():
            time.sleep(0.01)
        draw(fig, sigma, L)
    return draw_gated


def test_lazy_mode_shows_the_first_frame_at_once_and_the_rest_when_drawn(monkeypatch,
                                                                          tmp_path):
    monkeypatch.setenv(FRAMES_ENV, "lazy")
    gate = tmp_path / "gate"
    e = explore(gated(gate), sigma=[0.5, 1.0, 2.0], L=[1, 2], figsize=(3, 2), dpi=40)
    assert e.mode == "lazy" and not e.ready
    assert e.frame_for(L=1) == render_png(draw, (3, 2), 40, sigma=0.5)
    bundle, _ = e._repr_mimebundle_()
    assert "being drawn in the background" in bundle["text/plain"]
    assert "vaebook-explorer-pending" in bundle["text/html"]
    assert "application/vnd.jupyter.widget-view+json" in bundle
    e.sliders[0].value = 2.0                       # a frame that is not drawn yet
    assert "drawing sigma=2.0, L=1" in e.status.value
    assert e.image.value == render_png(draw, (3, 2), 40, sigma=0.5)
    gate.touch()
    frames = e.frames                              # waits for the background worker
    assert e.ready and len(frames) == 6 and e.status.value == ""
    assert e.image.value == render_png(draw, (3, 2), 40, sigma=2.0, L=1)
    monkeypatch.setenv(FRAMES_ENV, "all")
    assert explore(draw, sigma=[0.5, 1.0, 2.0], L=[1, 2], figsize=(3, 2), dpi=40).frames == frames
    assert e._repr_mimebundle_()[0]["text/plain"].endswith("6 distinct frames>")


def test_background_workers_draw_one_explorer_after_the_other(monkeypatch, tmp_path):
    monkeypatch.setenv(FRAMES_ENV, "lazy")
    gate = tmp_path / "gate"
    first = explore(gated(gate), sigma=[0.5, 1.0, 2.0], figsize=(3, 2), dpi=40)
    second = explore(draw, sigma=[0.5, 1.0], figsize=(3, 2), dpi=40)
    time.sleep(1.0)   # ample for the second's one frame, were it not waiting its turn
    assert not first.ready and not second.ready
    gate.touch()
    assert len(second.frames) == 2 and first.ready


def test_lazy_mode_without_fork_draws_a_frame_when_a_slider_reaches_it(monkeypatch):
    monkeypatch.setenv(FRAMES_ENV, "lazy")
    monkeypatch.setattr(_frames, "CAN_FORK", False)
    e = explore(draw, sigma=[0.5, 1.0], figsize=(3, 2), dpi=40)
    e.widget
    assert not e.ready
    e.sliders[0].value = 1.0
    assert e.image.value == render_png(draw, (3, 2), 40, sigma=1.0) and e.ready


# -- mistakes a reader makes: the message says which slider values ----------------------
def test_a_misspelt_slider_name_is_named_with_the_likely_fix():
    with pytest.raises(TypeError, match=r"draw\(fig, sigma, L=1\) has no argument 'sigam' "
                                        r"for that slider\. Did you mean 'sigma'\?"):
        explore(draw, sigam=[0.5, 1.0])


def test_a_draw_argument_without_slider_or_default_is_named():
    def draw_two(fig, sigma, L):
        draw(fig, sigma, L)

    with pytest.raises(TypeError, match="needs a value for 'L'; add a slider L="):
        explore(draw_two, sigma=[0.5, 1.0])


def test_a_draw_function_that_takes_no_figure_is_named():
    with pytest.raises(TypeError, match="must take the figure first"):
        explore(lambda sigma: None, sigma=[0.5, 1.0])


def failing(fig, sigma, L=1):
    if sigma == 2.0 and L == 3:
        raise ValueError("cannot draw this one")
    draw(fig, sigma, L)


@pytest.mark.parametrize("initial", [None, {"sigma": 2.0, "L": 3}])
def test_a_failing_draw_says_which_slider_values_it_was_drawing(initial):
    # the failing frame is drawn by a worker (initial None) or first, in this process
    with pytest.raises(ValueError, match="cannot draw this one") as info:
        explore(failing, sigma=[0.5, 1.0, 2.0], L=[1, 3], figsize=(3, 2), dpi=40,
                initial=initial)
    assert info.value.__notes__ == [
        "explore(failing, ...) was drawing the frame failing(fig, sigma=2.0, L=3)."]


def test_a_failing_frame_in_lazy_mode_shows_in_the_widget_and_raises_on_frames(monkeypatch):
    monkeypatch.setenv(FRAMES_ENV, "lazy")
    e = explore(failing, sigma=[0.5, 2.0], L=[1, 3], figsize=(3, 2), dpi=40)
    e.widget
    with pytest.raises(ValueError, match="cannot draw this one"):
        e.frames
    e.sliders[0].value = 2.0
    e.sliders[1].value = 3
    assert "could not draw sigma=2.0, L=3" in e.status.value
    assert "cannot draw this one" in e.status.value


def test_frames_a_worker_did_not_deliver_are_drawn_here():
    parent = os.getpid()

    def dies_in_a_worker(fig, sigma):
        if os.getpid() != parent and sigma == 2.0:
            os._exit(3)                     # a worker killed mid-way
        draw(fig, sigma)

    e = explore(dies_in_a_worker, sigma=[0.5, 1.0, 2.0, 4.0], figsize=(3, 2), dpi=40)
    assert e.frames == [render_png(draw, (3, 2), 40, sigma=s) for s in (0.5, 1.0, 2.0, 4.0)]


# -- the PDF: a still with a caption and the interactive-on-the-website line -------------
class _Data:
    def __init__(self, mime_type, output_metadata):
        self.mime_type, self.output_metadata = mime_type, output_metadata


class _Renderer:
    @staticmethod
    def render_image(data):
        from docutils import nodes
        return [nodes.image(uri="still.png")]


def test_pdf_renderer_prints_an_explorer_still_with_its_caption_and_nothing_else():
    from docutils import nodes

    meta = {PDF_METADATA_KEY: {"caption": "A caption.", "note": "Interactive on the website."}}
    image, caption = PdfFigure.handle_mime(_Renderer, _Data("image/png", meta), False)
    assert isinstance(image, nodes.image) and image["uri"] == "still.png"
    assert image["align"] == "center"
    assert isinstance(caption, nodes.paragraph)
    assert caption.astext() == "A caption. Interactive on the website."
    assert PdfFigure.handle_mime(_Renderer, _Data("image/png", {}), False) is None
    assert PdfFigure.handle_mime(_Renderer, _Data("text/html", meta), False) is None
    assert PdfFigure.handle_mime(_Renderer, _Data("image/png", meta), True) is None


@pytest.mark.parametrize("files, cores", [
    ({"/sys/fs/cgroup/cpu.max": "150000 100000\n"}, 2),      # cgroup v2: 1.5 CPUs
    ({"/sys/fs/cgroup/cpu.max": "max 100000\n"}, 8),         # no quota
    ({"/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "100000\n",
      "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n"}, 1),  # cgroup v1: 1 CPU
    ({}, 8),
])
def test_available_cores_respects_a_container_cpu_quota(monkeypatch, files, cores):
    def fake_open(path, *args, **kwargs):
        if path not in files:
            raise FileNotFoundError(path)
        return io.StringIO(files[path])

    monkeypatch.setattr(_frames, "open", fake_open, raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    assert _frames.available_cores() == cores
