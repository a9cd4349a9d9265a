"""Monte Carlo estimates of the evidence, and what their variance costs (chapter 1).

Naive Monte Carlo averages the likelihood over prior samples (eq-bayes-mc); importance
sampling averages p(x, z) / q(z) over samples of a proposal q (eq-bayes-importance).
Both estimate p(x) without bias, with relative standard deviation sqrt(ρ² / L), and
both fail when ρ², which multiplies over independent coordinates, grows geometrically
with the latent dimension d.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy.special import logsumexp

from .._validation import check_array, check_int, check_log_weights, check_std
from ._checks import _check_mean

__all__ = ["log_mean_exp", "effective_sample_size", "mc_log_evidence",
           "gaussian_importance_relative_variance"]


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

    p(x) = E_p(z)[p(x | z)] ≈ (1/L) Σ_l p(x | z_l), z_l ~ N(m0, s0² I_d), and in log
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
        d ≥ 1.
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


def gaussian_importance_relative_variance(post_mean, post_std, q_mean, q_std) -> float:
    """Relative variance ρ² of one importance weight, a diagonal-Gaussian posterior and q.

    For a posterior p(z | x) = N(m, diag s²) and a proposal q = N(m + a s, diag (b s)²)
    (a: q's mean offset and b: its std ratio, both per coordinate and in posterior
    standard deviations), the weight w = p(x, z) / q(z) has E_q[w] = p(x) and
    ρ² = Var_q[w] / p(x)² = ∫ p(z | x)² / q(z) dz - 1, which is finite only if b² > 1/2.
    Coordinate by coordinate (eq-bayes-is-rho),

        1 + ρ_j² = b_j² / sqrt(2 b_j² - 1) · exp(a_j² / (2 b_j² - 1)),

    and 1 + ρ² = Π_j (1 + ρ_j²): a fixed error per coordinate compounds geometrically
    with d. q = posterior (a = 0, b = 1) gives ρ² = 0, every weight equal to p(x).

    Parameters
    ----------
    post_mean, post_std : array-like, shape (d,)
        The posterior's mean and standard deviations (> 0).
    q_mean, q_std : array-like, shape (d,)
        The proposal's mean and standard deviations (> 0).

    Returns
    -------
    float
        ρ² ≥ 0; ``inf`` if some q_std² ≤ post_std² / 2 (the variance is infinite) or
        if ρ² exceeds the float range.
    """
    post_mean = check_array(post_mean, "post_mean", ndim=1)
    d = post_mean.shape[0]
    arrays = {}
    for name, value in (("post_std", post_std), ("q_mean", q_mean), ("q_std", q_std)):
        arr = check_array(np.broadcast_to(value, (d,)) if np.ndim(value) == 0 else value,
                          name, ndim=1)
        if arr.shape != (d,):
            raise ValueError(f"{name} must have shape ({d},) like post_mean, got {arr.shape}.")
        arrays[name] = arr
    for name in ("post_std", "q_std"):
        if np.any(arrays[name] <= 0):
            raise ValueError(f"{name} must be > 0 (standard deviations), got min "
                             f"{arrays[name].min():.4g}.")
    a = (arrays["q_mean"] - post_mean) / arrays["post_std"]
    b2 = (arrays["q_std"] / arrays["post_std"]) ** 2
    if np.any(2.0 * b2 <= 1.0):
        return math.inf
    log_one_plus = np.log(b2) - 0.5 * np.log(2.0 * b2 - 1.0) + a**2 / (2.0 * b2 - 1.0)
    with np.errstate(over="ignore"):
        return float(np.expm1(max(float(log_one_plus.sum()), 0.0)))
