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

import numpy as np
import torch

from . import _gaussian
from ._validation import (check_array, check_encoded, check_generator, check_int, check_model,
                          check_model_input, check_mu_logvar, check_spd)

__all__ = ["kl_normal_std_normal", "kl_per_dimension", "kl_normal_std_normal_mc", "elbo",
           "log_importance_weights", "iwae_bound", "weight_variance_criterion",
           "gaussian_weight_relative_variance",
           "GRADIENT_ESTIMATORS", "elbo_gradients"]


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


def iwae_bound(model, x: torch.Tensor, k: int, generator: torch.Generator | None = None,
               chunk_size: int | None = None) -> torch.Tensor:
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
        Number of importance samples (>= 1).
    generator : torch.Generator, optional
    chunk_size : int, optional
        Draw and decode the k samples this many at a time (memory chunk_size * batch *
        input_dim instead of k * batch * input_dim). The pieces come from the same
        generator in turn, so the result is as seeded as without chunks (not promised
        to be bit-identical to an unchunked call).

    Returns
    -------
    torch.Tensor, shape (batch,)
        Differentiable in the model's parameters (wrap in ``torch.no_grad()`` to
        evaluate only).
    """
    x, k = _check_elbo_args(model, x, k, "k")
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    mu, logvar = check_encoded(*model._encode(x))
    return _iwae_given_q(model, x, mu, logvar, k, check_generator(generator), chunk_size)


def weight_variance_criterion(cov_q, cov_post) -> np.ndarray:
    """Smallest eigenvalue of 2 Sigma_q - Sigma_post: > 0 iff the weights have finite variance.

    For a Gaussian proposal q = N(mu, Sigma_q) and a Gaussian target
    p(z | x) = N(m, Sigma_post), the importance weight w = p(x, z) / q(z) has

        E_q[w^2] = p(x)^2 int N(z; m, Sigma_post)^2 / N(z; mu, Sigma_q) dz,

    and the integrand is exp(-1/2 z^T (2 Sigma_post^{-1} - Sigma_q^{-1}) z + linear) up
    to constants: finite iff 2 Sigma_post^{-1} - Sigma_q^{-1} is positive definite, i.e.
    iff 2 Sigma_q - Sigma_post is (for positive definite A, B: B^{-1} < 2 A^{-1} iff
    A > B / 2). The means do not enter. A q narrower than half the posterior's variance
    in some direction gives weights of infinite variance: then the average of k weights
    converges to p(x) more slowly than 1 / sqrt(k), and its log (the IWAE estimate) is
    biased low by an amount its sample spread does not reveal (Owen, 2013, ch. 9).

    Parameters
    ----------
    cov_q, cov_post : array-like, shape (..., d, d)
        Covariances (a diagonal q: ``np.diag(std**2)``); leading shapes broadcast.

    Returns
    -------
    numpy.ndarray, shape (...)
        The smallest eigenvalue of 2 Sigma_q - Sigma_post.
    """
    cov_q = check_spd(cov_q, "cov_q")
    cov_post = check_spd(cov_post, "cov_post")
    if cov_q.shape[-1] != cov_post.shape[-1]:
        raise ValueError(f"cov_q and cov_post must have the same size d, got {cov_q.shape} "
                         f"and {cov_post.shape}.")
    return np.linalg.eigvalsh(2.0 * cov_q - cov_post)[..., 0]


def gaussian_weight_relative_variance(mu_q, cov_q, mean_post, cov_post) -> np.ndarray:
    """rho^2 = Var_q[w] / E_q[w]^2 of an importance weight, q and the posterior Gaussian.

    With q = N(mu, S), the posterior N(m, Sigma) and A = 2 Sigma^{-1} - S^{-1} (positive
    definite iff :func:`weight_variance_criterion` is positive), completing the square in
    E_q[w^2] / p(x)^2 = int N(z; m, Sigma)^2 / N(z; mu, S) dz gives

        log(1 + rho^2) = 1/2 log det S - log det Sigma - 1/2 log det A
                         + 1/2 b^T A^{-1} b - 1/2 c,
        b = 2 Sigma^{-1} m - S^{-1} mu,   c = 2 m^T Sigma^{-1} m - mu^T S^{-1} mu.

    Unlike the criterion, rho^2 grows with the distance between the means: an
    importance-sampling estimate of log p(x) from k draws has a standard error of about
    rho / sqrt(k) and a bias of about -rho^2 / (2 k), so it needs k well above rho^2.

    Parameters
    ----------
    mu_q, mean_post : array-like, shape (..., d)
    cov_q, cov_post : array-like, shape (..., d, d)

    Returns
    -------
    numpy.ndarray, shape (...)
        rho^2 >= 0, or ``inf`` where the weights have infinite variance.
    """
    mu_q = check_array(mu_q, "mu_q")
    mean_post = check_array(mean_post, "mean_post")
    cov_q = check_spd(cov_q, "cov_q")
    cov_post = check_spd(cov_post, "cov_post")
    d = cov_q.shape[-1]
    if (mu_q.shape[-1], mean_post.shape[-1], cov_post.shape[-1]) != (d, d, d):
        raise ValueError(f"all four arguments must share the latent dimension d = {d}; got "
                         f"means of size {mu_q.shape[-1]}, {mean_post.shape[-1]} and "
                         f"covariances of size {d}, {cov_post.shape[-1]}.")
    prec_q, prec_post = np.linalg.inv(cov_q), np.linalg.inv(cov_post)
    A = 2.0 * prec_post - prec_q
    shape = np.broadcast_shapes(A.shape[:-2], mu_q.shape[:-1], mean_post.shape[:-1])
    eig = np.broadcast_to(np.linalg.eigvalsh(A), (*shape, d))
    A = np.broadcast_to(A, (*shape, d, d))
    b = (2.0 * np.einsum("...ij,...j->...i", prec_post, mean_post)
         - np.einsum("...ij,...j->...i", prec_q, mu_q))
    b = np.broadcast_to(b, (*shape, d))
    c = (2.0 * np.einsum("...i,...ij,...j->...", mean_post, prec_post, mean_post)
         - np.einsum("...i,...ij,...j->...", mu_q, prec_q, mu_q))
    out = np.full(shape, np.inf)
    ok = eig[..., 0] > 0
    if np.any(ok):
        quad = np.einsum("ni,ni->n", b[ok], np.linalg.solve(A[ok], b[ok][..., None])[..., 0])
        logdet = lambda M: np.broadcast_to(np.linalg.slogdet(M)[1], shape)[ok]
        log_second = (0.5 * logdet(cov_q) - logdet(cov_post) - 0.5 * np.sum(np.log(eig[ok]), -1)
                      + 0.5 * quad - 0.5 * np.broadcast_to(c, shape)[ok])
        out[ok] = np.maximum(np.expm1(log_second), 0.0)
    return out


#: Gradient estimators of the ELBO with respect to q's (mu, logvar), :func:`elbo_gradients`.
GRADIENT_ESTIMATORS = ("analytic_kl", "monte_carlo", "path")


def elbo_gradients(model, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                   estimator: str = "analytic_kl", n_samples: int = 1, n_repeats: int = 1,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Independent draws of a reparameterized ELBO gradient with respect to q's (mu, logvar).

    Three estimators of grad_lambda ELBO(lambda), lambda = (mu, logvar) of
    q_lambda(z) = N(mu, diag(exp(logvar))), all differentiated through
    z_l = mu + exp(logvar / 2) eps_l and all unbiased:

    ``"analytic_kl"``
        (1/L) sum_l log p(x | z_l) - KL[q || N(0, I)], the KL in closed form
        (Kingma & Welling, 2014, eq. 7; what ``vaelib.train.fit`` differentiates);
    ``"monte_carlo"``
        (1/L) sum_l [log p(x | z_l) + log p(z_l) - log q_lambda(z_l)], every term by
        Monte Carlo (eq. 6 there). Its gradient has two parts: the path through z_l and
        the score -grad_lambda log q_lambda(z) at fixed z, whose expectation is 0;
    ``"path"``
        the same with the score part dropped (log q evaluated with lambda detached):
        "sticking the landing" (Roeder, Wu & Duvenaud, 2017). If q equals the posterior,
        log p(x, z) - log q(z) is the constant log p(x), and this estimator is exactly 0.

    Parameters
    ----------
    model : vaelib.models.VAE or a model with its interface
        Provides ``_decode`` and ``_log_likelihood``; its parameters are not touched.
    x : torch.Tensor, shape (batch, input_dim)
    mu, logvar : torch.Tensor, shape (batch, latent_dim)
        The q of each example (e.g. the encoder's output, detached).
    estimator : {"analytic_kl", "monte_carlo", "path"}
    n_samples : int
        L, samples per estimate.
    n_repeats : int
        R independent estimates per example.
    generator : torch.Generator, optional

    Returns
    -------
    torch.Tensor, shape (n_repeats, batch, 2 * latent_dim)
        d ELBO / d mu, then d ELBO / d logvar, per repeat and example.
    """
    x, n_samples = _check_elbo_args(model, x, n_samples, "n_samples")
    n_repeats = check_int(n_repeats, "n_repeats", minimum=1)
    if estimator not in GRADIENT_ESTIMATORS:
        raise ValueError(f"estimator must be one of {GRADIENT_ESTIMATORS}, got {estimator!r}.")
    mu, logvar = check_mu_logvar(mu.detach(), logvar.detach())
    if mu.shape != (x.shape[0], model.latent_dim):
        raise ValueError(f"mu and logvar must have shape (batch, latent_dim) = "
                         f"({x.shape[0]}, {model.latent_dim}), got {tuple(mu.shape)}.")
    generator = check_generator(generator)
    mu_r = mu.to(x.dtype).expand(n_repeats, *mu.shape).clone().requires_grad_(True)
    logvar_r = logvar.to(x.dtype).expand(n_repeats, *mu.shape).clone().requires_grad_(True)
    with torch.enable_grad():
        z = _gaussian.sample(mu_r, logvar_r, n_samples, generator)       # (L, R, batch, d)
        log_px_z = model._log_likelihood(x, model._decode(z))              # (L, R, batch)
        if estimator == "analytic_kl":
            value = log_px_z.mean(0) - _gaussian.kl_std_normal(mu_r, logvar_r)
        else:
            if estimator == "path":
                log_q = _gaussian.log_normal_diag(z, mu_r.detach(), logvar_r.detach())
            else:
                log_q = _gaussian.log_normal_diag(z, mu_r, logvar_r)
            value = (log_px_z + _gaussian.log_std_normal(z) - log_q).mean(0)
        grad_mu, grad_logvar = torch.autograd.grad(value.sum(), (mu_r, logvar_r))
    return torch.cat([grad_mu, grad_logvar], dim=-1)
