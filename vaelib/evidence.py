"""The evidence of a trained VAE, exactly, and the lines every bound is read against (chapter 3).

With a latent dimension of d = 2 the evidence of a VAE is a two-dimensional integral,
and chapter 1's midpoint rule computes it to any accuracy::

    log p_theta(x) ~= logsumexp_g [log p_theta(x | z_g) + log N(z_g; 0, I)] + d log h,

over the cell centres z_g of a grid of width h on the box [lo, hi]^d
(``vaelib.bayes.grid_axis``). :func:`grid_evidence` does it for many images at once (the
grid is decoded once and scored against every image by one matrix product) and also
returns, from the same grid, the mean and covariance of the exact posterior
p_theta(z | x). The grid is exact only where it holds the posterior and resolves it:
chapter 3 varies the box and the spacing. (A grid is no way to integrate against the
encoder's q, which can be far narrower than the posterior: chapter 3 estimates the ELBO
by Monte Carlo, whose standard error it can state.)

Two reference lines for numbers in nats on binarized MNIST:

* the **no-latent baseline**: independent Bernoulli pixels fitted on the training set
  (:func:`fit_independent_bernoulli`, :func:`independent_bernoulli_log_prob`), the best
  model that ignores how pixels co-vary;
* the **published figure** :data:`BURDA2016_VAE_TEST_LL`.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch

from . import _cache, _gaussian
from ._validation import check_array, check_int, check_model, check_model_input, check_positive
from .bayes import MAX_GRID_POINTS, grid_axis

__all__ = ["BURDA2016_VAE_TEST_LL", "fit_independent_bernoulli", "independent_bernoulli_log_prob",
           "GridEvidence", "grid_evidence", "cached_grid_evidence"]

#: Test log-likelihood (nats per image) of a VAE with one stochastic layer (d = 50, two
#: hidden layers of 200 units each side) trained on 59,600 dynamically binarized MNIST
#: digits for 3,280 passes, estimated with k = 5,000 importance samples: Burda, Grosse &
#: Salakhutdinov (2016), table 1 (reported there as the negative log-likelihood 86.76).
BURDA2016_VAE_TEST_LL = -86.76


def fit_independent_bernoulli(X_train, pseudo_count: float = 1.0) -> np.ndarray:
    """Pixel probabilities of the model with no latent variable: independent Bernoulli pixels.

    p_j = (sum_i x_ij + a) / (n + 2 a): the mean of pixel j over the training images,
    smoothed by a pseudo-count a on each side (the posterior mean under a Beta(a, a)
    prior; Laplace's rule for a = 1). With grey training images the sum uses the grey
    levels, which is the maximum of the expected log-likelihood under dynamic
    binarization (E[x_ij] = grey level). Smoothing keeps p_j away from 0 and 1, so a
    test pixel that is never on in training costs log(a / (n + 2 a)) nats instead of
    -infinity.

    Parameters
    ----------
    X_train : array-like or torch.Tensor, shape (n, D)
        Training images with pixels in [0, 1] (grey or binary).
    pseudo_count : float, default 1.0
        a > 0.

    Returns
    -------
    numpy.ndarray, float64, shape (D,)
        p_j in (0, 1).
    """
    X = _pixels(X_train, "X_train")
    a = check_positive(pseudo_count, "pseudo_count", "It is a pseudo-count, e.g. 1.0.")
    return (X.sum(axis=0) + a) / (X.shape[0] + 2.0 * a)


def independent_bernoulli_log_prob(X, probs) -> np.ndarray:
    """log p(x) = sum_j x_j log p_j + (1 - x_j) log(1 - p_j) per image, in nats.

    Parameters
    ----------
    X : array-like or torch.Tensor, shape (n, D)
        Binary images (a normalised probability only for x in {0, 1}^D).
    probs : array-like, shape (D,)
        Pixel probabilities in (0, 1), e.g. from :func:`fit_independent_bernoulli`.

    Returns
    -------
    numpy.ndarray, float64, shape (n,)
    """
    X = _pixels(X, "X")
    probs = check_array(probs, "probs", ndim=1)
    if probs.shape[0] != X.shape[1]:
        raise ValueError(f"probs must have one entry per pixel ({X.shape[1]}), got "
                         f"{probs.shape[0]}.")
    if probs.min() <= 0.0 or probs.max() >= 1.0:
        raise ValueError("probs must lie strictly inside (0, 1); fit them with "
                         "fit_independent_bernoulli, which smooths them.")
    return X @ np.log(probs) + (1.0 - X) @ np.log1p(-probs)


def _pixels(X, name):
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().double().numpy()
    X = check_array(X, name, ndim=2)
    if X.min() < 0.0 or X.max() > 1.0:
        raise ValueError(f"{name} must hold pixels in [0, 1], got values in "
                         f"[{X.min():.4g}, {X.max():.4g}]; divide by 255 for MNIST.")
    return X


@dataclasses.dataclass
class GridEvidence:
    """What :func:`grid_evidence` computes from one grid, per image (float64 tensors).

    Attributes
    ----------
    log_evidence : torch.Tensor, shape (n,)
        log p_theta(x) by the midpoint rule.
    posterior_mean : torch.Tensor, shape (n, d)
        E[z | x] under the exact posterior, on the grid.
    posterior_cov : torch.Tensor, shape (n, d, d)
        Cov[z | x] under the exact posterior, on the grid.
    lo, hi : float
    n_per_dim : int
    """

    log_evidence: torch.Tensor
    posterior_mean: torch.Tensor
    posterior_cov: torch.Tensor
    lo: float
    hi: float
    n_per_dim: int


@torch.no_grad()
def grid_evidence(model, X, lo: float = -6.0, hi: float = 6.0, n_per_dim: int = 200,
                  centre=None, chunk_size: int = 4096) -> GridEvidence:
    """The exact evidence of a low-dimensional VAE, and posterior moments, on a grid.

    Midpoint rule on [lo, hi]^d with m = ``n_per_dim`` cells of width h per axis
    (chapter 1, eq-bayes-grid)::

        log p(x)   ~= logsumexp_g a_g(x) + d log h,   a_g(x) = log p(x | z_g) + log N(z_g; 0, I)
        E[z | x]   ~= sum_g pi_g(x) z_g,              pi_g(x) = exp(a_g(x) - logsumexp_g a_g(x))
        E_q[log p(x | z)] ~= sum_g q(z_g | x) h^d log p(x | z_g)

    The grid is decoded once, ``chunk_size`` codes at a time, and each chunk is scored
    against all images by one matrix product; the logsumexp and the moments are
    accumulated online (rescaled whenever the running maximum grows), so memory stays
    at (n, chunk_size). The quadrature error is invisible only if the box holds the
    posterior and h resolves it: vary both (chapter 3 does).

    Parameters
    ----------
    model : vaelib.models.VAE
        With ``latent_dim`` <= 3 (the grid has m^d points).
    X : torch.Tensor, shape (n, input_dim)
        Images (binary for a Bernoulli decoder, if the result is to be a log-probability).
    lo, hi : float
        The box [lo, hi]^d.
    n_per_dim : int
        m >= 2 cells per axis.
    centre : array-like of shape (latent_dim,), optional
        Shift the box to centre + [lo, hi]^d (a fine grid around one posterior).
    chunk_size : int
        Codes decoded at a time.

    Returns
    -------
    GridEvidence
    """
    check_model(model)
    X = check_model_input(X, model)
    if not hasattr(model, "_log_likelihood_pairs"):
        raise TypeError("grid_evidence needs a vaelib.models.VAE (it scores the whole grid "
                        "against every image with the model's _log_likelihood_pairs).")
    d = model.latent_dim
    if d > 3:
        raise ValueError(f"a grid over a {d}-dimensional latent space has n_per_dim**{d} "
                         "points: the exact evidence on a grid is for latent_dim <= 3 "
                         "(chapter 1 shows why).")
    n_per_dim = check_int(n_per_dim, "n_per_dim", minimum=2)
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    if n_per_dim ** d > MAX_GRID_POINTS:
        raise ValueError(f"{n_per_dim}^{d} grid points exceed MAX_GRID_POINTS = "
                         f"{MAX_GRID_POINTS:.0e}; use fewer points per axis.")
    centres, width = grid_axis(lo, hi, n_per_dim)          # validates lo < hi
    axis = torch.as_tensor(centres, dtype=torch.float64)
    grid = torch.cartesian_prod(*([axis] * d)).reshape(-1, d)   # (m^d, d), row-major
    if centre is not None:
        centre = check_array(centre, "centre", ndim=1)
        if centre.shape != (d,):
            raise ValueError(f"centre must have shape (latent_dim,) = ({d},), got "
                             f"{centre.shape}.")
        grid = grid + torch.as_tensor(centre)
    dtype = next(model.parameters()).dtype
    # Bernoulli: X l^T is a sum of logits over the pixels that are on, accurate in the
    # model's float32 (~1e-5 nats); a Gaussian decoder's expanded square needs float64.
    X_pairs = X if model.likelihood == "bernoulli" else X.double()
    n = X.shape[0]
    running_max = torch.full((n,), -math.inf, dtype=torch.float64)
    s0 = torch.zeros(n, dtype=torch.float64)
    s1 = torch.zeros(n, d, dtype=torch.float64)
    s2 = torch.zeros(n, d, d, dtype=torch.float64)
    log_cell = d * math.log(width)
    for z in grid.split(chunk_size):
        decoded = model._decode(z.to(dtype)).to(X_pairs.dtype)             # (G, D)
        log_lik = model._log_likelihood_pairs(X_pairs, decoded).double()   # (n, G)
        a = log_lik + _gaussian.log_std_normal(z)                          # (n, G)
        new_max = torch.maximum(running_max, a.max(dim=1).values)
        rescale = torch.exp(running_max - new_max)                         # 0 at the start
        e = torch.exp(a - new_max[:, None])
        s0 = s0 * rescale + e.sum(1)
        s1 = s1 * rescale[:, None] + e @ z
        s2 = s2 * rescale[:, None, None] + (e @ (z[:, :, None] * z[:, None, :]).reshape(
            len(z), d * d)).reshape(n, d, d)
        running_max = new_max
    if not bool(torch.isfinite(running_max).all()):
        raise ValueError("the joint density is zero on the whole grid for some image; "
                         "widen [lo, hi].")
    mean = s1 / s0[:, None]
    cov = s2 / s0[:, None, None] - mean[:, :, None] * mean[:, None, :]
    return GridEvidence(running_max + torch.log(s0) + log_cell, mean, cov, float(lo), float(hi),
                        n_per_dim)


def cached_grid_evidence(model, X, lo: float = -6.0, hi: float = 6.0, n_per_dim: int = 200,
                         centre=None) -> GridEvidence:
    """:func:`grid_evidence`, computed once and then loaded from the book's cache.

    The key covers the grid, the images, the model's parameters and the source of the
    code (this module and ``vaelib.models``), so a retrained model or a changed formula
    computes afresh.
    """
    check_model(model)
    X = check_model_input(X, model)
    config = {"lo": float(lo), "hi": float(hi), "n_per_dim": int(n_per_dim),
              "latent_dim": model.latent_dim,
              "likelihood": model.likelihood,
              "centre": None if centre is None else [float(c) for c in np.ravel(centre)]}

    def compute() -> dict:
        result = grid_evidence(model, X, lo, hi, n_per_dim, centre)
        return {f.name: getattr(result, f.name) for f in dataclasses.fields(GridEvidence)}

    stored, _ = _cache.cached("evidence", f"grid-d{model.latent_dim}-m{n_per_dim}", config,
                              compute, code=("evidence", "models"),
                              data=(X, *model.state_dict().values()))
    return GridEvidence(**stored)
