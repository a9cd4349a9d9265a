"""What a VAE does instead: one continuous latent coordinate through a small network
(chapter 2, bridging to chapter 3).

The model is a *continuous* mixture (Prince, 2023, ch. 17):

    z ~ N(0, 1),    x | z ~ N(f_θ(z), σ² I_D),
    p_θ(x) = ∫ N(x; f_θ(z), σ² I) N(z; 0, 1) dz,                       (eq-gmm-curve)

with f_θ a network with two hidden tanh layers. With one latent dimension, chapter 1's
midpoint rule on [lo, hi] with m cells of width h computes the integral to any accuracy
(:func:`vaelib.bayes.grid_axis`):

    log p_θ(x) ≈ logsumexp_k [log N(x; f_θ(z_k), σ² I) + log N(z_k; 0, 1)] + log h.

On the grid the model *is* a Gaussian mixture with m components: their means f_θ(z_k)
lie on one curve, they share one σ, and their weights h N(z_k; 0, 1) are fixed by the
prior, so the parameters are the network's, not the components'. Because the posterior
over the grid is exact, EM trains it (:func:`fit_curve`): the model is the generative
topographic mapping of Bishop, Svensén & Williams (1998) with a Gaussian prior and a
neural network for the map.
"""
from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np
import torch

from .. import _cache, _gaussian
from .._validation import check_array, check_int, check_learning_rate, check_std
from ..bayes import grid_axis

__all__ = ["CurveDecoder", "CurveFit", "curve_log_likelihood", "fit_curve", "fitted_curve",
           "n_curve_parameters"]


class CurveDecoder(torch.nn.Module):
    """f_θ: R -> R^D, z ↦ W3 tanh(W2 tanh(W1 z + b1) + b2) + b3, and a learned log σ.

    Parameters
    ----------
    n_features : int
        D, the data dimension.
    hidden : int
        Units in each of the two hidden layers.
    """

    def __init__(self, n_features: int = 2, hidden: int = 16):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(1, hidden), torch.nn.Tanh(), torch.nn.Linear(hidden, hidden),
            torch.nn.Tanh(), torch.nn.Linear(hidden, n_features)).double()
        self.log_sigma = torch.nn.Parameter(torch.tensor(math.log(0.1), dtype=torch.float64))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """f_θ(z) for z of shape (m,), shape (m, D)."""
        return self.net(z[:, None])


def n_curve_parameters(model: CurveDecoder) -> int:
    """Number of free parameters (the network's weights and biases, and σ)."""
    return sum(p.numel() for p in model.parameters())


def _grid(lo: float, hi: float, n_per_dim: int):
    centres, width = grid_axis(lo, hi, n_per_dim)
    return torch.as_tensor(centres, dtype=torch.float64), math.log(width)


def _log_joint(model, X, z):
    """log N(x_i; f_θ(z_k), σ² I) + log N(z_k; 0, 1), shape (n, m)."""
    return (_gaussian.log_normal_diag(X[:, None, :], model(z)[None], 2.0 * model.log_sigma)
            + _gaussian.log_std_normal(z[:, None]))


def curve_log_likelihood(model: CurveDecoder, X, lo: float = -5.0, hi: float = 5.0,
                         n_per_dim: int = 800) -> np.ndarray:
    """log p_θ(x_i) for every row of X, by the midpoint rule on [lo, hi] (eq-gmm-curve).

    Check convergence by varying the box and the number of cells (the evidence must not
    move); the defaults hold for the two moons' fitted models (the chapter checks them).

    Parameters
    ----------
    model : CurveDecoder
    X : array-like, shape (n_samples, n_features)
    lo, hi : float
        The latent box.
    n_per_dim : int
        Grid cells m.

    Returns
    -------
    ndarray, shape (n_samples,)
    """
    if not isinstance(model, CurveDecoder):
        raise TypeError(f"model must be a CurveDecoder, got {type(model).__name__}.")
    X = check_array(X, "X", ndim=2)
    if X.shape[1] != model.net[-1].out_features:
        raise ValueError(f"X has {X.shape[1]} features but the model outputs "
                         f"{model.net[-1].out_features}.")
    z, log_width = _grid(lo, hi, n_per_dim)
    Xt = torch.as_tensor(X)
    out = []
    with torch.no_grad():
        for start in range(0, X.shape[0], 256):                     # (256, m, D) at a time
            out.append(torch.logsumexp(_log_joint(model, Xt[start:start + 256], z), dim=1)
                       + log_width)
    return torch.cat(out).numpy()


@dataclass
class CurveFit:
    """What :func:`fit_curve` returns.

    Attributes
    ----------
    model : CurveDecoder
    log_likelihoods : list of float
        Mean log-likelihood of the training points on the training grid, before the
        first iteration and after each one (it never decreases: generalized EM).
    seed : int
    """

    model: CurveDecoder
    log_likelihoods: list
    seed: int


@contextlib.contextmanager
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)          # the same bits on any machine, and fast for tiny nets
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _e_step(model, X, z, log_width):
    """Exact posterior over the m grid points (Bayes' theorem on the grid) and ℓ."""
    with torch.no_grad():
        log_joint = _log_joint(model, X, z)                                   # (n, m)
        log_evidence = torch.logsumexp(log_joint, dim=1, keepdim=True)        # (n, 1)
        resp = (log_joint - log_evidence).exp()
    return resp, float((log_evidence[:, 0] + log_width).mean())


def _m_step(model, opt, X, z, resp, inner_steps):
    """Raise Q(θ) = Σ_ik r_ik log N(x_i; f(z_k), σ² I): the curve by gradient steps on
    Σ_k N_k ‖f(z_k) - x̄_k‖² (kept only if they lower it), then σ² in closed form."""
    n_k = resp.sum(0)                                                         # (m,)
    x_bar = (resp.T @ X) / n_k.clamp_min(1e-300)[:, None]                     # (m, D)

    def regression():
        return (n_k[:, None] * (model(z) - x_bar) ** 2).sum() / X.shape[0]

    saved = [p.detach().clone() for p in model.net.parameters()]
    with torch.no_grad():
        before = float(regression())

    for _ in range(inner_steps):
        opt.zero_grad()
        loss = regression()
        loss.backward()
        opt.step()
    with torch.no_grad():
        if not float(regression()) <= before:                 # no progress: keep the old curve
            for p, old in zip(model.net.parameters(), saved):
                p.copy_(old)
        f = model(z)
        sq = ((X[:, None, :] - f[None]) ** 2).sum(-1)                          # (n, m)
        model.log_sigma.copy_(0.5 * torch.log((resp * sq).sum() / X.numel()))


def fit_curve(X, *, seed: int, hidden: int = 16, max_iter: int = 400, inner_steps: int = 20,
              lr: float = 1e-2, sigma_init: float = 0.5, lo: float = -4.0, hi: float = 4.0,
              n_per_dim: int = 400) -> CurveFit:
    """Maximum likelihood for the one-latent-coordinate model (eq-gmm-curve) by EM.

    On the training grid the posterior over z is exact (a softmax over the m grid
    points), so EM applies as in chapter 2: the E-step is Bayes' theorem on the grid;
    the M-step raises Q(θ) = Σ_ik r_ik log N(x_i; f_θ(z_k), σ² I), the curve by
    ``inner_steps`` Adam steps on the weighted regression Σ_k N_k ‖f_θ(z_k) - x̄_k‖²
    (N_k = Σ_i r_ik, x̄_k = Σ_i r_ik x_i / N_k; the steps are undone if they do not lower
    it), then σ² = Σ_ik r_ik ‖x_i - f_θ(z_k)‖² / (n D) in closed form. A partial M-step
    that never lowers Q is *generalized EM* (Dempster, Laird & Rubin, 1977): the grid
    log-likelihood never decreases. Starting with a large σ lets the curve unfold
    before it must be sharp. Deterministic for a given seed (one torch thread).

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
    seed : int
        Seeds the network's initial weights.
    hidden : int
        Units in each hidden layer.
    max_iter : int
        EM iterations.
    inner_steps : int
        Adam steps per M-step.
    lr : float
        Adam's learning rate.
    sigma_init : float
        The initial σ.
    lo, hi, n_per_dim
        The training grid over z.

    Returns
    -------
    CurveFit
    """
    X = check_array(X, "X", ndim=2)
    seed = check_int(seed, "seed", minimum=0)
    hidden = check_int(hidden, "hidden")
    max_iter = check_int(max_iter, "max_iter")
    inner_steps = check_int(inner_steps, "inner_steps")
    lr = check_learning_rate(lr, "lr", "1e-2")
    sigma_init = check_std(sigma_init, "sigma_init")
    z, log_width = _grid(lo, hi, n_per_dim)
    Xt = torch.as_tensor(X)
    with _one_thread():
        torch.manual_seed(seed)
        model = CurveDecoder(X.shape[1], hidden)
        with torch.no_grad():
            model.log_sigma.fill_(math.log(sigma_init))
        opt = torch.optim.Adam(model.net.parameters(), lr=lr)
        resp, log_lik = _e_step(model, Xt, z, log_width)
        history = [log_lik]
        for _ in range(max_iter):
            _m_step(model, opt, Xt, z, resp, inner_steps)
            resp, log_lik = _e_step(model, Xt, z, log_width)
            history.append(log_lik)
    return CurveFit(model=model, log_likelihoods=history, seed=seed)


def fitted_curve(X, *, seed: int, **options) -> tuple[CurveFit, bool]:
    """:func:`fit_curve` through the book's cache: trained once, loaded afterwards.

    Returns
    -------
    fit : CurveFit
    from_cache : bool
    """
    X = check_array(X, "X", ndim=2)
    config = {"seed": seed, **options}

    def compute():
        fit = fit_curve(X, seed=seed, **options)
        return {"state": fit.model.state_dict(), "history": fit.log_likelihoods,
                "hidden": fit.model.net[0].out_features}

    stored, from_cache = _cache.cached("curves", f"moons-seed{seed}", config, compute,
                                       code=("gmm.curve",), data=(X,))
    model = CurveDecoder(X.shape[1], int(stored["hidden"]))
    model.load_state_dict(stored["state"])
    return CurveFit(model=model, log_likelihoods=list(stored["history"]), seed=seed), from_cache
