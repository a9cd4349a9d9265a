"""EM and variational EM for the linear-Gaussian model, exactly (chapter 6).

    z ~ N(0, I_d),    x | z ~ N(W z + b, Psi),
    Psi = sigma**2 I (probabilistic PCA)  or  Psi = diag(psi) (factor analysis),

where log p(x), the posterior and the ELBO of any Gaussian q are closed form
(:mod:`vaelib.linear_gaussian`), so every bound can be compared with what it bounds.

* :func:`fit_em`: exact EM. The E-step sets q to the posterior (KL = 0,
  :func:`e_step`), the M-step maximises F over (W, b, Psi) in closed form
  (:func:`m_step`). log p(x) never decreases (Dempster, Laird & Rubin, 1977).
* :func:`fit_variational_em`: variational EM with a mean-field q per data point,
  q(z_i) = prod_j N(z_ij; mu_ij, s_j**2). Its E-step (:func:`mean_field_e_step`) is
  coordinate ascent, one latent coordinate at a time, each update closed form; the
  M-step is the same :func:`m_step`. F never decreases; log p(x) may.

All arrays are NumPy float64, batch first: X (n, input_dim), q's means ``mu``
(n, latent_dim) and its covariance ``cov`` (latent_dim, latent_dim), shared by all rows.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from .._validation import check_array, check_int, check_random_state, check_spd, check_std
from ..linear_gaussian import _elbo, _log_evidence, _posterior, _precision

__all__ = ["FitResult", "init_params", "log_evidence", "e_step", "mean_field_e_step",
           "m_step", "gaussian_elbo", "fit_em", "fit_variational_em", "NOISE_MODELS"]

NOISE_MODELS = ("isotropic", "diagonal")


@dataclass(frozen=True)
class FitResult:
    """What a fit of the linear-Gaussian model returns.

    Attributes
    ----------
    W : ndarray, shape (input_dim, latent_dim)
    b : ndarray, shape (input_dim,)
    noise_std : ndarray, shape (input_dim,)
        Standard deviation of the observation noise per coordinate (all equal for
        ``noise="isotropic"``).
    log_likelihood : ndarray, shape (n_iter + 1,)
        Mean log p_theta(x) per example after each iteration (entry 0: the start).
    elbo : ndarray, shape (n_iter + 1,)
        Mean ELBO F(q_t, theta_t) per example after each iteration, with q_t the
        approximate posterior the iteration's M-step (or gradient step) used.
    method : str
        ``"em"``, ``"variational_em"`` or ``"joint_gradient"``.
    diverged : bool
        True if gradient ascent left the finite numbers; the curves stop there.
    """

    W: np.ndarray
    b: np.ndarray
    noise_std: np.ndarray
    log_likelihood: np.ndarray
    elbo: np.ndarray
    method: str
    diverged: bool = False

    @property
    def n_iter(self) -> int:
        """Number of iterations run (the curves have one more entry)."""
        return len(self.log_likelihood) - 1

    def to_model(self):
        """The fitted model as a :class:`vaelib.linear_gaussian.LinearGaussianModel`.

        Only for isotropic noise (probabilistic PCA), the model chapter 4 defines.
        """
        from ..linear_gaussian import LinearGaussianModel

        if not np.allclose(self.noise_std, self.noise_std[0], rtol=1e-12, atol=0.0):
            raise ValueError("to_model() needs isotropic noise (probabilistic PCA); this fit "
                             "has one noise level per coordinate (factor analysis).")
        return LinearGaussianModel(self.W, self.b, float(self.noise_std[0]))


def _cached_fit(method: str, X, config: dict, init, fit) -> FitResult:
    """``fit()`` through the book's cache, keyed by the method, X, the start and config."""
    import torch

    from .. import _cache

    if isinstance(config.get("random_state"), np.random.Generator):
        raise TypeError("cache=True needs an int random_state (or an explicit init): a "
                        "Generator's state cannot be part of the cache key.")

    def compute() -> dict:                 # tensors: the cache loads with weights_only
        result = fit()
        arrays = {k: torch.as_tensor(np.asarray(getattr(result, k)))
                  for k in ("W", "b", "noise_std", "log_likelihood", "elbo")}
        return {**arrays, "method": result.method, "diverged": bool(result.diverged)}

    start = () if init is None else tuple(np.asarray(a, dtype=float) for a in init)
    stored, _ = _cache.cached("vem", method, {"method": method, **config}, compute,
                              code=("vem.linear_em", "vem.linear_vae"), data=(X, *start))
    arrays = {k: v.numpy() for k, v in stored.items() if k not in ("method", "diverged")}
    return FitResult(**arrays, method=stored["method"], diverged=bool(stored["diverged"]))


# -- input checks ------------------------------------------------------------------------

def _check_X(X) -> np.ndarray:
    X = check_array(X, "X", ndim=2)
    if X.shape[0] < 2:
        raise ValueError(f"X needs at least 2 rows (examples), got shape {X.shape}.")
    return X


def _check_latent_dim(latent_dim, input_dim: int) -> int:
    latent_dim = check_int(latent_dim, "latent_dim", minimum=1)
    if latent_dim >= input_dim:
        raise ValueError(f"latent_dim must be smaller than the number of features "
                         f"({input_dim}), got {latent_dim}: with latent_dim >= input_dim the model can "
                         "explain x without noise and sigma collapses to 0.")
    return latent_dim


def _check_noise(noise) -> str:
    if noise not in NOISE_MODELS:
        raise ValueError(f"noise must be 'isotropic' (probabilistic PCA) or 'diagonal' "
                         f"(factor analysis), got {noise!r}.")
    return noise


def _check_params(W, b, noise_std, input_dim: int | None = None):
    """Validate (W, b, noise_std); return (W, b, noise_var) with noise_var of shape (D,)."""
    W = check_array(W, "W", ndim=2)
    D = W.shape[0]
    if input_dim is not None and D != input_dim:
        raise ValueError(f"W must have shape (input_dim, latent_dim) with input_dim = "
                         f"{input_dim} (the number of features of X), got {W.shape}.")
    b = check_array(b, "b", ndim=1)
    if b.shape != (D,):
        raise ValueError(f"b must have shape ({D},) to match W of shape {W.shape}, "
                         f"got {b.shape}.")
    if isinstance(noise_std, numbers.Real) and not isinstance(noise_std, bool):
        noise_std = np.full(D, check_std(noise_std, "noise_std"))
    else:
        noise_std = check_array(noise_std, "noise_std", ndim=1)
        if noise_std.shape != (D,):
            raise ValueError(f"noise_std must be a number or have shape ({D},), "
                             f"got {noise_std.shape}.")
        for value in (noise_std.min(), noise_std.max()):
            check_std(float(value), "each noise_std")
    return W, b, noise_std ** 2


def _check_q(mu, cov, n: int, latent_dim: int | None = None):
    """q(z_i) = N(mu_i, cov): mu (n, latent_dim) and a shared positive definite cov."""
    mu = check_array(mu, "mu", ndim=2)
    latent_dim = mu.shape[1] if latent_dim is None else latent_dim
    if mu.shape != (n, latent_dim):
        raise ValueError(f"mu must have shape (n, latent_dim) = ({n}, {latent_dim}), one row "
                         f"per example, got {mu.shape}.")
    cov = check_spd(check_array(cov, "cov", ndim=2), "cov")
    if cov.shape != (latent_dim, latent_dim):
        raise ValueError(f"cov must have shape (latent_dim, latent_dim) = ({latent_dim}, "
                         f"{latent_dim}), got {cov.shape}; for a diagonal q pass "
                         "np.diag(variances).")
    return mu, cov


# -- the model's closed forms -------------------------------------------------------------

def init_params(X, latent_dim: int, random_state=0):
    """A common random starting point (W, b, noise_std) for the three fitting methods.

    b is the data mean, sigma is the mean per-feature standard deviation and W has
    independent N(0, (0.1 sigma)**2) entries: a nearly degenerate model that each
    method has to grow.

    Parameters
    ----------
    X : array-like, shape (n_samples, input_dim)
    latent_dim : int
        d, with 1 <= d < input_dim.
    random_state : int or numpy.random.Generator

    Returns
    -------
    W : ndarray, shape (input_dim, latent_dim)
    b : ndarray, shape (input_dim,)
    noise_std : float
    """
    X = _check_X(X)
    latent_dim = _check_latent_dim(latent_dim, X.shape[1])
    rng = check_random_state(random_state)
    sigma = float(np.sqrt(X.var(axis=0).mean()))
    if sigma == 0.0:
        raise ValueError("X is constant: every feature has zero variance.")
    W = 0.1 * sigma * rng.standard_normal((X.shape[1], latent_dim))
    return W, X.mean(axis=0), sigma


def log_evidence(X, W, b, noise_std) -> np.ndarray:
    """log p(x) = log N(x; b, W W^T + Psi), per example.

    Through the d x d posterior precision P = I + W^T Psi^{-1} W (Woodbury and the
    matrix determinant lemma); the closed form of
    :meth:`vaelib.linear_gaussian.LinearGaussianModel.log_evidence`, here also for
    factor-analysis noise.

    Parameters
    ----------
    X : array-like, shape (n, input_dim)
    W : array-like, shape (input_dim, latent_dim)
    b : array-like, shape (input_dim,)
    noise_std : float or array-like of shape (input_dim,)
        sigma (probabilistic PCA) or one standard deviation per feature (factor analysis).

    Returns
    -------
    ndarray, shape (n,)
    """
    X = check_array(X, "X", ndim=2)
    W, b, noise_var = _check_params(W, b, noise_std, X.shape[1])
    return _log_evidence(X, W, b, noise_var)


def e_step(X, W, b, noise_std) -> tuple[np.ndarray, np.ndarray]:
    """Exact E-step: the posterior p(z | x) = N(mu_i, cov) for every row of X.

        cov = P^{-1},  mu_i = P^{-1} W^T Psi^{-1} (x_i - b),  P = I + W^T Psi^{-1} W

    (Bishop, 2006, eq. 12.42 for Psi = sigma**2 I). The covariance is the same for
    every example. With q = this posterior, F(q, theta) = log p(x).

    Parameters
    ----------
    X : array-like, shape (n, input_dim)
    W : array-like, shape (input_dim, latent_dim)
    b : array-like, shape (input_dim,)
    noise_std : float or array-like of shape (input_dim,)

    Returns
    -------
    mu : ndarray, shape (n, latent_dim)
    cov : ndarray, shape (latent_dim, latent_dim)
    """
    X = check_array(X, "X", ndim=2)
    W, b, noise_var = _check_params(W, b, noise_std, X.shape[1])
    return _posterior(X, W, b, noise_var)


def mean_field_e_step(X, W, b, noise_std, mu, n_sweeps: int = 1):
    """Variational E-step for a mean-field q(z_i) = prod_j N(z_ij; mu_ij, s_j**2).

    log p(x_i, z) is quadratic in z with precision P = I + W^T Psi^{-1} W and linear
    term h_i = W^T Psi^{-1} (x_i - b). Holding all coordinates but j fixed, the
    q_j that maximises the ELBO is Gaussian with (Bishop, 2006, section 10.1.2)

        s_j**2 = 1 / P_jj,    mu_ij = (h_ij - sum_{l != j} P_jl mu_il) / P_jj.

    One sweep updates j = 1, ..., latent_dim in turn, for all examples at once; each
    update is an exact maximisation, so the ELBO never decreases. The sweeps converge to
    the exact posterior means, while the variances stay at 1 / P_jj, below the
    posterior's marginal variances (P^{-1})_jj unless W^T Psi^{-1} W is diagonal.

    Parameters
    ----------
    X : array-like, shape (n, input_dim)
    W, b, noise_std
        The model, as in :func:`e_step`.
    mu : array-like, shape (n, latent_dim)
        Starting means (the previous iteration's, or zeros).
    n_sweeps : int
        Number of passes over the latent coordinates (>= 1).

    Returns
    -------
    mu : ndarray, shape (n, latent_dim)
    variances : ndarray, shape (latent_dim,)
        s_j**2, shared by all examples.
    """
    X = check_array(X, "X", ndim=2)
    W, b, noise_var = _check_params(W, b, noise_std, X.shape[1])
    mu = check_array(mu, "mu", ndim=2)
    if mu.shape != (X.shape[0], W.shape[1]):
        raise ValueError(f"mu must have shape (n, latent_dim) = ({X.shape[0]}, "
                         f"{W.shape[1]}), got {mu.shape}.")
    n_sweeps = check_int(n_sweeps, "n_sweeps", minimum=1)
    return _mean_field_e_step(X, W, b, noise_var, mu.copy(), n_sweeps)


def _mean_field_e_step(X, W, b, noise_var, mu, n_sweeps):
    P = _precision(W, noise_var)
    h = (X - b) @ (W / noise_var[:, None])                                 # (n, d)
    diag = np.diag(P)
    for _ in range(n_sweeps):
        for j in range(W.shape[1]):
            others = mu @ P[:, j] - mu[:, j] * diag[j]                      # sum_{l != j}
            mu[:, j] = (h[:, j] - others) / diag[j]
    return mu, 1.0 / diag


def m_step(X, mu, cov, noise: str = "isotropic", *, W=None, b=None):
    """M-step: the (W, b, Psi) that maximise the ELBO with q(z_i) = N(mu_i, cov) fixed.

    With the augmented latent z~ = (z, 1), E[z~_i] = (mu_i, 1) and
    E[z~_i z~_i^T] = [[cov + mu_i mu_i^T, mu_i], [mu_i^T, 1]]:

        [W, b] = (sum_i x_i E[z~_i]^T) (sum_i E[z~_i z~_i^T])^{-1},
        psi_d  = (1/n) sum_i [(x_id - w_d^T mu_i - b_d)**2 + w_d^T cov w_d],

    and sigma**2 = mean_d psi_d for isotropic noise (Tipping & Bishop, 1999; Bishop,
    2006, sections 12.2.2 and 12.2.4, where b is fixed at the data mean instead).

    Parameters
    ----------
    X : array-like, shape (n, input_dim)
    mu : array-like, shape (n, latent_dim)
    cov : array-like, shape (latent_dim, latent_dim)
        Covariance of q, shared by all examples (``np.diag(variances)`` for mean field).
    noise : {"isotropic", "diagonal"}
        Probabilistic PCA (one sigma) or factor analysis (one psi_d per feature).
    W : array-like, shape (input_dim, latent_dim), optional
        Hold the loadings at this value: only b (unless also given) and the noise are
        maximised, b = mean_i (x_i - W mu_i).
    b : array-like, shape (input_dim,), optional
        Hold the offset at this value; W = (sum_i (x_i - b) mu_i^T)
        (sum_i cov + mu_i mu_i^T)^{-1} unless W is given too.

    Returns
    -------
    W : ndarray, shape (input_dim, latent_dim)
    b : ndarray, shape (input_dim,)
    noise_std : ndarray, shape (input_dim,)
    """
    X = _check_X(X)
    noise = _check_noise(noise)
    mu, cov = _check_q(mu, cov, X.shape[0])
    fixed_W = None if W is None else _check_params(W, X.mean(0), 1.0, X.shape[1])[0]
    if fixed_W is not None and fixed_W.shape[1] != mu.shape[1]:
        raise ValueError(f"W must have {mu.shape[1]} columns (the latent_dim of mu), got "
                         f"shape {fixed_W.shape}.")
    fixed_b = None if b is None else _check_params(np.zeros((X.shape[1], 1)), b, 1.0,
                                                   X.shape[1])[1]
    W, b, noise_var = _m_step(X, mu, cov, noise, fixed_W, fixed_b)
    return W, b, np.sqrt(noise_var)


def _m_step(X, mu, cov, noise, fixed_W=None, fixed_b=None):
    n, d = mu.shape
    if fixed_W is not None:
        W = fixed_W
        b = (X - mu @ W.T).mean(axis=0) if fixed_b is None else fixed_b
    elif fixed_b is not None:
        b = fixed_b
        Ezz = mu.T @ mu + n * cov
        W = cho_solve(cho_factor(Ezz, lower=True, check_finite=False),
                      mu.T @ (X - b), check_finite=False).T
    else:
        Ez = np.hstack([mu, np.ones((n, 1))])                               # (n, d + 1)
        Ezz = Ez.T @ Ez
        Ezz[:d, :d] += n * cov
        cho = cho_factor(Ezz, lower=True, check_finite=False)
        Wb = cho_solve(cho, Ez.T @ X, check_finite=False).T                 # (D, d + 1)
        W, b = Wb[:, :d], Wb[:, d]
    resid = X - mu @ W.T - b
    noise_var = np.mean(resid ** 2, axis=0) + np.einsum("dj,jl,dl->d", W, cov, W)
    if noise == "isotropic":
        noise_var = np.full_like(noise_var, noise_var.mean())
    # a floor far below any real noise level keeps log(psi) finite on degenerate data
    return W, b, np.maximum(noise_var, 1e-12 * max(float(noise_var.max()), 1e-300))


def gaussian_elbo(X, W, b, noise_std, mu, cov) -> np.ndarray:
    """The ELBO of a Gaussian q(z_i) = N(mu_i, cov), closed form, per example.

        F = E_q[log p(x | z)] - KL[q || N(0, I)]
        E_q[log p(x | z)] = -1/2 sum_d [log(2 pi psi_d)
                            + ((x_d - w_d^T mu - b_d)**2 + w_d^T cov w_d) / psi_d]
        KL[q || N(0, I)]  = 1/2 [tr(cov) + ||mu||**2 - latent_dim - log det cov]

    The closed form of :meth:`vaelib.linear_gaussian.LinearGaussianModel.elbo` (one
    copy), here for a full covariance (the exact posterior's) and factor-analysis noise.

    Parameters
    ----------
    X : array-like, shape (n, input_dim)
    W, b, noise_std
        The model, as in :func:`e_step`.
    mu : array-like, shape (n, latent_dim)
    cov : array-like, shape (latent_dim, latent_dim)

    Returns
    -------
    ndarray, shape (n,)
        Never above :func:`log_evidence`; equal to it when q is the posterior.
    """
    X = check_array(X, "X", ndim=2)
    W, b, noise_var = _check_params(W, b, noise_std, X.shape[1])
    mu, cov = _check_q(mu, cov, X.shape[0], W.shape[1])
    return _elbo(X, W, b, noise_var, mu, cov)


# -- the two fitting methods ------------------------------------------------------------------

def _start(X, latent_dim, noise, init, random_state, fixed=()):
    X = _check_X(X)
    if "W" in fixed and init is not None:
        # held loadings cannot absorb the noise, whatever latent_dim is
        latent_dim = check_int(latent_dim, "latent_dim", minimum=1)
    else:
        latent_dim = _check_latent_dim(latent_dim, X.shape[1])
    noise = _check_noise(noise)
    if init is None:
        init = init_params(X, latent_dim, random_state)
    if not isinstance(init, (tuple, list)) or len(init) != 3:
        raise TypeError("init must be a tuple (W, b, noise_std), e.g. from "
                        "init_params(X, latent_dim).")
    W, b, noise_var = _check_params(*init, input_dim=X.shape[1])
    if W.shape[1] != latent_dim:
        raise ValueError(f"init's W has {W.shape[1]} columns but latent_dim={latent_dim}.")
    if noise == "isotropic":
        noise_var = np.full_like(noise_var, noise_var.mean())
    return X, latent_dim, noise, W.copy(), b.copy(), noise_var


def _check_fixed(fixed, W, b):
    """(fixed_W, fixed_b) for :func:`_m_step` from a tuple of names to hold."""
    if isinstance(fixed, str):
        fixed = (fixed,)
    fixed = tuple(fixed)
    if any(name not in ("W", "b") for name in fixed):
        raise ValueError(f"fixed must name parameters among ('W', 'b'), got {fixed!r}; the "
                         "noise is always learned.")
    return (W.copy() if "W" in fixed else None, b.copy() if "b" in fixed else None)


def fit_em(X, latent_dim: int, *, max_iter: int = 100, noise: str = "isotropic",
           init=None, random_state=0, fixed=(), cache: bool = False) -> FitResult:
    """Exact EM for probabilistic PCA (``noise="isotropic"``) or factor analysis.

    Each iteration: E-step q_n = p(z | x_n; theta_{t-1}) (:func:`e_step`), then M-step
    theta_t = argmax_theta F(q, theta) (:func:`m_step`). Because
    log p(theta_{t-1}) = F(q, theta_{t-1}) <= F(q, theta_t) <= log p(theta_t), the
    log-likelihood never decreases and the recorded ELBO is sandwiched:
    ``log_likelihood[t-1] <= elbo[t] <= log_likelihood[t]``. No learning rate.

    Parameters
    ----------
    X : array-like, shape (n_samples, input_dim)
    latent_dim : int
        d, with 1 <= d < input_dim.
    max_iter : int
        Number of EM iterations (>= 1); all are run.
    noise : {"isotropic", "diagonal"}
    init : tuple (W, b, noise_std), optional
        Starting parameters; default :func:`init_params` with ``random_state``.
    random_state : int or numpy.random.Generator
    fixed : tuple of {"W", "b"}
        Parameters held at their starting values; the M-step maximises over the rest
        (:func:`m_step` with ``W`` / ``b`` given). The noise is always learned.
    cache : bool
        Store the result in the book's cache (keyed by X, the start, the arguments and
        the code) and load it on later calls.

    Returns
    -------
    FitResult
        ``elbo[0]`` is ``log_likelihood[0]`` (the first E-step closes the gap).
    """
    if cache:
        X = _check_X(X)
        config = dict(latent_dim=latent_dim, max_iter=max_iter, noise=noise,
                      fixed=sorted(fixed), random_state=random_state if init is None else None)
        return _cached_fit("em", X, config, init, lambda: fit_em(
            X, latent_dim, max_iter=max_iter, noise=noise, init=init,
            random_state=random_state, fixed=fixed))
    X, latent_dim, noise, W, b, noise_var = _start(X, latent_dim, noise, init, random_state,
                                                   fixed)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    hold = _check_fixed(fixed, W, b)
    ll = [_log_evidence(X, W, b, noise_var).mean()]
    elbo = [ll[0]]
    for _ in range(max_iter):
        mu, cov = _posterior(X, W, b, noise_var)
        W, b, noise_var = _m_step(X, mu, cov, noise, *hold)
        ll.append(_log_evidence(X, W, b, noise_var).mean())
        elbo.append(_elbo(X, W, b, noise_var, mu, cov).mean())
    return FitResult(W, b, np.sqrt(noise_var), np.array(ll), np.array(elbo), "em")


def fit_variational_em(X, latent_dim: int, *, max_iter: int = 100, n_sweeps: int = 1,
                       noise: str = "isotropic", init=None, random_state=0,
                       fixed=(), cache: bool = False) -> FitResult:
    """Variational EM with a mean-field Gaussian q per data point.

    q starts at the prior (means 0, variances 1). Each iteration: a variational
    E-step of ``n_sweeps`` coordinate sweeps from the previous means
    (:func:`mean_field_e_step`), then the M-step with q fixed (:func:`m_step`). Both
    steps maximise F over their block of variables, so F never decreases; log p(x)
    may.

    Parameters
    ----------
    X : array-like, shape (n_samples, input_dim)
    latent_dim : int
        d, with 1 <= d < input_dim.
    max_iter : int
        Number of (E, M) iterations (>= 1).
    n_sweeps : int
        Coordinate sweeps per E-step (>= 1): the number of E-step iterations.
    noise : {"isotropic", "diagonal"}
    init : tuple (W, b, noise_std), optional
    random_state : int or numpy.random.Generator
    fixed : tuple of {"W", "b"}
        Parameters held at their starting values, as in :func:`fit_em`. Holding W at
        coupled columns removes the rotation freedom that lets variational EM make its
        family exact for free: then it can end below the maximum likelihood.
    cache : bool
        As in :func:`fit_em`.

    Returns
    -------
    FitResult
        ``elbo[0]`` is F(prior, theta_0).
    """
    if cache:
        X = _check_X(X)
        config = dict(latent_dim=latent_dim, max_iter=max_iter, n_sweeps=n_sweeps,
                      noise=noise, fixed=sorted(fixed),
                      random_state=random_state if init is None else None)
        return _cached_fit("variational_em", X, config, init, lambda: fit_variational_em(
            X, latent_dim, max_iter=max_iter, n_sweeps=n_sweeps, noise=noise, init=init,
            random_state=random_state, fixed=fixed))
    X, latent_dim, noise, W, b, noise_var = _start(X, latent_dim, noise, init, random_state,
                                                   fixed)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    n_sweeps = check_int(n_sweeps, "n_sweeps", minimum=1)
    hold = _check_fixed(fixed, W, b)
    mu, variances = np.zeros((X.shape[0], latent_dim)), np.ones(latent_dim)
    ll = [_log_evidence(X, W, b, noise_var).mean()]
    elbo = [_elbo(X, W, b, noise_var, mu, np.diag(variances)).mean()]
    for _ in range(max_iter):
        mu, variances = _mean_field_e_step(X, W, b, noise_var, mu, n_sweeps)
        W, b, noise_var = _m_step(X, mu, np.diag(variances), noise, *hold)
        ll.append(_log_evidence(X, W, b, noise_var).mean())
        elbo.append(_elbo(X, W, b, noise_var, mu, np.diag(variances)).mean())
    return FitResult(W, b, np.sqrt(noise_var), np.array(ll), np.array(elbo),
                     "variational_em")

