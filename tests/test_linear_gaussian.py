"""Tests of vaelib.linear_gaussian against independent references.

References: scipy.stats.multivariate_normal (the evidence and the posterior density),
the conditioning formula of a joint Gaussian computed with dense solves (the posterior),
torch.distributions.kl_divergence (the KLs), sklearn.decomposition.PCA (the ML fit of
probabilistic PCA), and seeded Monte Carlo with tolerances derived from the standard
error.
"""
import numpy as np
import pytest
import scipy.stats as st
import torch
from sklearn.decomposition import PCA
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

from vaelib.linear_gaussian import LinearGaussianModel, LinearGaussianVAE, fit_ppca

SHAPES = [(5, 2), (3, 1), (8, 4), (2, 3)]   # (D_x, D_z), including D_z > D_x


def make_model(input_dim, latent_dim, noise_std=0.5, seed=0):
    rng = np.random.default_rng(seed)
    return LinearGaussianModel(rng.normal(size=(input_dim, latent_dim)),
                               rng.normal(size=input_dim), noise_std)


def random_q(n, latent_dim, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, latent_dim)), np.exp(0.5 * rng.normal(size=(n, latent_dim)))


def joint_conditioning(model, x):
    """p(z | x) from the joint Gaussian [z; x] ~ N([0; b], [[I, W^T], [W, C]]) by dense solves."""
    C = model.W @ model.W.T + model.noise_std ** 2 * np.eye(model.input_dim)
    gain = np.linalg.solve(C, model.W).T                       # W^T C^{-1}, (D_z, D_x)
    mean = (x - model.b) @ gain.T
    cov = np.eye(model.latent_dim) - gain @ model.W
    return mean, cov


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("noise_std", [0.05, 0.5, 3.0])
def test_log_evidence_matches_scipy(shape, noise_std):
    model = make_model(*shape, noise_std=noise_std)
    x, _ = model.sample(7, random_state=3)
    cov = model.W @ model.W.T + noise_std ** 2 * np.eye(shape[0])
    expected = st.multivariate_normal(mean=model.b, cov=cov).logpdf(x)
    np.testing.assert_allclose(model.log_evidence(x), expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(model.marginal_covariance(), cov, rtol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_log_evidence_is_bayes_rule_at_any_z(shape):
    # log p(x) = log p(x | z) + log p(z) - log p(z | x), for every z
    model = make_model(*shape)
    x, _ = model.sample(4, random_state=0)
    mean, cov = model.posterior(x)
    z = np.random.default_rng(5).normal(size=(4, shape[1]))
    log_post = np.array([st.multivariate_normal(mean[i], cov).logpdf(z[i]) for i in range(4)])
    log_prior = st.multivariate_normal(np.zeros(shape[1])).logpdf(z).reshape(4)
    expected = model.log_likelihood(x, z) + log_prior - log_post
    np.testing.assert_allclose(model.log_evidence(x), expected, rtol=1e-9)


@pytest.mark.parametrize("shape", SHAPES)
def test_posterior_matches_joint_gaussian_conditioning(shape):
    model = make_model(*shape, noise_std=0.3)
    x, _ = model.sample(6, random_state=2)
    mean, cov = model.posterior(x)
    ref_mean, ref_cov = joint_conditioning(model, x)
    assert mean.shape == (6, shape[1]) and cov.shape == (shape[1], shape[1])
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(cov, ref_cov, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("seed", range(3))
def test_elbo_plus_kl_is_log_evidence(shape, seed):
    model = make_model(*shape, noise_std=0.2 + seed, seed=seed)
    x, _ = model.sample(10, random_state=seed)
    mu, std = random_q(10, shape[1], seed=seed + 10)
    elbo = model.elbo(x, mu, std)
    kl = model.kl_to_posterior(x, mu, std)
    np.testing.assert_allclose(elbo + kl, model.log_evidence(x), rtol=0, atol=1e-10)
    assert np.all(kl > 0) and np.all(elbo < model.log_evidence(x))
    np.testing.assert_allclose(model.reconstruction(x, mu, std)
                               - model.kl_to_prior(mu, std), elbo, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_kls_match_torch_distributions(shape):
    model = make_model(*shape)
    x, _ = model.sample(5, random_state=1)
    mu, std = random_q(5, shape[1])
    q = Independent(Normal(torch.tensor(mu), torch.tensor(std)), 1)
    mean, cov = model.posterior(x)
    post = MultivariateNormal(torch.tensor(mean), covariance_matrix=torch.tensor(cov))
    prior = Independent(Normal(torch.zeros(5, shape[1], dtype=torch.float64),
                               torch.ones(5, shape[1], dtype=torch.float64)), 1)
    # torch has KL(MVN || MVN) but not KL(Independent || MVN): write q as an MVN
    q_full = MultivariateNormal(torch.tensor(mu),
                                covariance_matrix=torch.diag_embed(torch.tensor(std ** 2)))
    np.testing.assert_allclose(model.kl_to_posterior(x, mu, std),
                               kl_divergence(q_full, post).numpy(), rtol=1e-9)
    np.testing.assert_allclose(model.kl_to_prior(mu, std),
                               kl_divergence(q, prior).numpy(), rtol=1e-12)


def test_kl_vanishes_at_posterior_when_it_is_diagonal():
    # Orthogonal columns of W give a diagonal posterior covariance: q can match it exactly.
    W = np.linalg.qr(np.random.default_rng(0).normal(size=(6, 3)))[0] * np.array([3.0, 2.0, 0.5])
    model = LinearGaussianModel(W, np.zeros(6), 0.7)
    x, _ = model.sample(4, random_state=0)
    mean, cov = model.posterior(x)
    np.testing.assert_allclose(cov, np.diag(np.diag(cov)), atol=1e-14)
    std = np.broadcast_to(np.sqrt(np.diag(cov)), mean.shape)
    np.testing.assert_allclose(model.kl_to_posterior(x, mean, std), 0.0, atol=1e-12)
    np.testing.assert_allclose(model.elbo(x, mean, std), model.log_evidence(x), atol=1e-10)


def test_best_diagonal_q_is_a_stationary_point_and_beats_perturbations():
    model = make_model(5, 3, noise_std=0.4)
    x, _ = model.sample(3, random_state=0)
    mu, std = model.best_diagonal_q(x)
    best = model.elbo(x, mu, std)
    rng = np.random.default_rng(1)
    for _ in range(20):
        dm, ds = 0.1 * rng.normal(size=mu.shape), np.exp(0.1 * rng.normal(size=std.shape))
        assert np.all(model.elbo(x, mu + dm, std * ds) < best)
    # central differences of the ELBO in every coordinate vanish (it is smooth, O(h^2))
    h = 1e-5
    for d in range(3):
        e = np.zeros_like(mu)
        e[:, d] = h
        grad_m = (model.elbo(x, mu + e, std) - model.elbo(x, mu - e, std)) / (2 * h)
        grad_s = (model.elbo(x, mu, std + e) - model.elbo(x, mu, std - e)) / (2 * h)
        np.testing.assert_allclose(grad_m, 0.0, atol=1e-5)
        np.testing.assert_allclose(grad_s, 0.0, atol=1e-5)


def test_reconstruction_matches_seeded_monte_carlo():
    model = make_model(5, 2)
    x, _ = model.sample(4, random_state=0)
    mu, std = random_q(4, 2)
    L = 200_000
    z = mu + std * np.random.default_rng(0).standard_normal((L, 4, 2))
    values = model.log_likelihood(x, z)                           # (L, n)
    stderr = values.std(axis=0) / np.sqrt(L)
    # 5 standard errors: a false alarm has probability ~6e-7 per entry
    assert np.all(np.abs(values.mean(axis=0) - model.reconstruction(x, mu, std))
                  < 5 * stderr)


def test_elbo_estimate_is_unbiased_and_its_variance_falls_as_one_over_L():
    model = make_model(4, 2, noise_std=0.8)
    x, _ = model.sample(2, random_state=0)
    mu, std = model.best_diagonal_q(x)
    std = 1.5 * std
    exact = model.elbo(x, mu, std)
    rng = np.random.default_rng(0)
    R = 4000                                                     # repetitions per L
    variances = {}
    for L in (1, 4, 16):
        est = np.stack([model.elbo_estimate(x, mu, std, L, rng) for _ in range(R)])
        stderr = est.std(axis=0) / np.sqrt(R)
        assert np.all(np.abs(est.mean(axis=0) - exact) < 5 * stderr)   # unbiased, 5 SE
        variances[L] = est.var(axis=0)
    # the sample variance of R draws has relative SE ~ sqrt(2 / R) * sqrt(kurtosis factor);
    # a 25 % band around the exact ratio 4 is > 5 such SEs wide here.
    for a, b in ((1, 4), (4, 16)):
        np.testing.assert_allclose(variances[a] / variances[b], 4.0, rtol=0.25)


def test_sample_has_the_marginal_covariance():
    model = make_model(3, 2, noise_std=0.5)
    n = 100_000
    X, Z = model.sample(n, random_state=0)
    assert X.shape == (n, 3) and Z.shape == (n, 2)
    C = model.marginal_covariance()
    # SE of an empirical covariance entry: sqrt((C_ii C_jj + C_ij^2) / n); allow 5 SE
    se = np.sqrt((np.outer(np.diag(C), np.diag(C)) + C ** 2) / n)
    assert np.all(np.abs(np.cov(X.T, bias=True) - C) < 5 * se)
    assert np.all(np.abs(X.mean(axis=0) - model.b) < 5 * np.sqrt(np.diag(C) / n))
    np.testing.assert_array_equal(model.sample(5, random_state=1)[0],
                                  model.sample(5, random_state=np.random.default_rng(1))[0])


def test_fit_ppca_matches_sklearn_pca():
    rng = np.random.default_rng(0)
    true = make_model(6, 2, noise_std=0.3)
    X, _ = true.sample(500, random_state=rng)
    model = fit_ppca(X, latent_dim=2)
    pca = PCA(n_components=2).fit(X)
    n = X.shape[0]
    # sklearn divides by n - 1; the maximum-likelihood estimate divides by n.
    np.testing.assert_allclose(model.marginal_covariance(),
                               pca.get_covariance() * (n - 1) / n, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(model.noise_std ** 2, pca.noise_variance_ * (n - 1) / n,
                               rtol=1e-9)
    np.testing.assert_allclose(model.b, X.mean(axis=0), rtol=1e-12)
    # W^T W is diagonal (R = I) and the fit is a maximum: perturbing W lowers log p(X)
    WtW = model.W.T @ model.W
    np.testing.assert_allclose(WtW, np.diag(np.diag(WtW)), atol=1e-10)
    best = model.log_evidence(X).sum()
    for seed in range(5):
        dW = 0.05 * np.random.default_rng(seed).normal(size=model.W.shape)
        other = LinearGaussianModel(model.W + dW, model.b, model.noise_std)
        assert other.log_evidence(X).sum() < best
    for scale in (0.9, 1.1):
        other = LinearGaussianModel(model.W, model.b, scale * model.noise_std)
        assert other.log_evidence(X).sum() < best


def test_fit_ppca_with_a_fixed_noise_keeps_only_directions_above_it():
    # data with covariance eigenvalues 4, 1, 0.25, 0.04 along random orthogonal axes
    rng = np.random.default_rng(3)
    U = np.linalg.qr(rng.normal(size=(4, 4)))[0]
    X = rng.normal(size=(2000, 4)) * np.array([2.0, 1.0, 0.5, 0.2]) @ U.T
    eig = PCA().fit(X).explained_variance_ * (len(X) - 1) / len(X)        # ML: divide by n
    for sigma in (0.1, 0.4, 0.8, 1.5):
        model = fit_ppca(X, 4, noise_std=sigma)
        lengths = np.sort(np.sum(model.W ** 2, axis=0))[::-1]
        np.testing.assert_allclose(lengths, np.maximum(eig - sigma ** 2, 0.0), atol=1e-10)
        assert model.noise_std == sigma
        # a maximum over W: small perturbations of W (nonzero columns included) lower log p(X)
        best = model.log_evidence(X).sum()
        for seed in range(5):
            dW = 0.02 * np.random.default_rng(seed).normal(size=model.W.shape)
            assert LinearGaussianModel(model.W + dW, model.b, sigma).log_evidence(X).sum() < best
    with pytest.raises(ValueError, match="noise_std"):
        fit_ppca(X, 2, noise_std=-1.0)
    with pytest.raises(ValueError, match="smaller than the number of features"):
        fit_ppca(X, 5, noise_std=0.5)


def test_torch_wrapper_matches_the_model():
    model = make_model(5, 3, noise_std=0.4)
    x, _ = model.sample(4, random_state=0)
    vae = LinearGaussianVAE(model, mean_offset=0.3, std_scale=2.0)
    mu, logvar = vae.encode(torch.tensor(x))
    best_mu, best_std = model.best_diagonal_q(x)
    np.testing.assert_allclose(mu.numpy(), best_mu + 0.3, rtol=1e-10)
    np.testing.assert_allclose(torch.exp(0.5 * logvar).numpy(), 2.0 * best_std, rtol=1e-12)
    z = np.random.default_rng(0).normal(size=(7, 4, 3))
    decoded = vae.decode(torch.tensor(z))
    assert decoded.shape == (7, 4, 5)
    np.testing.assert_allclose(vae.log_likelihood(torch.tensor(x), decoded).numpy(),
                               model.log_likelihood(x, z), rtol=1e-12)
    decoded, mu2, _ = vae(torch.tensor(x))
    assert decoded.shape == (4, 5) and torch.equal(mu, mu2)


# -- bad inputs ---------------------------------------------------------------------
def test_bad_model_parameters():
    W, b = np.ones((4, 2)), np.zeros(4)
    with pytest.raises(ValueError, match="noise_std must be a finite number > 0"):
        LinearGaussianModel(W, b, -0.5)
    with pytest.raises(ValueError, match="noise_std must be a finite number > 0"):
        LinearGaussianModel(W, b, 0.0)
    with pytest.raises(TypeError, match="noise_std must be a positive number"):
        LinearGaussianModel(W, b, "1")
    with pytest.raises(ValueError, match="W contains NaN"):
        LinearGaussianModel(np.full((4, 2), np.nan), b, 1.0)
    with pytest.raises(ValueError, match="W must have 2 dimension"):
        LinearGaussianModel(np.ones(4), b, 1.0)
    with pytest.raises(ValueError, match=r"b must have shape \(input_dim,\) = \(4,\)"):
        LinearGaussianModel(W, np.zeros(3), 1.0)


def test_bad_data_and_q():
    model = make_model(4, 2)
    x, _ = model.sample(3, random_state=0)
    mu, std = random_q(3, 2)
    with pytest.raises(ValueError, match=r"A single example x is x\[None, :\]"):
        model.log_evidence(x[0])
    with pytest.raises(ValueError, match=r"x must have shape \(n, input_dim\) with input_dim = 4"):
        model.posterior(x[:, :3])
    with pytest.raises(ValueError, match="x contains NaN"):
        model.log_evidence(np.where(x > 0, np.nan, x))
    with pytest.raises(ValueError, match="std must be > 0 everywhere"):
        model.elbo(x, mu, -std)
    with pytest.raises(ValueError, match=r"mu must have shape \(n, latent_dim\) = \(3, 2\)"):
        model.kl_to_posterior(x, mu[:2], std)
    with pytest.raises(ValueError, match=r"std must have shape \(n, latent_dim\) = \(3, 2\)"):
        model.elbo(x, mu, std[:, :1])
    with pytest.raises(ValueError, match="mu contains NaN"):
        model.elbo(x, np.full_like(mu, np.nan), std)
    with pytest.raises(ValueError, match=r"z must have shape \(\.\.\., n, latent_dim\)"):
        model.log_likelihood(x, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        model.elbo_estimate(x, mu, std, 0)
    with pytest.raises(TypeError, match="n_samples must be an integer"):
        model.elbo_estimate(x, mu, std, 2.5)
    with pytest.raises(ValueError, match="n must be >= 1"):
        model.sample(0)
    with pytest.raises(TypeError, match="random_state must be None, a non-negative int"):
        model.sample(3, random_state="seed")


def test_bad_fit_and_wrapper_arguments():
    X = np.random.default_rng(0).normal(size=(50, 4))
    with pytest.raises(ValueError, match="latent_dim must be >= 1"):
        fit_ppca(X, 0)
    with pytest.raises(ValueError, match="latent_dim must be smaller than the number of features"):
        fit_ppca(X, 4)
    with pytest.raises(ValueError, match="ML noise variance is 0"):
        fit_ppca(X[:, :1] @ np.ones((1, 4)), 2)
    model = make_model(4, 2)
    with pytest.raises(ValueError, match="std_scale must be a finite number > 0"):
        LinearGaussianVAE(model, std_scale=-1.0)
    with pytest.raises(ValueError, match=r"mean_offset must be a number or have shape \(2,\)"):
        LinearGaussianVAE(model, mean_offset=[0.0, 1.0, 2.0])
    with pytest.raises(TypeError, match="model must be a LinearGaussianModel"):
        LinearGaussianVAE("not a model")
