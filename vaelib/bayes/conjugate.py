"""The two conjugate pairs of chapter 1: exact posteriors and evidences.

* The Gaussian model, z ~ N(m0, s0² I_d) and x_i | z ~ N(z, σ² I_d) for i = 1..n
  (eq-bayes-model). It observes its code directly, so the data dimension equals the
  latent dimension d.
* The Beta–Bernoulli pair, θ ~ Beta(a, b) and x_i | θ ~ Bernoulli(θ)
  (eq-bayes-beta-posterior).

Everything is in log space.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.special import betaln

from .. import _gaussian
from .._gaussian import LOG_2PI
from .._validation import check_array, check_positive, check_std
from ._checks import _check_gaussian_model, _check_z

__all__ = ["gaussian_posterior", "gaussian_log_evidence", "gaussian_log_likelihood",
           "gaussian_log_joint", "gaussian_mc_relative_variance", "beta_bernoulli_posterior",
           "beta_bernoulli_log_evidence"]


def gaussian_posterior(x, prior_mean, prior_std: float,
                       noise_std: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact posterior p(z | x_1..x_n) of the conjugate Gaussian model.

    Model: z ~ N(m0, s0² I_d), x_i | z ~ N(z, σ² I_d) independently for i = 1..n.
    The posterior is N(post_mean, diag(post_std²)) with (eq-bayes-posterior)

        1 / post_std² = 1 / s0² + n / σ²,
        post_mean     = post_std² (m0 / s0² + Σ_i x_i / σ²),

    precisions add, and the mean is the precision-weighted average of the prior mean
    and the data (Bishop, 2006, §2.3.6).

    Parameters
    ----------
    x : array-like, shape (n, d)
        The n observations (one row each); a single observation is ``x[None, :]``.
    prior_mean : float or array-like, shape (d,)
        m0.
    prior_std : float
        s0 > 0, the prior's standard deviation (not its variance).
    noise_std : float
        σ > 0, the observation noise's standard deviation.

    Returns
    -------
    post_mean, post_std : ndarray, shape (d,)

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
    n, d = x.shape
    post_precision = 1.0 / prior_std**2 + n / noise_std**2
    post_var = 1.0 / post_precision
    post_mean = post_var * (prior_mean / prior_std**2 + x.sum(axis=0) / noise_std**2)
    return post_mean, np.full(d, math.sqrt(post_var))


def gaussian_log_evidence(x, prior_mean, prior_std: float, noise_std: float) -> float:
    """Exact log-evidence log p(x_1, ..., x_n) of the conjugate Gaussian model.

    Integrating z out, each latent coordinate j gives a jointly Gaussian vector
    x_{:,j} ~ N(m0_j 1, C) with C = σ² I_n + s0² 1 1ᵀ (eq-bayes-evidence). With
    r = x_{:,j} - m0_j, the matrix determinant lemma and Sherman–Morrison give

        log det C = (n - 1) log σ² + log(σ² + n s0²),
        rᵀ C⁻¹ r  = ‖r‖² / σ² - s0² (Σ_i r_i)² / (σ² (σ² + n s0²)),

    and log p(x) = -½ Σ_j [n log 2π + log det C + rᵀ C⁻¹ r]. Cost O(nd).

    Parameters
    ----------
    x : array-like, shape (n, d)
    prior_mean : float or array-like, shape (d,)
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
    n, d = x.shape
    noise_var, prior_var = noise_std**2, prior_std**2
    r = x - prior_mean                                     # (n, d)
    log_det = (n - 1) * math.log(noise_var) + math.log(noise_var + n * prior_var)
    quad = ((r**2).sum(axis=0) / noise_var
            - prior_var * r.sum(axis=0)**2 / (noise_var * (noise_var + n * prior_var)))
    return float(-0.5 * np.sum(n * LOG_2PI + log_det + quad))


def gaussian_log_likelihood(z, x, noise_std: float) -> np.ndarray:
    """log p(x_1..x_n | z) = Σ_i log N(x_i; z, σ² I_d) at many latent points z.

    Written with the sufficient statistics x̄ and S = Σ_i ‖x_i - x̄‖², since
    Σ_i ‖x_i - z‖² = n ‖z - x̄‖² + S:

        log p(x | z) = -½ [n d log(2π σ²) + (n ‖z - x̄‖² + S) / σ²],

    so each point costs O(d) whatever n is.

    Parameters
    ----------
    z : array-like, shape (..., d)
    x : array-like, shape (n, d)
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
    n, d = x.shape
    x_bar = x.mean(axis=0)
    scatter = float(((x - x_bar)**2).sum())
    diff = z - x_bar
    sq = np.einsum("...d,...d->...", diff, diff)          # ‖z - x̄‖², faster than sum()
    return -0.5 * (n * d * (LOG_2PI + 2.0 * math.log(noise_std))
                   + (n * sq + scatter) / noise_std**2)


def gaussian_log_joint(z, x, prior_mean, prior_std: float, noise_std: float) -> np.ndarray:
    """log p(x, z) = log p(x | z) + log p(z) of the conjugate Gaussian model.

    The integrand of the evidence (eq-bayes-evidence-integral), in log space.

    Parameters
    ----------
    z : array-like, shape (..., d)
    x : array-like, shape (n, d)
    prior_mean : float or array-like, shape (d,)
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

        log(1 + ρ²) = -(nd/2) log(4πσ²) + log p_{σ/√2}(x) - 2 log p_σ(x)

    (eq-bayes-rho-gaussian; the chapter derives it). For one observation (n = 1) each
    coordinate contributes, with a = s0² + σ²/2, b = s0² + σ² and r = x - m0,

        1 + ρ_j² = b / sqrt(2 a σ²) · exp(r² (1/b - 1/(2a))),

    and 1 + ρ² = Π_j (1 + ρ_j²) grows geometrically with d (eq-bayes-rho-product).

    Parameters
    ----------
    x : array-like, shape (n, d)
    prior_mean : float or array-like, shape (d,)
    prior_std, noise_std : float

    Returns
    -------
    float
        ρ² ≥ 0 (``inf`` only if it exceeds the float range, ~1e308).
    """
    x, prior_mean, prior_std, noise_std = _check_gaussian_model(x, prior_mean, prior_std,
                                                                noise_std)
    n, d = x.shape
    log_second_moment = (-0.5 * n * d * math.log(4.0 * math.pi * noise_std**2)
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


