"""Bayes' theorem and the evidence (chapter 1).

    p(z | x) = p(x | z) p(z) / p(x),        p(x) = ∫ p(x | z) p(z) dz.

Three models, from exact to hopeless:

* the conjugate Gaussian model, z ~ N(m0, s0² I_D) and x_i | z ~ N(z, σ² I_D) for
  i = 1..n, whose posterior and evidence have closed forms
  (:func:`gaussian_posterior`, :func:`gaussian_log_evidence`);
* the Beta–Bernoulli pair, θ ~ Beta(a, b) and x_i | θ ~ Bernoulli(θ), the other
  conjugate example of the chapter (:func:`beta_bernoulli_posterior`,
  :func:`beta_bernoulli_log_evidence`);
* a tiny fixed "decoder" network f, z ~ N(0, I_2) and x_i | z ~ N(f(z), σ² I_2), which
  has no closed form (:func:`decoder_mean`, :func:`decoder_log_joint`).

and two general-purpose estimators of log p(x) whose cost explodes with the latent
dimension D: a grid (:func:`grid_log_evidence`, :func:`grid_posterior`) and naive Monte
Carlo from prior samples (:func:`mc_log_evidence`, with its exact relative variance in
the Gaussian model, :func:`gaussian_mc_relative_variance`). Everything is computed in
log space.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.special import betaln, logsumexp

from . import _gaussian
from ._gaussian import LOG_2PI
from ._validation import check_array, check_int, check_log_weights, check_positive, check_std

__all__ = [
    "gaussian_posterior",
    "gaussian_log_evidence",
    "gaussian_log_likelihood",
    "gaussian_log_joint",
    "gaussian_mc_relative_variance",
    "beta_bernoulli_posterior",
    "beta_bernoulli_log_evidence",
    "grid_axis",
    "grid_log_evidence",
    "grid_posterior",
    "log_mean_exp",
    "effective_sample_size",
    "mc_log_evidence",
    "decoder_mean",
    "decoder_log_joint",
    "DECODER_W1",
    "DECODER_B1",
    "DECODER_W2",
    "DECODER_B2",
]

#: Largest grid :func:`grid_log_evidence` agrees to evaluate (points, not bytes: the
#: points are visited in chunks). 10**8 log-joint evaluations take ~10 s here.
MAX_GRID_POINTS = 10**8
#: Largest grid :func:`grid_posterior` agrees to hold in memory.
MAX_POSTERIOR_GRID_POINTS = 10**7


# --------------------------------------------------------------------------------------
# validation shared by the Gaussian model's entry points
# --------------------------------------------------------------------------------------
def _check_gaussian_model(x, prior_mean, prior_std, noise_std):
    """Validate (x, m0, s0, σ) of the conjugate model; return x (n, D), m0 (D,), s0, σ."""
    x = check_array(x, "x", ndim=2)
    n, D = x.shape
    prior_mean = _check_mean(prior_mean, D)
    prior_std = check_std(prior_std, "prior_std")
    noise_std = check_std(noise_std, "noise_std")
    return x, prior_mean, prior_std, noise_std


def _check_mean(prior_mean, D: int) -> np.ndarray:
    """A scalar or a (D,) array, returned as a (D,) array."""
    prior_mean = check_array(prior_mean, "prior_mean")
    if prior_mean.ndim == 0:
        return np.full(D, float(prior_mean))
    if prior_mean.shape != (D,):
        raise ValueError(f"prior_mean must be a scalar or have shape ({D},) to match x's "
                         f"{D} latent coordinates, got shape {prior_mean.shape}.")
    return prior_mean


def _check_z(z, D: int, name: str = "z") -> np.ndarray:
    """Latent points of shape (..., D)."""
    z = check_array(z, name)
    if z.ndim == 0 or z.shape[-1] != D:
        raise ValueError(f"{name} must have shape (..., {D}) (latent dimension last), "
                         f"got shape {z.shape}.")
    return z


# --------------------------------------------------------------------------------------
# the conjugate Gaussian model
# --------------------------------------------------------------------------------------
def gaussian_posterior(x, prior_mean, prior_std: float,
                       noise_std: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact posterior p(z | x_1..x_n) of the conjugate Gaussian model.

    Model: z ~ N(m0, s0² I_D), x_i | z ~ N(z, σ² I_D) independently for i = 1..n.
    The posterior is N(post_mean, diag(post_std²)) with (eq-bayes-posterior)

        1 / post_std² = 1 / s0² + n / σ²,
        post_mean     = post_std² (m0 / s0² + Σ_i x_i / σ²),

    precisions add, and the mean is the precision-weighted average of the prior mean
    and the data (Bishop, 2006, §2.3.6).

    Parameters
    ----------
    x : array-like, shape (n, D)
        The n observations (one row each); a single observation is ``x[None, :]``.
    prior_mean : float or array-like, shape (D,)
        m0.
    prior_std : float
        s0 > 0, the prior's standard deviation (not its variance).
    noise_std : float
        σ > 0, the observation noise's standard deviation.

    Returns
    -------
    post_mean, post_std : ndarray, shape (D,)

    Raises
    ------
    ValueError
        Non-positive standard deviations, non-finite data, or a ``prior_mean`` whose
        shape does not match x.
    """
    x, prior_mean, prior_std, noise_std = _check_gaussian_model(x, prior_mean, prior_std,
                                                                noise_std)
    return _gaussian_posterior(x, prior_mean, prior_std, noise_std)


def _gaussian_posterior(x, prior_mean, prior_std, noise_std):
    n, D = x.shape
    post_precision = 1.0 / prior_std**2 + n / noise_std**2
    post_var = 1.0 / post_precision
    post_mean = post_var * (prior_mean / prior_std**2 + x.sum(axis=0) / noise_std**2)
    return post_mean, np.full(D, math.sqrt(post_var))


def gaussian_log_evidence(x, prior_mean, prior_std: float, noise_std: float) -> float:
    """Exact log-evidence log p(x_1, ..., x_n) of the conjugate Gaussian model.

    Integrating z out, each latent coordinate d gives a jointly Gaussian vector
    x_{:,d} ~ N(m0_d 1, C) with C = σ² I_n + s0² 1 1ᵀ (eq-bayes-evidence). With
    r = x_{:,d} - m0_d, the matrix determinant lemma and Sherman–Morrison give

        log det C = (n - 1) log σ² + log(σ² + n s0²),
        rᵀ C⁻¹ r  = ‖r‖² / σ² - s0² (Σ_i r_i)² / (σ² (σ² + n s0²)),

    and log p(x) = -½ Σ_d [n log 2π + log det C + rᵀ C⁻¹ r]. Cost O(nD).

    Parameters
    ----------
    x : array-like, shape (n, D)
    prior_mean : float or array-like, shape (D,)
    prior_std, noise_std : float
        s0 > 0 and σ > 0 (standard deviations).

    Returns
    -------
    float

    Raises
    ------
    ValueError
        As :func:`gaussian_posterior`.
    """
    x, prior_mean, prior_std, noise_std = _check_gaussian_model(x, prior_mean, prior_std,
                                                                noise_std)
    return _gaussian_log_evidence(x, prior_mean, prior_std, noise_std)


def _gaussian_log_evidence(x, prior_mean, prior_std, noise_std):
    n, D = x.shape
    noise_var, prior_var = noise_std**2, prior_std**2
    r = x - prior_mean                                     # (n, D)
    log_det = (n - 1) * math.log(noise_var) + math.log(noise_var + n * prior_var)
    quad = ((r**2).sum(axis=0) / noise_var
            - prior_var * r.sum(axis=0)**2 / (noise_var * (noise_var + n * prior_var)))
    return float(-0.5 * np.sum(n * LOG_2PI + log_det + quad))


def gaussian_log_likelihood(z, x, noise_std: float) -> np.ndarray:
    """log p(x_1..x_n | z) = Σ_i log N(x_i; z, σ² I_D) at many latent points z.

    Written with the sufficient statistics x̄ and S = Σ_i ‖x_i - x̄‖², since
    Σ_i ‖x_i - z‖² = n ‖z - x̄‖² + S:

        log p(x | z) = -½ [n D log(2π σ²) + (n ‖z - x̄‖² + S) / σ²],

    so each point costs O(D) whatever n is.

    Parameters
    ----------
    z : array-like, shape (..., D)
    x : array-like, shape (n, D)
    noise_std : float
        σ > 0.

    Returns
    -------
    ndarray, shape (...)
    """
    x = check_array(x, "x", ndim=2)
    z = _check_z(z, x.shape[1])
    noise_std = check_std(noise_std, "noise_std")
    return _gaussian_log_likelihood(z, x, noise_std)


def _gaussian_log_likelihood(z, x, noise_std):
    n, D = x.shape
    x_bar = x.mean(axis=0)
    scatter = float(((x - x_bar)**2).sum())
    diff = z - x_bar
    sq = np.einsum("...d,...d->...", diff, diff)          # ‖z - x̄‖², faster than sum()
    return -0.5 * (n * D * (LOG_2PI + 2.0 * math.log(noise_std))
                   + (n * sq + scatter) / noise_std**2)


def gaussian_log_joint(z, x, prior_mean, prior_std: float, noise_std: float) -> np.ndarray:
    """log p(x, z) = log p(x | z) + log p(z) of the conjugate Gaussian model.

    The integrand of the evidence (eq-bayes-evidence-integral), in log space.

    Parameters
    ----------
    z : array-like, shape (..., D)
    x : array-like, shape (n, D)
    prior_mean : float or array-like, shape (D,)
    prior_std, noise_std : float

    Returns
    -------
    ndarray, shape (...)
    """
    x, prior_mean, prior_std, noise_std = _check_gaussian_model(x, prior_mean, prior_std,
                                                                noise_std)
    z = _check_z(z, x.shape[1])
    return (_gaussian_log_likelihood(z, x, noise_std)
            + _gaussian.log_normal_iso(z, prior_mean, prior_std))


def gaussian_mc_relative_variance(x, prior_mean, prior_std: float,
                                  noise_std: float) -> float:
    """Relative variance ρ² of one prior sample's likelihood, Var[p(x|z)] / p(x)².

    The naive Monte Carlo estimate p̂ = (1/L) Σ_l p(x | z_l), z_l ~ p(z), is unbiased
    with relative standard deviation sd(p̂) / p(x) = sqrt(ρ² / L)
    (eq-bayes-mc-relative-error), where ρ² = E_p(z)[p(x|z)²] / p(x)² - 1. In the
    Gaussian model the second moment is another evidence: N(x; z, σ²)² =
    (4πσ²)^(-1/2) N(x; z, σ²/2) per coordinate, so

        log(1 + ρ²) = -(nD/2) log(4πσ²) + log p_{σ/√2}(x) - 2 log p_σ(x).

    ρ² grows exponentially with D (each latent coordinate multiplies 1 + ρ²).

    Parameters
    ----------
    x : array-like, shape (n, D)
    prior_mean : float or array-like, shape (D,)
    prior_std, noise_std : float

    Returns
    -------
    float
        ρ² ≥ 0 (``inf`` only if it exceeds the float range, ~1e308).
    """
    x, prior_mean, prior_std, noise_std = _check_gaussian_model(x, prior_mean, prior_std,
                                                                noise_std)
    n, D = x.shape
    log_second_moment = (-0.5 * n * D * math.log(4.0 * math.pi * noise_std**2)
                         + _gaussian_log_evidence(x, prior_mean, prior_std,
                                                  noise_std / math.sqrt(2.0)))
    log_ratio = log_second_moment - 2.0 * _gaussian_log_evidence(x, prior_mean, prior_std,
                                                                 noise_std)
    with np.errstate(over="ignore"):
        return float(np.expm1(max(log_ratio, 0.0)))


# --------------------------------------------------------------------------------------
# the Beta–Bernoulli pair
# --------------------------------------------------------------------------------------
def _check_beta_bernoulli(x, a, b):
    x = check_array(x, "x", ndim=1)
    if not np.all((x == 0) | (x == 1)):
        bad = x[(x != 0) & (x != 1)][:3]
        raise ValueError(f"x must hold Bernoulli outcomes 0 or 1, got values such as "
                         f"{bad.tolist()}; encode heads as 1 and tails as 0.")
    hint = "It is a Beta prior's pseudo-count, e.g. 1.0 for a uniform prior."
    return x, check_positive(a, "a", hint), check_positive(b, "b", hint)


def beta_bernoulli_posterior(x, a: float, b: float) -> tuple[float, float]:
    """Posterior Beta(a + k, b + n - k) of θ after n coin flips with k ones.

    Model: θ ~ Beta(a, b), x_i | θ ~ Bernoulli(θ). The likelihood θ^k (1 - θ)^(n-k)
    times the prior θ^(a-1) (1 - θ)^(b-1) is again a Beta kernel
    (eq-bayes-beta-posterior).

    Parameters
    ----------
    x : array-like of 0/1, shape (n,)
    a, b : float
        Prior pseudo-counts, > 0.

    Returns
    -------
    a_post, b_post : float
    """
    x, a, b = _check_beta_bernoulli(x, a, b)
    k, n = float(x.sum()), x.shape[0]
    return a + k, b + (n - k)


def beta_bernoulli_log_evidence(x, a: float, b: float) -> float:
    """log p(x_1..x_n) = log B(a + k, b + n - k) - log B(a, b) (eq-bayes-beta-evidence).

    The probability of the exact sequence x (not of the count k, which would add
    log C(n, k)).

    Parameters
    ----------
    x : array-like of 0/1, shape (n,)
    a, b : float
        Prior pseudo-counts, > 0.

    Returns
    -------
    float
    """
    x, a, b = _check_beta_bernoulli(x, a, b)
    k, n = float(x.sum()), x.shape[0]
    return float(betaln(a + k, b + n - k) - betaln(a, b))


# --------------------------------------------------------------------------------------
# grid integration
# --------------------------------------------------------------------------------------
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


def _check_log_joint_values(values, n_points):
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (n_points,):
        raise ValueError(f"log_joint must map z of shape (n_points, latent_dim) to shape "
                         f"(n_points,), returned shape {values.shape}.")
    if np.any(np.isnan(values)) or np.any(values == np.inf):
        raise ValueError("log_joint returned NaN or +inf; it must return log-densities "
                         "(finite, or -inf where the density is zero).")
    return values


def grid_log_evidence(log_joint: Callable[[np.ndarray], np.ndarray], latent_dim: int,
                      lo: float = -6.0, hi: float = 6.0, n_per_dim: int = 41,
                      chunk_size: int = 2**18) -> float:
    """log p(x) by the midpoint rule on the grid [lo, hi]^D, in log space.

    With m cells of width h per axis, the M = m^D cell centres z_k give
    (eq-bayes-grid)

        log p(x) ≈ log Σ_k h^D p(x, z_k) = logsumexp_k log p(x, z_k) + D log h.

    The points are visited in chunks, so memory stays small while the work is M
    evaluations of ``log_joint``: the number that explodes with D.

    Parameters
    ----------
    log_joint : callable
        ``log_joint(z)`` with z of shape (n_points, latent_dim) returns log p(x, z),
        shape (n_points,).
    latent_dim : int
        D ≥ 1.
    lo, hi : float
        The box [lo, hi]^D; it must hold practically all the posterior mass.
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
        If m^D exceeds :data:`MAX_GRID_POINTS`, if ``log_joint`` returns NaN, +inf or
        the wrong shape, or if the whole grid has zero density.
    """
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
    (eq-bayes-grid), so the density sums to 1 / h^D over the grid.

    Parameters
    ----------
    log_joint : callable
        ``log_joint(z)``, z of shape (n_points, latent_dim) -> (n_points,).
    latent_dim : int
        D ≥ 1 (the whole grid is held in memory: m^D ≤ 10**7).
    lo, hi : float
    n_per_dim : int

    Returns
    -------
    centres : ndarray, shape (m,)
        The grid along each axis.
    log_post : ndarray, shape (m,) * D
        Log posterior density at the cell centres, ``log_post[i, j]`` at
        z = (centres[i], centres[j]).
    log_evidence : float
    """
    latent_dim, lo, hi, n_per_dim = _check_grid(latent_dim, lo, hi, n_per_dim)
    n_points = n_per_dim**latent_dim
    if n_points > MAX_POSTERIOR_GRID_POINTS:
        raise ValueError(f"a posterior grid of {n_points:.3g} points does not fit in memory "
                         f"(limit {MAX_POSTERIOR_GRID_POINTS:.0e}); lower n_per_dim.")
    centres, width = grid_axis(lo, hi, n_per_dim)
    mesh = np.meshgrid(*([centres] * latent_dim), indexing="ij")
    z = np.stack([c.ravel() for c in mesh], axis=-1)       # (m^D, D), row-major order
    log_joint_values = _check_log_joint_values(log_joint(z), n_points)
    log_evidence = float(logsumexp(log_joint_values) + latent_dim * math.log(width))
    if not np.isfinite(log_evidence):
        raise ValueError("log_joint is -inf on the whole grid; widen [lo, hi].")
    shape = (n_per_dim,) * latent_dim
    return centres, (log_joint_values - log_evidence).reshape(shape), log_evidence


# --------------------------------------------------------------------------------------
# naive Monte Carlo from the prior
# --------------------------------------------------------------------------------------
def log_mean_exp(a, axis: int = -1) -> np.ndarray:
    """log((1/L) Σ_l exp(a_l)) along ``axis``, without overflow or underflow.

    Parameters
    ----------
    a : array-like, shape (..., L, ...)
    axis : int

    Returns
    -------
    ndarray, the input's shape without ``axis``
    """
    a = check_log_weights(a, "a")
    return logsumexp(a, axis=axis) - math.log(a.shape[axis])


def effective_sample_size(log_weights, axis: int = -1) -> np.ndarray:
    """Kish's effective sample size (Σ w)² / Σ w², from log-weights.

    Between 1 (one weight dominates) and L (all equal). In log space:
    ESS = exp(2 logsumexp(a) - logsumexp(2a)).

    Parameters
    ----------
    log_weights : array-like, shape (..., L, ...)
    axis : int

    Returns
    -------
    ndarray, the input's shape without ``axis``
    """
    a = check_log_weights(log_weights, "log_weights")
    return np.exp(2.0 * logsumexp(a, axis=axis) - logsumexp(2.0 * a, axis=axis))


def mc_log_evidence(log_likelihood: Callable[[np.ndarray], np.ndarray], prior_mean,
                    prior_std: float, latent_dim: int, n_samples: int,
                    generator: np.random.Generator, n_estimates: int = 1) -> np.ndarray:
    """Naive Monte Carlo estimates of log p(x) from L samples of the prior.

    p(x) = E_p(z)[p(x | z)] ≈ (1/L) Σ_l p(x | z_l), z_l ~ N(m0, s0² I_D), and in log
    space (eq-bayes-mc)

        log p̂(x) = log_mean_exp_l log p(x | z_l).

    p̂ is unbiased for p(x); log p̂ is biased low (Jensen) and, when the prior rarely
    lands where the posterior is, badly so.

    Parameters
    ----------
    log_likelihood : callable
        ``log_likelihood(z)``, z of shape (..., L, latent_dim) -> (..., L).
    prior_mean : float or array-like, shape (latent_dim,)
    prior_std : float
        s0 > 0.
    latent_dim : int
        D ≥ 1.
    n_samples : int
        L ≥ 1 prior samples per estimate.
    generator : numpy.random.Generator
        The only source of randomness (e.g. from ``vaelib.seed_everything``).
    n_estimates : int
        Number of independent estimates (each from its own L samples).

    Returns
    -------
    ndarray, shape (n_estimates,)
        The draws are made in order, so the result does not depend on how the
        estimates are batched internally.
    """
    latent_dim = check_int(latent_dim, "latent_dim", minimum=1)
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    n_estimates = check_int(n_estimates, "n_estimates", minimum=1)
    prior_mean = _check_mean(prior_mean, latent_dim)
    prior_std = check_std(prior_std, "prior_std")
    if not isinstance(generator, np.random.Generator):
        raise TypeError("generator must be a numpy.random.Generator, e.g. "
                        f"np.random.default_rng(0); got {type(generator).__name__}.")
    block = max(1, 2**22 // (n_samples * latent_dim))    # ~32 MB of z at a time
    estimates = []
    for start in range(0, n_estimates, block):
        size = min(block, n_estimates - start)
        eps = generator.standard_normal((size, n_samples, latent_dim))
        z = prior_mean + prior_std * eps
        log_lik = np.asarray(log_likelihood(z), dtype=np.float64)
        if log_lik.shape != (size, n_samples):
            raise ValueError(f"log_likelihood must map z of shape (..., L, latent_dim) to "
                             f"(..., L); got {log_lik.shape} for z of shape {z.shape}.")
        if np.any(np.isnan(log_lik)) or np.any(log_lik == np.inf):
            raise ValueError("log_likelihood returned NaN or +inf.")
        estimates.append(logsumexp(log_lik, axis=-1) - math.log(n_samples))
    return np.concatenate(estimates)


# --------------------------------------------------------------------------------------
# a non-conjugate model: a tiny fixed decoder
# --------------------------------------------------------------------------------------
#: Weights of the tiny decoder f(z) = W2 tanh(W1 z + b1) + b2, fixed by hand: the first
#: two hidden units are mirror images in z_1, so f is even in z_1 (two latent points
#: share each output, hence two posterior modes), and tanh bends the level sets.
DECODER_W1 = np.array([[2.0, 1.0], [-2.0, 1.0], [0.0, 1.5]])     # (hidden=3, latent=2)
DECODER_B1 = np.array([-1.0, -1.0, 0.0])                        # (3,)
DECODER_W2 = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])       # (data=2, hidden=3)
DECODER_B2 = np.zeros(2)                                        # (2,)


def decoder_mean(z) -> np.ndarray:
    """The tiny decoder's output f(z) = W2 tanh(W1 z + b1) + b2 (eq-bayes-decoder).

    Parameters
    ----------
    z : array-like, shape (..., 2)

    Returns
    -------
    ndarray, shape (..., 2)
        The mean of x given z.
    """
    return _decoder_mean(_check_z(z, 2))


def _decoder_mean(z):
    hidden = np.tanh(z @ DECODER_W1.T + DECODER_B1)
    return hidden @ DECODER_W2.T + DECODER_B2


def decoder_log_joint(z, x, noise_std: float) -> np.ndarray:
    """log p(x, z) of the non-conjugate model, z ~ N(0, I_2), x_i | z ~ N(f(z), σ² I_2).

        log p(x, z) = Σ_i log N(x_i; f(z), σ² I) + log N(z; 0, I)

    No closed form exists for its integral over z: the chapter uses a grid.

    Parameters
    ----------
    z : array-like, shape (..., 2)
    x : array-like, shape (n, 2)
    noise_std : float
        σ > 0.

    Returns
    -------
    ndarray, shape (...)
    """
    x = check_array(x, "x", ndim=2)
    if x.shape[1] != 2:
        raise ValueError(f"x must have shape (n, 2) for the tiny decoder, got {x.shape}.")
    z = _check_z(z, 2)
    noise_std = check_std(noise_std, "noise_std")
    # Σ_i log N(x_i; f(z), σ² I) is the Gaussian model's likelihood evaluated at f(z)
    return (_gaussian_log_likelihood(_decoder_mean(z), x, noise_std)
            + _gaussian.log_normal_iso(z, 0.0, 1.0))
