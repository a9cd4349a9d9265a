"""The ELBO, its terms and the importance-weighted bound (chapter 4).

    ELBO(x) = E_q[log p_theta(x | z)] - KL[q_phi(z | x) || p(z)]
            = log p_theta(x) - KL[q_phi(z | x) || p_theta(z | x)]

    IWAE_k(x) = E[ log (1/k) sum_i p_theta(x, z_i) / q_phi(z_i | x) ],  z_i ~ q_phi(z | x)
              ELBO = IWAE_1 <= IWAE_k <= IWAE_{k+1} -> log p_theta(x)   (Burda et al., 2016)
"""
from __future__ import annotations

import math

import torch

from ._validation import check_int, check_tensor

__all__ = ["kl_normal_std_normal", "kl_per_dimension", "kl_normal_std_normal_mc", "elbo",
           "log_importance_weights", "iwae_bound"]


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
    _check_mu_logvar(mu, logvar)
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
    _check_model(model)
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


def _check_mu_logvar(mu, logvar):
    check_tensor(mu, "mu", ndim=2)
    check_tensor(logvar, "logvar", ndim=2)
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} "
                         f"and {tuple(logvar.shape)}.")


def _check_model(model):
    missing = [m for m in ("encode", "decode", "log_likelihood") if not hasattr(model, m)]
    if missing:
        raise TypeError(f"model must provide encode, decode and log_likelihood like "
                        f"vaelib.models.VAE; {type(model).__name__} lacks {', '.join(missing)}.")


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The terms of :func:`kl_normal_std_normal`, one per latent dimension.

    KL_d = 0.5 * (mu_d**2 + exp(logvar_d) - logvar_d - 1) >= 0, which is 0 exactly when
    q's coordinate d equals the prior N(0, 1). Averaged over data, it tells which
    latent dimensions the encoder uses ("active units", Burda et al., 2016, sec. 5.2).

    Parameters
    ----------
    mu, logvar : torch.Tensor, shape (batch, latent_dim)

    Returns
    -------
    torch.Tensor, shape (batch, latent_dim)
        Sums to :func:`kl_normal_std_normal` over the last dimension.
    """
    _check_mu_logvar(mu, logvar)
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)


def _log_normal(z, mu, logvar):
    """log N(z; mu, diag(exp(logvar))) summed over the last dimension; broadcasts."""
    return -0.5 * ((z - mu).pow(2) * torch.exp(-logvar) + logvar + math.log(2 * math.pi)).sum(-1)


def kl_normal_std_normal_mc(mu: torch.Tensor, logvar: torch.Tensor, n_samples: int,
                            generator: torch.Generator | None = None) -> torch.Tensor:
    """Monte Carlo estimate of KL(q || N(0, I)) with L samples z_l ~ q (unbiased).

    KL ~= (1/L) sum_l [log q(z_l) - log N(z_l; 0, I)],  z_l = mu + std * eps_l.

    The closed form :func:`kl_normal_std_normal` is its expectation; this estimator
    exists to show what the closed form saves (its variance).

    Parameters
    ----------
    mu, logvar : torch.Tensor, shape (batch, latent_dim)
    n_samples : int
        L >= 1.
    generator : torch.Generator, optional

    Returns
    -------
    torch.Tensor, shape (batch,)
    """
    from .reparam import _sample

    _check_mu_logvar(mu, logvar)
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    z = _sample(mu, logvar, n_samples, generator)                    # (L, batch, latent_dim)
    zeros = torch.zeros_like(mu)
    return (_log_normal(z, mu, logvar) - _log_normal(z, zeros, zeros)).mean(dim=0)


def log_importance_weights(model, x: torch.Tensor, k: int,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """log w_i = log p_theta(x | z_i) + log p(z_i) - log q_phi(z_i | x),  z_i ~ q_phi(z | x).

    Parameters
    ----------
    model : vaelib.models.VAE (or any module with ``encode``, ``decode``, ``log_likelihood``)
    x : torch.Tensor, shape (batch, input_dim)
    k : int
        Number of samples per example (>= 1).
    generator : torch.Generator, optional
        Source of the noise; the draws are those of
        ``vaelib.reparam.sample(mu, logvar, k, generator)``.

    Returns
    -------
    torch.Tensor, shape (k, batch)
        Each row has expectation ELBO(x); ``exp`` of it has expectation p_theta(x).
    """
    _check_model(model)
    check_tensor(x, "x", ndim=2)
    k = check_int(k, "k", minimum=1)
    return _log_importance_weights(model, x, k, generator)


def _log_importance_weights(model, x, k, generator=None):
    """Unchecked kernel of :func:`log_importance_weights`."""
    from .reparam import _sample

    mu, logvar = model.encode(x)
    z = _sample(mu, logvar, k, generator)                             # (k, batch, latent_dim)
    zeros = torch.zeros_like(mu)
    log_px_z = model.log_likelihood(x, model.decode(z))               # (k, batch)
    return log_px_z + _log_normal(z, zeros, zeros) - _log_normal(z, mu, logvar)


def iwae_bound(model, x: torch.Tensor, k: int,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Single-draw estimate of the k-sample importance-weighted bound, per example.

    IWAE_k(x) ~= log (1/k) sum_{i=1}^k w_i = logsumexp_i(log w_i) - log k,
    w_i = p_theta(x | z_i) p(z_i) / q_phi(z_i | x),  z_i ~ q_phi(z | x)
    (Burda et al., 2016, eq. 8). In expectation it never decreases with k, is the
    ELBO at k = 1 and tends to log p_theta(x) as k -> infinity, so
    IWAE_k - ELBO estimates (a lower bound on) the gap KL[q_phi(z | x) || p_theta(z | x)].

    At k = 1 it is the ordinary single-sample ELBO estimate with every term by Monte
    Carlo: with the same noise it differs from :func:`elbo` (``n_samples=1``) only by
    the Monte Carlo error of the KL term, which :func:`elbo` takes in closed form.

    Parameters
    ----------
    model : vaelib.models.VAE (or any module with ``encode``, ``decode``, ``log_likelihood``)
    x : torch.Tensor, shape (batch, input_dim)
    k : int
        Number of importance samples (>= 1). Memory grows as k * batch * input_dim;
        split a large batch of x into pieces.
    generator : torch.Generator, optional

    Returns
    -------
    torch.Tensor, shape (batch,)
        Differentiable in the model's parameters (wrap in ``torch.no_grad()`` to
        evaluate only).
    """
    _check_model(model)
    check_tensor(x, "x", ndim=2)
    k = check_int(k, "k", minimum=1)
    log_w = _log_importance_weights(model, x, k, generator)           # (k, batch)
    # log-mean-exp in log space: never exponentiate log w (it is ~ -100 for real images)
    return torch.logsumexp(log_w, dim=0) - math.log(k)
