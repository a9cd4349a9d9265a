"""How fast do the sliders of vaelib.widgets respond, and what does a frame cost?

Measures, for the example figure of the how-to page (a histogram and a curve, the book
style, 8 x 3.6 in at 80 dpi):
- the render cost of one frame (matplotlib Agg + PNG encoding), paid once per frame
  when the cell executes;
- the live redraw: the time from setting a slider's value to the new frame being in
  the ipywidgets Image (observe callback + frame lookup), which is what a reader feels.
Run: .venv/bin/python benchmarks/bench_widgets.py
"""
import statistics
import time

import numpy as np
from scipy import stats

from vaelib.plotting import PALETTE, use_book_style
from vaelib.widgets import explore, render_png

use_book_style()
rng = np.random.default_rng(0)
SIGMAS, LS, DIMS = [0.5, 1.0, 2.0], [1, 4, 16, 64], [1, 2, 8]
errors = {(s, n, d): np.linalg.norm(rng.normal(0, s, (2000, n, d)).mean(axis=1), axis=1)
          for s in SIGMAS for n in LS for d in DIMS}


def draw(fig, sigma, L, latent_dim):
    ax = fig.subplots()
    grid = np.linspace(0, 5, 400)
    ax.hist(errors[sigma, L, latent_dim], bins=np.linspace(0, 5, 60), density=True,
            color=PALETTE["sky"])
    ax.plot(grid, stats.chi(df=latent_dim, scale=sigma / np.sqrt(L)).pdf(grid),
            color=PALETTE["vermillion"])
    ax.set(xlim=(0, 5), ylim=(0, 4), title=f"sigma={sigma}, L={L}, D={latent_dim}")


render = []
for _ in range(10):
    t = time.perf_counter()
    render_png(draw, (8.0, 3.6), 80, sigma=1.0, L=4, latent_dim=2)
    render.append(time.perf_counter() - t)

e = explore(draw, sigma=SIGMAS, L=LS, latent_dim=DIMS)
e.widget  # build the live view once
moves = []
for k in range(200):
    slider = e.sliders[k % 3]
    options = [v for _, v in slider.options]
    new = options[(options.index(slider.value) + 1) % len(options)]
    t = time.perf_counter()
    slider.value = new
    moves.append(time.perf_counter() - t)
    assert e.image.value == e.frame_for()

print(f"frames: {len(e.frames)}, all rendered in {e.render_seconds:.2f} s")
print(f"render one frame: median {1e3 * statistics.median(render):.1f} ms, "
      f"max {1e3 * max(render):.1f} ms")
print(f"live redraw (slider move -> new frame in the Image): median "
      f"{1e3 * statistics.median(moves):.3f} ms, p95 "
      f"{1e3 * sorted(moves)[int(0.95 * len(moves))]:.3f} ms (target < 100 ms)")
