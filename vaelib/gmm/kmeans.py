"""k-means as the σ → 0 limit of EM (chapter 2).

Take a mixture whose K components share one fixed isotropic covariance σ² I and equal
weights 1/K, and let EM learn only the means. The E-step gives

    r_ik = exp(-‖x_i - μ_k‖² / (2σ²)) / Σ_j exp(-‖x_i - μ_j‖² / (2σ²)),

which as σ → 0 puts all of point i's responsibility on its nearest mean, and the M-step
μ_k = Σ_i r_ik x_i / Σ_i r_ik becomes the centroid of the points assigned to μ_k: one
iteration of Lloyd's k-means algorithm (Bishop, 2006, §9.3.2). The mean log-likelihood
obeys

    -2σ² [ℓ_σ(μ) + log K + (D/2) log(2πσ²)]  →  (1/n) Σ_i min_k ‖x_i - μ_k‖²,

the k-means objective (the inertia per point), as σ → 0 (eq-gmm-kmeans-limit).

Both loops call the kernels of :mod:`vaelib.gmm._kernels` (one copy of each formula).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_array, check_int, check_nonnegative, check_std
from ._kernels import _e_step, _m_step, _nearest_resp

__all__ = ["SharedSigmaResult", "fit_shared_sigma", "lloyd", "inertia"]

_REG = 1e-12          # the diag M-step adds it to variances that are not used here


@dataclass(frozen=True)
class SharedSigmaResult:
    """What :func:`fit_shared_sigma` and :func:`lloyd` return.

    Attributes
    ----------
    means : numpy.ndarray, shape (n_components, n_features)
    log_resp : numpy.ndarray, shape (n_samples, n_components)
        Log responsibilities at the returned means (one-hot, with -inf, for k-means).
    means_path : list of numpy.ndarray
        The means before the first iteration and after each one.
    n_iter : int
    converged : bool
        Whether the means stopped moving (largest change at most ``tol``).
    """

    means: np.ndarray
    log_resp: np.ndarray
    means_path: list
    n_iter: int
    converged: bool


def _check_start(X, means_init, max_iter, tol):
    X = check_array(X, "X", ndim=2)
    means_init = check_array(means_init, "means_init", ndim=2)
    if means_init.shape[1] != X.shape[1]:
        raise ValueError(f"means_init has {means_init.shape[1]} features but X has "
                         f"{X.shape[1]}.")
    if means_init.shape[0] > X.shape[0]:
        raise ValueError(f"{means_init.shape[0]} means for {X.shape[0]} points; use fewer "
                         "components.")
    max_iter = check_int(max_iter, "max_iter", minimum=0)
    tol = check_nonnegative(tol, "tol", "It is the largest change of a mean at which the "
                            "loop stops, e.g. tol=1e-10.")
    return X, means_init.copy(), max_iter, tol


def _iterate(X, means, e_step, max_iter, tol):
    """Alternate e_step(means) -> log_resp and the M-step of the means.

    A mean whose responsibilities sum to less than 1e-10 points keeps its place (an
    empty cluster of k-means; the M-step's 10-epsilon guard would otherwise pull it
    towards the origin).
    """
    path, converged = [means], False
    for _ in range(max_iter):
        log_resp = e_step(means)
        owned = np.exp(log_resp).sum(axis=0) >= 1e-10
        new_means = np.where(owned[:, None], _m_step(X, log_resp, "diag", _REG)[1], means)
        path.append(new_means)
        converged = float(np.max(np.abs(new_means - means))) <= tol
        means = new_means
        if converged:
            break
    return SharedSigmaResult(means=means, log_resp=e_step(means), means_path=path,
                             n_iter=len(path) - 1, converged=converged)


def fit_shared_sigma(X, means_init, noise_std: float, *, max_iter: int = 100,
                     tol: float = 1e-10) -> SharedSigmaResult:
    """EM for the means of a mixture with equal weights and one fixed covariance σ² I.

    E-step: r_ik ∝ exp(-‖x_i - μ_k‖² / (2σ²)) (in log space, so any σ > 0 works);
    M-step: μ_k = Σ_i r_ik x_i / Σ_i r_ik. The weights and σ are never updated.

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
    means_init : array-like, shape (n_components, n_features)
    noise_std : float
        σ > 0, the components' shared standard deviation.
    max_iter : int
        Largest number of iterations (>= 0).
    tol : float
        Stop once no mean moves by more than ``tol`` (>= 0).

    Returns
    -------
    SharedSigmaResult
    """
    X, means, max_iter, tol = _check_start(X, means_init, max_iter, tol)
    noise_std = check_std(noise_std, "noise_std")
    K, D = means.shape
    weights = np.full(K, 1.0 / K)
    prec_chol = np.full((K, D), 1.0 / noise_std)

    def e_step(mu):
        return _e_step(X, weights, mu, prec_chol, "diag")[1]

    return _iterate(X, means, e_step, max_iter, tol)


def lloyd(X, means_init, *, max_iter: int = 100, tol: float = 0.0) -> SharedSigmaResult:
    """Lloyd's k-means: assign each point to its nearest mean, move each mean to the
    centroid of its points; repeat (the hard-assignment limit of :func:`fit_shared_sigma`).

    A mean that loses all its points stays where it is.

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
    means_init : array-like, shape (n_components, n_features)
    max_iter : int
    tol : float
        Stop once no mean moves by more than ``tol`` (0: once the assignment is stable).

    Returns
    -------
    SharedSigmaResult
    """
    X, means, max_iter, tol = _check_start(X, means_init, max_iter, tol)
    return _iterate(X, means, lambda mu: _nearest_resp(X, mu), max_iter, tol)


def inertia(X, means) -> float:
    """The k-means objective per point, (1/n) Σ_i min_k ‖x_i - μ_k‖².

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
    means : array-like, shape (n_components, n_features)

    Returns
    -------
    float
    """
    X = check_array(X, "X", ndim=2)
    means = check_array(means, "means", ndim=2)
    if means.shape[1] != X.shape[1]:
        raise ValueError(f"means have {means.shape[1]} features but X has {X.shape[1]}.")
    d2 = ((X[:, None, :] - means[None]) ** 2).sum(-1)
    return float(d2.min(axis=1).mean())
