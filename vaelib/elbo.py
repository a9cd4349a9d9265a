"""The ELBO, its terms and the importance-weighted bound (chapter 4).

    ELBO(x) = E_q[log p_theta(x | z)] - KL[q_phi(z | x) || p(z)]
            = log p_theta(x) - KL[q_phi(z | x) || p_theta(z | x)]

    IWAE_k(x) = E[ log (1/k) sum_i p_theta(x, z_i) / q_phi(z_i | x) ],  z_i ~ q_phi(z | x)
              ELBO = IWAE_1 <= IWAE_k <= IWAE_{k+1} -> log p_theta(x)   (Burda et al., 2016)

The Gaussian formulas themselves (the reparameterized draw, log-densities, the KL to
N(0, I)) are the shared kernels of ``vaelib._gaussian``; this module assembles them into
the bounds of the chapter and validates what a reader passes in.
"""
from __future__ import annotations

import math

import torch

from . import _gaussian
from ._validation import (check_encoded, check_generator, check_int, check_model,
                          check_model_input, check_mu_logvar)

__all__ = ["kl_normal_std_normal", "kl_per_dimension", "kl_normal_std_normal_mc", "elbo",
           "log_importance_weights", "iwae_bound"]


def kl_normal_std_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)), summed over latent dimensions.

    KL = 0.5 * sum_j (mu_j**2 + exp(logvar_j) - logvar_j - 1)
    (Kingma & Welling, 2014, appendix B).

    Parameters
    ----------
    mu, logvar : torch.Tensor, shape (batch, latent_dim)

    Returns
    -------
    torch.Tensor, shape (batch,)
    """
    mu, logvar = check_mu_logvar(mu, logvar)
    return _gaussian.kl_std_normal(mu, logvar)


def kl_per_dimension(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """The terms of :func:`kl_normal_std_normal`, one per latent dimension.

    KL_j = 0.5 * (mu_j**2 + exp(logvar_j) - logvar_j - 1) >= 0, which is 0 exactly when
    q's coordinate j equals the prior N(0, 1). Averaged over data, it tells how much
    information each latent coordinate carries (the book's definition of an *active*
    dimension is on the notation page).

    Parameters
    ----------
    mu, logvar : torch.Tensor, shape (batch, latent_dim)

    Returns
    -------
    torch.Tensor, shape (batch, latent_dim)
        Sums to :func:`kl_normal_std_normal` over the last dimension.
    """
    mu, logvar = check_mu_logvar(mu, logvar)
    return _gaussian.kl_std_normal_terms(mu, logvar)


def kl_normal_std_normal_mc(mu: torch.Tensor, logvar: torch.Tensor, n_samples: int,
                            generator: torch.Generator | None = None) -> torch.Tensor:
    """Monte Carlo estimate of KL(q || N(0, I)) with L samples z_l ~ q (unbiased).

    KL ~= (1/L) sum_l [log q(z_l) - log N(z_l; 0, I)],  z_l = mu + std * eps_l.

    The closed form :func:`kl_normal_std_normal` is its expectation; this estimator
    exists to show what the closed form saves.

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
    mu, logvar = check_mu_logvar(mu, logvar)
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    z = _gaussian.sample(mu, logvar, n_samples, check_generator(generator))  # (L, batch, d)
    return (_gaussian.log_normal_diag(z, mu, logvar) - _gaussian.log_std_normal(z)).mean(0)


def _check_elbo_args(model, x, n, name):
    check_model(model)
    return check_model_input(x, model), check_int(n, name, minimum=1)


def elbo(model, x: torch.Tensor, n_samples: int = 1,
         generator: torch.Generator | None = None) -> torch.Tensor:
    """Monte Carlo estimate of the ELBO of a :class:`vaelib.models.VAE`, per example.

    ELBO(x) ~= (1/L) sum_l log p_theta(x | z_l) - KL[q_phi(z | x) || N(0, I)],
    z_l = mu + std * eps_l (reparameterized, so the estimate is differentiable in
    both the encoder's and the decoder's parameters). The KL term is closed form.

    Parameters
    ----------
    model : vaelib.models.VAE
        Or any model with its interface (``encode``, ``decode``, ``log_likelihood``).
    x : torch.Tensor, shape (batch, input_dim)
    n_samples : int
        Number L of Monte Carlo samples of z per example (>= 1).
    generator : torch.Generator, optional

    Returns
    -------
    torch.Tensor, shape (batch,)
    """
    x, n_samples = _check_elbo_args(model, x, n_samples, "n_samples")
    mu, logvar = check_encoded(*model._encode(x))
    return _elbo_given_q(model, x, mu, logvar, n_samples, check_generator(generator))


def _elbo_given_q(model, x, mu, logvar, n_samples, generator):
    """(1/L) sum_l log p(x | z_l) - KL[q || N(0, I)] for q = N(mu, diag(exp(logvar)))."""
    z = _gaussian.sample(mu, logvar, n_samples, generator)          # (L, batch, latent_dim)
    log_px_z = model._log_likelihood(x, model._decode(z))          # (L, batch)
    return log_px_z.mean(dim=0) - _gaussian.kl_std_normal(mu, logvar)


def log_importance_weights(model, x: torch.Tensor, k: int,
                           generator: torch.Generator | None = None) -> torch.Tensor:
    """log w_i = log p_theta(x | z_i) + log p(z_i) - log q_phi(z_i | x),  z_i ~ q_phi(z | x).

    Parameters
    ----------
    model : vaelib.models.VAE (or any model with its interface)
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
    x, k = _check_elbo_args(model, x, k, "k")
    mu, logvar = check_encoded(*model._encode(x))
    return _log_importance_weights(model, x, mu, logvar, k, check_generator(generator))


def _log_importance_weights(model, x, mu, logvar, k, generator=None):
    """log p(x | z_i) + log p(z_i) - log q(z_i), z_i ~ q = N(mu, diag(exp(logvar))); (k, batch)."""
    z = _gaussian.sample(mu, logvar, k, generator)                  # (k, batch, latent_dim)
    log_px_z = model._log_likelihood(x, model._decode(z))           # (k, batch)
    return (log_px_z + _gaussian.log_std_normal(z)
            - _gaussian.log_normal_diag(z, mu, logvar))


def _iwae_given_q(model, x, mu, logvar, k, generator=None, chunk_size=None):
    """logsumexp_i log w_i - log k, drawing the k samples ``chunk_size`` at a time."""
    chunk_size = chunk_size or k
    log_w = [_log_importance_weights(model, x, mu, logvar, min(chunk_size, k - start),
                                     generator) for start in range(0, k, chunk_size)]
    # log-mean-exp in log space: never exponentiate log w (it is ~ -100 for real images)
    return torch.logsumexp(torch.cat(log_w), dim=0) - math.log(k)


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
    model : vaelib.models.VAE (or any model with its interface)
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
    x, k = _check_elbo_args(model, x, k, "k")
    mu, logvar = check_encoded(*model._encode(x))
    return _iwae_given_q(model, x, mu, logvar, k, check_generator(generator))
