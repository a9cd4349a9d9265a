"""Tests of chapter 2's convergence-rate, stationary-point and k-means functions.

References: the Jacobian of one EM iteration (``e_step`` then ``m_step``) by central
finite differences, the tail of an EM run itself, scikit-learn's ``KMeans`` (Lloyd's
algorithm from the same start), the closed-form Hessian of a one-component mixture (a
single Gaussian), and the likelihood along explicit perturbations.
"""
from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest
from sklearn.cluster import KMeans

from vaelib import gmm
from vaelib.gmm import information, kmeans


def _three_clusters(sigma, n=300, seed=0):
    rng = np.random.default_rng(seed)
    centers = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 3.0]])
    return centers[rng.integers(3, size=n)] + sigma * rng.standard_normal((n, 2))


def _converged(X, K=3, covariance_type="full", seed=0):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gmm.ConvergenceWarning)
        return gmm.fit_gmm(X, K, covariance_type=covariance_type, random_state=seed,
                           max_iter=20_000, tol=1e-15, reg_covar=1e-10)


def _unpack(theta, K, D, covariance_type):
    weights = np.append(theta[:K - 1], 1.0 - theta[:K - 1].sum())
    means = theta[K - 1:K - 1 + K * D].reshape(K, D)
    rest = theta[K - 1 + K * D:].reshape(K, -1)
    if covariance_type == "diag":
        return weights, means, rest
    lower = np.zeros((K, D, D))
    rows, cols = np.tril_indices(D)
    lower[:, rows, cols] = rest
    return weights, means, lower + np.swapaxes(lower, 1, 2) - lower * np.eye(D)


def _em_map_jacobian(X, fit, step=1e-6):
    """d(EM map)/dθ at θ* by central differences of e_step + m_step (reg_covar as fit)."""
    K, D = fit.means.shape
    ct = fit.covariance_type
    theta = information.pack_parameters(fit.weights, fit.means, fit.covariances)

    def em_map(t):
        _, log_resp = gmm.e_step(X, *_unpack(t, K, D, ct))
        return information.pack_parameters(*gmm.m_step(X, log_resp, ct, 1e-10))

    jac = np.empty((theta.size, theta.size))
    for j in range(theta.size):
        e = np.zeros(theta.size)
        e[j] = step
        jac[:, j] = (em_map(theta + e) - em_map(theta - e)) / (2 * step)
    return jac


@pytest.mark.parametrize("sigma, covariance_type", [(0.8, "full"), (1.3, "full"),
                                                    (1.0, "diag")])
def test_missing_information_is_the_jacobian_of_one_em_iteration(sigma, covariance_type):
    """Dempster et al. (1977): DM = I - I_c^{-1} I_obs is the EM map's derivative."""
    X = _three_clusters(sigma)
    fit = _converged(X, covariance_type=covariance_type)
    eig = information.missing_information(X, fit.weights, fit.means, fit.covariances)
    eig_fd = np.sort(np.linalg.eigvals(_em_map_jacobian(X, fit)).real)[::-1]
    assert eig.shape == (gmm.n_parameters(3, 2, covariance_type),)
    np.testing.assert_allclose(eig, eig_fd, atol=1e-6)
    assert -1e-9 <= eig[-1] and eig[0] < 1.0                 # a strict local maximum


def test_missing_information_predicts_the_tail_rate_of_em():
    """ℓ* - ℓ_t shrinks by λ² per iteration, the parameter error by λ."""
    X = _three_clusters(1.2, seed=1)
    fit = _converged(X)
    lam = information.missing_information(X, fit.weights, fit.means, fit.covariances)[0]
    inc = np.diff(fit.log_likelihoods)
    tail = np.flatnonzero((inc > 1e-12) & (inc < 1e-8))
    ratios = inc[tail[1:]] / inc[tail[:-1]]
    assert np.median(ratios) == pytest.approx(lam**2, abs=0.01)


def test_hessian_of_one_gaussian_matches_the_closed_form():
    """K = 1, D = 1: ℓ = Σ log N(x; μ, v); at the MLE ∂²/∂μ² = -n/v, ∂²/∂v² = -n/(2v²),
    and the cross term vanishes."""
    x = np.random.default_rng(2).standard_normal((50, 1)) * 1.7 + 0.3
    mu, v = x.mean(), x.var()
    hess = information.log_likelihood_hessian(x, [1.0], [[mu]], [[[v]]])
    np.testing.assert_allclose(hess, [[-50 / v, 0.0], [0.0, -50 / (2 * v**2)]],
                               rtol=1e-10, atol=1e-10)


def test_hessian_is_negative_definite_at_a_maximum_and_indefinite_at_the_symmetric_start():
    X = _three_clusters(0.7, seed=3)
    fit = _converged(X)
    assert np.linalg.eigvalsh(
        information.log_likelihood_hessian(X, fit.weights, fit.means, fit.covariances)
    ).max() < 0
    # three copies of the best single Gaussian: a saddle (EM's fixed point, not a maximum)
    cov = np.cov(X.T, bias=True)
    hess = information.log_likelihood_hessian(X, np.full(3, 1 / 3), np.tile(X.mean(0), (3, 1)),
                                              np.tile(cov, (3, 1, 1)))
    top = np.linalg.eigh(hess)
    assert top[0][-1] > 0
    # the likelihood rises along the eigenvector of the positive eigenvalue (independent:
    # the log-likelihood itself, not its second derivative)
    theta = information.pack_parameters(np.full(3, 1 / 3), np.tile(X.mean(0), (3, 1)),
                                        np.tile(cov, (3, 1, 1)))
    base = gmm.log_likelihood(X, *_unpack(theta, 3, 2, "full")).sum()
    moved = gmm.log_likelihood(X, *_unpack(theta + 1e-2 * top[1][:, -1], 3, 2, "full")).sum()
    assert moved - base == pytest.approx(0.5 * 1e-4 * top[0][-1], rel=0.05)


def test_relabelling_the_components_leaves_the_likelihood_unchanged():
    X = _three_clusters(1.0, seed=4)
    fit = _converged(X)
    base = gmm.log_likelihood(X, fit.weights, fit.means, fit.covariances)
    for perm in itertools.permutations(range(3)):
        p = list(perm)
        np.testing.assert_allclose(
            gmm.log_likelihood(X, fit.weights[p], fit.means[p], fit.covariances[p]), base,
            rtol=0, atol=1e-12)


def test_pack_parameters_counts_the_free_parameters():
    for ct, covs in (("full", np.tile(np.eye(3), (4, 1, 1))), ("diag", np.ones((4, 3)))):
        theta = information.pack_parameters(np.full(4, 0.25), np.zeros((4, 3)), covs)
        assert theta.size == gmm.n_parameters(4, 3, ct)


def test_information_bad_inputs():
    X = _three_clusters(1.0)
    with pytest.raises(ValueError, match="sum to 1"):
        information.missing_information(X, [0.5, 0.6, 0.1], np.zeros((3, 2)),
                                        np.tile(np.eye(2), (3, 1, 1)))
    with pytest.raises(ValueError, match="positive definite"):
        information.log_likelihood_hessian(X, np.full(3, 1 / 3), np.zeros((3, 2)),
                                           np.tile(-np.eye(2), (3, 1, 1)))
    with pytest.raises(ValueError, match="features"):
        information.missing_information(X, np.full(3, 1 / 3), np.zeros((3, 3)),
                                        np.tile(np.eye(3), (3, 1, 1)))


# ------------------------------------------------------------------------- k-means
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lloyd_matches_sklearn_kmeans(seed):
    X = _three_clusters(1.2, seed=seed)
    start, _ = gmm.kmeans_plusplus(X, 4, random_state=seed)
    ours = kmeans.lloyd(X, start, max_iter=300)
    ref = KMeans(4, init=start, n_init=1, algorithm="lloyd", tol=0.0, max_iter=300).fit(X)
    assert ours.converged
    np.testing.assert_allclose(ours.means, ref.cluster_centers_, atol=1e-10)
    assert kmeans.inertia(X, ours.means) * len(X) == pytest.approx(ref.inertia_, rel=1e-10)


def test_shared_sigma_em_becomes_lloyd_as_sigma_shrinks():
    """Same start: at σ = 1e-3 every EM iterate equals Lloyd's, and the responsibilities
    are one-hot; -2σ²[ℓ + log K + (D/2) log 2πσ²] tends to the inertia."""
    X = _three_clusters(1.0, seed=5)
    start, _ = gmm.kmeans_plusplus(X, 3, random_state=5)
    hard = kmeans.lloyd(X, start, max_iter=100)
    soft = kmeans.fit_shared_sigma(X, start, 1e-3, max_iter=100)
    assert soft.n_iter == hard.n_iter
    for a, b in zip(soft.means_path, hard.means_path):
        np.testing.assert_allclose(a, b, atol=1e-12)
    np.testing.assert_allclose(np.exp(soft.log_resp), np.exp(hard.log_resp), atol=1e-12)
    gaps = []
    for sigma in (0.3, 0.1, 0.03):
        fit = kmeans.fit_shared_sigma(X, hard.means, sigma, max_iter=0)
        ll = gmm.log_likelihood(X, np.full(3, 1 / 3), hard.means,
                                np.full((3, 2), sigma**2)).mean()
        limit = -2 * sigma**2 * (ll + math.log(3) + math.log(2 * math.pi * sigma**2))
        gaps.append(abs(limit - kmeans.inertia(X, hard.means)))
        assert fit.n_iter == 0
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-3


def test_shared_sigma_em_matches_a_direct_implementation():
    """Moderate σ: soft responsibilities from scipy's logsumexp, weighted means by hand."""
    from scipy.special import logsumexp

    X = _three_clusters(1.0, seed=6)
    means = X[:3].copy()
    sigma = 0.8
    for _ in range(5):
        log_r = -((X[:, None] - means[None]) ** 2).sum(-1) / (2 * sigma**2)
        r = np.exp(log_r - logsumexp(log_r, axis=1, keepdims=True))
        means = (r.T @ X) / r.sum(0)[:, None]
    ours = kmeans.fit_shared_sigma(X, X[:3], sigma, max_iter=5, tol=0.0)
    np.testing.assert_allclose(ours.means, means, atol=1e-12)


def test_kmeans_bad_inputs():
    X = _three_clusters(1.0)
    with pytest.raises(ValueError, match="noise_std"):
        kmeans.fit_shared_sigma(X, X[:3], -1.0)
    with pytest.raises(ValueError, match="features"):
        kmeans.lloyd(X, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="fewer components"):
        kmeans.lloyd(X[:2], X[:3])
    with pytest.raises(ValueError, match="max_iter"):
        kmeans.lloyd(X, X[:3], max_iter=-1)
    with pytest.raises(ValueError, match="NaN"):
        kmeans.inertia(X, np.full((3, 2), np.nan))
