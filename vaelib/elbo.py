"""The ELBO and its terms (chapter 4).

    ELBO(x) = E_q[log p_theta(x | z)] - KL[q_phi(z | x) || p(z)]
            = log p_theta(x) - KL[q_phi(z | x) || p_theta(z | x)]
"""
from __future__ import annotations

import torch

from ._validation import check_tensor

__all__ = ["kl_normal_std_normal"]


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
