"""The diagonal-Gaussian kernels every chapter shares: one copy of each formula.

For q(z) = N(mu, diag(exp(logvar))) and the prior p(z) = N(0, I):

    eps ~ N(0, I)                                             draw_eps
    z = mu + std * eps,   std = exp(logvar / 2)               reparameterize, sample
    log N(z; mu, diag(exp(logvar)))
        = -1/2 sum_j [log 2 pi + logvar_j + (z_j - mu_j)**2 / exp(logvar_j)]
                                                              log_normal_diag
    log N(z; 0, I) = -1/2 sum_j [log 2 pi + z_j**2]           log_std_normal
    log N(x; m, s**2 I)  (one fixed scalar s: a Gaussian decoder, an isotropic prior)
        = -||x - m||**2 / (2 s**2) - dim * (log s + log(2 pi) / 2)
                                                              log_normal_iso
    KL[q || N(0, I)] = 1/2 sum_j [mu_j**2 + exp(logvar_j) - logvar_j - 1]
                                                              kl_std_normal(_terms)

Chapter-neutral and private: the public functions of the chapters' modules validate
their inputs once and call these unchecked kernels, and so do the training loops. Every
kernel but the noise draw works on torch tensors (differentiably) and on NumPy arrays
alike; the last axis is the latent one, any leading axes broadcast (Monte Carlo samples
first: ``(n_samples, batch, latent_dim)``).
"""
from __future__ import annotations

import math

import numpy as np

#: log(2 pi), the constant of every Gaussian log-density in the book.
LOG_2PI = math.log(2.0 * math.pi)


def _exp(a):
    """exp for torch tensors (differentiable) and NumPy arrays alike."""
    return a.exp() if hasattr(a, "exp") else np.exp(a)


def draw_eps(mu, n_samples: int, generator=None):
    """Standard-normal noise of shape ``(n_samples, *mu.shape)``, mu's dtype and device.

    ``mu`` is a torch tensor; ``generator`` a ``torch.Generator`` or None.
    """
    import torch

    return torch.randn((n_samples, *mu.shape), dtype=mu.dtype, device=mu.device,
                       generator=generator)


def reparameterize(mu, logvar, eps):
    """z = mu + exp(logvar / 2) * eps (broadcasting eps's leading sample axes)."""
    return mu + _exp(0.5 * logvar) * eps


def sample(mu, logvar, n_samples: int, generator=None):
    """``n_samples`` reparameterized draws of q, shape ``(n_samples, *mu.shape)``."""
    return reparameterize(mu, logvar, draw_eps(mu, n_samples, generator))


def log_normal_diag(z, mu, logvar):
    """log N(z; mu, diag(exp(logvar))), summed over the last axis; broadcasts."""
    return -0.5 * (LOG_2PI + logvar + (z - mu) ** 2 * _exp(-logvar)).sum(-1)


def log_normal_iso(x, mean, std: float):
    """log N(x; mean, std**2 I) for a scalar std, summed over the last axis; broadcasts."""
    sq = ((x - mean) ** 2).sum(-1)
    return -0.5 * sq / std ** 2 - x.shape[-1] * (math.log(std) + 0.5 * LOG_2PI)


def log_std_normal(z):
    """log N(z; 0, I), summed over the last axis."""
    return -0.5 * (LOG_2PI + z ** 2).sum(-1)


def kl_std_normal_terms(mu, logvar):
    """KL[q || N(0, I)] coordinate by coordinate, shape of ``mu`` (each term >= 0)."""
    # KL = 0.5 * sum(mu^2 + sigma^2 - log sigma^2 - 1)   (Kingma & Welling, 2014, app. B)
    return 0.5 * (mu ** 2 + _exp(logvar) - logvar - 1.0)


def kl_std_normal(mu, logvar):
    """KL[N(mu, diag(exp(logvar))) || N(0, I)], summed over the last axis."""
    return kl_std_normal_terms(mu, logvar).sum(-1)
