"""Sliders that work in a live kernel, on the static website and under nbval.

Every chapter lets the reader vary σ, the number of Monte Carlo samples L and the
latent dimension. :func:`explore` is the one call that does it::

    def draw(fig, sigma, L):
        ax = fig.subplots()
        ...

    explore(draw, sigma=[0.1, 0.3, 1.0], L=[1, 10, 100], caption="...")

How it works, and why:

* every combination of slider values is rendered **once**, at execution time, with
  matplotlib's Agg backend into PNG bytes (a matplotlib redraw costs ~100 ms here, too
  slow to redo on every slider move);
* in a live kernel (JupyterLab, a lecture) the reader gets ipywidgets sliders; moving
  one swaps the cached PNG into an ``ipywidgets.Image`` from an ``observe`` callback,
  which takes well under a millisecond (see ``benchmarks/bench_widgets.py``);
* the same frames are embedded in a small HTML/JavaScript slider (``text/html``), which
  the static website shows, so a reader without a kernel never meets a dead widget
  (the book's ``_config.yml`` gives ``text/html`` priority over widget views);
* the text outputs are stable: ``text/plain`` is a fixed description and the only
  run-dependent parts of the HTML (base64 frames, element ids) are replaced by nbval's
  sanitize file ``nbval_sanitize.cfg``. No ``Output`` widget and no
  ``ipywidgets.interact`` are used: both make nbclient hang now and then
  (jupyter/nbclient#312).
"""
from __future__ import annotations

import base64
import hashlib
import html
import io
import itertools
import json
import numbers
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["explore", "Explorer", "render_png", "DEFAULT_LABELS", "MAX_FRAMES"]

#: Slider labels for the book's three standard parameters.
DEFAULT_LABELS = {"sigma": "σ", "L": "L (samples)", "latent_dim": "latent dim"}
#: Upper bound on the number of frames of one explorer (execution time and page size).
MAX_FRAMES = 120

_SCRIPT = """
(function () {
  var root = document.getElementById(%(id)s);
  if (!root || root.dataset.ready) { return; }
  root.dataset.ready = "1";
  var data = JSON.parse(root.querySelector("script.vaebook-data").textContent);
  var img = root.querySelector("img.vaebook-frame");
  var inputs = root.querySelectorAll("input.vaebook-slider");
  function update() {
    var flat = 0;
    for (var i = 0; i < inputs.length; i++) {
      var k = parseInt(inputs[i].value, 10);
      inputs[i].parentNode.querySelector("output").textContent = data.labels[i][k];
      flat = flat * data.shape[i] + k;
    }
    img.src = "data:image/png;base64," + data.frames[data.index[flat]];
  }
  for (var i = 0; i < inputs.length; i++) { inputs[i].addEventListener("input", update); }
})();
"""

_STYLE = (
    "<style>.vaebook-explorer{margin:0.5em 0 1em 0}"
    ".vaebook-explorer img{max-width:100%;height:auto;display:block}"
    ".vaebook-controls{display:flex;flex-wrap:wrap;gap:0.3em 1.5em;font-size:1.05em;"
    "align-items:center;margin-top:0.3em}"
    ".vaebook-controls label{display:flex;align-items:center;gap:0.5em}"
    ".vaebook-controls output{min-width:3.5em;font-variant-numeric:tabular-nums}"
    ".vaebook-caption{font-size:0.95em;color:#444;margin-top:0.3em}</style>"
)


def _format_value(value: Any) -> str:
    """Short, stable text for a slider value (4 significant digits for floats)."""
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.4g}"
    return str(value)


def render_png(plot: Callable[..., Any], figsize: tuple[float, float], dpi: int,
               **kwargs: Any) -> bytes:
    """Render ``plot(fig, **kwargs)`` into PNG bytes with the Agg backend.

    The figure is created here (no pyplot state, nothing shown), so the call is
    side-effect free and its bytes depend only on ``plot`` and its arguments. The image
    is stored with an adaptive 256-colour palette (median cut, no dithering): line plots
    and colour maps look the same and the frames are about three times smaller, which
    keeps the pages light (every frame of every slider is embedded in the page).
    """
    from PIL import Image

    fig = Figure(figsize=figsize, dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    plot(fig, **kwargs)
    canvas.draw()
    rgb = Image.fromarray(np.asarray(canvas.buffer_rgba())).convert("RGB")
    image = rgb.quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                         dither=Image.Dither.NONE)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


class Explorer:
    """Precomputed frames of a figure over a grid of slider values.

    Built by :func:`explore`; displaying it shows live sliders in a kernel and a
    kernel-free slider on the website. Attributes useful in tests and benchmarks:

    Attributes
    ----------
    names : list of str
        Parameter names, in slider order.
    values : list of list
        The values each slider takes.
    frames : list of bytes
        Distinct PNG frames.
    index : list of int
        ``index[flat]`` is the frame of the combination whose row-major position in
        the grid ``values`` is ``flat``.
    render_seconds : float
        Wall time spent rendering all frames.
    """

    def __init__(self, names, values, labels, frames, index, current, caption,
                 render_seconds):
        self.names = names
        self.values = values
        self.labels = labels
        self.frames = frames
        self.index = index
        self.current = dict(current)
        self.caption = caption
        self.render_seconds = render_seconds
        self._widget = None
        digest = hashlib.sha1(b"".join(hashlib.sha1(f).digest() for f in frames))
        self.dom_id = "vaebook-explorer-" + digest.hexdigest()[:12]

    # -- frame lookup -------------------------------------------------------------
    def frame_for(self, **params: Any) -> bytes:
        """PNG bytes for the given slider values (missing ones keep their current value)."""
        state = {**self.current, **params}
        flat = 0
        for name, vals in zip(self.names, self.values):
            if state[name] not in vals:
                raise ValueError(f"{name}={state[name]!r} was not rendered; "
                                 f"choose one of {vals}.")
            flat = flat * len(vals) + vals.index(state[name])
        return self.frames[self.index[flat]]

    # -- live kernel --------------------------------------------------------------
    @property
    def widget(self):
        """The ipywidgets view: one SelectionSlider per parameter above an Image."""
        if self._widget is None:
            import ipywidgets as w

            image = w.Image(value=self.frame_for(), format="png",
                            layout=w.Layout(max_width="100%", height="auto"))
            sliders = []
            for name, vals in zip(self.names, self.values):
                slider = w.SelectionSlider(
                    options=[(_format_value(v), v) for v in vals],
                    value=self.current[name], description=self.labels[name],
                    continuous_update=True,
                    style={"description_width": "initial"},
                    layout=w.Layout(width="min(100%, 28em)"))

                def on_change(change, name=name):
                    self.current[name] = change["new"]
                    image.value = self.frame_for()

                slider.observe(on_change, names="value")
                sliders.append(slider)
            self.sliders = sliders
            self.image = image
            self._widget = w.VBox([w.HBox(sliders, layout=w.Layout(flex_flow="row wrap")),
                                   image])
        return self._widget

    # -- static website -----------------------------------------------------------
    def to_html(self) -> str:
        """A self-contained HTML/JavaScript slider over the precomputed frames."""
        controls = []
        for name, vals in zip(self.names, self.values):
            k = vals.index(self.current[name])
            controls.append(
                f'<label>{html.escape(self.labels[name])} '
                f'<input type="range" class="vaebook-slider" data-param="{html.escape(name)}" '
                f'min="0" max="{len(vals) - 1}" step="1" value="{k}" '
                f'aria-label="{html.escape(self.labels[name])}"> '
                f'<output>{html.escape(_format_value(self.current[name]))}</output></label>')
        data = {
            "names": self.names,
            "labels": [[_format_value(v) for v in vals] for vals in self.values],
            "shape": [len(vals) for vals in self.values],
            "index": self.index,
            "frames": [base64.b64encode(f).decode("ascii") for f in self.frames],
        }
        first = base64.b64encode(self.frame_for()).decode("ascii")
        caption = (f'<div class="vaebook-caption">{html.escape(self.caption)}</div>'
                   if self.caption else "")
        alt = html.escape(self.caption or "figure with sliders")
        payload = json.dumps(data).replace("</", "<\\/")
        return (
            f'{_STYLE}<div class="vaebook-explorer" id="{self.dom_id}">'
            f'<img class="vaebook-frame" alt="{alt}" src="data:image/png;base64,{first}">'
            f'<div class="vaebook-controls">{"".join(controls)}</div>{caption}'
            f'<script type="application/json" class="vaebook-data">'
            f'{payload}</script>'
            f'<script>{_SCRIPT % {"id": json.dumps(self.dom_id)}}</script></div>')

    def __repr__(self) -> str:
        sliders = ", ".join(f"{self.labels[n]}: {len(v)} values"
                            for n, v in zip(self.names, self.values))
        return f"<Explorer with sliders ({sliders}); {len(self.frames)} distinct frames>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/plain": repr(self), "text/html": self.to_html()}
        try:
            view = self.widget._repr_mimebundle_()
        except Exception:  # no ipywidgets front end: the HTML slider is enough
            view = None
        if view and "application/vnd.jupyter.widget-view+json" in view:
            bundle["application/vnd.jupyter.widget-view+json"] = view[
                "application/vnd.jupyter.widget-view+json"]
        return bundle


def _as_values(name: str, values: Any) -> list:
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, range, np.ndarray)):
        raise TypeError(f"{name} must be a list of slider values, e.g. {name}=[1, 2, 5]; "
                        f"got {type(values).__name__}.")
    vals = [v.item() if isinstance(v, np.generic) else v for v in values]
    if not vals:
        raise ValueError(f"{name} needs at least one value.")
    if len(set(map(repr, vals))) != len(vals):
        raise ValueError(f"{name} has repeated values {vals}; give each value once.")
    return vals


def explore(plot: Callable[..., Any], *, caption: str = "",
            figsize: tuple[float, float] = (8.0, 3.6), dpi: int = 80,
            labels: dict[str, str] | None = None, initial: dict[str, Any] | None = None,
            **params: Sequence[Any]) -> Explorer:
    """Render ``plot`` over a grid of slider values and return a displayable explorer.

    Parameters
    ----------
    plot : callable
        ``plot(fig, **values)`` draws into the matplotlib ``Figure`` it is given (call
        ``fig.subplots(...)``); it must not call ``plt.show`` or create figures.
    caption : str
        One or two sentences shown under the figure (also its alt text).
    figsize, dpi
        Size of each frame; the default 8 × 3.6 in at 80 dpi keeps frames small and
        readable on a projector with the book style.
    labels : dict, optional
        Slider labels by parameter name; defaults to :data:`DEFAULT_LABELS`
        (``sigma`` → σ, ``L`` → L (samples), ``latent_dim`` → latent dim), else the name.
    initial : dict, optional
        Starting value of each slider; defaults to the first value of each list.
    **params : list
        One keyword per slider, mapping to the values it takes, e.g.
        ``sigma=[0.1, 0.3, 1.0], L=[1, 10, 100], latent_dim=[1, 2, 5]``. Any name can be
        used (``K=[2, 3, 4]``, ``iteration=range(20)``); the product of the list lengths
        (the number of frames) must not exceed :data:`MAX_FRAMES`.

    Returns
    -------
    Explorer
        Display it (last expression of a cell). ``explorer.render_seconds`` tells
        how long the frames took.
    """
    if not callable(plot):
        raise TypeError("plot must be a function plot(fig, **values) that draws into fig.")
    if not params:
        raise ValueError("Give at least one slider, e.g. explore(draw, sigma=[0.1, 1.0]).")
    dpi = int(dpi)
    names = list(params)
    values = [_as_values(n, params[n]) for n in names]
    n_frames = int(np.prod([len(v) for v in values]))
    if n_frames > MAX_FRAMES:
        raise ValueError(f"{n_frames} slider combinations exceed MAX_FRAMES={MAX_FRAMES}; "
                         "use fewer values per slider or split the figure.")
    all_labels = {n: (labels or {}).get(n, DEFAULT_LABELS.get(n, n)) for n in names}
    current = {n: v[0] for n, v in zip(names, values)}
    for n, v in (initial or {}).items():
        if n not in current:
            raise ValueError(f"initial names {n!r}, which is not a slider ({names}).")
        if v not in params[n] and v not in values[names.index(n)]:
            raise ValueError(f"initial {n}={v!r} is not one of its values {values[names.index(n)]}.")
        current[n] = v
    start = time.perf_counter()
    frames: list[bytes] = []
    seen: dict[bytes, int] = {}
    index: list[int] = []
    for combo in itertools.product(*values):
        png = render_png(plot, figsize, dpi, **dict(zip(names, combo)))
        if png not in seen:
            seen[png] = len(frames)
            frames.append(png)
        index.append(seen[png])
    elapsed = time.perf_counter() - start
    return Explorer(names, values, all_labels, frames, index, current, caption, elapsed)
