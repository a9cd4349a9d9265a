"""Tests of chapter 1's approximations against independent references.

The Laplace approximation against the conjugate model's closed form
(``gaussian_posterior``, ``gaussian_log_evidence``), against a closed-form non-Gaussian
log-joint, and against torch's automatic derivatives of the tiny decoder; the grid's
convergence table and moments against closed forms; the importance weights' relative
variance against ``scipy.integrate.quad`` and seeded Monte Carlo with a tolerance from
the standard error.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from vaelib import bayes

# (n, d, prior_mean, prior_std, noise_std)
CONJUGATE_CASES = [
    (1, 1, 0.0, 1.0, 0.5),
    (3, 2, 0.7, 2.0, 0.3),
    (5, 4, -1.0, 0.5, 1.5),
    (1, 10, 0.0, 1.0, 0.05),
]


def _data(n, d, m0, s0, sigma, seed=0):
    rng = np.random.default_rng(seed)
    return m0 + s0 * rng.standard_normal(d) + sigma * rng.standard_normal((n, d))


# --------------------------------------------------------------------------- Laplace
@pytest.mark.parametrize("n, d, m0, s0, sigma", CONJUGATE_CASES)
def test_laplace_is_exact_on_the_conjugate_model(n, d, m0, s0, sigma):
    """A Gaussian posterior: mode = posterior mean, cov = s_n² I, evidence exact."""
    x = _data(n, d, m0, s0, sigma)

    def log_joint(z):
        return bayes.gaussian_log_joint(z, x, m0, s0, sigma)

    z_init = np.full(d, 3.0)                                 # far from the mode
    mode, cov = bayes.laplace_approximation(log_joint, z_init)
    post_mean, post_std = bayes.gaussian_posterior(x, m0, s0, sigma)
    assert mode.shape == (d,) and cov.shape == (d, d)
    np.testing.assert_allclose(mode, post_mean, rtol=0, atol=1e-8 * post_std.max())
    np.testing.assert_allclose(cov, np.diag(post_std**2), rtol=0, atol=1e-6 * post_std.max()**2)
    assert bayes.laplace_log_evidence(log_joint, mode, cov) == pytest.approx(
        bayes.gaussian_log_evidence(x, m0, s0, sigma), abs=1e-6)


def test_laplace_matches_a_closed_form_non_gaussian_log_joint():
    """log p(x, z) = a z - b e^z (a Gamma(a, b) rate r = e^z in log coordinates):
    mode log(a / b), curvature -b e^z = -a there, so cov = 1 / a; and the integral
    ∫ exp(a z - b e^z) dz = Γ(a) / b^a, against which the Laplace evidence is Stirling."""
    a, b = 7.0, 2.5
    mode, cov = bayes.laplace_approximation(lambda z: a * z[:, 0] - b * np.exp(z[:, 0]),
                                            np.array([0.0]))
    assert mode[0] == pytest.approx(math.log(a / b), abs=1e-9)
    assert cov[0, 0] == pytest.approx(1.0 / a, rel=1e-6)
    exact = math.lgamma(a) - a * math.log(b)
    laplace = bayes.laplace_log_evidence(lambda z: a * z[:, 0] - b * np.exp(z[:, 0]), mode, cov)
    # Stirling: log Γ(a) ≈ (a - ½) log a - a + ½ log 2π, error 1/(12 a) + O(a^-3)
    assert laplace - exact == pytest.approx(-1 / (12 * a), abs=1 / (360 * a**3) + 1e-7)


def _decoder_torch(z, x, sigma):
    W1, b1 = torch.tensor(bayes.DECODER_W1), torch.tensor(bayes.DECODER_B1)
    W2, b2 = torch.tensor(bayes.DECODER_W2), torch.tensor(bayes.DECODER_B2)
    f = torch.tanh(z @ W1.T + b1) @ W2.T + b2
    lik = torch.distributions.Normal(f, sigma).log_prob(torch.tensor(x[0])).sum()
    return lik + torch.distributions.Normal(0.0, 1.0).log_prob(z).sum()


@pytest.mark.parametrize("obs, sigma, z_init", [
    ([-0.5, -0.5], 0.3, [1.0, 0.0]), ([-0.5, -0.5], 0.05, [-1.0, 0.0]),
    ([0.9, 0.8], 0.3, [0.5, 1.0]), ([0.5, 0.3], 0.1, [1.0, 0.0])])
def test_laplace_on_the_tiny_decoder_matches_torch_derivatives(obs, sigma, z_init):
    """At the returned mode torch's gradient vanishes and cov = (-torch Hessian)^{-1}."""
    x = np.array([obs])
    mode, cov = bayes.laplace_approximation(
        lambda z: bayes.decoder_log_joint(z, x, sigma), np.array(z_init))
    z = torch.tensor(mode, requires_grad=True)
    grad = torch.autograd.grad(_decoder_torch(z, x, sigma), z)[0].numpy()
    hess = torch.autograd.functional.hessian(lambda v: _decoder_torch(v, x, sigma),
                                             torch.tensor(mode)).numpy()
    scale = np.sqrt(np.diag(cov))
    assert np.max(np.abs(grad) * scale) < 1e-6                  # stationary, in std units
    np.testing.assert_allclose(cov, np.linalg.inv(-hess), rtol=1e-5,
                               atol=1e-7 * scale.max()**2)


def test_laplace_finds_the_mirror_mode_from_the_mirror_start():
    """f is even in z_1: the posterior's two modes are mirror images."""
    x = np.array([[-0.5, -0.5]])

    def log_joint(z):
        return bayes.decoder_log_joint(z, x, 0.2)

    right, cov_r = bayes.laplace_approximation(log_joint, np.array([1.0, 0.0]))
    left, cov_l = bayes.laplace_approximation(log_joint, np.array([-1.0, 0.0]))
    np.testing.assert_allclose(left, right * [-1, 1], atol=1e-9)
    np.testing.assert_allclose(cov_l, cov_r * np.array([[1, -1], [-1, 1]]), rtol=1e-6,
                               atol=1e-12)


def test_laplace_bad_inputs():
    good = lambda z: -0.5 * (z**2).sum(-1)                              # noqa: E731
    with pytest.raises(TypeError, match="log_joint must be a function"):
        bayes.laplace_approximation(3.0, np.zeros(2))
    with pytest.raises(ValueError, match="1 dimension"):
        bayes.laplace_approximation(good, np.zeros((1, 2)))
    with pytest.raises(ValueError, match="NaN"):
        bayes.laplace_approximation(good, np.array([np.nan, 0.0]))
    with pytest.raises(ValueError, match=r"to shape\s+\(n_points,\)"):
        bayes.laplace_approximation(lambda z: (z**2), np.zeros(2))
    with pytest.raises(ValueError, match="NaN or \\+inf"):
        bayes.laplace_approximation(lambda z: np.full(len(z), np.nan), np.zeros(2))
    with pytest.raises(ValueError, match="-inf"):
        bayes.laplace_approximation(lambda z: np.where(z[:, 0] > 5, 0.0, -np.inf),
                                    np.zeros(1))
    with pytest.raises(ValueError, match="ran away|not strictly concave"):
        bayes.laplace_approximation(lambda z: (z**2).sum(-1), np.array([0.3, 0.1]))
    with pytest.raises(ValueError, match="not strictly concave"):   # a saddle point
        bayes.laplace_approximation(lambda z: -z[:, 0]**2 + z[:, 1]**2, np.zeros(2))
    mode, cov = bayes.laplace_approximation(good, np.ones(2))
    with pytest.raises(ValueError, match="positive definite"):
        bayes.laplace_log_evidence(good, mode, -cov)
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        bayes.laplace_log_evidence(good, mode, np.eye(3))


# ------------------------------------------------------------------ grids, moments
def test_grid_log_evidence_table_sees_a_truncating_box():
    """The box [-1, 1] cuts off mass: refining its spacing cannot reveal it, a wider box
    does. All against the closed form."""
    x = np.array([[1.2, -0.4]])
    exact = bayes.gaussian_log_evidence(x, 0.0, 1.0, 0.5)
    table = bayes.grid_log_evidence_table(
        lambda z: bayes.gaussian_log_joint(z, x, 0.0, 1.0, 0.5), 2,
        boxes=[(-1, 1), (-6, 6), (-9, 9)], n_per_dims=[101, 201])
    assert table.shape == (3, 2)
    assert abs(table[0, 0] - table[0, 1]) < 1e-4 and exact - table[0, 1] > 0.1   # blind, wrong
    np.testing.assert_allclose(table[1:], exact, atol=1e-9)
    with pytest.raises(ValueError, match="pairs"):
        bayes.grid_log_evidence_table(lambda z: -z[:, 0]**2, 1, boxes=[(1, 2, 3)],
                                      n_per_dims=[10])
    with pytest.raises(ValueError, match="n_per_dims"):
        bayes.grid_log_evidence_table(lambda z: -z[:, 0]**2, 1, boxes=[(-1, 1)],
                                      n_per_dims=[])


def test_grid_moments_match_the_conjugate_posterior_and_a_skewed_density():
    x = np.array([[0.9, -1.1], [1.3, -0.2]])
    centres, log_post, _ = bayes.grid_posterior(
        lambda z: bayes.gaussian_log_joint(z, x, 0.0, 1.0, 0.8), 2, -5, 5, 201)
    mean, cov = bayes.grid_moments(centres, log_post)
    post_mean, post_std = bayes.gaussian_posterior(x, 0.0, 1.0, 0.8)
    np.testing.assert_allclose(mean, post_mean, atol=1e-10)
    np.testing.assert_allclose(cov, np.diag(post_std**2), atol=1e-10)
    # 1-D: a Gamma(3, 1) density against scipy's moments
    centres, log_post, _ = bayes.grid_posterior(
        lambda z: np.where(z[:, 0] > 0, stats.gamma(3.0).logpdf(np.abs(z[:, 0])), -np.inf),
        1, 0.0, 40.0, 40_000)
    mean, cov = bayes.grid_moments(centres, log_post)
    assert mean[0] == pytest.approx(3.0, abs=1e-6) and cov[0, 0] == pytest.approx(3.0, abs=1e-5)


def test_grid_moments_bad_inputs():
    centres = np.linspace(-1, 1, 5)
    with pytest.raises(ValueError, match="shape"):
        bayes.grid_moments(centres, np.zeros((5, 4)))
    with pytest.raises(ValueError, match="sum to"):
        bayes.grid_moments(centres, np.zeros(5))
    with pytest.raises(ValueError, match="NaN"):
        bayes.grid_moments(centres, np.full(5, np.nan))


# ------------------------------------------------------------ importance weights
@pytest.mark.parametrize("shift, ratio", [(0.0, 1.0), (0.1, 1.1), (-0.7, 0.9), (1.5, 2.0)])
def test_importance_relative_variance_matches_quad(shift, ratio):
    """1 + ρ² = ∫ p(z)² / q(z) dz for p = N(m, s²), q = N(m + shift s, (ratio s)²)."""
    m, s = 0.4, 0.3
    p, q = stats.norm(m, s), stats.norm(m + shift * s, ratio * s)
    second, _ = integrate.quad(lambda z: p.pdf(z)**2 / q.pdf(z), m - 30 * s, m + 30 * s,
                               epsabs=0, epsrel=1e-12, points=[m])
    rho2 = bayes.gaussian_importance_relative_variance([m], [s], [m + shift * s], [ratio * s])
    assert rho2 == pytest.approx(second - 1.0, rel=1e-8, abs=1e-12)


def test_importance_relative_variance_compounds_over_coordinates():
    """1 + ρ² = Π_j (1 + ρ_j²): the law that makes a close q fail at d = 1,000."""
    one = bayes.gaussian_importance_relative_variance([0.0], [1.0], [0.1], [1.1])
    for d in (10, 100, 1000):
        rho2 = bayes.gaussian_importance_relative_variance(np.zeros(d), np.ones(d),
                                                           np.full(d, 0.1), np.full(d, 1.1))
        assert math.log1p(rho2) == pytest.approx(d * math.log1p(one), rel=1e-12)
    assert bayes.gaussian_importance_relative_variance([0.0], [1.0], [0.0], [0.7]) == math.inf


def test_importance_relative_variance_matches_seeded_monte_carlo():
    """Var_q[w / p(x)] from 400,000 seeded draws of q, d = 3; tolerance: 4 standard errors
    of the sample variance, sqrt((m4 - var²) / N)."""
    post_mean, post_std = np.array([0.5, -1.0, 2.0]), np.array([0.3, 0.5, 1.0])
    q_mean, q_std = post_mean + 0.3 * post_std, 1.2 * post_std
    rho2 = bayes.gaussian_importance_relative_variance(post_mean, post_std, q_mean, q_std)
    z = q_mean + q_std * np.random.default_rng(11).standard_normal((400_000, 3))
    w = np.exp(stats.norm.logpdf(z, post_mean, post_std).sum(-1)
               - stats.norm.logpdf(z, q_mean, q_std).sum(-1))       # w / p(x)
    var = w.var()
    se = math.sqrt((np.mean((w - w.mean())**4) - var**2) / w.size)
    assert abs(var - rho2) < 4 * se
    assert abs(w.mean() - 1.0) < 4 * w.std() / math.sqrt(w.size)      # unbiased


def test_importance_relative_variance_bad_inputs():
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        bayes.gaussian_importance_relative_variance([0.0, 1.0], [1.0, 1.0], [0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="> 0"):
        bayes.gaussian_importance_relative_variance([0.0], [-1.0], [0.0], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        bayes.gaussian_importance_relative_variance([np.nan], [1.0], [0.0], [1.0])
