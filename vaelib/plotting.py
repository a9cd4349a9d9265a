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


def covariance_ellipse(ax, mean, cov, n_std: float = 1.0, **kwargs):
    """Draw the ``n_std``-standard-deviation contour of the 2-D Gaussian N(mean, cov).

    The ellipse {z : (z - mean)^T cov^{-1} (z - mean) = n_std**2}: its axes are the
    eigenvectors of ``cov``, with half-lengths ``n_std`` times the square roots of the
    eigenvalues.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    mean : array-like, shape (2,)
    cov : array-like, shape (2, 2) or (2,)
        A covariance matrix, or the variances of a diagonal one.
    n_std : float
        Mahalanobis radius of the contour.
    **kwargs
        Passed to :class:`matplotlib.patches.Ellipse` (``color``, ``lw``, ``ls``,
        ``label``, ...); the ellipse is not filled unless ``fill=True`` is given.

    Returns
    -------
    matplotlib.patches.Ellipse
    """
    import numpy as np
    from matplotlib.patches import Ellipse

    cov = np.asarray(cov, dtype=float)
    cov = np.diag(cov) if cov.ndim == 1 else cov
    mean = np.asarray(mean, dtype=float)
    if cov.shape != (2, 2) or mean.shape != (2,):
        raise ValueError(f"covariance_ellipse draws 2-D Gaussians: mean must have shape (2,) "
                         f"and cov (2, 2) or (2,), got {mean.shape} and {cov.shape}.")
    vals, vecs = np.linalg.eigh(cov)                      # ascending eigenvalues
    if vals[0] <= 0:
        raise ValueError("cov must be positive definite (a covariance).")
    angle = np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1]))
    kwargs.setdefault("fill", False)
    patch = Ellipse(mean, 2 * n_std * np.sqrt(vals[1]), 2 * n_std * np.sqrt(vals[0]),
                    angle=angle, **kwargs)
    ax.add_patch(patch)
    return patch


def digit_tiles(images, rows: int, cols: int, pad: int = 1):
    """Tile square images into one array for ``imshow``, with blank lines between them.

    Parameters
    ----------
    images : array-like or torch.Tensor, shape (rows * cols, side**2)
        Flattened images in row-major order (8x8 digits: 64 pixels; MNIST: 784).
    rows, cols : int
        The grid; ``images[r * cols + c]`` goes to row r, column c.
    pad : int
        Width of the blank (value 0) lines between tiles.

    Returns
    -------
    numpy.ndarray, shape (rows * (side + pad) - pad, cols * (side + pad) - pad)
    """
    import numpy as np

    images = np.asarray(images.detach().cpu() if hasattr(images, "detach") else images,
                        dtype=float)
    side = int(round(np.sqrt(images.shape[-1]))) if images.ndim == 2 else 0
    if images.ndim != 2 or side * side != images.shape[1] or len(images) != rows * cols:
        raise ValueError(f"images must have shape (rows * cols, side**2) = ({rows * cols}, "
                         f"side**2), got {images.shape}.")
    tiles = np.pad(images.reshape(rows, cols, side, side), ((0, 0), (0, 0), (0, pad), (0, pad)))
    whole = tiles.transpose(0, 2, 1, 3).reshape(rows * (side + pad), cols * (side + pad))
    return whole[:whole.shape[0] - pad, :whole.shape[1] - pad]
