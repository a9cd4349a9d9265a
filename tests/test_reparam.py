"""Tests of vaelib.reparam against torch.distributions, scipy.stats and closed forms."""
import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch.distributions import Normal

from vaelib.reparam import (log_density_from_noise, log_normal_diag, moment_intervals,
                            reparameterize, sample)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


# --- sample: shape, moments ---------------------------------------------------------
def test_sample_shape_and_dtype():
    mu = torch.zeros(3, 5)
    z = sample(mu, torch.zeros(3, 5), 7, generator=_gen())
    assert z.shape == (7, 3, 5) and z.dtype == torch.float32


@pytest.mark.parametrize("std", [0.1, 1.0, 3.0])
@pytest.mark.parametrize("latent_dim", [1, 8, 32])
def test_sample_moments_inside_confidence_intervals(std, latent_dim):
    # Seeded Monte Carlo: 20,000 draws per coordinate. The t and chi-square intervals of
    # moment_intervals are exact for Gaussian draws; with a Bonferroni level of
    # 1 - 0.01 / (2 * latent_dim) all 2 * latent_dim intervals hold with prob >= 0.99.
    g = _gen(1)
    mu = torch.linspace(-2, 2, latent_dim).reshape(1, -1)
    logvar = torch.full_like(mu, 2 * math.log(std))
    z = sample(mu.double(), logvar.double(), 20_000, generator=g)[:, 0, :]
    m = moment_intervals(z, confidence=1 - 0.01 / (2 * latent_dim))
    true_mu, true_var = mu[0].numpy(), std ** 2
    assert np.all((m.mean_low <= true_mu) & (true_mu <= m.mean_high))
    assert np.all((m.var_low <= true_var) & (true_var <= m.var_high))


def test_sample_with_variance_instead_of_std_gives_std_to_the_fourth():
    # the article's z = mu + Sigma * eps: Var[z] = std**4, outside the interval of std**2
    std = 0.5
    eps = torch.randn(50_000, 1, generator=_gen(0), dtype=torch.float64)
    z_wrong = 0.0 + std ** 2 * eps
    m = moment_intervals(z_wrong, confidence=0.999)
    assert m.var_low[0] <= std ** 4 <= m.var_high[0]
    assert not m.var_low[0] <= std ** 2 <= m.var_high[0]


# --- role 1: the graph --------------------------------------------------------------
def test_dz_dmu_is_one_and_dz_dstd_is_eps_exactly():
    std = torch.tensor([[0.3, 1.7, 2.0]], dtype=torch.float64, requires_grad=True)
    mu = torch.tensor([[0.1, -1.0, 4.0]], dtype=torch.float64, requires_grad=True)
    logvar = 2 * torch.log(std)
    z = sample(mu, logvar, 4, generator=_gen(3))
    eps = torch.randn((4, 1, 3), dtype=torch.float64, generator=_gen(3))  # same stream
    for l in range(4):
        for d in range(3):
            g_mu, g_std = torch.autograd.grad(z[l, 0, d], (mu, std), retain_graph=True)
            expected = torch.zeros_like(mu)
            expected[0, d] = 1.0
            assert torch.equal(g_mu, expected)                     # dz/dmu = 1, exactly
            expected[0, d] = eps[l, 0, d]
            # dz/dstd = eps up to the round-off of exp(log(std)) (1 ulp in float64)
            torch.testing.assert_close(g_std, expected, rtol=1e-15, atol=1e-15)


def test_dz_dlogvar_is_half_std_eps():
    mu = torch.zeros(2, 3, requires_grad=True)
    logvar = torch.tensor([[0.0, -1.0, 1.0], [2.0, 0.5, -3.0]], requires_grad=True)
    z = sample(mu, logvar, 1, generator=_gen(4))
    (g_logvar,) = torch.autograd.grad(z.sum(), logvar)
    eps = torch.randn((1, 2, 3), generator=_gen(4))
    assert torch.equal(g_logvar, (0.5 * torch.exp(0.5 * logvar) * eps[0]).detach())


def test_normal_sample_cuts_the_graph_and_rsample_keeps_it():
    mu = torch.zeros(2, 3, requires_grad=True)
    logvar = torch.zeros(2, 3, requires_grad=True)
    q = Normal(mu, torch.exp(0.5 * logvar))
    z = q.sample()
    assert not z.requires_grad and z.grad_fn is None
    with pytest.raises(RuntimeError, match="does not require grad"):
        z.sum().backward()
    zr = q.rsample()
    assert zr.requires_grad
    zr.sum().backward()
    assert torch.equal(mu.grad, torch.ones_like(mu))


@pytest.mark.parametrize("n_samples", [1, 5])
def test_rsample_matches_sample_with_the_same_generator_state(n_samples):
    mu = torch.tensor([[0.5, -1.0], [2.0, 0.0]])
    logvar = torch.tensor([[0.0, -2.0], [1.0, 0.3]])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(11)
        z_torch = Normal(mu, torch.exp(0.5 * logvar)).rsample((n_samples,))
        torch.manual_seed(11)
        z_global = sample(mu, logvar, n_samples)
    z_gen = sample(mu, logvar, n_samples, generator=_gen(11))
    assert torch.equal(z_torch, z_global)
    assert torch.equal(z_torch, z_gen)


# --- reparameterize, log_normal_diag --------------------------------------------------
def test_reparameterize_equals_sample_for_the_same_eps():
    mu = torch.randn(4, 3, generator=_gen(5))
    logvar = torch.randn(4, 3, generator=_gen(6))
    eps = torch.randn((6, 4, 3), generator=_gen(7))
    assert torch.equal(reparameterize(mu, logvar, eps), sample(mu, logvar, 6, generator=_gen(7)))


def test_reparameterize_broadcasts_a_grid_over_a_batch():
    mu = torch.tensor([[0.0, 0.0], [1.0, -1.0]])
    logvar = torch.log(torch.tensor([[1.0, 4.0], [0.25, 0.25]]))
    grid = torch.tensor([[1.0, 1.0], [-1.0, 2.0], [0.0, 0.0]])
    z = reparameterize(mu, logvar, grid[:, None, :])
    expected = torch.tensor([[[1.0, 2.0], [1.5, -0.5]], [[-1.0, 4.0], [0.5, 0.0]],
                             [[0.0, 0.0], [1.0, -1.0]]])
    torch.testing.assert_close(z, expected)


def test_log_normal_diag_matches_torch_and_scipy():
    mu = torch.tensor([[0.5, -1.0, 2.0]], dtype=torch.float64)
    logvar = torch.tensor([[0.0, -1.0, 1.5]], dtype=torch.float64)
    z = torch.randn((4, 1, 3), dtype=torch.float64, generator=_gen(8))
    ours = log_normal_diag(z, mu, logvar)
    ref = Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)
    torch.testing.assert_close(ours, ref)
    cov = np.diag(np.exp(logvar[0].numpy()))
    sp = stats.multivariate_normal(mu[0].numpy(), cov).logpdf(z[:, 0].numpy())
    np.testing.assert_allclose(ours[:, 0].numpy(), sp, rtol=1e-12)


# --- moment_intervals against scipy -------------------------------------------------
def test_moment_intervals_match_scipy_intervals():
    x = np.random.default_rng(0).normal(1.0, 2.0, size=(50, 2))
    m = moment_intervals(x, confidence=0.95)
    lo, hi = stats.t.interval(0.95, df=49, loc=x.mean(0), scale=stats.sem(x, axis=0))
    np.testing.assert_allclose(m.mean_low, lo)
    np.testing.assert_allclose(m.mean_high, hi)
    s2 = x.var(0, ddof=1)
    np.testing.assert_allclose(m.var_low, 49 * s2 / stats.chi2.ppf(0.975, 49))
    np.testing.assert_allclose(m.var_high, 49 * s2 / stats.chi2.ppf(0.025, 49))


def test_moment_intervals_coverage():
    # 4,000 seeded experiments of n = 20 draws: the 90 % variance interval must cover
    # the truth in 90 % +- 4 binomial standard errors (sqrt(0.09 / 4000) = 0.0047).
    x = np.random.default_rng(1).normal(0.0, 1.5, size=(20, 4000))
    m = moment_intervals(x, confidence=0.9)
    cover = np.mean((m.var_low <= 2.25) & (2.25 <= m.var_high))
    assert abs(cover - 0.9) < 4 * 0.0047


# --- bad inputs ---------------------------------------------------------------------
def test_sample_bad_inputs():
    mu = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        sample(mu, mu, 0)
    with pytest.raises(TypeError, match="n_samples must be an integer"):
        sample(mu, mu, 2.5)
    with pytest.raises(ValueError, match="same shape"):
        sample(mu, torch.zeros(2, 4), 1)
    with pytest.raises(ValueError, match="2 dimension"):
        sample(torch.zeros(3), torch.zeros(3), 1)
    with pytest.raises(ValueError, match="NaN"):
        sample(torch.tensor([[float("nan")]]), torch.zeros(1, 1), 1)
    with pytest.raises(TypeError, match="torch.Tensor"):
        sample(np.zeros((2, 3)), mu, 1)
    with pytest.raises(TypeError, match="floating-point"):
        sample(torch.zeros(2, 3, dtype=torch.long), mu, 1)


def test_reparameterize_bad_inputs():
    mu = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="latent_dim=3"):
        reparameterize(mu, mu, torch.zeros(5, 2))
    with pytest.raises(ValueError, match="does not broadcast"):
        reparameterize(mu, mu, torch.zeros(5, 3))
    with pytest.raises(ValueError, match="same shape"):
        reparameterize(mu, torch.zeros(2, 2), torch.zeros(2, 3))
    with pytest.raises(ValueError, match="NaN"):
        reparameterize(mu, mu, torch.full((2, 3), float("inf")))


def test_log_normal_diag_bad_inputs():
    with pytest.raises(ValueError, match="latent_dim"):
        log_normal_diag(torch.zeros(4, 2), torch.zeros(3), torch.zeros(3))
    with pytest.raises(TypeError, match="torch.Tensor"):
        log_normal_diag([0.0], torch.zeros(1), torch.zeros(1))


def test_moment_intervals_bad_inputs():
    with pytest.raises(ValueError, match="at least 2 draws"):
        moment_intervals(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="confidence"):
        moment_intervals(np.zeros((5, 3)), confidence=1.5)
    with pytest.raises(ValueError, match="NaN"):
        moment_intervals(np.array([0.0, np.nan, 1.0]))


# --- role 3: the change of variables ------------------------------------------------------
def test_log_density_from_noise_matches_torch_distributions():
    g = _gen(7)
    mu = torch.randn(4, 3, generator=g, dtype=torch.float64)
    logvar = torch.randn(4, 3, generator=g, dtype=torch.float64)
    eps = torch.randn(6, 4, 3, generator=g, dtype=torch.float64)
    z = reparameterize(mu, logvar, eps)
    ref = torch.distributions.Independent(Normal(mu, torch.exp(0.5 * logvar)), 1).log_prob(z)
    torch.testing.assert_close(log_density_from_noise(eps, logvar), ref, rtol=1e-12, atol=1e-12)
    # and scipy, one point at a time
    expected = stats.norm(mu[0].numpy(), np.exp(0.5 * logvar[0].numpy())).logpdf(z[0, 0].numpy())
    assert log_density_from_noise(eps[0, 0], logvar[0]).item() == pytest.approx(
        expected.sum(), rel=1e-12)


def test_log_density_from_noise_bad_inputs():
    with pytest.raises(ValueError, match="broadcast"):
        log_density_from_noise(torch.zeros(5, 3), torch.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        log_density_from_noise(torch.full((2, 3), float("nan")), torch.zeros(3))
    with pytest.raises(TypeError, match="torch.Tensor"):
        log_density_from_noise([0.0, 1.0], torch.zeros(2))
