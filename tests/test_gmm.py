"""Tests of vaelib.gmm against independent references: scipy.stats, numpy's weighted
covariance, scikit-learn's GaussianMixture with the same initialisation, closed-form
moments and probabilities, and the monotonicity theorem of EM."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.special import logsumexp
from scipy.stats import entropy, multivariate_normal
from sklearn.mixture import GaussianMixture

from vaelib.gmm import (ConvergenceWarning, e_step, fit_gmm, kmeans_plusplus, log_gaussian_prob,
                        log_likelihood, lower_bound, m_step, n_parameters, sample_gmm)


def blobs(seed=0, n=600, centers=((0.0, 0.0), (6.0, 0.0), (0.0, 6.0)), scale=1.0):
    """Well-separated 2-D blobs with correlated noise."""
    rng = np.random.default_rng(seed)
    centers = np.asarray(centers)
    labels = rng.integers(len(centers), size=n)
    X = centers[labels] + scale * rng.normal(size=(n, centers.shape[1])) @ np.array(
        [[1.0, 0.3], [0.0, 0.7]])[: centers.shape[1], : centers.shape[1]]
    return X, centers


def random_params(rng, K, D, covariance_type="full"):
    weights = rng.dirichlet(np.ones(K))
    means = rng.normal(scale=3.0, size=(K, D))
    if covariance_type == "diag":
        return weights, means, rng.uniform(0.3, 2.0, size=(K, D))
    A = rng.normal(size=(K, D, D))
    return weights, means, A @ np.swapaxes(A, 1, 2) + 0.5 * np.eye(D)


def sklearn_init(K, D, covariance_type, centers, seed=1):
    rng = np.random.default_rng(seed)
    return dict(weights_init=np.full(K, 1.0 / K),
                means_init=centers + rng.normal(scale=0.7, size=centers.shape),
                precisions_init=(np.tile(np.eye(D), (K, 1, 1)) if covariance_type == "full"
                                 else np.ones((K, D))))


# ----------------------------------------------------------------------------- E-step
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_log_gaussian_prob_matches_scipy(covariance_type):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    _, means, covs = random_params(rng, 4, 3, covariance_type)
    dense = covs if covariance_type == "full" else np.stack([np.diag(c) for c in covs])
    expected = np.stack([multivariate_normal(m, c).logpdf(X) for m, c in zip(means, dense)],
                        axis=1)
    np.testing.assert_allclose(log_gaussian_prob(X, means, covs), expected, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_e_step_is_bayes_theorem(covariance_type):
    # Reference: Bayes' theorem in linear space with scipy's densities.
    rng = np.random.default_rng(1)
    X = rng.normal(scale=2.0, size=(80, 2))
    weights, means, covs = random_params(rng, 3, 2, covariance_type)
    dense = covs if covariance_type == "full" else np.stack([np.diag(c) for c in covs])
    joint = np.stack([w * multivariate_normal(m, c).pdf(X)
                      for w, m, c in zip(weights, means, dense)], axis=1)
    mean_ll, log_resp = e_step(X, weights, means, covs)
    assert log_resp.shape == (80, 3)
    np.testing.assert_allclose(np.exp(log_resp), joint / joint.sum(1, keepdims=True),
                               rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(mean_ll, np.mean(np.log(joint.sum(1))), rtol=1e-12)
    np.testing.assert_allclose(log_likelihood(X, weights, means, covs), np.log(joint.sum(1)),
                               rtol=1e-12)


def test_e_step_is_stable_far_from_every_component():
    # Linear-space Bayes underflows to 0/0 here; logsumexp does not.
    weights, means = np.array([0.5, 0.5]), np.array([[0.0], [1.0]])
    covs = np.full((2, 1, 1), 1e-2)
    X = np.array([[200.0]])
    assert multivariate_normal(means[0], covs[0]).pdf(X[0]) == 0.0
    mean_ll, log_resp = e_step(X, weights, means, covs)
    assert np.isfinite(mean_ll) and np.all(np.isfinite(log_resp))
    # the nearer component takes (almost) all the responsibility
    assert np.exp(log_resp[0, 1]) == pytest.approx(1.0)


def test_zero_weight_component_gets_zero_responsibility():
    rng = np.random.default_rng(2)
    weights, means, covs = random_params(rng, 3, 2)
    weights = np.array([0.0, 0.4, 0.6])
    mean_ll, log_resp = e_step(rng.normal(size=(10, 2)), weights, means, covs)
    assert np.isfinite(mean_ll)
    assert np.all(np.exp(log_resp[:, 0]) == 0.0)


# ----------------------------------------------------------------------------- M-step
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_m_step_matches_weighted_moments(covariance_type):
    # Reference: numpy's weighted mean and covariance (np.cov with aweights, bias=True).
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 3))
    resp = rng.dirichlet(np.ones(4), size=200)
    weights, means, covs = m_step(X, np.log(resp), covariance_type, reg_covar=1e-3)
    np.testing.assert_allclose(weights, resp.mean(0), rtol=1e-12)
    for k in range(4):
        np.testing.assert_allclose(means[k], np.average(X, axis=0, weights=resp[:, k]),
                                   rtol=1e-12)
        cov = np.cov(X.T, aweights=resp[:, k], bias=True) + 1e-3 * np.eye(3)
        expected = cov if covariance_type == "full" else np.diag(cov)
        np.testing.assert_allclose(covs[k], expected, rtol=1e-10)


# ----------------------------------------------------------------------------- against sklearn
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
@pytest.mark.parametrize("tol", [1e-3, 1e-6, 1e-9])
def test_fit_matches_sklearn(covariance_type, tol):
    X, centers = blobs()
    init = sklearn_init(3, 2, covariance_type, centers)
    ours = fit_gmm(X, 3, covariance_type=covariance_type, tol=tol, max_iter=200,
                   reg_covar=1e-6, **init)
    ref = GaussianMixture(3, covariance_type=covariance_type, tol=tol, max_iter=200,
                          reg_covar=1e-6, **init).fit(X)
    assert ours.converged and ref.converged_
    assert ours.n_iter == ref.n_iter_
    np.testing.assert_allclose(ours.weights, ref.weights_, rtol=1e-6)
    np.testing.assert_allclose(ours.means, ref.means_, rtol=1e-6)
    np.testing.assert_allclose(ours.covariances, ref.covariances_, rtol=1e-6)
    np.testing.assert_allclose(ours.precisions_cholesky @ np.swapaxes(
        ours.precisions_cholesky, -1, -2) if covariance_type == "full"
        else ours.precisions_cholesky**2, ref.precisions_, rtol=1e-6)
    np.testing.assert_allclose(ours.log_likelihoods[-1], ref.score(X), rtol=1e-6)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
@pytest.mark.parametrize("max_iter", [1, 2, 7])
def test_every_iteration_matches_sklearn(covariance_type, max_iter):
    # With tol=0 both run exactly max_iter iterations. sklearn's lower_bounds_[t] is
    # the log-likelihood of the parameters *entering* iteration t + 1, ours of those
    # *leaving* iteration t + 1: the lists are shifted by one.
    X, centers = blobs(seed=4)
    init = sklearn_init(3, 2, covariance_type, centers, seed=5)
    with pytest.warns(ConvergenceWarning):
        ours = fit_gmm(X, 3, covariance_type=covariance_type, tol=0.0, max_iter=max_iter,
                       **init)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = GaussianMixture(3, covariance_type=covariance_type, tol=0.0, max_iter=max_iter,
                              **init).fit(X)
    assert ours.n_iter == ref.n_iter_ == max_iter and not ours.converged
    np.testing.assert_allclose(ours.means, ref.means_, rtol=1e-10)
    np.testing.assert_allclose(ours.covariances, ref.covariances_, rtol=1e-10)
    np.testing.assert_allclose(ours.initial_log_likelihood, ref.lower_bounds_[0], rtol=1e-12)
    np.testing.assert_allclose(ours.log_likelihoods[:-1], ref.lower_bounds_[1:], rtol=1e-12)
    np.testing.assert_allclose(ours.log_likelihoods[-1], ref.score(X), rtol=1e-12)


# ----------------------------------------------------------------------------- EM theory
def _reg_covar_slack(covariances, weights, reg_covar, covariance_type):
    """Largest possible drop of the mean log-likelihood caused by reg_covar in one M-step.

    For one component, the bound F loses (N_k / 2) sum_d [log(1 + u_d) - u_d / (1 + u_d)]
    <= (N_k / 4) sum_d u_d^2, u_d = reg_covar / s_d, when Sigma = S + reg_covar I
    replaces the exact maximiser S (s_d: eigenvalues of S). Per sample:
    slack = 1/4 sum_k weights_k sum_d u_kd^2.
    """
    if covariance_type == "full":
        s = np.linalg.eigvalsh(covariances) - reg_covar
    else:
        s = covariances - reg_covar
    return 0.25 * np.sum(weights[:, None] * (reg_covar / s) ** 2)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_log_likelihood_never_decreases(seed, covariance_type):
    # Property: l(theta_{t+1}) >= F(q_t, theta_{t+1}) >= F(q_t, theta_t) = l(theta_t),
    # up to the drop reg_covar can cause (bounded above) and float64 rounding (1e-12).
    rng = np.random.default_rng(seed)
    K, D, n = int(rng.integers(2, 6)), int(rng.integers(1, 5)), 300
    centers = rng.normal(scale=2.0, size=(K, D))
    labels = rng.integers(K, size=n)
    X = centers[labels] + rng.normal(size=(n, D)) * rng.uniform(0.3, 1.5, size=(K, D))[labels]
    reg_covar = 1e-6
    # Run the loop by hand with the public steps, to know each iteration's covariances.
    init = fit_gmm(X, K + 1, covariance_type=covariance_type, max_iter=0,
                   random_state=seed, reg_covar=reg_covar)
    weights, means, covs = init.weights, init.means, init.covariances
    ll, log_resp = e_step(X, weights, means, covs)
    history = []
    for _ in range(60):
        weights, means, covs = m_step(X, log_resp, covariance_type, reg_covar)
        new_ll, log_resp = e_step(X, weights, means, covs)
        slack = _reg_covar_slack(covs, weights, reg_covar, covariance_type) + 1e-12
        assert new_ll >= ll - slack, (new_ll - ll, slack)
        history.append(new_ll)
        ll = new_ll
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = fit_gmm(X, K + 1, covariance_type=covariance_type, tol=0.0, max_iter=60,
                         random_state=seed, reg_covar=reg_covar)
    np.testing.assert_allclose(result.log_likelihoods, history, rtol=1e-12)


def test_lower_bound_gap_is_kl_to_posterior():
    # log p(x) = F(q, theta) + KL[q || p(z | x)]: the gap is a KL (scipy.stats.entropy).
    rng = np.random.default_rng(6)
    X = rng.normal(scale=2.0, size=(40, 2))
    weights, means, covs = random_params(rng, 3, 2)
    mean_ll, log_post = e_step(X, weights, means, covs)
    assert lower_bound(X, log_post, weights, means, covs) == pytest.approx(mean_ll, abs=1e-12)
    q = rng.dirichlet(np.ones(3), size=40)
    kl = np.mean([entropy(q[i], np.exp(log_post[i])) for i in range(40)])
    F = lower_bound(X, np.log(q), weights, means, covs)
    assert F < mean_ll
    np.testing.assert_allclose(mean_ll - F, kl, rtol=1e-9)
    # a q with exact zeros (hard assignments) is allowed: 0 log 0 = 0
    hard = np.full((40, 3), -np.inf)
    hard[:, 0] = 0.0
    assert np.isfinite(lower_bound(X, hard, weights, means, covs))


# ----------------------------------------------------------------------------- initialisation
def test_kmeans_plusplus_draws_proportional_to_squared_distance():
    # X = {0, 1, 3}: the first seed is uniform, the second has P(j | i) = d_ij^2 / sum_j d_ij^2.
    X = np.array([[0.0], [1.0], [3.0]])
    d2 = (X - X.T) ** 2
    exact = {}
    for i in range(3):
        for j in range(3):
            exact[(i, j)] = (1 / 3) * d2[i, j] / d2[i].sum()
    rng = np.random.default_rng(7)
    n_draws = 6000
    counts = {key: 0 for key in exact}
    for _ in range(n_draws):
        _, idx = kmeans_plusplus(X, 2, random_state=rng)
        counts[tuple(idx)] += 1
    for key, p in exact.items():
        # binomial standard error; 5 SE makes a false alarm ~1e-6 per pair
        se = np.sqrt(p * (1 - p) / n_draws)
        assert abs(counts[key] / n_draws - p) <= 5 * se + 1e-12, (key, counts[key], p)


def test_kmeans_plusplus_is_reproducible_and_picks_rows():
    X, _ = blobs()
    c1, i1 = kmeans_plusplus(X, 4, random_state=3)
    c2, i2 = kmeans_plusplus(X, 4, random_state=3)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_array_equal(c1, X[i1])
    assert len(set(i1.tolist())) == 4


def test_fit_is_reproducible_and_seeded():
    X, _ = blobs(n=300)
    a = fit_gmm(X, 3, random_state=0)
    b = fit_gmm(X, 3, random_state=0)
    np.testing.assert_array_equal(a.means, b.means)
    assert a.log_likelihoods == b.log_likelihoods
    assert a.converged and a.n_iter == len(a.log_likelihoods)


def test_max_iter_zero_returns_the_initialisation():
    X, centers = blobs(n=300)
    result = fit_gmm(X, 3, means_init=centers, max_iter=0)
    np.testing.assert_array_equal(result.means, centers)
    assert result.n_iter == 0 and result.log_likelihoods == [] and not result.converged
    assert np.isfinite(result.initial_log_likelihood)


def test_given_precisions_give_the_covariances():
    X, centers = blobs(n=300)
    prec = np.stack([np.linalg.inv(np.array([[2.0, 0.5], [0.5, 1.0]]))] * 3)
    result = fit_gmm(X, 3, means_init=centers, weights_init=[0.2, 0.3, 0.5],
                     precisions_init=prec, max_iter=0)
    np.testing.assert_allclose(result.covariances, np.linalg.inv(prec), rtol=1e-12)
    np.testing.assert_allclose(result.weights, [0.2, 0.3, 0.5])


def test_empty_component_is_guarded():
    # A mean far from every point gets no responsibility; N_k + 10 eps avoids 0 / 0.
    X, centers = blobs(n=300)
    means_init = np.vstack([centers, [[1e3, 1e3]]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        result = fit_gmm(X, 4, means_init=means_init, weights_init=np.full(4, 0.25),
                         precisions_init=np.tile(np.eye(2), (4, 1, 1)), max_iter=20, tol=0.0)
    assert all(np.all(np.isfinite(a)) for a in (result.weights, result.means,
                                                  result.covariances))
    assert result.weights[3] < 1e-12
    assert np.all(np.isfinite(result.log_likelihoods))


def test_non_convergence_warns():
    X, _ = blobs(n=300, scale=3.0)
    with pytest.warns(ConvergenceWarning, match="increase max_iter|Increase max_iter"):
        result = fit_gmm(X, 5, max_iter=2, tol=1e-12, random_state=0)
    assert not result.converged and result.n_iter == 2


# ----------------------------------------------------------------------------- sampling, counts
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_sample_gmm_moments(covariance_type):
    # Mixture moments in closed form: E[x] = sum_k w_k mu_k,
    # Cov[x] = sum_k w_k (Sigma_k + mu_k mu_k^T) - E[x] E[x]^T.
    rng = np.random.default_rng(8)
    weights, means, covs = random_params(rng, 3, 2, covariance_type)
    dense = covs if covariance_type == "full" else np.stack([np.diag(c) for c in covs])
    mean = weights @ means
    cov = np.einsum("k,kde->de", weights, dense + means[:, :, None] * means[:, None, :]) \
        - np.outer(mean, mean)
    n = 200_000
    X, labels = sample_gmm(n, weights, means, covs, random_state=9)
    assert X.shape == (n, 2) and labels.shape == (n,)
    se_mean = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(X.mean(0) - mean) <= 5 * se_mean)
    # SE of a sample variance ~ sqrt((m4 - var^2) / n), m4 estimated from the sample
    centred = X - X.mean(0)
    se_var = np.sqrt((np.mean(centred**4, 0) - np.var(X, 0) ** 2) / n)
    assert np.all(np.abs(np.var(X, 0) - np.diag(cov)) <= 5 * se_var)
    np.testing.assert_allclose(np.bincount(labels) / n, weights,
                               atol=5 * np.sqrt(0.25 / n))


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
@pytest.mark.parametrize("K,D", [(1, 1), (3, 2), (5, 7)])
def test_n_parameters_matches_sklearn(covariance_type, K, D):
    rng = np.random.default_rng(0)
    gm = GaussianMixture(K, covariance_type=covariance_type, max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gm.fit(rng.normal(size=(50, D)))
    assert n_parameters(K, D, covariance_type) == gm._n_parameters()


# ----------------------------------------------------------------------------- bad inputs
def test_bad_inputs_raise_clear_errors():
    X, centers = blobs(n=50)
    with pytest.raises(ValueError, match="NaN"):
        fit_gmm(np.where(np.arange(100).reshape(50, 2) == 7, np.nan, X), 2)
    with pytest.raises(ValueError, match="exceeds n_samples"):
        fit_gmm(X[:3], 4)
    with pytest.raises(ValueError, match="2 dimension"):
        fit_gmm(X[:, 0], 2)
    with pytest.raises(ValueError, match="n_components must be >= 1"):
        fit_gmm(X, 0)
    with pytest.raises(TypeError, match="n_components must be an integer"):
        fit_gmm(X, 2.5)
    with pytest.raises(ValueError, match="reg_covar must be a finite number > 0"):
        fit_gmm(X, 2, reg_covar=0.0)
    with pytest.raises(ValueError, match="reg_covar"):
        fit_gmm(X, 2, reg_covar=-1e-6)
    with pytest.raises(ValueError, match="tol must be a finite number >= 0"):
        fit_gmm(X, 2, tol=-1.0)
    with pytest.raises(ValueError, match="max_iter must be >= 0"):
        fit_gmm(X, 2, max_iter=-1)
    with pytest.raises(ValueError, match="covariance_type must be 'full' or 'diag'"):
        fit_gmm(X, 2, covariance_type="tied")
    with pytest.raises(ValueError, match="weights must have shape"):
        fit_gmm(X, 3, weights_init=[0.5, 0.5])
    with pytest.raises(ValueError, match="sum to 1"):
        fit_gmm(X, 2, weights_init=[0.5, 0.6])
    with pytest.raises(ValueError, match="means must have shape"):
        fit_gmm(X, 3, means_init=centers[:2])
    with pytest.raises(ValueError, match="precisions_init must have shape"):
        fit_gmm(X, 3, precisions_init=np.ones((3, 2)))
    with pytest.raises(ValueError, match="positive definite"):
        fit_gmm(X, 3, precisions_init=np.tile(np.diag([1.0, -1.0]), (3, 1, 1)))
    with pytest.raises(ValueError, match="symmetric"):
        fit_gmm(X, 3, precisions_init=np.tile([[1.0, 0.5], [0.0, 1.0]], (3, 1, 1)))
    with pytest.raises(ValueError, match="must be > 0"):
        fit_gmm(X, 3, covariance_type="diag", precisions_init=-np.ones((3, 2)))
    with pytest.raises(TypeError, match="random_state"):
        fit_gmm(X, 2, random_state="zero")


def test_bad_inputs_to_the_steps():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2))
    weights, means, covs = random_params(rng, 3, 2)
    with pytest.raises(ValueError, match="features"):
        e_step(X, weights, means[:, :1], covs)
    with pytest.raises(ValueError, match="positive definite"):
        e_step(X, weights, means, -covs)
    with pytest.raises(ValueError, match="NaN"):
        e_step(X, weights, np.full((3, 2), np.nan), covs)
    with pytest.raises(ValueError, match=r"weights must lie in \[0, 1\]"):
        e_step(X, [1.5, -0.25, -0.25], means, covs)
    with pytest.raises(ValueError, match="sum to 1"):
        m_step(X, np.zeros((20, 3)))
    with pytest.raises(ValueError, match="shape"):
        m_step(X, np.log(np.full((10, 3), 1 / 3)))
    with pytest.raises(ValueError, match="log-probabilities"):
        m_step(X, np.full((20, 3), np.nan))
    with pytest.raises(ValueError, match="reg_covar"):
        m_step(X, np.log(np.full((20, 3), 1 / 3)), reg_covar=0)
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        sample_gmm(0, weights, means, covs)
    with pytest.raises(ValueError, match="exceeds n_samples"):
        kmeans_plusplus(X, 21)
    with pytest.raises(ValueError, match="n_features must be >= 1"):
        n_parameters(2, 0)


def test_collapsed_covariance_raises_with_advice():
    from vaelib.gmm._kernels import _precisions_cholesky

    with pytest.raises(ValueError, match="increase reg_covar"):
        _precisions_cholesky(np.zeros((1, 2, 2)), "full")
    with pytest.raises(ValueError, match="increase reg_covar"):
        _precisions_cholesky(np.zeros((1, 2)), "diag")


# ----------------------------------------------------------------------------- exercise checkers
def test_exercise_checkers_are_registered():
    from vaelib.exercises import available

    assert {"gmm-1", "gmm-2", "gmm-3", "gmm-4"} <= set(available())


def test_gmm_1_responsibility(capsys):
    from scipy.stats import norm

    from vaelib.exercises import check

    joint = np.array([0.3 * norm.pdf(0.5, -1, 1), 0.7 * norm.pdf(0.5, 2, 0.5)])
    assert check("gmm-1", joint[0] / joint.sum())
    assert not check("gmm-1", joint[1] / joint.sum())
    assert "other component" in capsys.readouterr().out
    no_weights = norm.pdf(0.5, -1, 1) / (norm.pdf(0.5, -1, 1) + norm.pdf(0.5, 2, 0.5))
    assert not check("gmm-1", no_weights)
    assert "mixing weights" in capsys.readouterr().out
    var_as_std = np.array([0.3 * norm.pdf(0.5, -1, 1), 0.7 * norm.pdf(0.5, 2, np.sqrt(0.5))])
    assert not check("gmm-1", var_as_std[0] / var_as_std.sum())
    assert "σ²" in capsys.readouterr().out
    assert not check("gmm-1", "0.86")


def test_gmm_2_monte_carlo_log_likelihood(capsys):
    from vaelib.exercises import check

    def right(X, weights, means, covariances, L, rng):
        z = rng.choice(len(weights), size=L, p=weights)
        return logsumexp(log_gaussian_prob(X, means[z], covariances[z]), axis=1) - np.log(L)

    def returns_p(X, weights, means, covariances, L, rng):
        return np.exp(right(X, weights, means, covariances, L, rng))

    def uniform_labels(X, weights, means, covariances, L, rng):
        z = rng.integers(len(weights), size=L)
        return logsumexp(log_gaussian_prob(X, means[z], covariances[z]), axis=1) - np.log(L)

    assert check("gmm-2", right)
    assert not check("gmm-2", returns_p)
    assert "log" in capsys.readouterr().out
    assert not check("gmm-2", uniform_labels)
    assert not check("gmm-2", lambda X, *args: np.zeros(3))
    assert "shape" in capsys.readouterr().out
    assert not check("gmm-2", 3.0)


def test_gmm_3_parameter_count(capsys):
    from vaelib.exercises import check

    def right(K, D, covariance_type):
        return (K - 1) + K * D + K * (D * (D + 1) // 2 if covariance_type == "full" else D)

    assert check("gmm-3", right)
    assert not check("gmm-3", lambda K, D, ct: right(K, D, ct) + 1)
    assert "K - 1" in capsys.readouterr().out
    assert not check("gmm-3", lambda K, D, ct: (K - 1) + K * D + K * (D * D if ct == "full" else D))
    assert "symmetric" in capsys.readouterr().out


def test_gmm_4_symmetric_start(capsys):
    """The final log-likelihood from three identical components: that of one Gaussian,
    computed here with scipy from the chapter's data (independent of the checker)."""
    from vaelib import gmm
    from vaelib.exercises import check
    from vaelib.exercises.gmm import ex4_data

    X = ex4_data()
    one_gaussian = multivariate_normal(X.mean(0), np.cov(X.T, bias=True)).logpdf(X).mean()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gmm.ConvergenceWarning)
        run = gmm.fit_gmm(X, 3, weights_init=np.full(3, 1 / 3),
                          means_init=np.tile(X.mean(0), (3, 1)),
                          precisions_init=np.tile(np.linalg.inv(np.cov(X.T, bias=True)), (3, 1, 1)),
                          max_iter=50, tol=0.0)
    assert run.log_likelihoods[-1] == pytest.approx(one_gaussian, abs=1e-9)
    assert check("gmm-4", one_gaussian)
    assert "single" in capsys.readouterr().out
    assert not check("gmm-4", gmm.fit_gmm(X, 3, random_state=0).log_likelihoods[-1])
    assert "k-means++" in capsys.readouterr().out
    assert not check("gmm-4", 1)
    assert "number of distinct components" in capsys.readouterr().out
    assert not check("gmm-4", one_gaussian * 500)
    assert "mean per point" in capsys.readouterr().out
    assert not check("gmm-4", -3.5)
    assert not check("gmm-4", "a saddle")
