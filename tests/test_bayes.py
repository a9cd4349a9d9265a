"""Tests of vaelib.bayes against independent references (chapter 1).

References: scipy.stats (multivariate_normal, norm, beta), scipy.integrate (quad,
dblquad), scipy.special.betaln, Gaussian conditioning by numpy.linalg, a torch
re-implementation of the tiny decoder, and seeded Monte Carlo with tolerances derived
from the standard error.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.special import betaln

from vaelib import bayes

# (n, D, prior_mean, prior_std, noise_std): scalar and vector prior means, n = 1 and n > 1
GAUSSIAN_CASES = [
    (1, 1, 0.0, 1.0, 0.5),
    (5, 1, 0.3, 2.0, 0.7),
    (4, 2, np.array([1.0, -0.5]), 0.8, 1.3),
    (3, 5, 0.0, 1.5, 0.2),
    (10, 3, np.array([0.0, 2.0, -1.0]), 1.0, 3.0),
]


def _data(n, D, prior_mean, prior_std, noise_std, seed=0):
    """x_1..x_n drawn from the conjugate model itself."""
    rng = np.random.default_rng(seed)
    z = prior_mean + prior_std * rng.standard_normal(D)
    return z + noise_std * rng.standard_normal((n, D))


# ---------------------------------------------------------------- conjugate Gaussian
@pytest.mark.parametrize("n, D, m0, s0, sigma", GAUSSIAN_CASES)
def test_log_evidence_matches_scipy_joint_gaussian(n, D, m0, s0, sigma):
    """The nD observations are jointly Gaussian: cov = s0² (1 1ᵀ ⊗ I_D) + σ² I_nD."""
    x = _data(n, D, m0, s0, sigma)
    mean = np.tile(np.broadcast_to(m0, (D,)), n)                  # x.ravel() is row-major
    cov = s0**2 * np.kron(np.ones((n, n)), np.eye(D)) + sigma**2 * np.eye(n * D)
    expected = stats.multivariate_normal(mean, cov).logpdf(x.ravel())
    assert bayes.gaussian_log_evidence(x, m0, s0, sigma) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("n, D, m0, s0, sigma", GAUSSIAN_CASES)
def test_posterior_matches_gaussian_conditioning(n, D, m0, s0, sigma):
    """Condition the joint Gaussian of (z_d, x_{1:n,d}) with numpy.linalg, per coordinate."""
    x = _data(n, D, m0, s0, sigma, seed=1)
    m0_vec = np.broadcast_to(m0, (D,))
    C = s0**2 * np.ones((n, n)) + sigma**2 * np.eye(n)           # cov of x_{:,d}
    c = s0**2 * np.ones(n)                                       # cov(z_d, x_{:,d})
    mean_ref = m0_vec + c @ np.linalg.solve(C, x - m0_vec)
    var_ref = s0**2 - c @ np.linalg.solve(C, c)
    post_mean, post_std = bayes.gaussian_posterior(x, m0, s0, sigma)
    assert post_mean.shape == (D,) and post_std.shape == (D,)
    np.testing.assert_allclose(post_mean, mean_ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(post_std**2, var_ref, rtol=1e-10)


def test_1d_posterior_and_evidence_match_quad():
    """Numerical integration of p(x | z) p(z) over z in 1-D (scipy.integrate.quad)."""
    x = np.array([[0.9], [1.4], [0.4]])
    m0, s0, sigma = -0.5, 1.5, 0.8

    def joint(z):
        return (np.prod(stats.norm.pdf(x[:, 0], loc=z, scale=sigma))
                * stats.norm.pdf(z, loc=m0, scale=s0))

    evidence, _ = integrate.quad(joint, -20, 20, epsabs=0, epsrel=1e-12, points=[0.5])
    mean, _ = integrate.quad(lambda z: z * joint(z) / evidence, -20, 20, epsabs=1e-13,
                             points=[0.5])
    var, _ = integrate.quad(lambda z: (z - mean)**2 * joint(z) / evidence, -20, 20,
                            epsabs=1e-13, points=[0.5])
    post_mean, post_std = bayes.gaussian_posterior(x, m0, s0, sigma)
    assert bayes.gaussian_log_evidence(x, m0, s0, sigma) == pytest.approx(math.log(evidence),
                                                                         abs=1e-9)
    assert post_mean[0] == pytest.approx(mean, abs=1e-9)
    assert post_std[0] == pytest.approx(math.sqrt(var), rel=1e-8)


@pytest.mark.parametrize("n, D, m0, s0, sigma", GAUSSIAN_CASES)
def test_bayes_identity_holds_at_any_z(n, D, m0, s0, sigma):
    """log p(x) = log p(x|z) + log p(z) - log p(z|x) for every z (Bayes rearranged)."""
    x = _data(n, D, m0, s0, sigma, seed=2)
    post_mean, post_std = bayes.gaussian_posterior(x, m0, s0, sigma)
    z = np.random.default_rng(3).standard_normal((7, D))
    log_joint = bayes.gaussian_log_joint(z, x, m0, s0, sigma)
    log_post = stats.norm.logpdf(z, post_mean, post_std).sum(axis=-1)
    np.testing.assert_allclose(log_joint - log_post,
                               bayes.gaussian_log_evidence(x, m0, s0, sigma), atol=1e-9)


def test_log_likelihood_and_joint_match_scipy_norm():
    x = _data(4, 3, 0.0, 1.0, 0.6)
    z = np.random.default_rng(4).standard_normal((2, 5, 3))     # any leading shape
    ll = stats.norm.logpdf(x[None, None], z[:, :, None], 0.6).sum(axis=(-1, -2))
    lp = stats.norm.logpdf(z, 0.5, 2.0).sum(axis=-1)
    np.testing.assert_allclose(bayes.gaussian_log_likelihood(z, x, 0.6), ll, atol=1e-10)
    np.testing.assert_allclose(bayes.gaussian_log_joint(z, x, 0.5, 2.0, 0.6), ll + lp,
                               atol=1e-10)
    assert bayes.gaussian_log_likelihood(z, x, 0.6).shape == (2, 5)


def test_posterior_limits():
    """σ → 0: posterior mean → x̄, std → 0; σ → ∞: posterior → prior."""
    x = _data(6, 2, 0.0, 1.0, 1.0)
    mean, std = bayes.gaussian_posterior(x, 0.0, 1.0, 1e-6)
    np.testing.assert_allclose(mean, x.mean(axis=0), atol=1e-9)
    assert np.all(std < 1e-6)
    mean, std = bayes.gaussian_posterior(x, [0.2, -0.3], 1.0, 1e6)
    np.testing.assert_allclose(mean, [0.2, -0.3], atol=1e-9)
    np.testing.assert_allclose(std, 1.0, rtol=1e-9)


def test_mc_relative_variance_matches_quad():
    """ρ² = E_p(z)[p(x|z)²] / p(x)² - 1 by 1-D numerical integration."""
    x = np.array([[0.7], [1.1]])
    m0, s0, sigma = 0.2, 1.3, 0.9

    def lik(z):
        return np.prod(stats.norm.pdf(x[:, 0], loc=z, scale=sigma))

    first, _ = integrate.quad(lambda z: lik(z) * stats.norm.pdf(z, m0, s0), -30, 30,
                              epsabs=0, epsrel=1e-12)
    second, _ = integrate.quad(lambda z: lik(z)**2 * stats.norm.pdf(z, m0, s0), -30, 30,
                               epsabs=0, epsrel=1e-12)
    expected = second / first**2 - 1.0
    assert bayes.gaussian_mc_relative_variance(x, m0, s0, sigma) == pytest.approx(expected,
                                                                                 rel=1e-8)


def test_mc_relative_variance_factorises_over_coordinates():
    """1 + ρ² is a product over latent coordinates (isotropic prior and noise)."""
    x = _data(3, 4, 0.0, 1.0, 0.5)
    total = bayes.gaussian_mc_relative_variance(x, 0.0, 1.0, 0.5)
    per_coordinate = [bayes.gaussian_mc_relative_variance(x[:, [d]], 0.0, 1.0, 0.5)
                      for d in range(4)]
    assert 1 + total == pytest.approx(np.prod(1 + np.array(per_coordinate)), rel=1e-10)


def test_mc_relative_variance_matches_seeded_monte_carlo():
    """The sample variance of w = p(x|z)/p(x), z ~ prior, estimates ρ².

    In this mild setting (D = 1, σ = s0) w has all moments; the tolerance is 4 standard
    errors of the sample variance, SE = sqrt((m4 - var²) / N) with m4 the sample fourth
    central moment.
    """
    x = np.array([[0.4]])
    rho2 = bayes.gaussian_mc_relative_variance(x, 0.0, 1.0, 1.0)
    rng = np.random.default_rng(5)
    z = rng.standard_normal((200_000, 1))
    w = np.exp(bayes.gaussian_log_likelihood(z, x, 1.0)
               - bayes.gaussian_log_evidence(x, 0.0, 1.0, 1.0))
    var = w.var()
    se = math.sqrt((np.mean((w - w.mean())**4) - var**2) / w.size)
    assert abs(var - rho2) < 4 * se
    assert abs(w.mean() - 1.0) < 4 * w.std() / math.sqrt(w.size)     # E[w] = 1: unbiased


# -------------------------------------------------------------------- Beta–Bernoulli
BERNOULLI_CASES = [
    (np.array([1, 0, 1, 1, 0, 1, 1]), 1.0, 1.0),
    (np.array([0, 0, 0]), 2.0, 5.0),
    (np.array([1]), 0.5, 0.5),
    (np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 0]), 20.0, 20.0),
]


@pytest.mark.parametrize("x, a, b", BERNOULLI_CASES)
def test_beta_bernoulli_evidence_matches_quad_and_betaln(x, a, b):
    k, n = int(x.sum()), x.size
    evidence, _ = integrate.quad(lambda t: t**k * (1 - t)**(n - k) * stats.beta.pdf(t, a, b),
                                 0, 1, epsabs=0, epsrel=1e-11, limit=200)
    log_evidence = bayes.beta_bernoulli_log_evidence(x, a, b)
    assert log_evidence == pytest.approx(math.log(evidence), abs=1e-8)
    assert log_evidence == pytest.approx(betaln(a + k, b + n - k) - betaln(a, b), abs=1e-12)


@pytest.mark.parametrize("x, a, b", BERNOULLI_CASES)
def test_beta_bernoulli_evidence_is_product_of_predictives(x, a, b):
    """Chain rule: p(x_1..x_n) = Π_i p(x_i | x_<i), with p(1 | x_<i) = (a + k_<i)/(a + b + i)."""
    log_p, k = 0.0, 0
    for i, xi in enumerate(x):
        p_one = (a + k) / (a + b + i)
        log_p += math.log(p_one if xi == 1 else 1 - p_one)
        k += int(xi)
    assert bayes.beta_bernoulli_log_evidence(x, a, b) == pytest.approx(log_p, abs=1e-12)


@pytest.mark.parametrize("x, a, b", BERNOULLI_CASES)
def test_beta_bernoulli_posterior_matches_numerical_bayes(x, a, b):
    """Prior (scipy.stats.beta) × likelihood, normalised by quad, equals Beta(a', b')."""
    k, n = int(x.sum()), x.size
    a_post, b_post = bayes.beta_bernoulli_posterior(x, a, b)
    assert (a_post, b_post) == (a + k, b + n - k)
    log_evidence = bayes.beta_bernoulli_log_evidence(x, a, b)
    theta = np.linspace(0.01, 0.99, 41)
    numerical = np.exp(k * np.log(theta) + (n - k) * np.log1p(-theta)
                       + stats.beta.logpdf(theta, a, b) - log_evidence)
    np.testing.assert_allclose(numerical, stats.beta.pdf(theta, a_post, b_post), rtol=1e-9)


# ---------------------------------------------------------------------------- grids
@pytest.mark.parametrize("D, n_per_dim", [(1, 200), (2, 120), (3, 60)])
def test_grid_log_evidence_matches_closed_form(D, n_per_dim):
    x = _data(4, D, 0.0, 1.0, 0.6, seed=D)
    log_joint = lambda z: bayes.gaussian_log_joint(z, x, 0.0, 1.0, 0.6)   # noqa: E731
    grid = bayes.grid_log_evidence(log_joint, D, -7, 7, n_per_dim)
    assert grid == pytest.approx(bayes.gaussian_log_evidence(x, 0.0, 1.0, 0.6), abs=1e-6)


def test_grid_log_evidence_does_not_depend_on_chunking():
    x = _data(2, 3, 0.0, 1.0, 0.8)
    log_joint = lambda z: bayes.gaussian_log_joint(z, x, 0.0, 1.0, 0.8)   # noqa: E731
    values = [bayes.grid_log_evidence(log_joint, 3, -6, 6, 30, chunk_size=c)
              for c in (5, 30, 900, 10**6)]
    np.testing.assert_allclose(values, values[0], atol=1e-12)


def test_grid_axis_is_the_midpoint_rule():
    centres, width = bayes.grid_axis(-1.0, 3.0, 4)
    np.testing.assert_allclose(centres, [-0.5, 0.5, 1.5, 2.5])
    assert width == 1.0


def test_grid_posterior_matches_exact_posterior_in_1d_and_2d():
    x = _data(3, 2, 0.0, 1.0, 0.7)
    post_mean, post_std = bayes.gaussian_posterior(x, 0.0, 1.0, 0.7)
    log_joint = lambda z: bayes.gaussian_log_joint(z, x, 0.0, 1.0, 0.7)   # noqa: E731
    centres, log_post, log_ev = bayes.grid_posterior(log_joint, 2, -6, 6, 241)
    assert log_post.shape == (241, 241)
    h = centres[1] - centres[0]
    assert np.exp(log_post).sum() * h**2 == pytest.approx(1.0, abs=1e-12)
    Z1, Z2 = np.meshgrid(centres, centres, indexing="ij")
    exact = (stats.norm.logpdf(Z1, post_mean[0], post_std[0])
             + stats.norm.logpdf(Z2, post_mean[1], post_std[1]))
    near = exact > exact.max() - 8                               # the posterior's bulk
    np.testing.assert_allclose(log_post[near], exact[near], atol=1e-6)
    assert log_ev == pytest.approx(bayes.gaussian_log_evidence(x, 0.0, 1.0, 0.7), abs=1e-6)
    x1 = x[:, :1]
    _, log_post_1d, _ = bayes.grid_posterior(
        lambda z: bayes.gaussian_log_joint(z, x1, 0.0, 1.0, 0.7), 1, -6, 6, 400)
    c1, _ = bayes.grid_axis(-6, 6, 400)
    m1, s1 = bayes.gaussian_posterior(x1, 0.0, 1.0, 0.7)
    np.testing.assert_allclose(np.exp(log_post_1d), stats.norm.pdf(c1, m1[0], s1[0]),
                               atol=1e-8)


# ------------------------------------------------------------------ Monte Carlo
def test_log_mean_exp_and_ess():
    a = np.random.default_rng(6).normal(size=(3, 50))
    np.testing.assert_allclose(bayes.log_mean_exp(a), np.log(np.mean(np.exp(a), axis=-1)))
    np.testing.assert_allclose(bayes.log_mean_exp(a - 2000.0), bayes.log_mean_exp(a) - 2000.0)
    w = np.exp(a)
    np.testing.assert_allclose(bayes.effective_sample_size(a),
                               w.sum(-1)**2 / (w**2).sum(-1))
    assert bayes.effective_sample_size(np.zeros(40)) == pytest.approx(40.0)
    assert bayes.effective_sample_size([0.0, -800.0, -900.0]) == pytest.approx(1.0)


def test_mc_log_evidence_is_unbiased_in_linear_space_with_the_predicted_spread():
    """R = 400 seeded estimates p̂_r, each from L = 500 prior samples.

    p̂ / p(x) has mean 1 and standard deviation s = sqrt(ρ² / L) exactly
    (gaussian_mc_relative_variance). The mean of R estimates is within 4 s / sqrt(R) of 1;
    the sample standard deviation is within 20 % of s (its relative standard error is
    about sqrt((kurtosis - 1) / (4R)) ≈ 3 % here, so 20 % is several standard errors).
    """
    x = _data(2, 2, 0.0, 1.0, 1.0)
    L, R = 500, 400
    rng = np.random.default_rng(7)
    log_p_hat = bayes.mc_log_evidence(
        lambda z: bayes.gaussian_log_likelihood(z, x, 1.0), 0.0, 1.0, 2, L, rng,
        n_estimates=R)
    assert log_p_hat.shape == (R,)
    ratio = np.exp(log_p_hat - bayes.gaussian_log_evidence(x, 0.0, 1.0, 1.0))
    s = math.sqrt(bayes.gaussian_mc_relative_variance(x, 0.0, 1.0, 1.0) / L)
    assert abs(ratio.mean() - 1.0) < 4 * s / math.sqrt(R)
    assert ratio.std(ddof=1) == pytest.approx(s, rel=0.2)


def test_mc_log_evidence_is_reproducible_and_batch_independent():
    x = _data(1, 3, 0.0, 1.0, 0.5)
    log_lik = lambda z: bayes.gaussian_log_likelihood(z, x, 0.5)   # noqa: E731
    together = bayes.mc_log_evidence(log_lik, 0.0, 1.0, 3, 100, np.random.default_rng(8),
                                     n_estimates=5)
    rng = np.random.default_rng(8)
    one_by_one = [bayes.mc_log_evidence(log_lik, 0.0, 1.0, 3, 100, rng)[0] for _ in range(5)]
    np.testing.assert_array_equal(together, one_by_one)
    # large L and many estimates are drawn in blocks: still the same stream
    big = bayes.mc_log_evidence(log_lik, 0.0, 1.0, 3, 2**19, np.random.default_rng(9),
                                n_estimates=3)
    rng = np.random.default_rng(9)
    np.testing.assert_array_equal(
        big, [bayes.mc_log_evidence(log_lik, 0.0, 1.0, 3, 2**19, rng)[0] for _ in range(3)])


# ------------------------------------------------------------------ tiny decoder
def test_decoder_mean_matches_torch_mlp():
    torch = pytest.importorskip("torch")
    net = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor(bayes.DECODER_W1))
        net[0].bias.copy_(torch.tensor(bayes.DECODER_B1))
        net[2].weight.copy_(torch.tensor(bayes.DECODER_W2))
        net[2].bias.copy_(torch.tensor(bayes.DECODER_B2))
    z = np.random.default_rng(10).normal(size=(4, 6, 2))
    expected = net.double()(torch.tensor(z)).detach().numpy()
    np.testing.assert_allclose(bayes.decoder_mean(z), expected, atol=1e-12)


def test_decoder_is_even_in_z1():
    z = np.random.default_rng(11).normal(size=(20, 2))
    np.testing.assert_allclose(bayes.decoder_mean(z), bayes.decoder_mean(z * [-1, 1]),
                               atol=1e-12)


def test_decoder_log_joint_matches_scipy_and_dblquad():
    x = np.array([[0.5, 0.3], [0.4, 0.2]])
    z = np.random.default_rng(12).normal(size=(5, 2))
    f = bayes.decoder_mean(z)
    expected = stats.multivariate_normal(np.zeros(2)).logpdf(z) + np.array(
        [stats.multivariate_normal(fi, 0.3**2 * np.eye(2)).logpdf(x).sum() for fi in f])
    np.testing.assert_allclose(bayes.decoder_log_joint(z, x, 0.3), expected, atol=1e-10)

    def joint(z2, z1):
        """p(x, z) written out with math (independent of vaelib), for dblquad."""
        h = [math.tanh(2 * z1 + z2 - 1), math.tanh(-2 * z1 + z2 - 1), math.tanh(1.5 * z2)]
        f1, f2 = h[0] + h[1], h[2]
        sq = sum((xi[0] - f1)**2 + (xi[1] - f2)**2 for xi in x)
        return (math.exp(-0.5 * sq / 0.3**2) / (2 * math.pi * 0.3**2)**len(x)
                * math.exp(-0.5 * (z1**2 + z2**2)) / (2 * math.pi))

    # its evidence: grid (midpoint rule) vs scipy's adaptive dblquad
    evidence, _ = integrate.dblquad(joint, -7, 7, -7, 7, epsabs=0, epsrel=1e-8)
    grid = bayes.grid_log_evidence(lambda z: bayes.decoder_log_joint(z, x, 0.3), 2, -7, 7,
                                   400)
    assert grid == pytest.approx(math.log(evidence), abs=1e-6)


# -------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("func", [bayes.gaussian_posterior, bayes.gaussian_log_evidence,
                                  bayes.gaussian_mc_relative_variance])
class TestGaussianBadInputs:
    x = np.zeros((3, 2))

    def test_negative_noise_std(self, func):
        with pytest.raises(ValueError, match="noise_std must be a finite number > 0"):
            func(self.x, 0.0, 1.0, -0.5)

    def test_zero_prior_std(self, func):
        with pytest.raises(ValueError, match="prior_std must be a finite number > 0"):
            func(self.x, 0.0, 0.0, 1.0)

    def test_nan_data(self, func):
        x = self.x.copy()
        x[1, 0] = np.nan
        with pytest.raises(ValueError, match="x contains NaN"):
            func(x, 0.0, 1.0, 1.0)

    def test_one_dimensional_x(self, func):
        with pytest.raises(ValueError, match=r"x must have 2 dimension\(s\).*x\[None, :\]"):
            func(np.zeros(3), 0.0, 1.0, 1.0)

    def test_prior_mean_of_wrong_length(self, func):
        with pytest.raises(ValueError, match=r"prior_mean must be a scalar or have shape \(2,\)"):
            func(self.x, np.zeros(3), 1.0, 1.0)

    def test_nan_prior_mean(self, func):
        with pytest.raises(ValueError, match="prior_mean contains NaN"):
            func(self.x, np.nan, 1.0, 1.0)

    def test_std_given_as_string(self, func):
        with pytest.raises(TypeError, match="noise_std must be a positive number"):
            func(self.x, 0.0, 1.0, "0.5")


def test_z_with_wrong_latent_dimension():
    with pytest.raises(ValueError, match=r"z must have shape \(\.\.\., 2\)"):
        bayes.gaussian_log_joint(np.zeros((4, 3)), np.zeros((3, 2)), 0.0, 1.0, 1.0)
    with pytest.raises(ValueError, match=r"z must have shape \(\.\.\., 2\)"):
        bayes.decoder_mean(np.zeros(5))
    with pytest.raises(ValueError, match=r"x must have shape \(n, 2\)"):
        bayes.decoder_log_joint(np.zeros((1, 2)), np.zeros((3, 4)), 1.0)
    with pytest.raises(ValueError, match="noise_std must be a finite number > 0"):
        bayes.decoder_log_joint(np.zeros((1, 2)), np.zeros((3, 2)), 0.0)


def test_beta_bernoulli_bad_inputs():
    with pytest.raises(ValueError, match="Bernoulli outcomes 0 or 1"):
        bayes.beta_bernoulli_log_evidence([1, 0, 2], 1.0, 1.0)
    with pytest.raises(ValueError, match="a must be a finite number > 0"):
        bayes.beta_bernoulli_posterior([1, 0], -1.0, 1.0)
    with pytest.raises(ValueError, match="b must be a finite number > 0"):
        bayes.beta_bernoulli_log_evidence([1, 0], 1.0, 0.0)
    with pytest.raises(ValueError, match="x contains NaN"):
        bayes.beta_bernoulli_log_evidence([1, np.nan], 1.0, 1.0)
    with pytest.raises(ValueError, match=r"x must have 1 dimension\(s\)"):
        bayes.beta_bernoulli_log_evidence([[1, 0]], 1.0, 1.0)


def test_grid_bad_inputs():
    log_joint = lambda z: -0.5 * (z**2).sum(-1)   # noqa: E731
    with pytest.raises(ValueError, match="latent_dim must be >= 1"):
        bayes.grid_log_evidence(log_joint, 0)
    with pytest.raises(TypeError, match="latent_dim must be an integer"):
        bayes.grid_log_evidence(log_joint, 2.0)
    with pytest.raises(ValueError, match="n_per_dim must be >= 1"):
        bayes.grid_log_evidence(log_joint, 1, n_per_dim=0)
    with pytest.raises(ValueError, match="lo < hi"):
        bayes.grid_log_evidence(log_joint, 1, lo=1.0, hi=-1.0)
    with pytest.raises(ValueError, match="exceeds MAX_GRID_POINTS"):
        bayes.grid_log_evidence(log_joint, 20, n_per_dim=12)
    with pytest.raises(ValueError, match="does not fit in memory"):
        bayes.grid_posterior(log_joint, 4, n_per_dim=100)
    with pytest.raises(ValueError, match="returned NaN"):
        bayes.grid_log_evidence(lambda z: np.full(len(z), np.nan), 1)
    with pytest.raises(ValueError, match=r"to shape \(n_points,\)"):
        bayes.grid_log_evidence(lambda z: np.zeros((len(z), 2)), 1)
    with pytest.raises(ValueError, match=r"widen \[lo, hi\]"):
        bayes.grid_log_evidence(lambda z: np.full(len(z), -np.inf), 2)


def test_mc_bad_inputs():
    log_lik = lambda z: -0.5 * (z**2).sum(-1)   # noqa: E731
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        bayes.mc_log_evidence(log_lik, 0.0, 1.0, 2, 0, rng)
    with pytest.raises(ValueError, match="latent_dim must be >= 1"):
        bayes.mc_log_evidence(log_lik, 0.0, 1.0, 0, 10, rng)
    with pytest.raises(ValueError, match="n_estimates must be >= 1"):
        bayes.mc_log_evidence(log_lik, 0.0, 1.0, 2, 10, rng, n_estimates=0)
    with pytest.raises(ValueError, match="prior_std must be a finite number > 0"):
        bayes.mc_log_evidence(log_lik, 0.0, -1.0, 2, 10, rng)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        bayes.mc_log_evidence(log_lik, 0.0, 1.0, 2, 10, 0)
    with pytest.raises(ValueError, match=r"prior_mean must be a scalar or have shape \(2,\)"):
        bayes.mc_log_evidence(log_lik, [0.0, 1.0, 2.0], 1.0, 2, 10, rng)
    with pytest.raises(ValueError, match="returned NaN"):
        bayes.mc_log_evidence(lambda z: np.full(z.shape[:-1], np.nan), 0.0, 1.0, 2, 10, rng)
    with pytest.raises(ValueError, match="log_likelihood must map"):
        bayes.mc_log_evidence(lambda z: z, 0.0, 1.0, 2, 10, rng)
    with pytest.raises(ValueError, match="NaN"):
        bayes.log_mean_exp([0.0, np.nan])
    with pytest.raises(ValueError, match="NaN"):
        bayes.effective_sample_size([0.0, np.nan])
