"""Variational EM and the amortization gap (chapter 6).

Every method of this module climbs the same objective, the ELBO

    F(q, theta) = E_q[log p_theta(x, z)] + H[q] = log p_theta(x) - KL[q || p_theta(z | x)],

and differs only in *which* variables it moves at each step (Neal & Hinton, 1998).

**Part 1, an exact testbed** (NumPy float64, gradients written out by hand): the
linear-Gaussian latent model of chapter 4,

    z ~ N(0, I_k),    x | z ~ N(W z + b, Psi),
    Psi = sigma**2 I (probabilistic PCA)  or  Psi = diag(psi) (factor analysis),

where log p(x) is closed form, so the bound can be compared with what it bounds.

* :func:`fit_em`: exact EM. The E-step sets q to the posterior (KL = 0,
  :func:`e_step`), the M-step maximises F over (W, b, Psi) in closed form
  (:func:`m_step`). log p(x) never decreases (Dempster, Laird & Rubin, 1977).
* :func:`fit_variational_em`: variational EM with a mean-field q per data point,
  q(z_n) = prod_j N(z_nj; m_nj, s_j**2). Its E-step (:func:`mean_field_e_step`) is
  coordinate ascent, one latent coordinate at a time, each update closed form; the
  M-step is the same :func:`m_step`. F never decreases.
* :func:`fit_joint_gradient`: a linear VAE (affine encoder, linear decoder), all
  parameters moved together by plain gradient ascent on F at a fixed learning rate,
  with the exact expectation or an L-sample reparameterized estimate.

**Part 2, a VAE on real digits** (torch): :func:`optimize_posterior` runs the
variational E-step for each input with the decoder fixed, :func:`iwae_bound_given_q`
estimates log p(x), :func:`inference_gaps` splits the distance between log p(x) and
the ELBO into the approximation gap and the amortization gap (Cremer, Li & Duvenaud,
2018), and :func:`fit_alternating` trains a VAE by alternating encoder-only and
decoder-only steps.
"""
from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
from scipy.linalg import cho_factor, cho_solve

from ._validation import check_array, check_int, check_positive, check_tensor, check_random_state
from .elbo import _kl_normal_std_normal, _log_normal
from .reparam import _sample

__all__ = [
    "FitResult", "init_params", "log_evidence", "e_step", "mean_field_e_step", "m_step",
    "gaussian_elbo", "fit_em", "fit_variational_em", "LinearVAEParams", "linear_vae_params",
    "linear_vae_elbo", "linear_vae_hessian", "fit_joint_gradient",
    "elbo_given_q", "optimize_posterior", "posterior_path", "iwae_bound_given_q",
    "InferenceGaps", "inference_gaps", "fit_alternating",
]

_LOG_2PI = math.log(2.0 * math.pi)
NOISE_MODELS = ("isotropic", "diagonal")


# =====================================================================================
# Part 1: the linear-Gaussian testbed
# =====================================================================================

@dataclass(frozen=True)
class FitResult:
    """What a fit of the linear-Gaussian model returns.

    Attributes
    ----------
    W : ndarray, shape (D, k)
    b : ndarray, shape (D,)
    noise_std : ndarray, shape (D,)
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
        from .linear_gaussian import LinearGaussianModel

        if not np.allclose(self.noise_std, self.noise_std[0], rtol=1e-12, atol=0.0):
            raise ValueError("to_model() needs isotropic noise (probabilistic PCA); this fit "
                             "has one noise level per coordinate (factor analysis).")
        return LinearGaussianModel(self.W, self.b, float(self.noise_std[0]))


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
                         f"({input_dim}), got {latent_dim}: with k >= D the model can "
                         "explain x without noise and sigma collapses to 0.")
    return latent_dim


def _check_noise(noise) -> str:
    if noise not in NOISE_MODELS:
        raise ValueError(f"noise must be 'isotropic' (probabilistic PCA) or 'diagonal' "
                         f"(factor analysis), got {noise!r}.")
    return noise


def _check_params(W, b, noise_std, input_dim: int | None = None):
    """Validate (W, b, noise_std) and return (W, b, noise_var) with noise_var of shape (D,)."""
    W = check_array(W, "W", ndim=2)
    D = W.shape[0]
    if input_dim is not None and D != input_dim:
        raise ValueError(f"W must have shape (D, k) with D = {input_dim} (the number of "
                         f"features of X), got {W.shape}.")
    b = check_array(b, "b", ndim=1)
    if b.shape != (D,):
        raise ValueError(f"b must have shape ({D},) to match W of shape {W.shape}, "
                         f"got {b.shape}.")
    if isinstance(noise_std, numbers.Real) and not isinstance(noise_std, bool):
        noise_std = np.full(D, check_positive(noise_std, "noise_std"))
    else:
        noise_std = check_array(noise_std, "noise_std", ndim=1)
        if noise_std.shape != (D,):
            raise ValueError(f"noise_std must be a number or have shape ({D},), "
                             f"got {noise_std.shape}.")
        if np.any(noise_std <= 0):
            raise ValueError("noise_std must be > 0 everywhere (standard deviations, not "
                             f"variances); its smallest entry is {noise_std.min():.4g}.")
    return W, b, noise_std ** 2


def _check_q(means, cov, n: int, k: int):
    means = check_array(means, "means", ndim=2)
    if means.shape != (n, k):
        raise ValueError(f"means must have shape (n, k) = ({n}, {k}), one row per example, "
                         f"got {means.shape}.")
    cov = check_array(cov, "cov", ndim=2)
    if cov.shape != (k, k):
        raise ValueError(f"cov must have shape (k, k) = ({k}, {k}), got {cov.shape}; for a "
                         "diagonal q pass np.diag(variances).")
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        raise ValueError("cov must be symmetric positive definite (a covariance).") from None
    return means, cov


# -- the model's closed forms -------------------------------------------------------------

def init_params(X, latent_dim: int, random_state=0):
    """A common random starting point (W, b, noise_std) for the three fitting methods.

    b is the data mean, sigma is the mean per-feature standard deviation and W has
    independent N(0, (0.1 sigma)**2) entries: a nearly degenerate model that each
    method has to grow.

    Parameters
    ----------
    X : array-like, shape (n_samples, D)
    latent_dim : int
        k, with 1 <= k < D.
    random_state : int or numpy.random.Generator

    Returns
    -------
    W : ndarray, shape (D, k)
    b : ndarray, shape (D,)
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


def _precision(W, noise_var):
    """Posterior precision P = I + W^T Psi^{-1} W, shape (k, k)."""
    return np.eye(W.shape[1]) + (W / noise_var[:, None]).T @ W


def log_evidence(X, W, b, noise_std) -> np.ndarray:
    """log p(x) = log N(x; b, W W^T + Psi), per example.

    Through the k x k posterior precision P = I + W^T Psi^{-1} W (Woodbury and the
    matrix determinant lemma), with r = x - b and mu = P^{-1} W^T Psi^{-1} r:

        log det C    = log det P + sum_d log psi_d,
        r^T C^{-1} r = (r - W mu)^T Psi^{-1} (r - W mu) + ||mu||**2.

    For isotropic noise it equals
    :meth:`vaelib.linear_gaussian.LinearGaussianModel.log_evidence`.

    Parameters
    ----------
    X : array-like, shape (n, D)
    W : array-like, shape (D, k)
    b : array-like, shape (D,)
    noise_std : float or array-like of shape (D,)
        sigma (probabilistic PCA) or one standard deviation per feature (factor analysis).

    Returns
    -------
    ndarray, shape (n,)
    """
    X = check_array(X, "X", ndim=2)
    W, b, noise_var = _check_params(W, b, noise_std, X.shape[1])
    return _log_evidence(X, W, b, noise_var)


def _log_evidence(X, W, b, noise_var):
    # P >= I is well conditioned, so multiplying by its k x k inverse is accurate, and
    # much faster than a triangular solve with n right-hand sides
    cho = cho_factor(_precision(W, noise_var), lower=True, check_finite=False)
    r = X - b
    mu = r @ (W / noise_var[:, None]) @ cho_solve(cho, np.eye(W.shape[1]),
                                                   check_finite=False)  # (n, k)
    logdet_C = 2.0 * np.sum(np.log(np.diag(cho[0]))) + np.sum(np.log(noise_var))
    quad = np.sum((r - mu @ W.T) ** 2 / noise_var, axis=1) + np.sum(mu ** 2, axis=1)
    return -0.5 * (X.shape[1] * _LOG_2PI + logdet_C + quad)


def e_step(X, W, b, noise_std) -> tuple[np.ndarray, np.ndarray]:
    """Exact E-step: the posterior p(z | x) = N(means_n, cov) for every row of X.

        cov = P^{-1},  means_n = P^{-1} W^T Psi^{-1} (x_n - b),  P = I + W^T Psi^{-1} W

    (Bishop, 2006, eq. 12.42 for Psi = sigma**2 I). The covariance is the same for
    every example. With q = this posterior, F(q, theta) = log p(x).

    Parameters
    ----------
    X : array-like, shape (n, D)
    W : array-like, shape (D, k)
    b : array-like, shape (D,)
    noise_std : float or array-like of shape (D,)

    Returns
    -------
    means : ndarray, shape (n, k)
    cov : ndarray, shape (k, k)
    """
    X = check_array(X, "X", ndim=2)
    W, b, noise_var = _check_params(W, b, noise_std, X.shape[1])
    return _e_step(X, W, b, noise_var)


def _e_step(X, W, b, noise_var):
    cho = cho_factor(_precision(W, noise_var), lower=True, check_finite=False)
    cov = cho_solve(cho, np.eye(W.shape[1]), check_finite=False)
    cov = 0.5 * (cov + cov.T)                                   # P^{-1}, symmetric
    return (X - b) @ (W / noise_var[:, None]) @ cov, cov


def mean_field_e_step(X, W, b, noise_std, means, n_sweeps: int = 1):
    """Variational E-step for a mean-field q(z_n) = prod_j N(z_nj; m_nj, s_j**2).

    log p(x_n, z) is quadratic in z with precision P = I + W^T Psi^{-1} W and linear
    term h_n = W^T Psi^{-1} (x_n - b). Holding all coordinates but j fixed, the
    q_j that maximises the ELBO is Gaussian with (Bishop, 2006, section 10.1.2)

        s_j**2 = 1 / P_jj,    m_nj = (h_nj - sum_{i != j} P_ji m_ni) / P_jj.

    One sweep updates j = 1, ..., k in turn, for all examples at once; each update
    is an exact maximisation, so the ELBO never decreases. The sweeps converge to
    the exact posterior means, while the variances stay at 1 / P_jj, below the
    posterior's marginal variances (P^{-1})_jj unless W^T Psi^{-1} W is diagonal.

    Parameters
    ----------
    X : array-like, shape (n, D)
    W, b, noise_std
        The model, as in :func:`e_step`.
    means : array-like, shape (n, k)
        Starting means (the previous iteration's, or zeros).
    n_sweeps : int
        Number of passes over the k coordinates (>= 1).

    Returns
    -------
    means : ndarray, shape (n, k)
    variances : ndarray, shape (k,)
        s_j**2, shared by all examples.
    """
    X = check_array(X, "X", ndim=2)
    W, b, noise_var = _check_params(W, b, noise_std, X.shape[1])
    means = check_array(means, "means", ndim=2)
    if means.shape != (X.shape[0], W.shape[1]):
        raise ValueError(f"means must have shape (n, k) = ({X.shape[0]}, {W.shape[1]}), "
                         f"got {means.shape}.")
    n_sweeps = check_int(n_sweeps, "n_sweeps", minimum=1)
    return _mean_field_e_step(X, W, b, noise_var, means.copy(), n_sweeps)


def _mean_field_e_step(X, W, b, noise_var, means, n_sweeps):
    P = _precision(W, noise_var)
    h = (X - b) @ (W / noise_var[:, None])                                 # (n, k)
    diag = np.diag(P)
    for _ in range(n_sweeps):
        for j in range(W.shape[1]):
            others = means @ P[:, j] - means[:, j] * diag[j]                # sum_{i != j}
            means[:, j] = (h[:, j] - others) / diag[j]
    return means, 1.0 / diag


def m_step(X, means, cov, noise: str = "isotropic"):
    """M-step: the (W, b, Psi) that maximise the ELBO with q(z_n) = N(means_n, cov) fixed.

    With the augmented latent z~ = (z, 1), E[z~_n] = (m_n, 1) and
    E[z~_n z~_n^T] = [[cov + m_n m_n^T, m_n], [m_n^T, 1]]:

        [W, b] = (sum_n x_n E[z~_n]^T) (sum_n E[z~_n z~_n^T])^{-1},
        psi_d  = (1/n) sum_n [(x_nd - w_d^T m_n - b_d)**2 + w_d^T cov w_d],

    and sigma**2 = mean_d psi_d for isotropic noise (Tipping & Bishop, 1999; Bishop,
    2006, sections 12.2.2 and 12.2.4, where b is fixed at the data mean instead).

    Parameters
    ----------
    X : array-like, shape (n, D)
    means : array-like, shape (n, k)
    cov : array-like, shape (k, k)
        Covariance of q, shared by all examples (``np.diag(variances)`` for mean field).
    noise : {"isotropic", "diagonal"}
        Probabilistic PCA (one sigma) or factor analysis (one psi_d per feature).

    Returns
    -------
    W : ndarray, shape (D, k)
    b : ndarray, shape (D,)
    noise_std : ndarray, shape (D,)
    """
    X = _check_X(X)
    noise = _check_noise(noise)
    means, cov = _check_q(means, cov, X.shape[0], np.shape(means)[-1])
    W, b, noise_var = _m_step(X, means, cov, noise)
    return W, b, np.sqrt(noise_var)


def _m_step(X, means, cov, noise):
    n, k = means.shape
    Ez = np.hstack([means, np.ones((n, 1))])                                # (n, k + 1)
    Ezz = Ez.T @ Ez
    Ezz[:k, :k] += n * cov
    cho = cho_factor(Ezz, lower=True, check_finite=False)
    Wb = cho_solve(cho, Ez.T @ X, check_finite=False).T                     # (D, k + 1)
    W, b = Wb[:, :k], Wb[:, k]
    resid = X - means @ W.T - b
    noise_var = np.mean(resid ** 2, axis=0) + np.einsum("dj,jl,dl->d", W, cov, W)
    if noise == "isotropic":
        noise_var = np.full_like(noise_var, noise_var.mean())
    # a floor far below any real noise level keeps log(psi) finite on degenerate data
    return W, b, np.maximum(noise_var, 1e-12 * max(float(noise_var.max()), 1e-300))


def gaussian_elbo(X, W, b, noise_std, means, cov) -> np.ndarray:
    """The ELBO of a Gaussian q(z_n) = N(means_n, cov), closed form, per example.

        F = E_q[log p(x | z)] - KL[q || N(0, I)]
        E_q[log p(x | z)] = -1/2 sum_d [log(2 pi psi_d)
                            + ((x_d - w_d^T m - b_d)**2 + w_d^T cov w_d) / psi_d]
        KL[q || N(0, I)]  = 1/2 [tr(cov) + ||m||**2 - k - log det cov]

    For a diagonal ``cov`` and isotropic noise it equals
    :meth:`vaelib.linear_gaussian.LinearGaussianModel.elbo`; this version also takes a
    full covariance (the exact posterior's) and factor-analysis noise.

    Parameters
    ----------
    X : array-like, shape (n, D)
    W, b, noise_std
        The model, as in :func:`e_step`.
    means : array-like, shape (n, k)
    cov : array-like, shape (k, k)

    Returns
    -------
    ndarray, shape (n,)
        Never above :func:`log_evidence`; equal to it when q is the posterior.
    """
    X = check_array(X, "X", ndim=2)
    W, b, noise_var = _check_params(W, b, noise_std, X.shape[1])
    means, cov = _check_q(means, cov, X.shape[0], W.shape[1])
    return _gaussian_elbo(X, W, b, noise_var, means, cov)


def _gaussian_elbo(X, W, b, noise_var, means, cov):
    resid = X - means @ W.T - b
    spread = np.einsum("dj,jl,dl->d", W, cov, W)                            # w_d^T cov w_d
    reconstruction = -0.5 * (np.sum(_LOG_2PI + np.log(noise_var))
                             + np.sum((resid ** 2 + spread) / noise_var, axis=1))
    logdet_cov = np.linalg.slogdet(cov)[1]
    kl = 0.5 * (np.trace(cov) + np.sum(means ** 2, axis=1) - cov.shape[0] - logdet_cov)
    return reconstruction - kl


# -- the three fitting methods --------------------------------------------------------------

def _start(X, latent_dim, noise, init, random_state):
    X = _check_X(X)
    latent_dim = _check_latent_dim(latent_dim, X.shape[1])
    noise = _check_noise(noise)
    if init is None:
        init = init_params(X, latent_dim, random_state)
    if not isinstance(init, (tuple, list)) or len(init) != 3:
        raise TypeError("init must be a tuple (W, b, noise_std), e.g. from init_params(X, k).")
    W, b, noise_var = _check_params(*init, input_dim=X.shape[1])
    if W.shape[1] != latent_dim:
        raise ValueError(f"init's W has {W.shape[1]} columns but latent_dim={latent_dim}.")
    if noise == "isotropic":
        noise_var = np.full_like(noise_var, noise_var.mean())
    return X, latent_dim, noise, W.copy(), b.copy(), noise_var


def fit_em(X, latent_dim: int, *, max_iter: int = 100, noise: str = "isotropic",
           init=None, random_state=0) -> FitResult:
    """Exact EM for probabilistic PCA (``noise="isotropic"``) or factor analysis.

    Each iteration: E-step q_n = p(z | x_n; theta_{t-1}) (:func:`e_step`), then M-step
    theta_t = argmax_theta F(q, theta) (:func:`m_step`). Because
    log p(theta_{t-1}) = F(q, theta_{t-1}) <= F(q, theta_t) <= log p(theta_t), the
    log-likelihood never decreases and the recorded ELBO is sandwiched:
    ``log_likelihood[t-1] <= elbo[t] <= log_likelihood[t]``. No learning rate.

    Parameters
    ----------
    X : array-like, shape (n_samples, D)
    latent_dim : int
        k, with 1 <= k < D.
    max_iter : int
        Number of EM iterations (>= 1); all are run.
    noise : {"isotropic", "diagonal"}
    init : tuple (W, b, noise_std), optional
        Starting parameters; default :func:`init_params` with ``random_state``.
    random_state : int or numpy.random.Generator

    Returns
    -------
    FitResult
        ``elbo[0]`` is ``log_likelihood[0]`` (the first E-step closes the gap).
    """
    X, latent_dim, noise, W, b, noise_var = _start(X, latent_dim, noise, init, random_state)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    ll = [_log_evidence(X, W, b, noise_var).mean()]
    elbo = [ll[0]]
    for _ in range(max_iter):
        means, cov = _e_step(X, W, b, noise_var)
        W, b, noise_var = _m_step(X, means, cov, noise)
        ll.append(_log_evidence(X, W, b, noise_var).mean())
        elbo.append(_gaussian_elbo(X, W, b, noise_var, means, cov).mean())
    return FitResult(W, b, np.sqrt(noise_var), np.array(ll), np.array(elbo), "em")


def fit_variational_em(X, latent_dim: int, *, max_iter: int = 100, n_sweeps: int = 1,
                       noise: str = "isotropic", init=None, random_state=0) -> FitResult:
    """Variational EM with a mean-field Gaussian q per data point.

    q starts at the prior (means 0, variances 1). Each iteration: a variational
    E-step of ``n_sweeps`` coordinate sweeps from the previous means
    (:func:`mean_field_e_step`), then the M-step with q fixed (:func:`m_step`). Both
    steps maximise F over their block of variables, so F never decreases; log p(x)
    may.

    Parameters
    ----------
    X : array-like, shape (n_samples, D)
    latent_dim : int
        k, with 1 <= k < D.
    max_iter : int
        Number of (E, M) iterations (>= 1).
    n_sweeps : int
        Coordinate sweeps per E-step (>= 1): the number of E-step iterations.
    noise : {"isotropic", "diagonal"}
    init : tuple (W, b, noise_std), optional
    random_state : int or numpy.random.Generator

    Returns
    -------
    FitResult
        ``elbo[0]`` is F(prior, theta_0).
    """
    X, latent_dim, noise, W, b, noise_var = _start(X, latent_dim, noise, init, random_state)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    n_sweeps = check_int(n_sweeps, "n_sweeps", minimum=1)
    means, variances = np.zeros((X.shape[0], latent_dim)), np.ones(latent_dim)
    ll = [_log_evidence(X, W, b, noise_var).mean()]
    elbo = [_gaussian_elbo(X, W, b, noise_var, means, np.diag(variances)).mean()]
    for _ in range(max_iter):
        means, variances = _mean_field_e_step(X, W, b, noise_var, means, n_sweeps)
        W, b, noise_var = _m_step(X, means, np.diag(variances), noise)
        ll.append(_log_evidence(X, W, b, noise_var).mean())
        elbo.append(_gaussian_elbo(X, W, b, noise_var, means, np.diag(variances)).mean())
    return FitResult(W, b, np.sqrt(noise_var), np.array(ll), np.array(elbo),
                     "variational_em")


class LinearVAEParams(NamedTuple):
    """Parameters of the linear VAE of :func:`fit_joint_gradient` (or their gradients).

    Decoder p(x | z) = N(W z + b, diag(exp(log_noise_var))); encoder
    q(z | x) = N(V x + c, diag(exp(q_logvar))). ``log_noise_var`` has shape (1,) for
    isotropic noise (probabilistic PCA) and (D,) for factor analysis.
    """

    W: np.ndarray               # (D, k)
    b: np.ndarray               # (D,)
    log_noise_var: np.ndarray   # (1,) or (D,)
    V: np.ndarray               # (k, D)
    c: np.ndarray               # (k,)
    q_logvar: np.ndarray        # (k,)


def linear_vae_params(model) -> LinearVAEParams:
    """The linear VAE whose decoder is ``model`` and whose encoder is the best one.

    The encoder outputs the exact posterior mean, V x + c = M^{-1} W^T (x - b)
    (M = W^T W + sigma**2 I), and the best diagonal variances sigma**2 / M_jj
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
    from .linear_gaussian import LinearGaussianModel

    if not isinstance(model, LinearGaussianModel):
        raise TypeError(f"model must be a LinearGaussianModel, got {type(model).__name__}.")
    noise_var = model.noise_std ** 2
    M = model.W.T @ model.W + noise_var * np.eye(model.latent_dim)
    V = np.linalg.solve(M, model.W.T)
    return LinearVAEParams(model.W.copy(), model.b.copy(), np.log([noise_var]), V,
                           -V @ model.b, np.log(noise_var / np.diag(M)))


def _check_linear_vae(X, params) -> tuple[np.ndarray, LinearVAEParams]:
    X = check_array(X, "X", ndim=2)
    if not isinstance(params, tuple) or len(params) != 6:
        raise TypeError("params must be a LinearVAEParams (W, b, log_noise_var, V, c, "
                        "q_logvar), e.g. from linear_vae_params(model).")
    params = LinearVAEParams(*(check_array(p, name, ndim=nd) for p, name, nd in
                               zip(params, LinearVAEParams._fields, (2, 1, 1, 2, 1, 1))))
    D, k = params.W.shape
    expected = {"b": (D,), "V": (k, D), "c": (k,), "q_logvar": (k,)}
    for name, shape in expected.items():
        if getattr(params, name).shape != shape:
            raise ValueError(f"{name} must have shape {shape} to match W of shape {(D, k)}, "
                             f"got {getattr(params, name).shape}.")
    if params.log_noise_var.shape not in ((1,), (D,)):
        raise ValueError(f"log_noise_var must have shape (1,) or ({D},), "
                         f"got {params.log_noise_var.shape}.")
    if X.shape[1] != D:
        raise ValueError(f"X must have {D} columns to match W, got shape {X.shape}.")
    return X, params


def linear_vae_elbo(X, params, eps=None) -> tuple[float, LinearVAEParams]:
    """Mean ELBO of the linear VAE per example, and its gradient.

        F = mean_n [ E_q[log N(x_n; W z + b, Psi)] - KL[N(V x_n + c, diag s) || N(0, I)] ]

    in closed form (``eps=None``), or with the expectation replaced by the
    reparameterized estimate z = mu + sqrt(s) * eps over the L draws in ``eps``. The
    gradient is written out by the chain rule (the tests compare it with autograd).

    Parameters
    ----------
    X : array-like, shape (n, D)
    params : LinearVAEParams
    eps : array-like, shape (L, n, k), optional
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
            raise ValueError(f"eps must have shape (L, n, k) = (L, {X.shape[0]}, "
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
    X : array-like, shape (n, D)
    params : LinearVAEParams
    h : float
        Finite-difference step (> 0).

    Returns
    -------
    ndarray, shape (p, p)
        Symmetrised; p is the total number of parameters.
    """
    X, params = _check_linear_vae(X, params)
    h = check_positive(h, "h")
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

    params = (W, b, log_noise_var, V, c, q_logvar); mu_n = V x_n + c, s = exp(q_logvar),
    psi = exp(log_noise_var). ``eps`` None: the exact expectation,

        F = mean_n [ -1/2 sum_d (log 2 pi psi_d + ((x_nd - w_d^T mu_n - b_d)**2
                     + sum_j W_dj**2 s_j) / psi_d) - KL[N(mu_n, diag s) || N(0, I)] ];

    ``eps`` of shape (L, n, k): the reparameterized estimate with z = mu + sqrt(s) eps
    in the reconstruction term (the KL stays closed form, as in a VAE). The
    gradients are written out by the chain rule (tests compare them with autograd).
    """
    W, b, log_noise_var, V, c, q_logvar = params
    n, D = X.shape
    psi = np.broadcast_to(np.exp(log_noise_var), (D,))
    s = np.exp(q_logvar)
    mu = X @ V.T + c                                                         # (n, k)
    kl = 0.5 * np.sum(mu ** 2 + s - q_logvar - 1.0, axis=1)
    if eps is None:
        R = X - mu @ W.T - b                                                 # (n, D)
        sq = np.mean(R ** 2, axis=0) + (W ** 2) @ s                          # E[resid^2], (D,)
        G = R / psi
        dW = G.T @ mu / n - W * s / psi[:, None]
        db = G.mean(axis=0)
        dmu = G @ W                                                          # (n, k)
        dq_logvar = -0.5 * s * ((W ** 2).T @ (1.0 / psi))
    else:
        z = mu + np.sqrt(s) * eps                                            # (L, n, k)
        R = X - z @ W.T - b                                                  # (L, n, D)
        sq = np.mean(R ** 2, axis=(0, 1))
        G = R / psi
        dW = np.einsum("lnd,lnj->dj", G, z) / (n * len(eps))
        db = G.mean(axis=(0, 1))
        dz = G @ W                                                           # (L, n, k)
        dmu = dz.mean(axis=0)
        dq_logvar = 0.5 * np.sqrt(s) * np.mean(dz * eps, axis=(0, 1))
    value = -0.5 * np.sum(_LOG_2PI + np.log(psi) + sq / psi) - kl.mean()
    dlog_noise_var = -0.5 + 0.5 * sq / psi
    if isotropic:
        dlog_noise_var = np.sum(dlog_noise_var, keepdims=True)
    dmu = dmu - mu                                                           # the KL's pull
    dV = dmu.T @ X / n
    dc = dmu.mean(axis=0)
    dq_logvar = dq_logvar - 0.5 * (s - 1.0)
    return value, (dW, db, dlog_noise_var, dV, dc, dq_logvar)


def fit_joint_gradient(X, latent_dim: int, *, lr: float, max_iter: int = 200,
                       n_samples: int | None = None, noise: str = "isotropic", init=None,
                       random_state=0) -> FitResult:
    """Joint gradient ascent on the ELBO of a linear VAE, all parameters at once.

    Encoder q(z | x) = N(V x + c, diag(exp(q_logvar))) (affine, like the exact
    posterior mean, so amortization loses nothing here); decoder p(x | z) =
    N(W z + b, Psi) with Psi = exp(log_noise_var). Every step moves
    theta = (W, b, log_noise_var) and phi = (V, c, q_logvar) together:

        (theta, phi) <- (theta, phi) + lr * grad F(theta, phi),

    with F the mean ELBO per example: exact (``n_samples=None``) or estimated with L
    reparameterized samples per example, as a VAE does. Plain gradient ascent, no
    momentum: the learning rate alone sets the behaviour. The encoder starts at the
    prior (V = 0, c = 0, q_logvar = 0).

    Parameters
    ----------
    X : array-like, shape (n_samples, D)
    latent_dim : int
        k, with 1 <= k < D.
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

    Returns
    -------
    FitResult
        ``elbo`` holds the exact ELBO of the current (q, theta), whatever L was used.
        If a step leaves the finite numbers (learning rate too large) the curves stop
        there, ``diverged`` is True and a ``RuntimeWarning`` is issued.
    """
    rng = check_random_state(random_state)
    X, latent_dim, noise, W, b, noise_var = _start(X, latent_dim, noise, init, rng)
    lr = check_positive(lr, "lr")
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    if n_samples is not None:
        n_samples = check_int(n_samples, "n_samples", minimum=1)
    isotropic = noise == "isotropic"
    n, D = X.shape
    log_noise_var = np.log(noise_var[:1] if isotropic else noise_var)
    params = LinearVAEParams(W, b, log_noise_var, np.zeros((latent_dim, D)),
                             np.zeros(latent_dim), np.zeros(latent_dim))

    def record(p):
        noise_var = np.broadcast_to(np.exp(p.log_noise_var), (D,))
        means, cov = X @ p.V.T + p.c, np.diag(np.exp(p.q_logvar))
        return (_log_evidence(X, p.W, p.b, noise_var).mean(),
                _gaussian_elbo(X, p.W, p.b, noise_var, means, cov).mean())

    ll, elbo = map(list, zip(record(params)))
    diverged = False
    for _ in range(max_iter):
        eps = None if n_samples is None else rng.standard_normal((n_samples, n, latent_dim))
        with np.errstate(all="ignore"):
            _, grads = _linear_vae_elbo_and_grad(X, params, eps, isotropic)
            candidate = LinearVAEParams(*(p + lr * g for p, g in zip(params, grads)))
            ok = all(np.all(np.isfinite(p)) for p in candidate)
            # exp(log psi) and exp(q_logvar) must stay positive and finite
            ok = ok and bool(np.all(np.abs(candidate.log_noise_var) < 700)
                             and np.all(np.abs(candidate.q_logvar) < 700))
            values = record(candidate) if ok else (np.nan, np.nan)
        if not (ok and np.all(np.isfinite(values))):
            diverged = True
            break
        params = candidate
        ll.append(values[0])
        elbo.append(values[1])
    if diverged:
        warnings.warn(f"joint gradient ascent with lr={lr:.4g} diverged after {len(ll) - 1} "
                      "steps; lower the learning rate.", RuntimeWarning, stacklevel=2)
    noise_std = np.broadcast_to(np.exp(0.5 * params.log_noise_var), (D,)).copy()
    return FitResult(params.W, params.b, noise_std, np.array(ll), np.array(elbo),
                     "joint_gradient", diverged)


# =====================================================================================
# Part 2: the VAE on real digits
# =====================================================================================

def _check_model(model) -> None:
    for name in ("encode", "decode", "log_likelihood"):
        if not callable(getattr(model, name, None)):
            raise TypeError(f"model must provide encode, decode and log_likelihood like "
                            f"vaelib.models.VAE; {type(model).__name__} has no {name}().")


def _check_x_q(x, mu, logvar):
    check_tensor(x, "x", ndim=2)
    check_tensor(mu, "mu", ndim=2)
    check_tensor(logvar, "logvar", ndim=2)
    if mu.shape != logvar.shape or mu.shape[0] != x.shape[0]:
        raise ValueError(f"mu and logvar must have shape (batch, latent_dim) with batch = "
                         f"{x.shape[0]} (one row per row of x), got {tuple(mu.shape)} and "
                         f"{tuple(logvar.shape)}.")


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
    _check_model(model)
    _check_x_q(x, mu, logvar)
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    return _elbo_given_q(model, x, mu, logvar, n_samples, generator)


def _elbo_given_q(model, x, mu, logvar, n_samples, generator):
    z = _sample(mu, logvar, n_samples, generator)                           # (L, batch, d)
    log_px_z = model.log_likelihood(x, model.decode(z))                     # (L, batch)
    return log_px_z.mean(dim=0) - _kl_normal_std_normal(mu, logvar)


def _check_optim_args(model, x, steps, lr, n_samples, seed):
    _check_model(model)
    check_tensor(x, "x", ndim=2)
    steps = check_int(steps, "steps", minimum=0)
    lr = check_positive(lr, "lr")
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    return steps, lr, n_samples, seed


def _optimize_posterior(model, x, steps, lr, n_samples, seed, record_at=()):
    """Adam on (mu, logvar) per row of x with the decoder fixed; snapshots at record_at.

    Runs in eval mode and under a fixed number of torch threads
    (:func:`vaelib.train.num_threads`), so the result does not depend on the machine's
    core count; the model's mode is restored afterwards.
    """
    from .train import num_threads

    was_training = model.training
    model.eval()
    try:
        with num_threads():
            with torch.no_grad():
                mu0, logvar0 = model.encode(x)
            mu = mu0.detach().clone().requires_grad_(True)
            logvar = logvar0.detach().clone().requires_grad_(True)
            optimizer = torch.optim.Adam([mu, logvar], lr=lr)
            generator = torch.Generator(device=x.device).manual_seed(seed)
            snapshots = {}
            for step in range(steps + 1):
                if step in record_at:
                    snapshots[step] = (mu.detach().clone(), logvar.detach().clone())
                if step == steps:
                    break
                # Sum over the batch: each row's gradient is its own ELBO's, as if alone.
                loss = -_elbo_given_q(model, x, mu, logvar, n_samples, generator).sum()
                # autograd.grad, not backward(): the decoder's .grad stays untouched
                mu.grad, logvar.grad = torch.autograd.grad(loss, [mu, logvar])
                optimizer.step()
    finally:
        model.train(was_training)
    return mu.detach(), logvar.detach(), snapshots


def optimize_posterior(model, x: torch.Tensor, *, steps: int = 200, lr: float = 1e-2,
                       n_samples: int = 1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Variational E-step for each input: maximise its ELBO over q with the decoder fixed.

    Starting from the encoder's (mu, logvar), run ``steps`` Adam steps on

        max_{mu_n, logvar_n}  E_{q_n}[log p_theta(x_n | z)] - KL[q_n || N(0, I)]

    for every row n of x at once (the rows do not interact), with L = ``n_samples``
    reparameterized samples per step (:func:`elbo_given_q`). This is the per-data-point
    mean-field optimisation of stochastic variational inference (Hoffman et al., 2013);
    the encoder only supplies the starting point. The model's parameters, their
    ``.grad`` and its train/eval mode are left as they were.

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

    Returns
    -------
    mu, logvar : torch.Tensor, shape (batch, latent_dim)
        Detached.
    """
    steps, lr, n_samples, seed = _check_optim_args(model, x, steps, lr, n_samples, seed)
    mu, logvar, _ = _optimize_posterior(model, x, steps, lr, n_samples, seed)
    return mu, logvar


def posterior_path(model, x: torch.Tensor, record_at, *, lr: float = 1e-2,
                   n_samples: int = 1, seed: int = 0) -> dict:
    """(mu, logvar) of :func:`optimize_posterior` after each number of steps in ``record_at``.

    One run of ``max(record_at)`` steps; ``path[t]`` equals
    ``optimize_posterior(model, x, steps=t, lr=lr, n_samples=n_samples, seed=seed)``.

    Parameters
    ----------
    model, x, lr, n_samples, seed
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
    steps, lr, n_samples, seed = _check_optim_args(model, x, record_at[-1], lr, n_samples,
                                                   seed)
    return _optimize_posterior(model, x, steps, lr, n_samples, seed, set(record_at))[2]


def iwae_bound_given_q(model, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                       k: int, generator: torch.Generator | None = None,
                       chunk_size: int = 256) -> torch.Tensor:
    """Importance-weighted bound on log p(x) with proposal q = N(mu, diag(exp(logvar))).

        log p(x) >= E[ log (1/k) sum_i p_theta(x, z_i) / q(z_i) ],  z_i ~ q  (i.i.d.)

    (Burda et al., 2016). It rises with k towards log p(x) for any proposal that covers
    the posterior; k = 1 is the ELBO (with the KL by Monte Carlo). Computed with
    logsumexp, ``chunk_size`` samples at a time.

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
    _check_model(model)
    _check_x_q(x, mu, logvar)
    k = check_int(k, "k", minimum=1)
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    from .train import num_threads

    with torch.no_grad(), num_threads():
        return _iwae_bound_given_q(model, x, mu, logvar, k, generator, chunk_size)


def _iwae_bound_given_q(model, x, mu, logvar, k, generator, chunk_size):
    log_w = []
    for start in range(0, k, chunk_size):
        z = _sample(mu, logvar, min(chunk_size, k - start), generator)       # (c, batch, d)
        log_p_xz = (model.log_likelihood(x, model.decode(z))
                    + _log_normal(z, torch.zeros_like(mu), torch.zeros_like(logvar)))
        log_w.append(log_p_xz - _log_normal(z, mu, logvar))             # (c, batch)
    return torch.logsumexp(torch.cat(log_w), dim=0) - math.log(k)


class InferenceGaps(NamedTuple):
    """Per-input numbers of :func:`inference_gaps`, each a tensor of shape (batch,).

    ``log_px >= elbo_optimized >= elbo_amortized`` (up to Monte Carlo error).
    """

    elbo_amortized: torch.Tensor
    elbo_optimized: torch.Tensor
    log_px: torch.Tensor

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
                   seed: int = 0) -> InferenceGaps:
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
    steps, lr, n_samples
        Passed to :func:`optimize_posterior`.
    k : int
        Importance samples for log p(x) (>= 1).
    n_eval_samples : int
        Monte Carlo samples for each ELBO (>= 1).
    seed : int

    Returns
    -------
    InferenceGaps
    """
    steps, lr, n_samples, seed = _check_optim_args(model, x, steps, lr, n_samples, seed)
    k = check_int(k, "k", minimum=1)
    n_eval_samples = check_int(n_eval_samples, "n_eval_samples", minimum=1)
    from .train import num_threads

    mu_star, logvar_star, _ = _optimize_posterior(model, x, steps, lr, n_samples, seed)
    with torch.no_grad(), num_threads():
        mu_phi, logvar_phi = model.encode(x)
        values = []
        for mu, logvar in ((mu_phi, logvar_phi), (mu_star, logvar_star)):
            generator = torch.Generator(device=x.device).manual_seed(seed + 1)
            values.append(_elbo_given_q(model, x, mu, logvar, n_eval_samples, generator))
        generator = torch.Generator(device=x.device).manual_seed(seed + 2)
        log_px = _iwae_bound_given_q(model, x, mu_star, logvar_star, k, generator, 256)
    return InferenceGaps(values[0], values[1], log_px)


def _encoder_decoder_parameters(model):
    """Split a :class:`vaelib.models.VAE`'s parameters into (encoder, decoder) lists."""
    try:
        encoder = list(model.encoder.parameters()) + list(model.fc_mu_logvar.parameters())
        decoder = list(model.decoder.parameters())
    except AttributeError:
        raise TypeError("model must be a vaelib.models.VAE (with .encoder, .fc_mu_logvar "
                        f"and .decoder), got {type(model).__name__}.") from None
    return encoder, decoder


def fit_alternating(model, X, *, epochs: int, schedule: str = "alternating",
                    steps_per_phase: int = 1, batch_size: int = 100, lr: float = 1e-3,
                    seed: int = 0, X_test=None):
    """Train a VAE by alternating encoder-only and decoder-only steps, or jointly.

    ``schedule="alternating"``: ``steps_per_phase`` mini-batch steps that move only the
    encoder phi (a partial, amortized variational E-step), then as many that move only
    the decoder theta (a partial M-step), and so on: stochastic coordinate ascent on
    the ELBO. ``schedule="joint"``: every step moves phi and theta together; this is
    exactly the loop of :func:`vaelib.train.fit` (same shuffling, noise and Adam
    steps, so the same result given the same ``seed``). Both schedules see the same
    mini-batches and draw the same number of gradients (the same budget). The two
    blocks have separate Adam optimizers, so a frozen block does not drift on its
    momentum.

    Parameters
    ----------
    model : vaelib.models.VAE
        Trained in place (left in eval mode).
    X : torch.Tensor, shape (n, input_dim)
    epochs : int
        Passes over X (>= 1).
    schedule : {"alternating", "joint"}
    steps_per_phase : int
        Mini-batch steps before switching block (>= 1; ignored for "joint").
    batch_size : int
    lr : float
        Adam's learning rate, for both blocks.
    seed : int
        Seeds the shuffling and the Monte Carlo noise.
    X_test : torch.Tensor, optional
        Evaluated after every epoch, as in :func:`vaelib.train.fit`.

    Returns
    -------
    vaelib.train.History
    """
    from .models import VAE
    from .train import History, _as_data, _evaluate, _terms, num_threads

    if not isinstance(model, VAE):
        raise TypeError(f"model must be a vaelib.models.VAE, got {type(model).__name__}.")
    if schedule not in ("alternating", "joint"):
        raise ValueError(f"schedule must be 'alternating' or 'joint', got {schedule!r}.")
    epochs = check_int(epochs, "epochs", minimum=1)
    steps_per_phase = check_int(steps_per_phase, "steps_per_phase", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr = check_positive(lr, "lr")
    seed = check_int(seed, "seed", minimum=0)
    X = _as_data(X, "X", model)
    X_test = None if X_test is None else _as_data(X_test, "X_test", model)
    encoder_params, decoder_params = _encoder_decoder_parameters(model)
    # fused Adam, as vaelib.train.fit uses (the same arithmetic, step for step)
    if schedule == "joint":
        optimizers = [torch.optim.Adam(model.parameters(), lr=lr, fused=True)]
    else:
        optimizers = [torch.optim.Adam(encoder_params, lr=lr, fused=True),
                      torch.optim.Adam(decoder_params, lr=lr, fused=True)]
    history = History(kind="vae")
    n = len(X)
    with num_threads():
        generator = torch.Generator(device=X.device).manual_seed(seed)
        step = 0
        model.train()
        for _ in range(epochs):
            X_shuffled = X[torch.randperm(n, generator=generator, device=X.device)]
            recon_sum = torch.zeros((), device=X.device)
            kl_sum = torch.zeros((), device=X.device)
            for begin in range(0, n, batch_size):
                x = X_shuffled[begin:begin + batch_size]
                log_px_z, kl = _terms(model, x, "vae", generator)
                optimizer = optimizers[(step // steps_per_phase) % len(optimizers)]
                model.zero_grad(set_to_none=True)     # both blocks: no stale gradients
                (kl - log_px_z).mean().backward()
                optimizer.step()
                recon_sum += log_px_z.detach().sum()
                kl_sum += kl.detach().sum()
                step += 1
            recon, kl_mean = float(recon_sum) / n, float(kl_sum) / n
            history.train_recon.append(recon)
            history.train_kl.append(kl_mean)
            history.train_elbo.append(recon - kl_mean)
            if X_test is not None:
                model.eval()
                t_recon, t_kl = _evaluate(model, X_test, "vae", seed + 1)
                model.train()
                history.test_recon.append(t_recon)
                history.test_kl.append(t_kl)
                history.test_elbo.append(t_recon - t_kl)
    model.eval()
    return history
