"""The unchecked kernels of EM on a Gaussian mixture (chapter 2): one function per equation.

Inputs are validated once by the public functions of :mod:`vaelib.gmm.em`; these
kernels assume finite arrays of consistent shapes and stay lean.
"""
from __future__ import annotations

import numpy as np

from .._gaussian import LOG_2PI

COVARIANCE_TYPES = ("full", "diag")
#: Number of float64 entries of the (rows, K * D) block the E-step works on (~2 MB).
_BLOCK_ENTRIES = 2**18

_ILL_DEFINED = ("EM failed because a component has an ill-defined covariance (for "
                "instance it collapsed onto a single point or onto duplicated points). "
                "Decrease n_components, increase reg_covar, or scale the input data.")


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before the log-likelihood settled to within ``tol``."""


# --------------------------------------------------------------------------------------
# Kernels (unchecked): one function per equation
# --------------------------------------------------------------------------------------
def _row_blocks(n_samples: int, width: int) -> list[slice]:
    """Slices of rows such that a (rows, width) float64 block stays near 2 MB."""
    step = max(256, _BLOCK_ENTRIES // max(width, 1))
    return [slice(start, start + step) for start in range(0, n_samples, step)]


def _logsumexp_rows(a: np.ndarray) -> np.ndarray:
    """log sum_k exp(a[i, k]) for every row i, shape (n,); stable for any finite a."""
    a_max = a.max(axis=1, keepdims=True)
    a_max[~np.isfinite(a_max)] = 0.0           # a row of -inf gives -inf, not NaN
    shifted = a - a_max
    np.exp(shifted, out=shifted)
    return np.log(shifted @ np.ones(a.shape[1])) + a_max[:, 0]   # row sums via BLAS


def _precisions_cholesky(covariances: np.ndarray, covariance_type: str) -> np.ndarray:
    """Factors P_k with P_k P_k^T = Sigma_k^{-1}: P_k = C_k^{-T} for Sigma_k = C_k C_k^T.

    Shape (K, D, D) for "full" (upper triangular), (K, D) for "diag" (1 / std). Any
    factor with P P^T = Sigma^{-1} serves the E-step: ||P^T (x - mu)||^2 is the
    Mahalanobis distance and sum_d log P_dd = -1/2 log det Sigma.
    Raises ValueError if a covariance is not positive definite.
    """
    if covariance_type == "diag":
        if np.any(covariances <= 0.0):
            raise ValueError(_ILL_DEFINED)
        return 1.0 / np.sqrt(covariances)
    try:
        cov_chol = np.linalg.cholesky(covariances)                  # (K, D, D) lower
    except np.linalg.LinAlgError:
        raise ValueError(_ILL_DEFINED) from None
    # C^{-1} by one batched LAPACK call (scipy's solve_triangular loops in Python
    # over the K matrices, which dominated small problems)
    return np.swapaxes(np.linalg.inv(cov_chol), -1, -2)


def _precisions_cholesky_from_precisions(precisions: np.ndarray,
                                         covariance_type: str) -> np.ndarray:
    """Factors P_k with P_k P_k^T = Lambda_k, from the precisions Lambda_k themselves."""
    if covariance_type == "diag":
        return np.sqrt(precisions)
    return np.linalg.cholesky(precisions)                          # lower; P P^T = Lambda


def _covariances_from_precisions_cholesky(prec_chol: np.ndarray,
                                          covariance_type: str) -> np.ndarray:
    """Sigma_k = (P_k P_k^T)^{-1} = P_k^{-T} P_k^{-1}."""
    if covariance_type == "diag":
        return 1.0 / prec_chol**2
    inv = np.linalg.inv(prec_chol)
    return np.swapaxes(inv, -1, -2) @ inv


def _mahalanobis_full(X: np.ndarray, means: np.ndarray, prec_chol: np.ndarray) -> np.ndarray:
    """||P_k^T (x_i - mu_k)||^2 for all i, k, shape (n, K), one matmul per block of rows.

    The K factors are laid side by side in a (D, K*D) matrix, so X @ P_all gives
    y_ik = P_k^T x_i for all components at once; mu_k^T P_k is subtracted afterwards.
    """
    n_samples, n_features = X.shape
    n_components = means.shape[0]
    p_all = np.swapaxes(prec_chol, 0, 1).reshape(n_features, n_components * n_features)
    shift = np.einsum("kd,kde->ke", means, prec_chol).reshape(-1)
    out = np.empty((n_samples, n_components))
    for rows in _row_blocks(n_samples, n_components * n_features):
        y = X[rows] @ p_all
        y -= shift
        y = y.reshape(-1, n_components, n_features)
        out[rows] = np.einsum("nkd,nkd->nk", y, y)
    return out


def _log_gaussian_prob(X: np.ndarray, means: np.ndarray, prec_chol: np.ndarray,
                       covariance_type: str) -> np.ndarray:
    """log N(x_i | mu_k, Sigma_k), shape (n, K), from the precision Cholesky factors:

    log N = -D/2 log(2 pi) + sum_d log (P_k)_dd - 1/2 ||P_k^T (x - mu_k)||^2.
    """
    n_features = X.shape[1]
    if covariance_type == "diag":
        precisions = prec_chol**2                                   # (K, D)
        maha = (np.sum(means**2 * precisions, axis=1)
                - 2.0 * (X @ (means * precisions).T)
                + (X**2) @ precisions.T)
        log_det = np.log(prec_chol).sum(axis=1)
    else:
        maha = _mahalanobis_full(X, means, prec_chol)
        log_det = np.log(np.diagonal(prec_chol, axis1=1, axis2=2)).sum(axis=1)
    maha *= -0.5                                                    # in place: (n, K)
    maha += log_det - 0.5 * n_features * LOG_2PI
    return maha


def _e_step(X, weights, means, prec_chol, covariance_type):
    """Mean log-likelihood and log responsibilities (Bayes' theorem in log space).

    log_joint[i, k] = log weights[k] + log N(x_i | mu_k, Sigma_k)     (n, K)
    log p(x_i) = logsumexp_k log_joint[i, k]                          (n,)
    log_resp[i, k] = log_joint[i, k] - log p(x_i)                     (n, K)
    """
    log_joint = _log_gaussian_prob(X, means, prec_chol, covariance_type)
    with np.errstate(divide="ignore"):                              # a zero weight is -inf
        log_joint += np.log(weights)
    log_norm = _logsumexp_rows(log_joint)
    log_joint -= log_norm[:, None]
    return float(np.mean(log_norm)), log_joint


def _m_step(X, log_resp, covariance_type, reg_covar):
    """Weights (K,), means (K, D) and covariances from the responsibilities.

    N_k = sum_i resp[i, k] + 10 eps (the guard against an empty component);
    weights = N_k / sum_k N_k; means = resp^T X / N_k; covariances as in the module
    docstring, plus ``reg_covar`` on the diagonal.
    """
    resp = np.exp(log_resp)
    nk = resp.sum(axis=0) + 10.0 * np.finfo(resp.dtype).eps
    means = (resp.T @ X) / nk[:, None]
    if covariance_type == "diag":
        covariances = (resp.T @ (X * X)) / nk[:, None] - means**2 + reg_covar
    else:
        covariances = _weighted_scatter(X, resp, means) / nk[:, None, None]
        covariances += reg_covar * np.eye(X.shape[1])
    return nk / nk.sum(), means, covariances


def _weighted_scatter(X, resp, means):
    """S_k = sum_i resp[i, k] (x_i - mu_k)(x_i - mu_k)^T, shape (K, D, D).

    Centred per component (no cancellation) and written as S_k = A_k^T A_k with
    A_k = sqrt(resp[:, k]) * (X - mu_k): one BLAS product per component, which
    measured faster here than a batched product over blocks of rows.
    """
    sqrt_resp = np.sqrt(resp)
    scatter = np.empty((means.shape[0], X.shape[1], X.shape[1]))
    for k, mu in enumerate(means):
        a = X - mu
        a *= sqrt_resp[:, k, None]
        scatter[k] = a.T @ a
    return scatter


def _lower_bound(X, log_q, weights, means, prec_chol, covariance_type):
    """F(q, theta) averaged over samples: mean_i sum_k q_ik [log p(x_i, k) - log q_ik]."""
    with np.errstate(divide="ignore"):
        log_joint = np.log(weights) + _log_gaussian_prob(X, means, prec_chol, covariance_type)
    q = np.exp(log_q)
    log_ratio = np.where(q > 0.0, log_joint - log_q, 0.0)          # 0 log 0 = 0
    return float(np.mean((q * log_ratio).sum(axis=1)))


def _nearest_resp(X, centers):
    """Hard responsibilities: one-hot on the nearest centre, shape (n, K), in log space."""
    # ||x - c||^2 - ||x||^2 = ||c||^2 - 2 x.c has the same argmin over c, in (n, K) memory
    d2 = (centers**2).sum(axis=1) - 2.0 * (X @ centers.T)
    log_resp = np.full(d2.shape, -np.inf)
    log_resp[np.arange(X.shape[0]), d2.argmin(axis=1)] = 0.0
    return log_resp


def _kmeans_plusplus(X, n_components, rng):
    """Indices of k-means++ seeds (Arthur & Vassilvitskii, 2007): each new seed is drawn
    with probability proportional to its squared distance to the nearest seed so far."""
    n_samples = X.shape[0]
    indices = [int(rng.integers(n_samples))]
    closest_d2 = ((X - X[indices[0]]) ** 2).sum(axis=1)
    for _ in range(1, n_components):
        total = closest_d2.sum()
        if total > 0.0:
            idx = int(rng.choice(n_samples, p=closest_d2 / total))
        else:                                   # every point already is a seed
            idx = int(rng.integers(n_samples))
        indices.append(idx)
        closest_d2 = np.minimum(closest_d2, ((X - X[idx]) ** 2).sum(axis=1))
    return np.asarray(indices)
