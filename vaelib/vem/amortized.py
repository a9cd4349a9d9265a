"""Inference per data point and the amortization gap, on a VAE (chapter 6).

A VAE's encoder predicts q_phi(z | x) from x in one pass: amortized inference. The
variational E-step asks for more, the best q for *each* x with the decoder fixed:

    q*(z | x) = argmax_{mu, logvar}  E_q[log p_theta(x | z)] - KL[q || N(0, I)].

:func:`optimize_posterior` finds it by Adam on (mu, logvar), starting at the
encoder's output (stochastic variational inference per data point; Hoffman et al.,
2013); :func:`iwae_bound_given_q` estimates log p(x) with a given q as the proposal; and
:func:`inference_gaps` splits log p(x) - ELBO(q_phi) into the *approximation gap*
log p(x) - ELBO(q*) (what the diagonal Gaussian family cannot reach) and the
*amortization gap* ELBO(q*) - ELBO(q_phi) (what the encoder loses by predicting q from
x; Cremer, Li & Duvenaud, 2018). The bounds themselves are those of :mod:`vaelib.elbo`.
"""
from __future__ import annotations

import warnings
from typing import NamedTuple

import torch

from .._validation import (check_generator, check_int, check_model, check_model_input,
                           check_mu_logvar, check_learning_rate)
from ..elbo import _elbo_given_q, _iwae_given_q
from ..train import num_threads

__all__ = ["elbo_given_q", "optimize_posterior", "posterior_path", "iwae_bound_given_q",
           "InferenceGaps", "inference_gaps"]


def _check_x_q(model, x, mu, logvar):
    check_model(model)
    x = check_model_input(x, model)
    mu, logvar = check_mu_logvar(mu, logvar)
    if mu.shape != (x.shape[0], model.latent_dim):
        raise ValueError(f"mu and logvar must have shape (batch, latent_dim) = "
                         f"({x.shape[0]}, {model.latent_dim}), one row per row of x; got "
                         f"{tuple(mu.shape)}.")
    return x, mu.to(x.dtype), logvar.to(x.dtype)


def elbo_given_q(model, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                 n_samples: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
    """The ELBO of a given q(z | x) = N(mu, diag(exp(logvar))) under the decoder of ``model``.

    ELBO ~= (1/L) sum_l log p_theta(x | z_l) - KL[q || N(0, I)],  z_l = mu + std * eps_l,

    exactly :func:`vaelib.elbo.elbo` with the encoder's output replaced by (mu, logvar):
    the objective of the variational E-step.

    Parameters
    ----------
    model : vaelib.models.VAE
        Only its decoder (``decode``, ``log_likelihood``) is used.
    x : torch.Tensor, shape (batch, input_dim)
    mu, logvar : torch.Tensor, shape (batch, latent_dim)
    n_samples : int
        L >= 1.
    generator : torch.Generator, optional

    Returns
    -------
    torch.Tensor, shape (batch,)
        Differentiable in mu, logvar and the decoder's parameters.
    """
    x, mu, logvar = _check_x_q(model, x, mu, logvar)
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    return _elbo_given_q(model, x, mu, logvar, n_samples, check_generator(generator))


def _check_optim_args(model, x, steps, lr, n_samples, seed, lr_final=None):
    check_model(model)
    x = check_model_input(x, model)
    steps = check_int(steps, "steps", minimum=0)
    lr = check_learning_rate(lr, example="1e-2")
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    if lr_final is not None:
        lr_final = check_learning_rate(lr_final, "lr_final", example="1e-4")
        if lr_final > lr:
            raise ValueError(f"lr_final ({lr_final:g}) must not exceed lr ({lr:g}): the step "
                             "decays from lr to lr_final.")
    return x, steps, lr, n_samples, seed, lr_final


def _step_sizes(lr, lr_final, steps):
    """lr_t for t = 0, ..., steps - 1: constant, or lr for the first half of the steps
    (to travel) and then geometric from lr down to lr_final (to settle)."""
    if lr_final is None or steps < 4:
        return [lr] * steps
    half = steps // 2
    ratio = (lr_final / lr) ** (1.0 / (steps - half - 1))
    return [lr] * half + [lr * ratio ** t for t in range(steps - half)]


def _optimize_posterior(model, x, steps, lr, n_samples, seed, record_at=(), lr_final=None):
    """Adam on (mu, logvar) per row of x with the decoder fixed; snapshots at record_at.

    The step size is ``lr`` throughout, or ``lr`` for the first half of the steps and
    then decays geometrically to ``lr_final``. Runs in eval mode and under a fixed number of torch threads
    (:func:`num_threads`), so the result does not depend on the machine's core count;
    the model's mode is restored afterwards. Warns if the iterates leave the finite
    numbers.
    """
    was_training = model.training
    model.eval()
    try:
        with num_threads():
            with torch.no_grad():
                mu0, logvar0 = model._encode(x)
            mu = mu0.detach().clone().requires_grad_(True)
            logvar = logvar0.detach().clone().requires_grad_(True)
            optimizer = torch.optim.Adam([mu, logvar], lr=lr)
            generator = torch.Generator(device=x.device).manual_seed(seed)
            snapshots = {}
            sizes = _step_sizes(lr, lr_final, steps)
            for step in range(steps + 1):
                if step in record_at:
                    snapshots[step] = (mu.detach().clone(), logvar.detach().clone())
                if step == steps:
                    break
                for group in optimizer.param_groups:
                    group["lr"] = sizes[step]
                # Sum over the batch: each row's gradient is its own ELBO's, as if alone.
                loss = -_elbo_given_q(model, x, mu, logvar, n_samples, generator).sum()
                # autograd.grad, not backward(): the decoder's .grad stays untouched
                mu.grad, logvar.grad = torch.autograd.grad(loss, [mu, logvar])
                optimizer.step()
    finally:
        model.train(was_training)
    if not bool(torch.isfinite(mu).all() and torch.isfinite(logvar).all()):
        warnings.warn(f"the variational E-step diverged (mu or logvar is not finite after "
                      f"{steps} Adam steps); lower the learning rate (lr={lr:g}).",
                      RuntimeWarning, stacklevel=3)
    return mu.detach(), logvar.detach(), snapshots


def optimize_posterior(model, x: torch.Tensor, *, steps: int = 200, lr: float = 1e-2,
                       n_samples: int = 1, seed: int = 0, lr_final: float | None = None
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Variational E-step for each input: maximise its ELBO over q with the decoder fixed.

    Starting from the encoder's (mu, logvar), run ``steps`` Adam steps on

        max_{mu_i, logvar_i}  E_{q_i}[log p_theta(x_i | z)] - KL[q_i || N(0, I)]

    for every row i of x at once (the rows do not interact), with L = ``n_samples``
    reparameterized samples per step (:func:`elbo_given_q`). This is the per-data-point
    mean-field optimisation of stochastic variational inference (Hoffman et al., 2013);
    the encoder only supplies the starting point. The model's parameters, their
    ``.grad`` and its train/eval mode are left as they were. A ``RuntimeWarning`` says
    so if the iterates diverge (a learning rate too large).

    With a constant step, noisy gradients leave the iterates wandering at a distance
    from the optimum that shrinks with lr / L (a noise floor): the ELBO found is then a
    little below the best. With ``lr_final``, the step stays ``lr`` for the first half of
    the run and then decays geometrically to ``lr_final`` (the Robbins-Monro remedy), which
    lets the iterates settle.

    Parameters
    ----------
    model : vaelib.models.VAE
    x : torch.Tensor, shape (batch, input_dim)
    steps : int
        Number of Adam steps (>= 0; 0 returns the encoder's output).
    lr : float
        Adam's learning rate (> 0).
    n_samples : int
        L >= 1 Monte Carlo samples per step.
    seed : int
        Seed of the Monte Carlo noise.
    lr_final : float, optional
        Step size at the last step (<= lr), reached by a geometric decay over the second
        half of the steps; None keeps the step constant.

    Returns
    -------
    mu, logvar : torch.Tensor, shape (batch, latent_dim)
        Detached.
    """
    x, steps, lr, n_samples, seed, lr_final = _check_optim_args(model, x, steps, lr,
                                                                n_samples, seed, lr_final)
    mu, logvar, _ = _optimize_posterior(model, x, steps, lr, n_samples, seed,
                                        lr_final=lr_final)
    return mu, logvar


def posterior_path(model, x: torch.Tensor, record_at, *, lr: float = 1e-2,
                   n_samples: int = 1, seed: int = 0, lr_final: float | None = None) -> dict:
    """(mu, logvar) of :func:`optimize_posterior` after each number of steps in ``record_at``.

    One run of ``max(record_at)`` steps; with a constant step, ``path[t]`` equals
    ``optimize_posterior(model, x, steps=t, lr=lr, n_samples=n_samples, seed=seed)``
    (with ``lr_final``, the decay is spread over the whole run of ``max(record_at)``
    steps).

    Parameters
    ----------
    model, x, lr, n_samples, seed, lr_final
        As in :func:`optimize_posterior`.
    record_at : sequence of int
        Step counts (>= 0) at which to take a snapshot.

    Returns
    -------
    dict
        ``{t: (mu, logvar)}`` for every t in ``record_at``.
    """
    if isinstance(record_at, (str, bytes)) or not hasattr(record_at, "__iter__"):
        raise TypeError("record_at must be a sequence of step counts, e.g. [0, 10, 100].")
    record_at = sorted({check_int(t, "each entry of record_at", minimum=0) for t in record_at})
    if not record_at:
        raise ValueError("record_at is empty; give at least one step count.")
    x, steps, lr, n_samples, seed, lr_final = _check_optim_args(
        model, x, record_at[-1], lr, n_samples, seed, lr_final)
    return _optimize_posterior(model, x, steps, lr, n_samples, seed, set(record_at),
                               lr_final)[2]


def iwae_bound_given_q(model, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                       k: int, generator: torch.Generator | None = None,
                       chunk_size: int = 256) -> torch.Tensor:
    """Importance-weighted bound on log p(x) with proposal q = N(mu, diag(exp(logvar))).

        log p(x) >= E[ log (1/k) sum_i p_theta(x, z_i) / q(z_i) ],  z_i ~ q  (i.i.d.)

    (Burda et al., 2016): :func:`vaelib.elbo.iwae_bound` with the encoder's q replaced by
    a given one. It rises with k towards log p(x) for any proposal that covers the
    posterior; k = 1 is the ELBO (with the KL by Monte Carlo). Computed with logsumexp,
    ``chunk_size`` samples at a time.

    Parameters
    ----------
    model : vaelib.models.VAE
    x : torch.Tensor, shape (batch, input_dim)
    mu, logvar : torch.Tensor, shape (batch, latent_dim)
    k : int
        Number of importance samples (>= 1).
    generator : torch.Generator, optional
    chunk_size : int
        Samples per decoder call (memory ~ chunk_size x batch x hidden width).

    Returns
    -------
    torch.Tensor, shape (batch,)
    """
    x, mu, logvar = _check_x_q(model, x, mu, logvar)
    k = check_int(k, "k", minimum=1)
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    with torch.no_grad(), num_threads():
        return _iwae_given_q(model, x, mu, logvar, k, check_generator(generator), chunk_size)


class InferenceGaps(NamedTuple):
    """Per-input numbers of :func:`inference_gaps`.

    ``elbo_amortized``, ``elbo_optimized`` and ``log_px`` have shape (batch,), with
    ``log_px >= elbo_optimized >= elbo_amortized`` (up to Monte Carlo error); ``mu`` and
    ``logvar`` (batch, latent_dim) are the optimised q* itself.
    """

    elbo_amortized: torch.Tensor
    elbo_optimized: torch.Tensor
    log_px: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor

    @property
    def approximation_gap(self) -> torch.Tensor:
        """log p(x) - ELBO(q*): what the diagonal Gaussian family cannot reach."""
        return self.log_px - self.elbo_optimized

    @property
    def amortization_gap(self) -> torch.Tensor:
        """ELBO(q*) - ELBO(q_phi): what the encoder loses by predicting q from x."""
        return self.elbo_optimized - self.elbo_amortized


def inference_gaps(model, x: torch.Tensor, *, steps: int = 200, lr: float = 1e-2,
                   n_samples: int = 1, k: int = 1000, n_eval_samples: int = 100,
                   seed: int = 0, lr_final: float | None = None,
                   cache: bool = False) -> InferenceGaps:
    """Split log p(x) - ELBO(q_phi) into the approximation and amortization gaps.

    For each input (Cremer, Li & Duvenaud, 2018):

    * ``elbo_amortized``: the ELBO of the encoder's q_phi(z | x);
    * ``elbo_optimized``: the ELBO of q*, the best diagonal Gaussian found by
      :func:`optimize_posterior` (``steps``, ``lr``, ``n_samples``);
    * ``log_px``: log p(x) estimated by the importance-weighted bound with k samples
      and q* as the proposal (:func:`iwae_bound_given_q`), itself a lower bound.

    Both ELBOs are evaluated with the same ``n_eval_samples`` draws of eps (common
    random numbers, so their difference has little Monte Carlo noise).
    approximation gap = log p(x) - ELBO(q*); amortization gap = ELBO(q*) - ELBO(q_phi).
    With finitely many steps q* is not the exact optimum, so the amortization gap is
    underestimated and the approximation gap overestimated by the same amount.

    Parameters
    ----------
    model : vaelib.models.VAE
    x : torch.Tensor, shape (batch, input_dim)
    steps, lr, n_samples, lr_final
        Passed to :func:`optimize_posterior`.
    k : int
        Importance samples for log p(x) (>= 1).
    n_eval_samples : int
        Monte Carlo samples for each ELBO (>= 1).
    seed : int
    cache : bool
        Store the result in the book's cache, keyed by the settings, ``x`` and the
        model's weights, and load it on later calls.

    Returns
    -------
    InferenceGaps
    """
    x, steps, lr, n_samples, seed, lr_final = _check_optim_args(model, x, steps, lr,
                                                                n_samples, seed, lr_final)
    k = check_int(k, "k", minimum=1)
    n_eval_samples = check_int(n_eval_samples, "n_eval_samples", minimum=1)
    if cache:
        from .. import _cache

        config = dict(model=type(model).__name__, steps=steps, lr=lr, n_samples=n_samples,
                      k=k, n_eval_samples=n_eval_samples, seed=seed, lr_final=lr_final)
        weights = [t.detach() for t in model.state_dict().values()]
        stored, _ = _cache.cached(
            "vem", "gaps", config,
            lambda: _inference_gaps(model, x, steps, lr, n_samples, k, n_eval_samples, seed,
                                    lr_final)._asdict(),
            code=("vem.amortized", "models"), data=(x, *weights))
        return InferenceGaps(**stored)
    return _inference_gaps(model, x, steps, lr, n_samples, k, n_eval_samples, seed, lr_final)


def _inference_gaps(model, x, steps, lr, n_samples, k, n_eval_samples, seed, lr_final):
    """Unchecked kernel of :func:`inference_gaps`."""
    mu_star, logvar_star, _ = _optimize_posterior(model, x, steps, lr, n_samples, seed,
                                                  lr_final=lr_final)
    with torch.no_grad(), num_threads():
        mu_phi, logvar_phi = model._encode(x)
        values = []
        for mu, logvar in ((mu_phi, logvar_phi), (mu_star, logvar_star)):
            generator = torch.Generator(device=x.device).manual_seed(seed + 1)
            values.append(_elbo_given_q(model, x, mu, logvar, n_eval_samples, generator))
        generator = torch.Generator(device=x.device).manual_seed(seed + 2)
        log_px = _iwae_given_q(model, x, mu_star, logvar_star, k, generator, 256)
    return InferenceGaps(values[0], values[1], log_px, mu_star, logvar_star)
