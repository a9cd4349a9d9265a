"""The reparameterization trick (chapter 5).

A draw from the diagonal Gaussian q(z | x) = N(mu, diag(exp(logvar))) is written as a
deterministic, differentiable function of (mu, logvar) and parameter-free noise:

    z = mu + std * eps,    std = exp(0.5 * logvar),    eps ~ N(0, I).

The standard deviation multiplies eps, not the variance (the covariance diag(std**2)
would give z the variance std**4).
"""
from __future__ import annotations

import torch

from ._validation import check_int, check_tensor

__all__ = ["sample"]


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
    check_tensor(mu, "mu", ndim=2)
    check_tensor(logvar, "logvar", ndim=2)
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} "
                         f"and {tuple(logvar.shape)}.")
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    return _sample(mu, logvar, n_samples, generator)


def _sample(mu, logvar, n_samples, generator=None):
    """Unchecked kernel of :func:`sample` (for training loops)."""
    std = torch.exp(0.5 * logvar)
    eps = torch.randn((n_samples, *mu.shape), dtype=mu.dtype, device=mu.device,
                      generator=generator)
    return mu + std * eps
