"""A plot style for the book: readable on a projector, safe for colour-blind readers.

Colours are the Okabe–Ito palette (Okabe & Ito, 2008), distinguishable under the
common colour-vision deficiencies; sequential maps are ``cividis``/``viridis``
(perceptually uniform, readable in grey). Fonts and lines are large enough to read
from the back of a lecture hall.
"""
from __future__ import annotations

import matplotlib as mpl
from cycler import cycler

#: Okabe–Ito colours, in the order the book uses them.
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}
COLORS = list(PALETTE.values())
#: Sequential colour map for densities and images (perceptually uniform).
SEQUENTIAL_CMAP = "cividis"
#: Diverging colour map, for signed quantities.
DIVERGING_CMAP = "PuOr"

BOOK_STYLE = {
    "axes.prop_cycle": cycler(color=COLORS),
    "image.cmap": SEQUENTIAL_CMAP,
    "font.size": 13,
    "axes.titlesize": 14,
    "axes.labelsize": 13,
    "xtick.labelsize": 12,
    "ytick.labelsize": 12,
    "legend.fontsize": 12,
    "lines.linewidth": 2.2,
    "lines.markersize": 7,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.figsize": (8.0, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.constrained_layout.use": True,
}


def use_book_style() -> None:
    """Apply :data:`BOOK_STYLE` to matplotlib's global ``rcParams``.

    Call it once, in a chapter's import cell. Everything else in vaelib draws into
    figures it is given and leaves global state alone.
    """
    mpl.rcParams.update(BOOK_STYLE)
