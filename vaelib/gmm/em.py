"""EM on a Gaussian mixture: the public, validated steps and the fit (chapter 2).

See :mod:`vaelib.gmm` for the model and the equations; the arithmetic lives in the
unchecked kernels of :mod:`vaelib.gmm._kernels`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from .._validation import (check_array, check_int, check_nonnegative, check_positive,
                           check_random_state, check_spd)
from ._kernels import (_ILL_DEFINED, COVARIANCE_TYPES, ConvergenceWarning,
                       _covariances_from_precisions_cholesky, _e_step, _kmeans_plusplus,
                       _log_gaussian_prob, _logsumexp_rows, _lower_bound, _m_step,
                       _nearest_resp, _precisions_cholesky,
                       _precisions_cholesky_from_precisions)

__all__ = ["GaussianMixtureResult", "fit_gmm", "e_step", "m_step", "lower_bound",
           "log_gaussian_prob", "log_likelihood", "kmeans_plusplus", "sample_gmm",
           "n_parameters"]

_REG_COVAR_HINT = "It keeps covariances positive definite; use e.g. reg_covar=1e-6."


# --------------------------------------------------------------------------------------
# Validation helpers (used once, at the public entry points)
# --------------------------------------------------------------------------------------
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
    if covariance_type == "diag":
        matrices = check_array(matrices, name)
        if np.any(matrices <= 0.0):
            raise ValueError(f"{name} must be > 0 for covariance_type='diag' (they are "
                             f"variances or their inverses), got min {matrices.min():.4g}.")
        return matrices
    return check_spd(matrices, name)


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
    reg_covar = check_positive(reg_covar, "reg_covar", _REG_COVAR_HINT)
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
    tol = check_nonnegative(tol, "tol", "It is the change of the mean log-likelihood at "
                            "which EM stops, e.g. tol=1e-6.")
    reg_covar = check_positive(reg_covar, "reg_covar", _REG_COVAR_HINT)
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
