"""EM on a Gaussian mixture (chapter 2).

The model has a discrete latent variable z in {1, ..., K}:

    z ~ Categorical(weights),    x | z = k ~ N(means[k], covariances[k]),
    p(x) = sum_k weights[k] N(x | means[k], covariances[k]).

EM alternates two closed-form steps (Dempster, Laird & Rubin, 1977; Bishop, 2006, §9.2):

* E-step, Bayes' theorem over the K values of z (exact, in log space)::

      log_resp[i, k] = log weights[k] + log N(x_i | mu_k, Sigma_k) - log p(x_i)

* M-step, weighted maximum likelihood with N_k = sum_i resp[i, k]::

      weights[k] = N_k / n,    means[k] = sum_i resp[i, k] x_i / N_k,
      covariances[k] = sum_i resp[i, k] (x_i - mu_k)(x_i - mu_k)^T / N_k + reg_covar * I.

Each EM iteration is coordinate ascent on the lower bound (:func:`lower_bound`)

    F(q, theta) = log p(X | theta) - KL[q || p(z | X, theta)],

whose gap the E-step closes because it sets q to the exact posterior; so the mean
log-likelihood never decreases (Neal & Hinton, 1998).

Implementation notes. The code follows scikit-learn's
``sklearn/mixture/_gaussian_mixture.py``: Gaussians are evaluated through the
Cholesky factor of the precision (no matrix inverse, no determinant),
responsibilities are normalised with logsumexp, ``reg_covar`` goes on the diagonal,
``10 * eps`` is added to every N_k so that an empty component does not divide by
zero. Unlike scikit-learn, the E-step evaluates all K components with one matrix
product per block of rows (no loop over components, and the working set stays in
cache), and the M-step forms each scatter matrix as A^T A with A = sqrt(resp) (X - mu);
``benchmarks/bench_gmm.py`` compares the two.
"""
from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np

from ._validation import check_array, check_int, check_random_state

__all__ = [
    "ConvergenceWarning",
    "GaussianMixtureResult",
    "fit_gmm",
    "e_step",
    "m_step",
    "lower_bound",
    "log_gaussian_prob",
    "log_likelihood",
    "kmeans_plusplus",
    "sample_gmm",
    "n_parameters",
]

COVARIANCE_TYPES = ("full", "diag")
_LOG_2PI = math.log(2.0 * math.pi)
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
    maha += log_det - 0.5 * n_features * _LOG_2PI
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


# --------------------------------------------------------------------------------------
# Validation helpers (used once, at the public entry points)
# --------------------------------------------------------------------------------------
def _check_scalar(value, name: str, *, strictly_positive: bool, hint: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}. {hint}")
    value = float(value)
    bad = (value <= 0.0) if strictly_positive else (value < 0.0)
    if not np.isfinite(value) or bad:
        sign = "> 0" if strictly_positive else ">= 0"
        raise ValueError(f"{name} must be a finite number {sign}, got {value}. {hint}")
    return value


def _check_covariance_type(covariance_type) -> str:
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(f"covariance_type must be 'full' or 'diag', got {covariance_type!r}.")
    return covariance_type


def _check_X(X, name: str = "X") -> np.ndarray:
    return check_array(X, name, ndim=2)


def _check_weights(weights, n_components: int) -> np.ndarray:
    weights = check_array(weights, "weights", ndim=1)
    if weights.shape != (n_components,):
        raise ValueError(f"weights must have shape ({n_components},), one per component; "
                         f"got {weights.shape}.")
    if np.any(weights < 0.0) or np.any(weights > 1.0):
        raise ValueError(f"weights must lie in [0, 1], got min {weights.min():.4g} and "
                         f"max {weights.max():.4g}.")
    if abs(weights.sum() - 1.0) > 1e-8:
        raise ValueError(f"weights must sum to 1, got {weights.sum():.10g}; "
                         "divide them by their sum.")
    return weights


def _check_means(means, n_components: int, n_features: int) -> np.ndarray:
    means = check_array(means, "means", ndim=2)
    if means.shape != (n_components, n_features):
        raise ValueError(f"means must have shape (n_components, n_features) = "
                         f"({n_components}, {n_features}), got {means.shape}.")
    return means


def _check_spd(matrices, name: str, covariance_type: str, n_components: int,
               n_features: int) -> np.ndarray:
    """Covariances or precisions: (K, D, D) symmetric positive definite, or (K, D) > 0."""
    shape = ((n_components, n_features, n_features) if covariance_type == "full"
             else (n_components, n_features))
    if np.shape(matrices) != shape:
        raise ValueError(f"{name} must have shape {shape} for covariance_type="
                         f"'{covariance_type}', got {np.shape(matrices)}.")
    matrices = check_array(matrices, name)
    if covariance_type == "diag":
        if np.any(matrices <= 0.0):
            raise ValueError(f"{name} must be > 0 for covariance_type='diag' (they are "
                             f"variances or their inverses), got min {matrices.min():.4g}.")
        return matrices
    if not np.allclose(matrices, np.swapaxes(matrices, 1, 2), rtol=1e-8, atol=1e-12):
        raise ValueError(f"{name} must be symmetric matrices; symmetrise them with "
                         f"0.5 * (A + A.swapaxes(1, 2)).")
    try:
        np.linalg.cholesky(matrices)
    except np.linalg.LinAlgError:
        raise ValueError(f"{name} must be positive definite; add a small multiple of the "
                         "identity to each matrix.") from None
    return matrices


def _check_params(X, weights, means, covariances):
    """Validate (X, weights, means, covariances); return them and the covariance type."""
    X = _check_X(X)
    means = check_array(means, "means", ndim=2)
    n_components = means.shape[0]
    if means.shape[1] != X.shape[1]:
        raise ValueError(f"means have {means.shape[1]} features but X has {X.shape[1]}.")
    weights = _check_weights(weights, n_components)
    covariance_type = "full" if np.ndim(covariances) == 3 else "diag"
    covariances = _check_spd(covariances, "covariances", covariance_type, n_components,
                             X.shape[1])
    return X, weights, means, covariances, covariance_type


# --------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------
def log_gaussian_prob(X, means, covariances) -> np.ndarray:
    """Log-density of every sample under every Gaussian component.

    log N(x | mu, Sigma) = -D/2 log(2 pi) + sum_d log P_dd - 1/2 ||P^T (x - mu)||^2,
    with P P^T = Sigma^{-1} (P = C^{-T} for the Cholesky factor Sigma = C C^T).

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
    means : array-like, shape (n_components, n_features)
    covariances : array-like, shape (n_components, n_features, n_features) or
        (n_components, n_features)
        Full covariance matrices, or the variances of diagonal ones.

    Returns
    -------
    numpy.ndarray, shape (n_samples, n_components)
    """
    X = _check_X(X)
    means = check_array(means, "means", ndim=2)
    if means.shape[1] != X.shape[1]:
        raise ValueError(f"means have {means.shape[1]} features but X has {X.shape[1]}.")
    covariance_type = "full" if np.ndim(covariances) == 3 else "diag"
    covariances = _check_spd(covariances, "covariances", covariance_type, means.shape[0],
                             X.shape[1])
    prec_chol = _precisions_cholesky(covariances, covariance_type)
    return _log_gaussian_prob(X, means, prec_chol, covariance_type)


def log_likelihood(X, weights, means, covariances) -> np.ndarray:
    """log p(x_i) = logsumexp_k [log weights[k] + log N(x_i | mu_k, Sigma_k)] per sample.

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
    weights : array-like, shape (n_components,)
    means : array-like, shape (n_components, n_features)
    covariances : array-like, shape (n_components, n_features, n_features) or
        (n_components, n_features)

    Returns
    -------
    numpy.ndarray, shape (n_samples,)
    """
    X, weights, means, covariances, ct = _check_params(X, weights, means, covariances)
    prec_chol = _precisions_cholesky(covariances, ct)
    with np.errstate(divide="ignore"):
        log_joint = np.log(weights) + _log_gaussian_prob(X, means, prec_chol, ct)
    return _logsumexp_rows(log_joint)


def e_step(X, weights, means, covariances) -> tuple[float, np.ndarray]:
    """The E-step: the exact posterior over z for every sample (Bayes' theorem).

    log_resp[i, k] = log weights[k] + log N(x_i | mu_k, Sigma_k) - log p(x_i),
    log p(x_i) = logsumexp_k [log weights[k] + log N(x_i | mu_k, Sigma_k)].

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
    weights : array-like, shape (n_components,)
        Mixing proportions, in [0, 1], summing to 1.
    means : array-like, shape (n_components, n_features)
    covariances : array-like, shape (n_components, n_features, n_features)
        Full covariance matrices (symmetric positive definite). A
        (n_components, n_features) array is read as diagonal variances.

    Returns
    -------
    mean_log_likelihood : float
        (1/n) sum_i log p(x_i).
    log_resp : numpy.ndarray, shape (n_samples, n_components)
        log p(z_i = k | x_i); each row's exponentials sum to 1.
    """
    X, weights, means, covariances, ct = _check_params(X, weights, means, covariances)
    return _e_step(X, weights, means, _precisions_cholesky(covariances, ct), ct)


def m_step(X, log_resp, covariance_type: str = "full",
           reg_covar: float = 1e-6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The M-step: weighted maximum-likelihood weights, means and covariances.

    N_k = sum_i r_ik,  weights_k = N_k / n,  mu_k = sum_i r_ik x_i / N_k,
    Sigma_k = sum_i r_ik (x_i - mu_k)(x_i - mu_k)^T / N_k + reg_covar I.

    It maximises the lower bound F(q, theta) over theta for fixed q = exp(log_resp)
    (exactly when reg_covar -> 0).

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
    log_resp : array-like, shape (n_samples, n_components)
        Log responsibilities; each row must satisfy logsumexp(row) = 0. Entries may be
        -inf (a responsibility of exactly zero).
    covariance_type : {"full", "diag"}
    reg_covar : float
        Added to the diagonal of every covariance (> 0).

    Returns
    -------
    weights : numpy.ndarray, shape (n_components,)
    means : numpy.ndarray, shape (n_components, n_features)
    covariances : numpy.ndarray, shape (n_components, n_features, n_features) or
        (n_components, n_features)
    """
    X = _check_X(X)
    log_resp = _check_log_resp(log_resp, X.shape[0])
    covariance_type = _check_covariance_type(covariance_type)
    reg_covar = _check_scalar(reg_covar, "reg_covar", strictly_positive=True,
                              hint="It keeps covariances positive definite; use e.g. 1e-6.")
    return _m_step(X, log_resp, covariance_type, reg_covar)


def _check_log_resp(log_resp, n_samples: int) -> np.ndarray:
    try:
        log_resp = np.asarray(log_resp, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"log_resp must be array-like of numbers: {exc}") from None
    if log_resp.ndim != 2 or log_resp.shape[0] != n_samples:
        raise ValueError(f"log_resp must have shape (n_samples, n_components) with "
                         f"n_samples={n_samples}, got {log_resp.shape}.")
    if np.any(np.isnan(log_resp)) or np.any(log_resp > 1e-12):
        raise ValueError("log_resp must hold log-probabilities (<= 0, no NaN); pass "
                         "log responsibilities such as the ones e_step returns.")
    row_norm = _logsumexp_rows(log_resp)
    if not np.allclose(row_norm, 0.0, atol=1e-8):
        raise ValueError("each row of exp(log_resp) must sum to 1; normalise with "
                         "log_resp - logsumexp(log_resp, axis=1, keepdims=True).")
    return log_resp


def lower_bound(X, log_q, weights, means, covariances) -> float:
    """The EM lower bound F(q, theta), averaged over samples.

    F(q, theta) = (1/n) sum_i sum_k q_ik [log weights_k + log N(x_i | mu_k, Sigma_k)
                                          - log q_ik]
                = (1/n) sum_i {log p(x_i) - KL[q_i || p(z | x_i)]}  <=  mean log p(x_i),

    with equality exactly when q_i is the posterior p(z | x_i) (what e_step returns).

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
    log_q : array-like, shape (n_samples, n_components)
        Log of any distributions q_i over the K components (rows normalised).
    weights, means, covariances
        As in :func:`e_step`.

    Returns
    -------
    float
    """
    X, weights, means, covariances, ct = _check_params(X, weights, means, covariances)
    log_q = _check_log_resp(log_q, X.shape[0])
    if log_q.shape[1] != means.shape[0]:
        raise ValueError(f"log_q has {log_q.shape[1]} columns but there are "
                         f"{means.shape[0]} components.")
    return _lower_bound(X, log_q, weights, means, _precisions_cholesky(covariances, ct), ct)


def kmeans_plusplus(X, n_components: int, random_state=None) -> tuple[np.ndarray, np.ndarray]:
    """k-means++ seeding (Arthur & Vassilvitskii, 2007).

    The first centre is a uniformly drawn sample; each next one is drawn with
    probability proportional to D(x)^2, the squared distance to the nearest centre
    chosen so far.

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
    n_components : int
        Number of centres (1 <= n_components <= n_samples).
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    centers : numpy.ndarray, shape (n_components, n_features)
    indices : numpy.ndarray of int, shape (n_components,)
        Rows of X that were chosen.
    """
    X = _check_X(X)
    n_components = _check_n_components(n_components, X.shape[0])
    indices = _kmeans_plusplus(X, n_components, check_random_state(random_state))
    return X[indices].copy(), indices


def _check_n_components(n_components, n_samples: int) -> int:
    n_components = check_int(n_components, "n_components", minimum=1)
    if n_components > n_samples:
        raise ValueError(f"n_components={n_components} exceeds n_samples={n_samples}; "
                         "use fewer components or more data.")
    return n_components


def sample_gmm(n_samples: int, weights, means, covariances,
               random_state=None) -> tuple[np.ndarray, np.ndarray]:
    """Draw from the mixture: z ~ Categorical(weights), x = mu_z + C_z eps, eps ~ N(0, I).

    Parameters
    ----------
    n_samples : int
    weights : array-like, shape (n_components,)
    means : array-like, shape (n_components, n_features)
    covariances : array-like, shape (n_components, n_features, n_features) or
        (n_components, n_features)
    random_state : None, int or numpy.random.Generator

    Returns
    -------
    X : numpy.ndarray, shape (n_samples, n_features)
    labels : numpy.ndarray of int, shape (n_samples,)
        The component z of each sample.
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    means = check_array(means, "means", ndim=2)
    _, weights, means, covariances, ct = _check_params(means[:1], weights, means, covariances)
    rng = check_random_state(random_state)
    labels = rng.choice(means.shape[0], size=n_samples, p=weights)
    eps = rng.standard_normal((n_samples, means.shape[1]))
    if ct == "diag":
        return means[labels] + np.sqrt(covariances)[labels] * eps, labels
    cov_chol = np.linalg.cholesky(covariances)                       # Sigma = C C^T
    return means[labels] + np.einsum("nde,ne->nd", cov_chol[labels], eps), labels


def n_parameters(n_components: int, n_features: int, covariance_type: str = "full") -> int:
    """Number of free parameters: (K - 1) weights + K D means + the covariances
    (K D (D + 1) / 2 for "full", K D for "diag")."""
    n_components = check_int(n_components, "n_components", minimum=1)
    n_features = check_int(n_features, "n_features", minimum=1)
    covariance_type = _check_covariance_type(covariance_type)
    cov = (n_features * (n_features + 1) // 2 if covariance_type == "full" else n_features)
    return (n_components - 1) + n_components * n_features + n_components * cov


@dataclass(frozen=True)
class GaussianMixtureResult:
    """What :func:`fit_gmm` returns.

    Attributes
    ----------
    weights : numpy.ndarray, shape (n_components,)
    means : numpy.ndarray, shape (n_components, n_features)
    covariances : numpy.ndarray, shape (n_components, n_features, n_features) for
        "full", (n_components, n_features) for "diag"
    log_likelihoods : list of float
        Mean log-likelihood per sample, (1/n) sum_i log p(x_i), of the parameters
        after each iteration: ``log_likelihoods[t - 1]`` belongs to the parameters
        after t EM steps; the last entry belongs to the returned parameters.
    converged : bool
        Whether an iteration changed the mean log-likelihood by less than ``tol``
        (EM then takes one more iteration and stops).
    n_iter : int
        Number of EM iterations run (= len(log_likelihoods)).
    covariance_type : {"full", "diag"}
    initial_log_likelihood : float
        Mean log-likelihood of the initial parameters.
    precisions_cholesky : numpy.ndarray
        P_k with P_k P_k^T = Sigma_k^{-1}, as scikit-learn's ``precisions_cholesky_``.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    log_likelihoods: list = field(default_factory=list)
    converged: bool = False
    n_iter: int = 0
    covariance_type: str = "full"
    initial_log_likelihood: float = float("nan")
    precisions_cholesky: np.ndarray | None = field(default=None, repr=False)

    def score_samples(self, X) -> np.ndarray:
        """log p(x_i) under the fitted mixture, shape (n_samples,)."""
        return log_likelihood(X, self.weights, self.means, self.covariances)

    def predict_proba(self, X) -> np.ndarray:
        """Responsibilities p(z = k | x_i), shape (n_samples, n_components)."""
        return np.exp(e_step(X, self.weights, self.means, self.covariances)[1])

    def sample(self, n_samples: int, random_state=None) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n_samples`` points (and their components) from the fitted mixture."""
        return sample_gmm(n_samples, self.weights, self.means, self.covariances,
                          random_state)


def fit_gmm(X, n_components: int, *, covariance_type: str = "full", weights_init=None,
            means_init=None, precisions_init=None, max_iter: int = 100, tol: float = 1e-6,
            reg_covar: float = 1e-6, random_state=None) -> GaussianMixtureResult:
    """Fit a Gaussian mixture by EM, in log space.

    Initialisation: the means are ``means_init`` or k-means++ seeds (drawn with
    ``random_state``); every sample is assigned to its nearest mean and one M-step on
    these hard responsibilities gives the initial weights and covariances, unless
    ``weights_init`` / ``precisions_init`` are given. With all three given, EM
    starts exactly where scikit-learn's ``GaussianMixture`` with the same
    ``*_init`` arguments starts.

    Each iteration is one M-step followed by one E-step (the E-step of the new
    parameters gives their log-likelihood and the responsibilities the next M-step
    uses). Once an iteration changes the mean log-likelihood by less than ``tol``, EM
    takes one more iteration and stops, with ``converged=True``; this is
    scikit-learn's rule (it tests the change one iteration late), so the same
    initialisation, ``tol`` and ``max_iter`` give the same parameters as
    ``sklearn.mixture.GaussianMixture``. If ``max_iter`` comes first, EM stops with
    ``converged=False`` and a :class:`ConvergenceWarning`.

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
        Finite data, one row per sample.
    n_components : int
        Number K of mixture components (1 <= K <= n_samples).
    covariance_type : {"full", "diag"}
        Full covariance matrices or diagonal ones.
    weights_init : array-like, shape (n_components,), optional
    means_init : array-like, shape (n_components, n_features), optional
    precisions_init : array-like, optional
        Inverse covariances: (n_components, n_features, n_features) for "full",
        (n_components, n_features) for "diag".
    max_iter : int
        Maximum number of EM iterations (>= 0; 0 returns the initialisation).
    tol : float
        Convergence threshold on the change of the mean log-likelihood (>= 0; 0
        runs exactly ``max_iter`` iterations).
    reg_covar : float
        Added to the diagonal of every covariance (> 0). It keeps a component that
        collapses onto a point from sending the likelihood to infinity.
    random_state : None, int or numpy.random.Generator
        Seeds the k-means++ initialisation (unused when ``means_init`` is given).

    Returns
    -------
    GaussianMixtureResult

    Raises
    ------
    ValueError
        On NaN/inf in X, n_components > n_samples, wrong shapes, weights that are
        not a distribution, precisions that are not positive definite, reg_covar
        <= 0, or a covariance that becomes singular during EM.

    References
    ----------
    Dempster, Laird & Rubin (1977); Bishop (2006), §9.2; scikit-learn's
    ``sklearn.mixture.GaussianMixture``.
    """
    X = _check_X(X)
    n_samples, n_features = X.shape
    n_components = _check_n_components(n_components, n_samples)
    covariance_type = _check_covariance_type(covariance_type)
    max_iter = check_int(max_iter, "max_iter", minimum=0)
    tol = _check_scalar(tol, "tol", strictly_positive=False,
                        hint="It is the change of the mean log-likelihood at which EM "
                             "stops, e.g. tol=1e-6.")
    reg_covar = _check_scalar(reg_covar, "reg_covar", strictly_positive=True,
                              hint="It keeps covariances positive definite; use e.g. 1e-6.")
    if weights_init is not None:
        weights_init = _check_weights(weights_init, n_components)
    if means_init is not None:
        means_init = _check_means(means_init, n_components, n_features)
    if precisions_init is not None:
        precisions_init = _check_spd(precisions_init, "precisions_init", covariance_type,
                                     n_components, n_features)
    rng = check_random_state(random_state)

    init = _initialize(X, n_components, covariance_type, weights_init, means_init,
                       precisions_init, reg_covar, rng)
    return _em(X, *init, covariance_type, max_iter, tol, reg_covar)


def _initialize(X, n_components, covariance_type, weights_init, means_init,
                precisions_init, reg_covar, rng):
    """Initial (weights, means, covariances, precision Cholesky factors)."""
    if weights_init is None or means_init is None or precisions_init is None:
        centers = (means_init if means_init is not None
                   else X[_kmeans_plusplus(X, n_components, rng)])
        weights, means, covariances = _m_step(X, _nearest_resp(X, centers),
                                              covariance_type, reg_covar)
        prec_chol = _precisions_cholesky(covariances, covariance_type)
    if weights_init is not None:
        weights = weights_init
    if means_init is not None:
        means = means_init
    if precisions_init is not None:
        prec_chol = _precisions_cholesky_from_precisions(precisions_init, covariance_type)
        covariances = _covariances_from_precisions_cholesky(prec_chol, covariance_type)
    return weights, means, covariances, prec_chol


def _em(X, weights, means, covariances, prec_chol, covariance_type, max_iter, tol,
        reg_covar):
    """The EM loop on checked inputs; see :func:`fit_gmm`."""
    log_lik, log_resp = _e_step(X, weights, means, prec_chol, covariance_type)
    initial = log_lik
    log_likelihoods: list[float] = []
    converged = False
    change = np.inf
    for _ in range(max_iter):
        weights, means, covariances = _m_step(X, log_resp, covariance_type, reg_covar)
        prec_chol = _precisions_cholesky(covariances, covariance_type)
        new_log_lik, log_resp = _e_step(X, weights, means, prec_chol, covariance_type)
        log_likelihoods.append(new_log_lik)
        if converged:                   # the one step taken after the change fell below tol
            break
        change, log_lik = new_log_lik - log_lik, new_log_lik
        converged = abs(change) < tol
    log_lik = log_likelihoods[-1] if log_likelihoods else log_lik
    if not np.isfinite(log_lik):
        raise ValueError("EM produced a non-finite log-likelihood. " + _ILL_DEFINED)
    if max_iter > 0 and not converged:
        warnings.warn(f"EM did not converge: after max_iter={max_iter} iterations the mean "
                      f"log-likelihood still changed by {change:.3g} (tol={tol:g}). "
                      "Increase max_iter, loosen tol, try another random_state, or check "
                      "for degenerate data.", ConvergenceWarning, stacklevel=3)
    return GaussianMixtureResult(weights=weights, means=means, covariances=covariances,
                                 log_likelihoods=log_likelihoods, converged=converged,
                                 n_iter=len(log_likelihoods), covariance_type=covariance_type,
                                 initial_log_likelihood=initial, precisions_cholesky=prec_chol)
