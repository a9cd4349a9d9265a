"""The evidence and the posterior by the midpoint rule on a grid over z (chapter 1).

    log p(x) ≈ logsumexp_k log p(x, z_k) + d log h                 (eq-bayes-grid)

over the m^d cell centres z_k of [lo, hi]^d, cell width h = (hi - lo) / m. Exact in the
limit of a box that holds all the posterior mass and a spacing fine enough to resolve
it; the cost m^d is what explodes with the latent dimension d. A convergence check
must vary both knobs, the box and the spacing (:func:`grid_log_evidence_table`).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy.special import logsumexp

from .._validation import check_array, check_int
from ._checks import _check_log_joint, _check_log_joint_values

__all__ = ["grid_axis", "grid_log_evidence", "grid_log_evidence_table", "grid_posterior",
           "grid_moments", "MAX_GRID_POINTS", "MAX_POSTERIOR_GRID_POINTS"]

#: Largest grid :func:`grid_log_evidence` agrees to evaluate (points, not bytes: the
#: points are visited in chunks). 10**8 log-joint evaluations take ~10 s here.
MAX_GRID_POINTS = 10**8
#: Largest grid :func:`grid_posterior` agrees to hold in memory.
MAX_POSTERIOR_GRID_POINTS = 10**7


def _check_grid(latent_dim, lo, hi, n_per_dim):
    latent_dim = check_int(latent_dim, "latent_dim", minimum=1)
    n_per_dim = check_int(n_per_dim, "n_per_dim", minimum=1)
    lo, hi = float(check_array(lo, "lo", ndim=0)), float(check_array(hi, "hi", ndim=0))
    if not lo < hi:
        raise ValueError(f"the grid needs lo < hi, got lo={lo}, hi={hi}.")
    return latent_dim, lo, hi, n_per_dim


def grid_axis(lo: float, hi: float, n_per_dim: int) -> tuple[np.ndarray, float]:
    """Cell centres and cell width of the midpoint rule on [lo, hi] with m cells.

    Returns
    -------
    centres : ndarray, shape (m,)
        lo + (k + ½) h for k = 0..m-1.
    width : float
        h = (hi - lo) / m.
    """
    _, lo, hi, n_per_dim = _check_grid(1, lo, hi, n_per_dim)
    width = (hi - lo) / n_per_dim
    return lo + width * (np.arange(n_per_dim) + 0.5), width


def grid_log_evidence(log_joint: Callable[[np.ndarray], np.ndarray], latent_dim: int,
                      lo: float = -6.0, hi: float = 6.0, n_per_dim: int = 41,
                      chunk_size: int = 2**18) -> float:
    """log p(x) by the midpoint rule on the grid [lo, hi]^d, in log space.

    With m cells of width h per axis, the M = m^d cell centres z_k give
    (eq-bayes-grid)

        log p(x) ≈ log Σ_k h^d p(x, z_k) = logsumexp_k log p(x, z_k) + d log h.

    The points are visited in chunks, so memory stays small while the work is M
    evaluations of ``log_joint``: the number that explodes with d.

    Parameters
    ----------
    log_joint : callable
        ``log_joint(z)`` with z of shape (n_points, latent_dim) returns log p(x, z),
        shape (n_points,).
    latent_dim : int
        d ≥ 1.
    lo, hi : float
        The box [lo, hi]^d; it must hold practically all the posterior mass.
    n_per_dim : int
        m ≥ 1 cells per axis.
    chunk_size : int
        Largest number of points per call of ``log_joint`` (the last axes of the grid
        are evaluated together, m^k ≤ chunk_size points at a time, k ≥ 1).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If m^d exceeds :data:`MAX_GRID_POINTS`, if ``log_joint`` returns NaN, +inf or
        the wrong shape, or if the whole grid has zero density.
    """
    log_joint = _check_log_joint(log_joint)
    latent_dim, lo, hi, n_per_dim = _check_grid(latent_dim, lo, hi, n_per_dim)
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    n_points = n_per_dim**latent_dim                      # exact Python integer
    if n_points > MAX_GRID_POINTS:
        raise ValueError(f"a grid of {n_per_dim}^{latent_dim} = {n_points:.3g} points exceeds "
                         f"MAX_GRID_POINTS = {MAX_GRID_POINTS:.0e}; use fewer points per axis "
                         "or a lower latent_dim (which is the point of chapter 1).")
    centres, width = grid_axis(lo, hi, n_per_dim)
    # The last n_tail axes form one block of points (at most chunk_size of them); the
    # leading axes are looped over, so the grid is visited in row-major order.
    n_tail = 1
    while n_tail < latent_dim and n_per_dim ** (n_tail + 1) <= chunk_size:
        n_tail += 1
    n_head = latent_dim - n_tail
    tail = np.stack([c.ravel() for c in np.meshgrid(*([centres] * n_tail), indexing="ij")],
                    axis=-1)                                   # (m^n_tail, n_tail)
    z = np.empty((tail.shape[0], latent_dim))
    z[:, n_head:] = tail
    chunk_lse = []
    for head in np.ndindex(*((n_per_dim,) * n_head)):
        z[:, :n_head] = centres[list(head)]
        chunk_lse.append(logsumexp(_check_log_joint_values(log_joint(z.copy()), z.shape[0])))
    log_sum = logsumexp(chunk_lse)
    if not np.isfinite(log_sum):
        raise ValueError("log_joint is -inf on the whole grid; widen [lo, hi] so that it "
                         "covers the posterior.")
    return float(log_sum + latent_dim * math.log(width))


def grid_posterior(log_joint: Callable[[np.ndarray], np.ndarray], latent_dim: int,
                   lo: float = -6.0, hi: float = 6.0,
                   n_per_dim: int = 201) -> tuple[np.ndarray, np.ndarray, float]:
    """The posterior density on a grid: log p(z_k | x) = log p(x, z_k) - log p(x).

    Bayes' theorem (eq-bayes-theorem) with the evidence from the same grid
    (eq-bayes-grid), so the density sums to 1 / h^d over the grid.

    Parameters
    ----------
    log_joint : callable
        ``log_joint(z)``, z of shape (n_points, latent_dim) -> (n_points,).
    latent_dim : int
        d ≥ 1 (the whole grid is held in memory: m^d ≤ 10**7).
    lo, hi : float
    n_per_dim : int

    Returns
    -------
    centres : ndarray, shape (m,)
        The grid along each axis.
    log_post : ndarray, shape (m,) * d
        Log posterior density at the cell centres, ``log_post[i, j]`` at
        z = (centres[i], centres[j]).
    log_evidence : float
    """
    log_joint = _check_log_joint(log_joint)
    latent_dim, lo, hi, n_per_dim = _check_grid(latent_dim, lo, hi, n_per_dim)
    n_points = n_per_dim**latent_dim
    if n_points > MAX_POSTERIOR_GRID_POINTS:
        raise ValueError(f"a posterior grid of {n_points:.3g} points does not fit in memory "
                         f"(limit {MAX_POSTERIOR_GRID_POINTS:.0e}); lower n_per_dim.")
    centres, width = grid_axis(lo, hi, n_per_dim)
    mesh = np.meshgrid(*([centres] * latent_dim), indexing="ij")
    z = np.stack([c.ravel() for c in mesh], axis=-1)       # (m^d, d), row-major order
    log_joint_values = _check_log_joint_values(log_joint(z), n_points)
    log_evidence = float(logsumexp(log_joint_values) + latent_dim * math.log(width))
    if not np.isfinite(log_evidence):
        raise ValueError("log_joint is -inf on the whole grid; widen [lo, hi].")
    shape = (n_per_dim,) * latent_dim
    return centres, (log_joint_values - log_evidence).reshape(shape), log_evidence




def grid_log_evidence_table(log_joint: Callable[[np.ndarray], np.ndarray], latent_dim: int,
                            boxes: Sequence[tuple[float, float]],
                            n_per_dims: Sequence[int]) -> np.ndarray:
    """The grid evidence for every box and every number of cells: a convergence check.

    A grid result can be wrong in two ways, and one knob cannot see the other: too
    coarse a spacing (refine it in the same box), or a box that cuts off posterior mass
    (refining does not help; widen the box). Each entry is :func:`grid_log_evidence` on
    ``boxes[i]`` with ``n_per_dims[j]`` cells per axis; the spread of the table bounds
    the error of its entries only if it contains a box wider and a spacing finer than
    the one reported.

    Parameters
    ----------
    log_joint : callable
        ``log_joint(z)``, z of shape (n_points, latent_dim) -> (n_points,).
    latent_dim : int
    boxes : sequence of (lo, hi)
        Boxes [lo, hi]^d.
    n_per_dims : sequence of int
        Cells per axis, m.

    Returns
    -------
    ndarray, shape (len(boxes), len(n_per_dims))
    """
    boxes = [tuple(b) for b in boxes]
    if not boxes or any(len(b) != 2 for b in boxes):
        raise ValueError("boxes must be a non-empty list of (lo, hi) pairs, e.g. "
                         "[(-4, 4), (-8, 8)].")
    n_per_dims = list(n_per_dims)
    if not n_per_dims:
        raise ValueError("n_per_dims must list at least one number of cells, e.g. [201, 401].")
    return np.array([[grid_log_evidence(log_joint, latent_dim, lo, hi, m) for m in n_per_dims]
                     for lo, hi in boxes])


def grid_moments(centres, log_post) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a posterior given on a grid (midpoint rule).

    With cell probabilities P_k = h^d p(z_k | x) (they sum to 1 on a grid from
    :func:`grid_posterior`),

        mean = Σ_k P_k z_k,        cov = Σ_k P_k (z_k - mean)(z_k - mean)ᵀ,

    the moments of the moment-matched Gaussian N(mean, cov), the Gaussian closest to
    the posterior in KL[p ‖ q] (Bishop, 2006, §10.7).

    Parameters
    ----------
    centres : array-like, shape (m,)
        The grid along each axis (as :func:`grid_posterior` returns it).
    log_post : array-like, shape (m,) * d
        Log posterior density at the cell centres.

    Returns
    -------
    mean : ndarray, shape (d,)
    cov : ndarray, shape (d, d)
    """
    centres = check_array(centres, "centres", ndim=1)
    log_post = np.asarray(log_post, dtype=np.float64)
    m, d = centres.shape[0], log_post.ndim
    if m < 2 or log_post.shape != (m,) * d:
        raise ValueError(f"log_post must have shape (m,) * d with m = len(centres) = {m} "
                         f">= 2, got shape {log_post.shape}.")
    if np.any(np.isnan(log_post)):
        raise ValueError("log_post contains NaN.")
    width = centres[1] - centres[0]
    prob = np.exp(log_post) * width**d                       # cell probabilities
    total = prob.sum()
    if not abs(total - 1.0) < 1e-6:
        raise ValueError(f"the cell probabilities sum to {total:.6g}, not 1: pass the log "
                         "posterior density grid_posterior returns, on the same centres.")
    z = np.stack([c.ravel() for c in np.meshgrid(*([centres] * d), indexing="ij")], axis=-1)
    p = prob.ravel()
    mean = p @ z
    dev = z - mean
    return mean, (dev * p[:, None]).T @ dev
