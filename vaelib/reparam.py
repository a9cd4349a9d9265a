"""The reparameterization trick (chapter 5).

A draw from the diagonal Gaussian q(z | x) = N(mu, diag(exp(logvar))) is written as a
deterministic, differentiable function of (mu, logvar) and parameter-free noise:

    z = mu + std * eps,    std = exp(0.5 * logvar),    eps ~ N(0, I).

The standard deviation multiplies eps, not the variance (the covariance diag(std**2)
would give z the variance std**4).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from . import _gaussian
from ._validation import check_generator, check_int, check_mu_logvar, check_tensor

__all__ = ["sample", "reparameterize", "log_normal_diag", "log_density_from_noise", "Moments",
           "moment_intervals"]


def sample(mu: torch.Tensor, logvar: torch.Tensor, n_samples: int,
           generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw ``n_samples`` reparameterized samples z = mu + std * eps.

    Parameters
    ----------
    mu, logvar : torch.Tensor, shape (batch, latent_dim)
        Mean and log-variance of the diagonal Gaussian q(z | x).
    n_samples : int
        Number of Monte Carlo samples L (>= 1).
    generator : torch.Generator, optional
        Source of the noise eps, for reproducible draws.

    Returns
    -------
    torch.Tensor, shape (n_samples, batch, latent_dim)
        Differentiable with respect to ``mu`` and ``logvar``: dz/dmu = 1 and
        dz/dstd = eps.
    """
    mu, logvar = check_mu_logvar(mu, logvar, ndim=2)
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    return _gaussian.sample(mu, logvar, n_samples, check_generator(generator))


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
    """Map given noise ``eps`` to the latent space: z = mu + exp(0.5 * logvar) * eps.

    The deterministic half of :func:`sample`, for noise chosen by hand (a grid in
    eps-space, the same eps pushed through two encoders).

    Parameters
    ----------
    mu, logvar : torch.Tensor, shape (..., latent_dim)
        Mean and log-variance of the diagonal Gaussian.
    eps : torch.Tensor, shape (..., latent_dim)
        Standard-normal noise; broadcast against ``mu`` (e.g. shape
        (n_points, 1, latent_dim) against (batch, latent_dim)).

    Returns
    -------
    torch.Tensor
        The broadcast shape of ``mu`` and ``eps``; dz/dmu = 1, dz/dstd = eps.
    """
    mu, logvar = check_mu_logvar(mu, logvar, ndim=None)
    eps = check_tensor(eps, "eps", dtype=mu.dtype)
    if eps.dim() < 1 or eps.shape[-1] != mu.shape[-1]:
        raise ValueError(f"eps must end in latent_dim={mu.shape[-1]}, got shape "
                         f"{tuple(eps.shape)}.")
    try:
        torch.broadcast_shapes(mu.shape, eps.shape)
    except RuntimeError:
        raise ValueError(f"eps of shape {tuple(eps.shape)} does not broadcast against mu of "
                         f"shape {tuple(mu.shape)}; add leading singleton axes, e.g. "
                         "eps[:, None, :].") from None
    return _gaussian.reparameterize(mu, logvar, eps)


def log_normal_diag(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Log-density of a diagonal Gaussian, summed over the last (latent) axis.

    log N(z; mu, diag(exp(logvar)))
        = -0.5 * sum_d [log(2 pi) + logvar_d + (z_d - mu_d)**2 / exp(logvar_d)].

    Parameters
    ----------
    z : torch.Tensor, shape (..., latent_dim)
        Points, broadcast against ``mu`` (e.g. (n_samples, batch, latent_dim)).
    mu, logvar : torch.Tensor, shape (..., latent_dim)

    Returns
    -------
    torch.Tensor, shape (...)
        The broadcast shape without the latent axis.
    """
    mu, logvar = check_mu_logvar(mu, logvar, ndim=None)
    z = check_tensor(z, "z", dtype=mu.dtype)
    if z.shape[-1:] != mu.shape[-1:]:
        raise ValueError(f"z, mu and logvar must end in the same latent_dim; got "
                         f"{tuple(z.shape)}, {tuple(mu.shape)}, {tuple(logvar.shape)}.")
    return _gaussian.log_normal_diag(z, mu, logvar)


def log_density_from_noise(eps: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log q(z) for z = mu + std * eps, from the noise: the change-of-variables formula.

    The map eps -> z = mu + std * eps has the diagonal Jacobian diag(std), so it
    stretches volumes by prod_j std_j and divides the density by the same factor:

        log q(z) = log N(eps; 0, I) - sum_j log std_j
                 = -1/2 sum_j [log(2 pi) + eps_j**2] - 1/2 sum_j logvar_j.

    The same number as :func:`log_normal_diag` at z, without forming z.

    Parameters
    ----------
    eps : torch.Tensor, shape (..., latent_dim)
        The standardised draws (z - mu) / std.
    logvar : torch.Tensor, shape broadcastable to ``eps``
        Log-variances of q.

    Returns
    -------
    torch.Tensor, shape (...)
        The broadcast shape without the latent axis.
    """
    eps, logvar = _check_eps_logvar(eps, logvar)
    return _gaussian.log_std_normal(eps) - 0.5 * logvar.sum(-1)


def _check_eps_logvar(eps, logvar):
    """Standardised noise eps (..., latent_dim) and log-variances broadcastable to it."""
    eps = check_tensor(eps, "eps")
    logvar = check_tensor(logvar, "logvar", dtype=eps.dtype)
    try:
        shape = torch.broadcast_shapes(eps.shape, logvar.shape)
    except RuntimeError:
        shape = None
    if eps.dim() < 1 or shape != eps.shape:
        raise ValueError(f"logvar of shape {tuple(logvar.shape)} must broadcast to eps's shape "
                         f"{tuple(eps.shape)} (..., latent_dim); add leading axes, e.g. "
                         "logvar[None].")
    return eps, logvar


class Moments(NamedTuple):
    """Sample moments of Monte Carlo draws with confidence intervals (per coordinate)."""

    mean: np.ndarray
    mean_low: np.ndarray
    mean_high: np.ndarray
    var: np.ndarray
    var_low: np.ndarray
    var_high: np.ndarray


def moment_intervals(z, confidence: float = 0.99) -> Moments:
    """Sample mean and variance of draws along axis 0, with exact Gaussian intervals.

    For n i.i.d. draws of N(m, v) with sample mean zbar and unbiased sample variance s2,

        (zbar - m) / sqrt(s2 / n) ~ Student t(n - 1),
        (n - 1) s2 / v            ~ chi-square(n - 1),

    so [zbar -/+ t_{1-a/2} sqrt(s2/n)] and [(n-1) s2 / chi2_{1-a/2}, (n-1) s2 / chi2_{a/2}]
    contain m and v with probability ``confidence`` = 1 - a each.

    Parameters
    ----------
    z : array-like or torch.Tensor, shape (n_samples, ...)
        Draws; at least 2 along the first axis.
    confidence : float in (0, 1)

    Returns
    -------
    Moments
        Each field an array of shape ``z.shape[1:]`` (float64).
    """
    from scipy import stats

    from ._validation import check_array

    if isinstance(z, torch.Tensor):
        z = z.detach().cpu().numpy()
    z = check_array(z, "z")
    if z.ndim < 1 or z.shape[0] < 2:
        raise ValueError(f"z needs at least 2 draws along axis 0, got shape {z.shape}.")
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}; e.g. 0.99.")
    n = z.shape[0]
    alpha = 1.0 - float(confidence)
    mean = z.mean(axis=0)
    var = z.var(axis=0, ddof=1)
    half = stats.t.ppf(1 - alpha / 2, df=n - 1) * np.sqrt(var / n)
    var_low = (n - 1) * var / stats.chi2.ppf(1 - alpha / 2, df=n - 1)
    var_high = (n - 1) * var / stats.chi2.ppf(alpha / 2, df=n - 1)
    return Moments(mean, mean - half, mean + half, var, var_low, var_high)
