"""Sliders that work in a live kernel, on the static website, in the PDF and under nbval.

Every chapter lets the reader vary σ, the number of Monte Carlo samples L and the
latent dimension. :func:`explore` is the one call that does it::

    def draw(fig, sigma, L):
        ax = fig.subplots()
        ...

    explore(draw, sigma=[0.1, 0.3, 1.0], L=[1, 10, 100], caption="...")

How it works, and why:

* every combination of slider values is rendered **once** with matplotlib's Agg backend
  into PNG bytes (a matplotlib redraw costs ~100 ms here, too slow to redo on every
  slider move);
* in a live kernel (JupyterLab, a lecture) the reader gets ipywidgets sliders; moving
  one swaps the cached PNG into an ``ipywidgets.Image`` from an ``observe`` callback,
  which takes well under a millisecond (see ``benchmarks/bench_widgets.py``);
* the same frames are embedded in a small HTML/JavaScript slider (``text/html``), which
  the static website and the slide decks show, so a reader without a kernel never meets
  a dead widget (the book's ``_config.yml`` gives ``text/html`` priority over widget
  views);
* the PDF cannot move a slider: the bundle also carries the figure at its initial values
  (``image/png``, at twice the resolution) and, in the output's metadata, the caption
  and a line saying the figure is interactive on the website; :class:`PdfFigure` (a
  myst-nb renderer registered in ``pyproject.toml``) prints them as the still and its
  caption;
* the text outputs are stable: ``text/plain`` is a fixed description and the only
  run-dependent parts of the HTML (base64 frames, element ids) are replaced by nbval's
  sanitize file ``nbval_sanitize.cfg``. No ``Output`` widget and no
  ``ipywidgets.interact`` are used: both make nbclient hang now and then
  (jupyter/nbclient#312).

When the frames are drawn (``VAEBOOK_FRAMES``)
----------------------------------------------
``all``
    Every frame before the cell returns, in parallel on every core (forked workers,
    :mod:`vaelib._frames`). The book build, nbval, the slide and PDF builds and scripts
    need this: the website's slider embeds every frame, and nbval compares the outputs.
``lazy``
    The first frame now, the rest by a background worker at low priority while the
    next cells run (the kernel's cells come first; the workers of a chapter's sliders
    run one after another, in the order of the cells); a slider that reaches a frame
    not drawn yet asks for it first. A chapter's Run All in a lecture no longer waits
    for frames.

Unset, the mode is ``lazy`` in a kernel started by a Jupyter server (JupyterLab,
Notebook, Binder, JupyterHub: the server sets ``JPY_SESSION_NAME`` in the kernel's
environment) or in Colab, and ``all`` everywhere else (nbclient, nbconvert, nbval,
papermill, plain Python set neither), so a build never gets a partial slider. The
Makefile and CI set ``VAEBOOK_FRAMES=all`` explicitly for every build and test.
"""
from __future__ import annotations

import base64
import difflib
import hashlib
import html
import inspect
import json
import numbers
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._frames import (CAN_FORK, PRINT_KEY, FrameGrid, Frames, available_cores,
                      format_values, render_png)

__all__ = ["explore", "Explorer", "render_png", "frames_mode", "PdfFigure",
           "DEFAULT_LABELS", "MAX_FRAMES", "FRAMES_ENV"]

#: Slider labels for the book's three standard parameters.
DEFAULT_LABELS = {"sigma": "σ", "L": "L (samples)", "latent_dim": "latent dim"}
#: Upper bound on the number of frames of one explorer (execution time and page size).
MAX_FRAMES = 120
#: Environment variable that chooses when frames are drawn: ``all`` or ``lazy``.
FRAMES_ENV = "VAEBOOK_FRAMES"
#: Key of the output metadata that tells :class:`PdfFigure` an image is an explorer.
PDF_METADATA_KEY = "vaebook-explorer"

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


def frames_mode() -> str:
    """``"all"`` or ``"lazy"``: when :func:`explore` draws frames (see the module notes)."""
    value = os.environ.get(FRAMES_ENV, "").strip().lower()
    if value in ("all", "lazy"):
        return value
    if value:
        raise ValueError(f"{FRAMES_ENV}={value!r} is not a mode: set it to 'all' (every "
                         "frame before the cell returns) or 'lazy' (first frame now), "
                         "or unset it.")
    live = "google.colab" in sys.modules or (
        "ipykernel" in sys.modules and bool(os.environ.get("JPY_SESSION_NAME")))
    return "lazy" if live else "all"


def _format_value(value: Any) -> str:
    """Short, stable text for a slider value (4 significant digits for floats)."""
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.4g}"
    return str(value)


class Explorer:
    """Frames of a figure over a grid of slider values.

    Built by :func:`explore`; displaying it shows live sliders in a kernel and a
    kernel-free slider on the website. In ``lazy`` mode the frames are still being
    drawn when the explorer is displayed; the attributes that need every frame
    (``frames``, ``index``, ``render_seconds``, ``dom_id``, :meth:`to_html`) wait for
    them.

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
        Wall time from the call of :func:`explore` until every frame was drawn.
    first_frame_seconds : float
        Wall time until the frame of the initial slider values was drawn.
    mode : str
        ``"all"`` or ``"lazy"`` (see :func:`frames_mode`).
    """

    def __init__(self, grid: FrameGrid, frames: Frames, labels: dict[str, str],
                 current: dict[str, Any], caption: str, mode: str,
                 first_frame_seconds: float):
        self._grid, self._frames = grid, frames
        self.names, self.values = grid.names, grid.values
        self.labels = labels
        self.current = dict(current)
        self.caption = caption
        self.mode = mode
        self.first_frame_seconds = first_frame_seconds
        self._widget = None
        self._distinct: tuple[list[bytes], list[int]] | None = None

    # -- frames ---------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """Whether every frame has been drawn."""
        return self._frames.done

    def _all_frames(self) -> tuple[list[bytes], list[int]]:
        if self._distinct is None:
            self._frames.wait()
            frames: list[bytes] = []
            seen: dict[bytes, int] = {}
            index: list[int] = []
            for flat in range(self._grid.size):
                png = self._frames.pngs[flat]
                index.append(seen.setdefault(png, len(frames)))
                if index[-1] == len(frames):
                    frames.append(png)
            self._distinct = (frames, index)
        return self._distinct

    @property
    def frames(self) -> list[bytes]:
        return self._all_frames()[0]

    @property
    def index(self) -> list[int]:
        return self._all_frames()[1]

    @property
    def render_seconds(self) -> float:
        self._all_frames()
        return self._frames.seconds

    @property
    def dom_id(self) -> str:
        """Element id of the HTML slider: a hash of the frames, so stable across runs."""
        digest = hashlib.sha1(b"".join(hashlib.sha1(f).digest() for f in self.frames))
        return "vaebook-explorer-" + digest.hexdigest()[:12]

    def _flat(self, state: dict[str, Any]) -> int:
        flat = 0
        for name, vals in zip(self.names, self.values):
            if state[name] not in vals:
                raise ValueError(f"{name}={state[name]!r} was not rendered; "
                                 f"choose one of {vals}.")
            flat = flat * len(vals) + vals.index(state[name])
        return flat

    def frame_for(self, **params: Any) -> bytes:
        """PNG bytes for the given slider values (missing ones keep their current value)."""
        unknown = set(params) - set(self.names)
        if unknown:
            raise ValueError(f"{sorted(unknown)} are not sliders of this explorer "
                             f"(its sliders: {self.names}).")
        return self._frames.get(self._flat({**self.current, **params}))

    # -- live kernel ----------------------------------------------------------------
    @property
    def widget(self):
        """The ipywidgets view: one SelectionSlider per parameter above an Image.

        Below the image, a status line says when a frame is still being drawn (lazy
        mode) or could not be drawn (the draw function raised for those values).
        """
        if self._widget is None:
            import ipywidgets as w

            first = self._frames.pngs.get(self._flat(self.current)) or self.frame_for()
            self.image = w.Image(value=first, format="png",
                                 layout=w.Layout(max_width="100%", height="auto"))
            self.status = w.HTML(value="")
            self.sliders = []
            for name, vals in zip(self.names, self.values):
                slider = w.SelectionSlider(
                    options=[(_format_value(v), v) for v in vals],
                    value=self.current[name], description=self.labels[name],
                    continuous_update=True,
                    style={"description_width": "initial"},
                    layout=w.Layout(width="min(100%, 28em)"))
                slider.observe(lambda change, name=name: self._on_slider(name, change["new"]),
                               names="value")
                self.sliders.append(slider)
            self._frames.listeners.append(self._on_frame)
            self._widget = w.VBox([w.HBox(self.sliders, layout=w.Layout(flex_flow="row wrap")),
                                   self.image, self.status])
        return self._widget

    def _on_slider(self, name: str, value: Any) -> None:
        self.current[name] = value
        flat = self._flat(self.current)
        png = self._frames.pngs.get(flat)
        if png is not None:
            self.image.value = png
            self.status.value = ""
        elif flat in self._frames.errors:
            self.status.value = self._error(flat)
        elif self._frames.request(flat):  # lazy mode: _on_frame shows it when it arrives
            self.status.value = f"<i>drawing {html.escape(self._describe(flat))} …</i>"
        else:  # no worker has it (no fork on this system): draw it now
            try:
                self.image.value = self._frames.get(flat)
                self.status.value = ""
            except Exception as exc:
                self.status.value = f'<span style="color:#b00">{html.escape(str(exc))}</span>'

    def _on_frame(self, key: int) -> None:
        if self._widget is None or key != self._flat(self.current):
            return
        if key in self._frames.pngs:
            self.image.value = self._frames.pngs[key]
            self.status.value = ""
        elif key in self._frames.errors:
            self.status.value = self._error(key)

    def _describe(self, flat: int) -> str:
        return format_values(self.names, self._grid.combination(flat))

    def _error(self, flat: int) -> str:
        return (f'<span style="color:#b00">could not draw '
                f"{html.escape(self._describe(flat))}: "
                f"{html.escape(self._frames.errors[flat].strip())}</span>")

    # -- static website and PDF ---------------------------------------------------------
    def _slider_text(self) -> str:
        return ", ".join(f"{self.labels[n]}: {len(v)} values"
                         for n, v in zip(self.names, self.values))

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
        payload = json.dumps(data).replace("</", "<\\/")
        return (
            f'{_STYLE}<div class="vaebook-explorer" id="{self.dom_id}">'
            f'<img class="vaebook-frame" alt="{self._alt()}" src="data:image/png;base64,{first}">'
            f'<div class="vaebook-controls">{"".join(controls)}</div>{self._caption_html()}'
            f'<script type="application/json" class="vaebook-data">'
            f'{payload}</script>'
            f'<script>{_SCRIPT % {"id": json.dumps(self.dom_id)}}</script></div>')

    def _alt(self) -> str:
        return html.escape(self.caption or "figure with sliders")

    def _caption_html(self) -> str:
        return (f'<div class="vaebook-caption">{html.escape(self.caption)}</div>'
                if self.caption else "")

    def _pending_html(self) -> str:
        """While frames are still drawn (lazy mode): the first figure, without sliders."""
        first = base64.b64encode(self.frame_for()).decode("ascii")
        return (f'{_STYLE}<div class="vaebook-explorer-pending">'
                f'<img alt="{self._alt()}" src="data:image/png;base64,{first}">'
                f"{self._caption_html()}<div class=\"vaebook-caption\">Sliders "
                f"({html.escape(self._slider_text())}) need a running kernel or the "
                "website.</div></div>")

    def pdf_note(self) -> str:
        """The line under the figure in the PDF: interactive on the website, shown at ..."""
        sliders = ", ".join(self.labels[n] for n in self.names)
        shown = ", ".join(f"{self.labels[n]} = {_format_value(self.current[n])}"
                          for n in self.names)
        return f"Interactive on the website (sliders: {sliders}); shown here at {shown}."

    def __repr__(self) -> str:
        if not self.ready:
            return (f"<Explorer with sliders ({self._slider_text()}); "
                    f"{self._grid.size} frames, being drawn in the background>")
        return (f"<Explorer with sliders ({self._slider_text()}); "
                f"{len(self.frames)} distinct frames>")

    def _repr_mimebundle_(self, include=None, exclude=None):
        ready = self.ready
        still = self._frames.pngs.get(PRINT_KEY) or self.frame_for()
        data = {"text/plain": repr(self),
                "text/html": self.to_html() if ready else self._pending_html(),
                "image/png": base64.b64encode(still).decode("ascii")}
        metadata = {PDF_METADATA_KEY: {"caption": self.caption, "note": self.pdf_note()}}
        try:
            view = self.widget._repr_mimebundle_()
        except Exception:  # no ipywidgets front end: the HTML slider is enough
            view = None
        if view and "application/vnd.jupyter.widget-view+json" in view:
            data["application/vnd.jupyter.widget-view+json"] = view[
                "application/vnd.jupyter.widget-view+json"]
        return data, metadata


class PdfFigure:
    """myst-nb renderer: an explorer as its still and caption where nothing can move (PDF).

    Registered as the ``myst_nb.mime_renderers`` entry point ``vaebook-explorer`` in
    ``pyproject.toml``. A builder that prefers ``image/png`` to HTML (LaTeX) meets the
    explorer's still image; when the output's metadata marks it as an explorer, the
    image is centred and followed by the caption and the line of
    :meth:`Explorer.pdf_note`. The caption is not numbered: the website does not number
    its sliders either, so figure numbers agree between the two.
    """

    mime_priority_overrides: list = []

    @staticmethod
    def handle_mime(renderer, data, inline):
        info = data.output_metadata.get(PDF_METADATA_KEY)
        if inline or data.mime_type != "image/png" or not isinstance(info, dict):
            return None
        from docutils import nodes

        images = renderer.render_image(data)
        for image in images:
            image["align"] = "center"
        text = " ".join(part for part in (info.get("caption"), info.get("note")) if part)
        caption = nodes.paragraph(text, text, classes=["vaebook-explorer-caption"])
        return [*images, caption]


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


def _check_signature(plot: Callable[..., Any], names: list[str]) -> None:
    """Say which slider the draw function cannot take, or which argument it lacks."""
    try:
        signature = inspect.signature(plot)
        signature.bind(None, **dict.fromkeys(names))
        return
    except ValueError:  # a builtin without a signature: let the call tell
        return
    except TypeError:
        pass
    title = f"{getattr(plot, '__name__', 'plot')}{signature}"
    params = list(signature.parameters.values())
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    named = [p.name for p in params[1:] if p.kind in kinds]
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    missing = [p.name for p in params[1:] if p.kind in kinds and p.name not in names
               and p.default is inspect.Parameter.empty]
    if not params or params[0].kind is inspect.Parameter.KEYWORD_ONLY or params[0].name in names:
        message = (f"must take the figure first and the sliders {names} by name, e.g. "
                   f"def draw(fig, {', '.join(names)})")
    elif unknown := [n for n in names if n not in named and not takes_any]:
        close = difflib.get_close_matches(unknown[0], named, n=1)
        message = (f"has no argument {unknown[0]!r} for that slider."
                   + (f" Did you mean {close[0]!r}?" if close else "")
                   + " Name each slider after an argument of the draw function")
    elif missing:
        message = (f"needs a value for {missing[0]!r}; add a slider {missing[0]}=[...] or "
                   "give that argument a default")
    else:
        message = f"cannot be called as draw(fig, {', '.join(f'{n}=...' for n in names)})"
    raise TypeError(f"explore: {title} {message}.")


def explore(plot: Callable[..., Any], *, caption: str = "",
            figsize: tuple[float, float] = (8.0, 3.6), dpi: int = 80,
            labels: dict[str, str] | None = None, initial: dict[str, Any] | None = None,
            **params: Sequence[Any]) -> Explorer:
    """Render ``plot`` over a grid of slider values and return a displayable explorer.

    Parameters
    ----------
    plot : callable
        ``plot(fig, **values)`` draws into the matplotlib ``Figure`` it is given (call
        ``fig.subplots(...)``); it must not call ``plt.show`` or create figures, and it
        should only plot (precompute the numbers outside it): frames may be drawn in
        parallel, in copies of the process made at the time of this call.
    caption : str
        One or two sentences shown under the figure (also its alt text and, in the PDF,
        its caption).
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
        Display it (last expression of a cell). The frame of the initial values is drawn
        before this returns (an error of ``plot`` is raised here, with the slider values
        in its notes); the others too in ``all`` mode, in the background in ``lazy`` mode
        (:func:`frames_mode`).
    """
    start = time.perf_counter()
    if not callable(plot):
        raise TypeError("plot must be a function plot(fig, **values) that draws into fig.")
    if not params:
        raise ValueError("Give at least one slider, e.g. explore(draw, sigma=[0.1, 1.0]).")
    mode = frames_mode()
    dpi = int(dpi)
    names = list(params)
    values = [_as_values(n, params[n]) for n in names]
    n_frames = int(np.prod([len(v) for v in values]))
    if n_frames > MAX_FRAMES:
        raise ValueError(f"{n_frames} slider combinations exceed MAX_FRAMES={MAX_FRAMES}; "
                         "use fewer values per slider or split the figure.")
    _check_signature(plot, names)
    all_labels = {n: (labels or {}).get(n, DEFAULT_LABELS.get(n, n)) for n in names}
    current = {n: v[0] for n, v in zip(names, values)}
    for n, v in (initial or {}).items():
        if n not in current:
            raise ValueError(f"initial names {n!r}, which is not a slider ({names}).")
        if v not in values[names.index(n)]:
            raise ValueError(f"initial {n}={v!r} is not one of its values {values[names.index(n)]}.")
        current[n] = v
    initial_flat = int(np.ravel_multi_index([v.index(current[n]) for n, v in zip(names, values)],
                                            [len(v) for v in values]))
    grid = FrameGrid(plot, names, values, (float(figsize[0]), float(figsize[1])), dpi,
                     initial_flat)
    frames = Frames(grid)
    frames.render_here(initial_flat)  # the figure a reader sees first; errors surface here
    first_seconds = time.perf_counter() - start
    rest = [k for k in grid.order() if k != initial_flat]
    if mode == "all":
        rest.append(PRINT_KEY)
        if CAN_FORK and len(rest) > 1:
            frames.start_workers(rest, available_cores())
        frames.wait()  # draws here whatever no worker drew
    else:
        frames.start_workers(rest, 1, background=True)
    return Explorer(grid, frames, all_labels, current, caption, mode, first_seconds)
