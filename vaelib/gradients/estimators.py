"""The score-function and pathwise estimators of grad E_q[f(z)] (chapter 5).

q = N(mu, diag(exp(logvar))); both estimators average L per-sample gradients, drawn
from the same noise eps for the same ``generator`` state. See :mod:`vaelib.gradients`
for the two formulas.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from .. import _gaussian
from .._validation import check_baseline, check_generator, check_int, check_mu_logvar
from ..reparam import _check_eps_logvar

__all__ = ["pathwise_grad", "score_function_grad", "gaussian_score", "GradientMoments",
           "gradient_moments"]

#: A test function f: tensor (..., latent_dim) -> (...).
Function = Callable[[torch.Tensor], torch.Tensor]


# ---------------------------------------------------------------------------------
# validation shared by the estimators
# ---------------------------------------------------------------------------------
def _check_problem(f, mu, logvar, n_samples, generator):
    if not callable(f):
        raise TypeError(f"f must be a function mapping a tensor (..., latent_dim) to (...), "
                        f"e.g. lambda z: (z ** 2).sum(-1); got {type(f).__name__}.")
    mu, logvar = check_mu_logvar(mu, logvar, ndim=None)
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    return mu, logvar, n_samples, check_generator(generator)


def _eval_f(f, z):
    """f(z) with its output shape and values checked: (L, ...) and finite."""
    fz = f(z)
    if not isinstance(fz, torch.Tensor):
        raise TypeError(f"f must return a torch.Tensor, got {type(fz).__name__}.")
    if fz.shape != z.shape[:-1]:
        raise ValueError(f"f must map shape (..., latent_dim) to (...): given z of shape "
                         f"{tuple(z.shape)} it returned {tuple(fz.shape)}. Reduce over the "
                         "last axis, e.g. (z ** 2).sum(-1).")
    if not bool(torch.isfinite(fz).all()):
        raise ValueError("f returned NaN or infinite values; check f on the samples z.")
    return fz


# ---------------------------------------------------------------------------------
# the two estimators
# ---------------------------------------------------------------------------------
def pathwise_grad(f: Function, mu: torch.Tensor, logvar: torch.Tensor, n_samples: int,
                  generator: torch.Generator | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """Pathwise (reparameterization) estimate of the gradient of E_q[f(z)].

    grad F ~= (1/L) sum_l grad_{mu, logvar} f(mu + exp(logvar / 2) * eps_l),
    eps_l ~ N(0, I), computed by automatic differentiation through z.

    Parameters
    ----------
    f : callable
        Maps a tensor (..., latent_dim) to (...); must be differentiable in z with
        torch operations.
    mu, logvar : torch.Tensor, shape (..., latent_dim)
        Parameters of q = N(mu, diag(exp(logvar))); leading axes index independent
        distributions (a batch), each of whose gradients is estimated.
    n_samples : int
        Number L of Monte Carlo samples (>= 1).
    generator : torch.Generator, optional
        Source of eps; the same state gives the same eps as :func:`score_function_grad`
        and :func:`vaelib.reparam.sample`.

    Returns
    -------
    grad_mu, grad_logvar : torch.Tensor, each of the shape of ``mu``
        Detached estimates of dF/dmu and dF/dlogvar.
    """
    mu, logvar, n_samples, generator = _check_problem(f, mu, logvar, n_samples, generator)
    return _pathwise_grad(f, mu, logvar, n_samples, generator)


def _pathwise_grad(f, mu, logvar, n_samples, generator=None):
    """Unchecked kernel of :func:`pathwise_grad`."""
    mu = mu.detach().requires_grad_(True)
    logvar = logvar.detach().requires_grad_(True)
    eps = _gaussian.draw_eps(mu, n_samples, generator)
    with torch.enable_grad():
        z = _gaussian.reparameterize(mu, logvar, eps)         # (L, ..., latent_dim)
        fz = _eval_f(f, z)                                    # (L, ...)
        if not fz.requires_grad:
            raise ValueError(
                "f(z) carries no gradient with respect to z (a step function, or computed "
                "with .detach(), numpy or integer casts?). The pathwise estimator needs a "
                "differentiable f; use score_function_grad for such an f.")
        grad_mu, grad_logvar = torch.autograd.grad(fz.mean(0).sum(), (mu, logvar),
                                                   allow_unused=True)
    grad_mu = torch.zeros_like(mu) if grad_mu is None else grad_mu
    grad_logvar = torch.zeros_like(logvar) if grad_logvar is None else grad_logvar
    return grad_mu.detach(), grad_logvar.detach()


def gaussian_score(eps: torch.Tensor, logvar: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Score of the diagonal Gaussian at z = mu + std * eps, coordinate by coordinate.

    d log q / d mu_d     = (z_d - mu_d) / std_d**2 = eps_d / std_d,
    d log q / d logvar_d = ((z_d - mu_d)**2 / std_d**2 - 1) / 2 = (eps_d**2 - 1) / 2.

    Parameters
    ----------
    eps : torch.Tensor, shape (..., latent_dim)
        Standardised draw (z - mu) / std.
    logvar : torch.Tensor, shape broadcastable to ``eps``

    Returns
    -------
    score_mu, score_logvar : torch.Tensor, the shape of ``eps``
        Both have expectation zero under eps ~ N(0, I).
    """
    return _gaussian_score(*_check_eps_logvar(eps, logvar))


def _gaussian_score(eps, logvar):
    """Unchecked kernel of :func:`gaussian_score`."""
    return eps * torch.exp(-0.5 * logvar), 0.5 * (eps.pow(2) - 1.0)


def score_function_grad(f: Function, mu: torch.Tensor, logvar: torch.Tensor,
                        n_samples: int, generator: torch.Generator | None = None,
                        baseline: float | str | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Score-function (REINFORCE) estimate of the gradient of E_q[f(z)].

    grad F ~= (1/L) sum_l (f(z_l) - b_l) grad_{mu, logvar} log q(z_l),
    z_l = mu + std * eps_l, with the score of :func:`gaussian_score`. f is only
    evaluated, never differentiated.

    Parameters
    ----------
    f : callable
        Maps a tensor (..., latent_dim) to (...); any function, differentiable or not.
    mu, logvar : torch.Tensor, shape (..., latent_dim)
        Parameters of q = N(mu, diag(exp(logvar))); leading axes index independent
        distributions.
    n_samples : int
        Number L of Monte Carlo samples (>= 1).
    generator : torch.Generator, optional
        Source of eps (the same eps as :func:`pathwise_grad` for the same state).
    baseline : None, float or "leave-one-out"
        What is subtracted from f(z_l) before it multiplies the score; every choice
        keeps the estimator unbiased:

        * ``None``: b_l = 0, the plain estimator.
        * a number c: b_l = c, a constant (it does not depend on the samples, and
          E_q[grad log q] = 0). A good c is close to E_q[f].
        * ``"leave-one-out"``: the leave-one-out mean b_l = (1/(L-1)) sum_{k != l} f(z_k)
          (Kool et al., 2019), computed separately for each distribution of the batch.
          It is independent of z_l, so unbiased; needs L >= 2. (The plain batch mean,
          which includes f(z_l) itself, would shrink the gradient by (L - 1)/L.)

    Returns
    -------
    grad_mu, grad_logvar : torch.Tensor, each of the shape of ``mu``
    """
    mu, logvar, n_samples, generator = _check_problem(f, mu, logvar, n_samples, generator)
    baseline = check_baseline(baseline, n_samples)
    return _score_function_grad(f, mu, logvar, n_samples, generator, baseline)


def _score_function_grad(f, mu, logvar, n_samples, generator=None, baseline=None):
    """Unchecked kernel of :func:`score_function_grad` (baseline already checked)."""
    with torch.no_grad():
        mu, logvar = mu.detach(), logvar.detach()
        eps = _gaussian.draw_eps(mu, n_samples, generator)
        z = _gaussian.reparameterize(mu, logvar, eps)          # (L, ..., latent_dim)
        fz = _eval_f(f, z)                                     # (L, ...)
        if baseline == "leave-one-out":
            fz = fz - (fz.sum(0, keepdim=True) - fz) / (n_samples - 1)
        elif baseline is not None:
            fz = fz - baseline
        score_mu, score_logvar = _gaussian_score(eps, logvar)
        weight = fz.unsqueeze(-1)
        return (weight * score_mu).mean(0), (weight * score_logvar).mean(0)


# ---------------------------------------------------------------------------------
# measuring an estimator
# ---------------------------------------------------------------------------------
class GradientMoments(NamedTuple):
    """Mean and variance of an estimator over independent repeats (each the shape of mu)."""

    mean_mu: torch.Tensor
    mean_logvar: torch.Tensor
    var_mu: torch.Tensor
    var_logvar: torch.Tensor
    n_repeats: int

    @property
    def stderr_mu(self) -> torch.Tensor:
        """Standard error of ``mean_mu``: sqrt(var_mu / n_repeats)."""
        return (self.var_mu / self.n_repeats).sqrt()

    @property
    def stderr_logvar(self) -> torch.Tensor:
        """Standard error of ``mean_logvar``."""
        return (self.var_logvar / self.n_repeats).sqrt()


def gradient_moments(estimator: Callable, f: Function, mu: torch.Tensor,
                     logvar: torch.Tensor, n_samples: int, n_repeats: int,
                     generator: torch.Generator | None = None, **kwargs) -> GradientMoments:
    """Run an estimator ``n_repeats`` times independently; mean and variance of its output.

    The repeats are one vectorised call: (mu, logvar) is stacked ``n_repeats`` times
    along a new leading axis, and the estimator treats each copy as an independent
    distribution. The variance is the unbiased sample variance over the repeats.

    Parameters
    ----------
    estimator : callable
        :func:`pathwise_grad`, :func:`score_function_grad` or anything with their
        signature.
    f : callable
        Objective, (..., latent_dim) -> (...).
    mu, logvar : torch.Tensor, shape (..., latent_dim)
    n_samples : int
        L, the samples inside one estimate.
    n_repeats : int
        Number of independent estimates (>= 2).
    generator : torch.Generator, optional
    **kwargs
        Passed to the estimator (e.g. ``baseline="leave-one-out"``).

    Returns
    -------
    GradientMoments
        ``mean_*`` and ``var_*`` of the L-sample estimate, each the shape of ``mu``.
    """
    if not callable(estimator):
        raise TypeError("estimator must be pathwise_grad, score_function_grad or a "
                        "function with their signature.")
    n_repeats = check_int(n_repeats, "n_repeats", minimum=2)
    mu, logvar = check_mu_logvar(mu, logvar, ndim=None)
    mu_rep = mu.detach().expand(n_repeats, *mu.shape)
    logvar_rep = logvar.detach().expand(n_repeats, *logvar.shape)
    grad_mu, grad_logvar = estimator(f, mu_rep, logvar_rep, n_samples,
                                     generator=generator, **kwargs)
    return GradientMoments(grad_mu.mean(0), grad_logvar.mean(0),
                           grad_mu.var(0), grad_logvar.var(0), n_repeats)
