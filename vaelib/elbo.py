"""The ELBO and its terms (chapter 4).

    ELBO(x) = E_q[log p_theta(x | z)] - KL[q_phi(z | x) || p(z)]
            = log p_theta(x) - KL[q_phi(z | x) || p_theta(z | x)]
"""
from __future__ import annotations

import torch

from ._validation import check_int, check_tensor

__all__ = ["kl_normal_std_normal", "elbo"]


def kl_normal_std_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)), summed over latent dimensions.

    KL = 0.5 * sum_d (mu_d**2 + exp(logvar_d) - logvar_d - 1)
    (Kingma & Welling, 2014, appendix B).

    Parameters
    ----------
    mu, logvar : torch.Tensor, shape (batch, latent_dim)

    Returns
    -------
    torch.Tensor, shape (batch,)
    """
    check_tensor(mu, "mu", ndim=2)
    check_tensor(logvar, "logvar", ndim=2)
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} "
                         f"and {tuple(logvar.shape)}.")
    return _kl_normal_std_normal(mu, logvar)


def _kl_normal_std_normal(mu, logvar):
    """Unchecked kernel of :func:`kl_normal_std_normal` (for training loops)."""
    # KL = 0.5 * sum(mu^2 + sigma^2 - log sigma^2 - 1)
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0).sum(dim=-1)


def elbo(model, x: torch.Tensor, n_samples: int = 1,
         generator: torch.Generator | None = None) -> torch.Tensor:
    """Monte Carlo estimate of the ELBO of a :class:`vaelib.models.VAE`, per example.

    ELBO(x) ~= (1/L) sum_l log p_theta(x | z_l) - KL[q_phi(z | x) || N(0, I)],
    z_l = mu + std * eps_l (reparameterized, so the estimate is differentiable in
    both the encoder's and the decoder's parameters). The KL term is closed form.

    Parameters
    ----------
    model : vaelib.models.VAE
        Provides ``encode(x) -> (mu, logvar)``, ``decode(z)`` and
        ``log_likelihood(x, decoded)``.
    x : torch.Tensor, shape (batch, input_dim)
    n_samples : int
        Number L of Monte Carlo samples of z per example (>= 1).
    generator : torch.Generator, optional

    Returns
    -------
    torch.Tensor, shape (batch,)
    """
    check_tensor(x, "x", ndim=2)
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    return _elbo(model, x, n_samples, generator)


def _elbo(model, x, n_samples=1, generator=None):
    """Unchecked kernel of :func:`elbo` (for training loops)."""
    from .reparam import _sample

    mu, logvar = model.encode(x)
    z = _sample(mu, logvar, n_samples, generator)            # (L, batch, latent_dim)
    log_px_z = model.log_likelihood(x, model.decode(z))      # (L, batch)
    return log_px_z.mean(dim=0) - _kl_normal_std_normal(mu, logvar)
