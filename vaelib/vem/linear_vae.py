"""The linear-Gaussian model trained as a VAE by joint gradient ascent (chapter 6).

Decoder p(x | z) = N(W z + b, Psi), Psi = diag(exp(log_noise_var)); encoder
q(z | x) = N(V x + c, diag(exp(logvar))), affine like the exact posterior mean, so
amortization loses nothing here. :func:`fit_joint_gradient` moves all parameters
together by plain gradient ascent on the mean ELBO, exact or estimated with L
reparameterized samples, with the gradients written out by the chain rule
(:func:`linear_vae_elbo`; the tests compare them with autograd) and the Hessian by
central differences (:func:`linear_vae_hessian`): the curvature that sets the learning
rate.
"""
from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

from .. import _gaussian
from .._validation import (check_array, check_int, check_learning_rate, check_positive,
                           check_random_state)
from ..linear_gaussian import _elbo, _log_evidence
from .linear_em import FitResult, _start

__all__ = ["LinearVAEParams", "linear_vae_params", "linear_vae_elbo", "linear_vae_hessian",
           "fit_joint_gradient", "Collapses", "find_collapses"]


class LinearVAEParams(NamedTuple):
    """Parameters of the linear VAE of :func:`fit_joint_gradient` (or their gradients).

    Decoder p(x | z) = N(W z + b, diag(exp(log_noise_var))); encoder
    q(z | x) = N(V x + c, diag(exp(logvar))). ``log_noise_var`` has shape (1,) for
    isotropic noise (probabilistic PCA) and (input_dim,) for factor analysis.
    """

    W: np.ndarray               # (input_dim, latent_dim)
    b: np.ndarray               # (input_dim,)
    log_noise_var: np.ndarray   # (1,) or (input_dim,)
    V: np.ndarray               # (latent_dim, input_dim)
    c: np.ndarray               # (latent_dim,)
    logvar: np.ndarray          # (latent_dim,)


def linear_vae_params(model) -> LinearVAEParams:
    """The linear VAE whose decoder is ``model`` and whose encoder is the best one.

    The encoder outputs the exact posterior mean, V x + c = P^{-1} W^T (x - b) / sigma**2
    (P = I + W^T W / sigma**2), and the best diagonal variances 1 / P_jj
    (:meth:`vaelib.linear_gaussian.LinearGaussianModel.best_diagonal_q`). When
    W^T W is diagonal (the Tipping & Bishop solution returned by
    :func:`vaelib.linear_gaussian.fit_ppca`) its ELBO equals log p(x), and at the
    maximum-likelihood model every gradient of the ELBO vanishes: the linear VAE's
    optimum is probabilistic PCA.

    Parameters
    ----------
    model : vaelib.linear_gaussian.LinearGaussianModel

    Returns
    -------
    LinearVAEParams
    """
    from ..linear_gaussian import LinearGaussianModel

    if not isinstance(model, LinearGaussianModel):
        raise TypeError(f"model must be a LinearGaussianModel, got {type(model).__name__}.")
    V, c, logvar = model.best_diagonal_encoder()
    return LinearVAEParams(model.W.copy(), model.b.copy(), np.log([model.noise_std ** 2]),
                           V, c, logvar)


def _check_linear_vae(X, params) -> tuple[np.ndarray, LinearVAEParams]:
    X = check_array(X, "X", ndim=2)
    if not isinstance(params, tuple) or len(params) != 6:
        raise TypeError("params must be a LinearVAEParams (W, b, log_noise_var, V, c, "
                        "logvar), e.g. from linear_vae_params(model).")
    params = LinearVAEParams(*(check_array(p, name, ndim=nd) for p, name, nd in
                               zip(params, LinearVAEParams._fields, (2, 1, 1, 2, 1, 1))))
    D, d = params.W.shape
    expected = {"b": (D,), "V": (d, D), "c": (d,), "logvar": (d,)}
    for name, shape in expected.items():
        if getattr(params, name).shape != shape:
            raise ValueError(f"{name} must have shape {shape} to match W of shape {(D, d)}, "
                             f"got {getattr(params, name).shape}.")
    if params.log_noise_var.shape not in ((1,), (D,)):
        raise ValueError(f"log_noise_var must have shape (1,) or ({D},), "
                         f"got {params.log_noise_var.shape}.")
    if X.shape[1] != D:
        raise ValueError(f"X must have {D} columns to match W, got shape {X.shape}.")
    return X, params


def linear_vae_elbo(X, params, eps=None) -> tuple[float, LinearVAEParams]:
    """Mean ELBO of the linear VAE per example, and its gradient.

        F = mean_i [ E_q[log N(x_i; W z + b, Psi)] - KL[N(V x_i + c, diag s) || N(0, I)] ]

    in closed form (``eps=None``), or with the expectation replaced by the
    reparameterized estimate z = mu + sqrt(s) * eps over the L draws in ``eps``. The
    gradient is written out by the chain rule (the tests compare it with autograd).

    Parameters
    ----------
    X : array-like, shape (n, input_dim)
    params : LinearVAEParams
    eps : array-like, shape (L, n, latent_dim), optional
        Standard-normal noise for the Monte Carlo estimate.

    Returns
    -------
    value : float
    grads : LinearVAEParams
        dF/d(each parameter), same shapes as ``params``.
    """
    X, params = _check_linear_vae(X, params)
    if eps is not None:
        eps = check_array(eps, "eps", ndim=3)
        if eps.shape[1:] != (X.shape[0], params.W.shape[1]):
            raise ValueError(f"eps must have shape (L, n, latent_dim) = (L, {X.shape[0]}, "
                             f"{params.W.shape[1]}), got {eps.shape}.")
    value, grads = _linear_vae_elbo_and_grad(X, params, eps,
                                             params.log_noise_var.shape == (1,))
    return float(value), LinearVAEParams(*grads)


def linear_vae_hessian(X, params, h: float = 1e-5) -> np.ndarray:
    """Hessian of the exact mean ELBO of the linear VAE (central differences of the gradient).

        H[:, i] = (grad F(theta + h e_i) - grad F(theta - h e_i)) / (2 h)

    with theta all parameters flattened in the order of :class:`LinearVAEParams`.
    Plain gradient ascent with step lr is stable near theta only if
    lr < 2 / lambda_max(-H): the curvature sets the learning rate.

    Parameters
    ----------
    X : array-like, shape (n, input_dim)
    params : LinearVAEParams
    h : float
        Finite-difference step (> 0).

    Returns
    -------
    ndarray, shape (p, p)
        Symmetrised; p is the total number of parameters.
    """
    X, params = _check_linear_vae(X, params)
    h = check_positive(h, "h", "It is the finite-difference step, e.g. h=1e-5.")
    isotropic = params.log_noise_var.shape == (1,)
    shapes = [p.shape for p in params]
    theta = np.concatenate([p.ravel() for p in params])

    def grad(flat):
        parts = np.split(flat, np.cumsum([int(np.prod(s)) for s in shapes])[:-1])
        pieces = LinearVAEParams(*(p.reshape(s) for p, s in zip(parts, shapes)))
        return np.concatenate([g.ravel() for g in
                               _linear_vae_elbo_and_grad(X, pieces, None, isotropic)[1]])

    H = np.empty((theta.size, theta.size))
    for i in range(theta.size):
        step = np.zeros_like(theta)
        step[i] = h
        H[:, i] = (grad(theta + step) - grad(theta - step)) / (2 * h)
    return 0.5 * (H + H.T)


def _linear_vae_elbo_and_grad(X, params, eps, isotropic):
    """Mean ELBO of the linear VAE and its gradient with respect to every parameter.

    params = (W, b, log_noise_var, V, c, logvar); mu_i = V x_i + c, s = exp(logvar),
    psi = exp(log_noise_var). ``eps`` None: the exact expectation,

        F = mean_n [ -1/2 sum_d (log 2 pi psi_d + ((x_nd - w_d^T mu_n - b_d)**2
                     + sum_j W_dj**2 s_j) / psi_d) - KL[N(mu_n, diag s) || N(0, I)] ];

    ``eps`` of shape (L, n, latent_dim): the reparameterized estimate with z = mu + sqrt(s) eps
    in the reconstruction term (the KL stays closed form, as in a VAE). The
    gradients are written out by the chain rule (tests compare them with autograd).
    """
    W, b, log_noise_var, V, c, logvar = params
    n, D = X.shape
    psi = np.broadcast_to(np.exp(log_noise_var), (D,))
    s = np.exp(logvar)
    mu = X @ V.T + c                                                         # (n, d)
    kl = _gaussian.kl_std_normal(mu, logvar)
    if eps is None:
        R = X - mu @ W.T - b                                                 # (n, D)
        sq = np.mean(R ** 2, axis=0) + (W ** 2) @ s                          # E[resid^2], (D,)
        G = R / psi
        dW = G.T @ mu / n - W * s / psi[:, None]
        db = G.mean(axis=0)
        dmu = G @ W                                                          # (n, d)
        dlogvar = -0.5 * s * ((W ** 2).T @ (1.0 / psi))
    else:
        z = _gaussian.reparameterize(mu, logvar, eps)                        # (L, n, d)
        R = X - z @ W.T - b                                                  # (L, n, D)
        sq = np.mean(R ** 2, axis=(0, 1))
        G = R / psi
        dW = np.einsum("lnd,lnj->dj", G, z) / (n * len(eps))
        db = G.mean(axis=(0, 1))
        dz = G @ W                                                           # (L, n, d)
        dmu = dz.mean(axis=0)
        dlogvar = 0.5 * np.sqrt(s) * np.mean(dz * eps, axis=(0, 1))
    value = -0.5 * np.sum(_gaussian.LOG_2PI + np.log(psi) + sq / psi) - kl.mean()
    dlog_noise_var = -0.5 + 0.5 * sq / psi
    if isotropic:
        dlog_noise_var = np.sum(dlog_noise_var, keepdims=True)
    dmu = dmu - mu                                                           # the KL's pull
    dV = dmu.T @ X / n
    dc = dmu.mean(axis=0)
    dlogvar = dlogvar - 0.5 * (s - 1.0)
    return value, (dW, db, dlog_noise_var, dV, dc, dlogvar)


def fit_joint_gradient(X, latent_dim: int, *, lr: float, max_iter: int = 200,
                       n_samples: int | None = None, noise: str = "isotropic", init=None,
                       random_state=0, callback=None) -> FitResult:
    """Joint gradient ascent on the ELBO of a linear VAE, all parameters at once.

    Encoder q(z | x) = N(V x + c, diag(exp(logvar))) (affine, like the exact
    posterior mean, so amortization loses nothing here); decoder p(x | z) =
    N(W z + b, Psi) with Psi = exp(log_noise_var). Every step moves
    theta = (W, b, log_noise_var) and phi = (V, c, logvar) together:

        (theta, phi) <- (theta, phi) + lr * grad F(theta, phi),

    with F the mean ELBO per example: exact (``n_samples=None``) or estimated with L
    reparameterized samples per example, as a VAE does. Plain gradient ascent, no
    momentum: the learning rate alone sets the behaviour. The encoder starts at the
    prior (V = 0, c = 0, logvar = 0).

    Parameters
    ----------
    X : array-like, shape (n_samples, input_dim)
    latent_dim : int
        d, with 1 <= d < input_dim.
    lr : float
        Learning rate (> 0).
    max_iter : int
        Number of gradient steps (>= 1).
    n_samples : int or None
        L >= 1 Monte Carlo samples per example for the gradient, or None for the
        exact expectation.
    noise : {"isotropic", "diagonal"}
    init : tuple (W, b, noise_std), optional
    random_state : int or numpy.random.Generator
        Seeds the default ``init`` and the Monte Carlo noise.
    callback : callable, optional
        Called as ``callback(t, params)`` with the :class:`LinearVAEParams` after step
        t = 0 (the start), 1, 2, ...: record the iterates, e.g. to read the Hessian
        (:func:`linear_vae_hessian`) just before a collapse.

    Returns
    -------
    FitResult
        ``elbo`` holds the exact ELBO of the current (q, theta), whatever L was used.
        If a step leaves the finite numbers (learning rate too large) the curves stop
        there, ``diverged`` is True and a ``RuntimeWarning`` is issued.
    """
    rng = check_random_state(random_state)
    X, latent_dim, noise, W, b, noise_var = _start(X, latent_dim, noise, init, rng)
    lr = check_learning_rate(lr, example="0.01")
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    if n_samples is not None:
        n_samples = check_int(n_samples, "n_samples", minimum=1)
    if callback is not None and not callable(callback):
        raise TypeError("callback must be a function callback(t, params) or None.")
    isotropic = noise == "isotropic"
    n, D = X.shape
    log_noise_var = np.log(noise_var[:1] if isotropic else noise_var)
    params = LinearVAEParams(W, b, log_noise_var, np.zeros((latent_dim, D)),
                             np.zeros(latent_dim), np.zeros(latent_dim))

    def record(p):
        noise_var = np.broadcast_to(np.exp(p.log_noise_var), (D,))
        mu, cov = X @ p.V.T + p.c, np.diag(np.exp(p.logvar))
        return (_log_evidence(X, p.W, p.b, noise_var).mean(),
                _elbo(X, p.W, p.b, noise_var, mu, cov).mean())

    ll, elbo = map(list, zip(record(params)))
    if callback is not None:
        callback(0, params)
    diverged = False
    for t in range(1, max_iter + 1):
        eps = None if n_samples is None else rng.standard_normal((n_samples, n, latent_dim))
        with np.errstate(all="ignore"):
            _, grads = _linear_vae_elbo_and_grad(X, params, eps, isotropic)
            candidate = LinearVAEParams(*(p + lr * g for p, g in zip(params, grads)))
            ok = all(np.all(np.isfinite(p)) for p in candidate)
            # exp(log psi) and exp(logvar) must stay positive and finite
            ok = ok and bool(np.all(np.abs(candidate.log_noise_var) < 700)
                             and np.all(np.abs(candidate.logvar) < 700))
            values = record(candidate) if ok else (np.nan, np.nan)
        if not (ok and np.all(np.isfinite(values))):
            diverged = True
            break
        params = candidate
        ll.append(values[0])
        elbo.append(values[1])
        if callback is not None:
            callback(t, params)
    if diverged:
        warnings.warn(f"joint gradient ascent with lr={lr:.4g} diverged after {len(ll) - 1} "
                      "steps; lower the learning rate.", RuntimeWarning, stacklevel=2)
    noise_std = np.broadcast_to(np.exp(0.5 * params.log_noise_var), (D,)).copy()
    return FitResult(params.W, params.b, noise_std, np.array(ll), np.array(elbo),
                     "joint_gradient", diverged)


class Collapses(NamedTuple):
    """The collapses of one run of joint gradient ascent (:func:`find_collapses`).

    Attributes
    ----------
    elbo, log_likelihood : ndarray, shape (n_iter + 1,)
        The exact mean ELBO and log p(x) after every step.
    steps : ndarray of int, shape (n_collapses,)
        Each collapse starts with the step from iterate t to t + 1: ``steps`` holds
        these t.
    curvature : ndarray, shape (n_collapses,)
        kappa_max = lambda_max(-H) of the exact ELBO's Hessian at the iterate t just
        before each collapse. Gradient ascent with step lr is unstable there when
        lr * kappa_max > 2.
    curvature_earlier : ndarray, shape (n_collapses,)
        kappa_max ``lookback`` steps earlier (at step max(t - lookback, 0)).
    """

    elbo: np.ndarray
    log_likelihood: np.ndarray
    steps: np.ndarray
    curvature: np.ndarray
    curvature_earlier: np.ndarray


def find_collapses(X, latent_dim: int, *, lr: float, max_iter: int = 300,
                   n_samples: int | None = None, init=None, random_state: int = 0,
                   drop: float = 1.0, lookback: int = 20, cache: bool = True) -> Collapses:
    """Run :func:`fit_joint_gradient` and read the curvature just before each collapse.

    A collapse is a run of consecutive steps each of which lowers the exact mean ELBO by
    more than ``drop`` nats; it starts at the step from iterate t to t + 1. At iterate t
    (and ``lookback`` steps earlier) the largest eigenvalue kappa_max of -H, H the
    Hessian of the exact ELBO (:func:`linear_vae_hessian`), says whether plain gradient
    ascent with step ``lr`` is locally stable (lr * kappa_max < 2) or not.

    Parameters
    ----------
    X : array-like, shape (n_samples, input_dim)
    latent_dim, lr, max_iter, n_samples, init
        As in :func:`fit_joint_gradient` (``n_samples=None``: the exact gradient).
    random_state : int
        Seed of the Monte Carlo noise (and of the default ``init``).
    drop : float
        A step that lowers the ELBO by more than this (nats) belongs to a collapse.
    lookback : int
        How many steps before a collapse the earlier curvature is read (>= 1).
    cache : bool
        Store the result in the book's cache and load it on later calls.

    Returns
    -------
    Collapses
    """
    import torch

    from .. import _cache

    X = check_array(X, "X", ndim=2)
    drop = check_positive(drop, "drop", "It is the fall in nats per step that counts as a "
                          "collapse, e.g. 1.0.")
    lookback = check_int(lookback, "lookback", minimum=1)
    if not isinstance(random_state, int) or isinstance(random_state, bool):
        raise TypeError(f"random_state must be an int seed, got {type(random_state).__name__}.")

    def compute() -> dict:
        path = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)   # reported in the result
            fit = fit_joint_gradient(X, latent_dim, lr=lr, max_iter=max_iter,
                                     n_samples=n_samples, init=init,
                                     random_state=random_state,
                                     callback=lambda t, p: path.append(p))
        falls = np.diff(fit.elbo) < -drop
        steps = np.nonzero(falls & ~np.r_[False, falls[:-1]])[0]

        def kappa(t):
            return float(np.linalg.eigvalsh(-linear_vae_hessian(X, path[t]))[-1])

        result = {"elbo": fit.elbo, "log_likelihood": fit.log_likelihood,
                  "steps": steps.astype(np.int64),
                  "curvature": np.array([kappa(t) for t in steps], dtype=float),
                  "curvature_earlier": np.array([kappa(max(t - lookback, 0)) for t in steps],
                                                dtype=float)}
        return {k: torch.as_tensor(v) for k, v in result.items()}   # the cache holds tensors

    start = () if init is None else tuple(np.asarray(a, dtype=float) for a in init)
    config = dict(latent_dim=latent_dim, lr=lr, max_iter=max_iter, n_samples=n_samples,
                  random_state=random_state, drop=drop, lookback=lookback)
    stored, _ = _cache.cached("vem", "collapses", config, compute,
                              code=("vem.linear_vae",), data=(X, *start), enabled=cache)
    return Collapses(*(stored[k].numpy() for k in Collapses._fields))
