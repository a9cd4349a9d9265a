"""Tests of vaelib.elbo against independent references.

References: torch.distributions (closed-form KLs, log-densities), the closed forms of
the linear-Gaussian model (vaelib.linear_gaussian, itself tested against scipy), and
seeded Monte Carlo. Monte Carlo tolerances are 5 standard errors of the estimate
(a false alarm has probability ~6e-7 per compared number), the standard error being
measured from the same draws.
"""
import math

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli, Independent, Normal, kl_divergence

from vaelib.elbo import (GRADIENT_ESTIMATORS, elbo, elbo_gradients,
                         gaussian_weight_relative_variance, iwae_bound, kl_normal_std_normal,
                         kl_normal_std_normal_mc, kl_per_dimension, log_importance_weights,
                         weight_variance_criterion)
from vaelib.linear_gaussian import LinearGaussianModel, LinearGaussianVAE
from vaelib.models import VAE


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def random_mu_logvar(batch=6, latent_dim=4, seed=0):
    g = gen(seed)
    return (torch.randn(batch, latent_dim, generator=g, dtype=torch.float64),
            torch.randn(batch, latent_dim, generator=g, dtype=torch.float64))


def linear_testbed(input_dim=6, latent_dim=3, noise_std=0.5, n=4, seed=0,
                   mean_offset=0.0, std_scale=1.0):
    rng = np.random.default_rng(seed)
    model = LinearGaussianModel(rng.normal(size=(input_dim, latent_dim)),
                                rng.normal(size=input_dim), noise_std)
    X, _ = model.sample(n, random_state=seed)
    vae = LinearGaussianVAE(model, mean_offset=mean_offset, std_scale=std_scale)
    q_mean, q_std = model.best_diagonal_q(X)
    return model, vae, X, torch.tensor(X), q_mean + mean_offset, q_std * std_scale


def mean_and_stderr(samples):
    """samples: (R, batch) independent draws -> (mean, standard error), each (batch,)."""
    return samples.mean(0), samples.std(0) / math.sqrt(samples.shape[0])


# -- the KL term ------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(1, 1), (6, 4), (3, 20)])
def test_kl_normal_std_normal_matches_torch_distributions(shape):
    mu, logvar = random_mu_logvar(*shape)
    q = Independent(Normal(mu, torch.exp(0.5 * logvar)), 1)
    p = Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
    torch.testing.assert_close(kl_normal_std_normal(mu, logvar), kl_divergence(q, p),
                               rtol=1e-12, atol=1e-12)
    per_dim = kl_per_dimension(mu, logvar)
    assert per_dim.shape == shape
    torch.testing.assert_close(per_dim, kl_divergence(Normal(mu, torch.exp(0.5 * logvar)),
                                                      Normal(0.0, 1.0)), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(per_dim.sum(-1), kl_normal_std_normal(mu, logvar))


def test_kl_is_zero_only_at_the_prior():
    zeros = torch.zeros(2, 3)
    assert torch.equal(kl_normal_std_normal(zeros, zeros), torch.zeros(2))
    mu, logvar = random_mu_logvar()
    assert bool((kl_per_dimension(mu, logvar) > 0).all())


def test_kl_monte_carlo_is_unbiased():
    mu, logvar = random_mu_logvar(batch=5, latent_dim=3, seed=1)
    R = 20_000
    # R independent single-sample estimates per row, drawn in one batch
    draws = kl_normal_std_normal_mc(mu.repeat(R, 1), logvar.repeat(R, 1), 1,
                                    gen(0)).reshape(R, 5)
    mean, se = mean_and_stderr(draws)
    assert bool(((mean - kl_normal_std_normal(mu, logvar)).abs() < 5 * se).all())
    # one call with L samples is the average of L single-sample estimates
    one = kl_normal_std_normal_mc(mu, logvar, 7, gen(3))
    from vaelib.reparam import sample
    z = sample(mu, logvar, 7, gen(3))
    by_hand = (Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)
               - Normal(0.0, 1.0).log_prob(z).sum(-1)).mean(0)
    torch.testing.assert_close(one, by_hand)


# -- the Monte Carlo ELBO against the closed form of the linear-Gaussian model ---------
@pytest.mark.parametrize("std_scale, mean_offset", [(1.0, 0.0), (2.0, 0.5), (0.5, -1.0)])
def test_elbo_estimate_matches_linear_gaussian_closed_form(std_scale, mean_offset):
    model, vae, X, x, q_mean, q_std = linear_testbed(std_scale=std_scale,
                                                     mean_offset=mean_offset)
    exact = torch.tensor(model.elbo(X, q_mean, q_std))
    R = 20_000      # R independent single-sample estimates per example, in one batch
    draws = elbo(vae, x.repeat(R, 1), n_samples=1, generator=gen(0)).reshape(R, -1)
    mean, se = mean_and_stderr(draws)
    assert bool(((mean - exact).abs() < 5 * se).all()), (mean - exact) / se
    # with L samples in one call: the same estimator averaged (shape and agreement)
    est = elbo(vae, x, n_samples=50_000, generator=gen(1))
    assert est.shape == (4,)
    assert bool(((est - exact).abs() < 5 * se * math.sqrt(R / 50_000)).all())


def test_elbo_with_one_sample_is_the_reconstruction_at_that_sample_minus_the_kl():
    _, vae, _, x, _, _ = linear_testbed()
    from vaelib.reparam import sample
    mu, logvar = vae.encode(x)
    z = sample(mu, logvar, 3, gen(5))
    by_hand = vae.log_likelihood(x, vae.decode(z)).mean(0) - kl_normal_std_normal(mu, logvar)
    torch.testing.assert_close(elbo(vae, x, 3, gen(5)), by_hand)


# -- the importance-weighted bound ------------------------------------------------------
def test_iwae_with_k_1_is_the_single_sample_elbo_with_the_same_noise():
    model, vae, X, x, q_mean, q_std = linear_testbed(std_scale=1.5)
    mu, logvar = vae.encode(x)
    iwae1 = iwae_bound(vae, x, 1, generator=gen(7))
    elbo1 = elbo(vae, x, 1, generator=gen(7))
    # Same noise, same z: they differ only in the KL term, Monte Carlo (IWAE) vs
    # closed form (elbo): iwae1 - elbo1 = log p(z) - log q(z | x) + KL(q || p).
    from vaelib.reparam import sample
    z = sample(mu, logvar, 1, gen(7))[0]
    mc_minus_closed_kl = (Normal(0.0, 1.0).log_prob(z).sum(-1)
                          - Normal(mu, torch.exp(0.5 * logvar)).log_prob(z).sum(-1)
                          + kl_normal_std_normal(mu, logvar))
    torch.testing.assert_close(iwae1 - elbo1, mc_minus_closed_kl)
    # ... and both have the closed-form ELBO as their expectation
    R = 20_000
    draws = iwae_bound(vae, x.repeat(R, 1), 1, generator=gen(8)).reshape(R, -1)
    mean, se = mean_and_stderr(draws)
    assert bool(((mean - torch.tensor(model.elbo(X, q_mean, q_std))).abs() < 5 * se).all())


def test_log_importance_weights_match_torch_distributions_on_a_bernoulli_vae():
    torch.manual_seed(0)
    vae = VAE(12, 3, hidden_dims=(16,))
    x = (torch.rand(5, 12, generator=gen(1)) > 0.5).float()
    log_w = log_importance_weights(vae, x, 4, generator=gen(2))
    from vaelib.reparam import sample
    mu, logvar = vae.encode(x)
    z = sample(mu, logvar, 4, gen(2))
    expected = (Independent(Bernoulli(logits=vae.decode(z)), 1).log_prob(x)
                + Independent(Normal(torch.zeros_like(z), torch.ones_like(z)), 1).log_prob(z)
                - Independent(Normal(mu, torch.exp(0.5 * logvar)), 1).log_prob(z))
    assert log_w.shape == (4, 5)
    torch.testing.assert_close(log_w, expected, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(iwae_bound(vae, x, 4, generator=gen(2)),
                               torch.logsumexp(expected, 0) - math.log(4), rtol=1e-5, atol=1e-4)


def test_iwae_bound_rises_with_k_toward_log_evidence():
    # q twice as wide as the best diagonal q, and shifted: a gap of 7.4 nats to close,
    # with well-behaved importance weights (Var(w) / p(x)^2 ~ 10).
    model, vae, X, x, q_mean, q_std = linear_testbed(std_scale=2.0, mean_offset=0.3, n=3)
    log_px = torch.tensor(model.log_evidence(X))
    elbo_exact = torch.tensor(model.elbo(X, q_mean, q_std))
    R = 4000                                   # independent draws of the bound per k
    means, ses = [], []
    for k in (1, 4, 16, 64, 256):
        draws = iwae_bound(vae, x.repeat(R, 1), k, generator=gen(k)).reshape(R, -1)
        mean, se = mean_and_stderr(draws)
        means.append(mean)
        ses.append(se)
        assert bool((mean < log_px + 5 * se).all())           # a lower bound, up to noise
    assert bool(((means[0] - elbo_exact).abs() < 5 * ses[0]).all())   # k = 1: the ELBO
    # monotone in k in expectation: each step up exceeds 5 combined standard errors
    for a in range(len(means) - 1):
        step = means[a + 1] - means[a]
        assert bool((step > 5 * torch.sqrt(ses[a] ** 2 + ses[a + 1] ** 2)).all()), step
    # approaching log p(x): at k = 256 the remaining gap (~0.02 nats measured) is under
    # 1 % of the ELBO's gap (7.4 nats); the standard error there is ~0.005.
    assert bool((log_px - means[-1] < 0.01 * (log_px - elbo_exact)).all())


def test_iwae_bound_is_tight_for_a_large_k():
    # One draw with k = 65536 from the wide q above: its standard deviation is about
    # sqrt(Var(w) / k) / p(x) ~ sqrt(10 / 65536) ~ 0.012, its bias smaller still;
    # allow 5 standard deviations, 0.06 nats.
    model, vae, X, x, _, _ = linear_testbed(std_scale=2.0, mean_offset=0.3, n=3)
    bound = iwae_bound(vae, x, 65536, generator=gen(0))
    torch.testing.assert_close(bound, torch.tensor(model.log_evidence(X)), rtol=0, atol=0.06)


def test_iwae_bound_is_exact_when_q_is_the_posterior():
    # W with orthogonal columns: the posterior is diagonal, q = p(z | x), every weight
    # equals p(x), and the bound is log p(x) for every k and every draw.
    W = np.linalg.qr(np.random.default_rng(0).normal(size=(5, 2)))[0] * np.array([2.0, 0.7])
    model = LinearGaussianModel(W, np.ones(5), 0.6)
    X, _ = model.sample(4, random_state=1)
    vae = LinearGaussianVAE(model)
    for k in (1, 3, 50):
        torch.testing.assert_close(iwae_bound(vae, torch.tensor(X), k, generator=gen(k)),
                                   torch.tensor(model.log_evidence(X)), rtol=0, atol=1e-10)


def test_iwae_bound_is_differentiable_and_deterministic_given_a_generator():
    torch.manual_seed(0)
    vae = VAE(8, 2, hidden_dims=(8,))
    x = torch.rand(3, 8, generator=gen(0))
    bound = iwae_bound(vae, x, 5, generator=gen(1))
    bound.sum().backward()
    assert vae.fc_mu_logvar.weight.grad is not None
    assert torch.equal(bound.detach(), iwae_bound(vae, x, 5, generator=gen(1)).detach())


def test_iwae_bound_in_chunks_is_an_equally_seeded_draw():
    _, vae, _, x, _, _ = linear_testbed(std_scale=1.5)
    whole = iwae_bound(vae, x, 64, generator=gen(3))
    chunked = iwae_bound(vae, x, 64, generator=gen(3), chunk_size=16)
    torch.testing.assert_close(chunked, whole)          # torch's CPU stream, split in pieces
    assert torch.equal(chunked, iwae_bound(vae, x, 64, generator=gen(3), chunk_size=16))
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        iwae_bound(vae, x, 4, chunk_size=0)


# -- importance weights of infinite variance ---------------------------------------------
def test_weight_variance_criterion_switches_where_the_closed_form_variance_diverges():
    model, _, X, _, q_mean, q_std = linear_testbed(n=1, seed=2)
    _, post_cov = model.posterior(X)
    for scale in (0.5, 0.8, 1.0, 1.3, 1.6, 2.0, 3.0):
        crit = weight_variance_criterion(np.diag((scale * q_std[0]) ** 2), post_cov)
        rho2 = model.weight_relative_variance(X, q_mean, scale * q_std)[0]
        assert (crit > 0) == np.isfinite(rho2), (scale, crit, rho2)
    # broadcasting over a batch of covariances, and the eigenvalue itself in 1-D
    covs = np.stack([np.diag([s, s]) for s in (0.1, 1.0)])
    np.testing.assert_allclose(weight_variance_criterion(covs, np.eye(2)), [-0.8, 1.0])
    with pytest.raises(ValueError, match="positive definite"):
        weight_variance_criterion(np.diag([1.0, -1.0]), np.eye(2))
    with pytest.raises(ValueError, match="same size"):
        weight_variance_criterion(np.eye(2), np.eye(3))


@pytest.mark.parametrize("std_scale, mean_offset", [(3.0, 0.0), (3.0, 0.4), (4.0, -0.3)])
def test_weight_relative_variance_matches_seeded_monte_carlo(std_scale, mean_offset):
    # rho^2 = Var(w) / E[w]^2 from 400,000 weights; w / p(x) has mean 1 and a sample
    # variance whose standard error we estimate from the fourth moment of the draws
    # (finite here: q is wide enough that 4 Sigma_q - 3 Sigma_post is positive definite)
    model, _, X, _, q_mean, q_std = linear_testbed(n=2, std_scale=std_scale)
    _, post_cov = model.posterior(X)
    assert np.linalg.eigvalsh(4 * np.diag(q_std[0] ** 2) - 3 * post_cov)[0] > 0
    model, vae, X, x, q_mean, q_std = linear_testbed(n=2, std_scale=std_scale,
                                                     mean_offset=mean_offset)
    exact = model.weight_relative_variance(X, q_mean, q_std)
    N = 400_000
    w = torch.exp(log_importance_weights(vae, x, N, gen(1)) - torch.tensor(
        model.log_evidence(X)))                                       # (N, n), mean 1
    dev2 = (w - w.mean(0)) ** 2
    var, se = dev2.mean(0), dev2.std(0) / math.sqrt(N)
    assert bool(((var - torch.tensor(exact)).abs() < 5 * se).all()), (var, exact, se)


def test_gaussian_weight_relative_variance_matches_numerical_integration():
    # full covariances and separated means: 1 + rho^2 = int N(z; m, C)^2 / N(z; mu, S) dz
    from scipy import integrate, stats
    m, C = np.array([0.3, -0.2]), np.array([[0.5, 0.2], [0.2, 0.4]])
    mu, S = np.array([0.0, 0.1]), np.array([[0.6, -0.1], [-0.1, 0.5]])
    f = lambda b, a: (stats.multivariate_normal(m, C).pdf([a, b]) ** 2
                      / stats.multivariate_normal(mu, S).pdf([a, b]))
    second, _ = integrate.dblquad(f, -8, 8, -8, 8, epsabs=1e-11, epsrel=1e-9)
    assert gaussian_weight_relative_variance(mu, S, m, C) == pytest.approx(second - 1, rel=1e-6)
    # batched, and infinite where 2 S - C is not positive definite
    got = gaussian_weight_relative_variance(np.stack([mu, mu]), np.stack([S, 0.2 * S]),
                                            m, C)
    assert got[0] == pytest.approx(second - 1, rel=1e-6) and np.isinf(got[1])
    with pytest.raises(ValueError, match="latent dimension"):
        gaussian_weight_relative_variance(mu[:1], S, m, C)


def test_weight_relative_variance_is_zero_when_q_is_the_posterior():
    W = np.linalg.qr(np.random.default_rng(0).normal(size=(5, 2)))[0] * np.array([2.0, 0.7])
    model = LinearGaussianModel(W, np.ones(5), 0.6)                       # diagonal posterior
    X, _ = model.sample(3, random_state=1)
    mean, std = model.best_diagonal_q(X)
    np.testing.assert_allclose(model.weight_relative_variance(X, mean, std), 0.0, atol=1e-10)


# -- gradients of the ELBO with respect to q's parameters --------------------------------
def _closed_form_gradient(model, X, q_mean, q_std):
    """d ELBO / d (mu, logvar) of the testbed's closed form, by central differences."""
    mean, logvar = q_mean[0], 2 * np.log(q_std[0])
    v0, h = np.concatenate([mean, logvar]), 1e-6
    d = len(mean)

    def value(v):
        return model.elbo(X[:1], v[None, :d], np.exp(0.5 * v[None, d:]))[0]

    return np.array([(value(v0 + h * e) - value(v0 - h * e)) / (2 * h) for e in np.eye(2 * d)])


@pytest.mark.parametrize("estimator", GRADIENT_ESTIMATORS)
@pytest.mark.parametrize("std_scale, mean_offset", [(1.0, 0.0), (2.0, 0.5)])
def test_elbo_gradients_are_unbiased(estimator, std_scale, mean_offset):
    model, vae, X, x, q_mean, q_std = linear_testbed(n=1, std_scale=std_scale,
                                                     mean_offset=mean_offset)
    mu, logvar = vae.encode(x)
    R = 40_000
    draws = elbo_gradients(vae, x, mu, logvar, estimator, 1, R, gen(2))[:, 0]  # (R, 6)
    mean, se = mean_and_stderr(draws)
    exact = torch.tensor(_closed_form_gradient(model, X, q_mean, q_std))
    assert bool(((mean - exact).abs() < 5 * se + 1e-6).all()), (mean, exact, se)


def test_sticking_the_landing_is_exact_at_the_posterior_and_the_others_are_not():
    W = np.linalg.qr(np.random.default_rng(0).normal(size=(5, 2)))[0] * np.array([2.0, 0.7])
    model = LinearGaussianModel(W, np.ones(5), 0.6)                       # diagonal posterior
    X, _ = model.sample(2, random_state=1)
    vae = LinearGaussianVAE(model)                                          # q = posterior
    x = torch.tensor(X)
    mu, logvar = vae.encode(x)
    path = elbo_gradients(vae, x, mu, logvar, "path", 3, 50, gen(0))
    torch.testing.assert_close(path, torch.zeros_like(path), rtol=0, atol=1e-9)
    for estimator in ("analytic_kl", "monte_carlo"):
        assert float(elbo_gradients(vae, x, mu, logvar, estimator, 1, 50, gen(0)).var(0)
                     .sum()) > 1e-3
    g = elbo_gradients(vae, x, mu, logvar, "monte_carlo", 4, 7, gen(1))
    assert g.shape == (7, 2, 4)


def test_elbo_gradients_bad_arguments():
    _, vae, _, x, _, _ = linear_testbed()
    mu, logvar = vae.encode(x)
    with pytest.raises(ValueError, match="estimator"):
        elbo_gradients(vae, x, mu, logvar, "reinforce")
    with pytest.raises(ValueError, match="n_repeats must be >= 1"):
        elbo_gradients(vae, x, mu, logvar, n_repeats=0)
    with pytest.raises(ValueError, match=r"shape \(batch, latent_dim\)"):
        elbo_gradients(vae, x, mu[:2], logvar[:2])


# -- bad inputs -------------------------------------------------------------------------
def test_bad_inputs():
    mu, logvar = random_mu_logvar()
    _, vae, _, x, _, _ = linear_testbed()
    with pytest.raises(ValueError, match="mu and logvar must have the same shape"):
        kl_per_dimension(mu, logvar[:, :2])
    with pytest.raises(ValueError, match="logvar contains NaN"):
        kl_normal_std_normal(mu, torch.full_like(logvar, float("nan")))
    with pytest.raises(TypeError, match="mu must be a torch.Tensor"):
        kl_normal_std_normal(mu.numpy(), logvar)
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        kl_normal_std_normal_mc(mu, logvar, 0)
    with pytest.raises(ValueError, match="k must be >= 1"):
        iwae_bound(vae, x, 0)
    with pytest.raises(TypeError, match="k must be an integer"):
        iwae_bound(vae, x, 2.0)
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        elbo(vae, x, n_samples=0)
    with pytest.raises(ValueError, match=r"x must have 2 dimension\(s\)"):
        iwae_bound(vae, x[0], 3)
    with pytest.raises(ValueError, match="x contains NaN"):
        log_importance_weights(vae, torch.full_like(x, float("nan")), 3)
    with pytest.raises(TypeError, match="model must be a vaelib.models.VAE or offer the same"):
        iwae_bound(object(), x, 3)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 12\)"):
        iwae_bound(VAE(12, 2), torch.rand(3, 5), 2)


# -- exercise checkers --------------------------------------------------------------------
def test_exercise_checkers_accept_right_answers_and_explain_wrong_ones(capsys):
    from vaelib.exercises import available, check

    assert {"elbo-1", "elbo-2", "elbo-3", "elbo-4"} <= set(available())
    # 1. the best diagonal q: variances 1 / P_jj (checked against scipy's minimiser of the KL)
    assert check("elbo-1", lambda P: 1 / np.diag(P))
    assert not check("elbo-1", lambda P: np.diag(np.linalg.inv(P)))
    assert "marginal variances" in capsys.readouterr().out
    assert not check("elbo-1", lambda P: 1 / np.sqrt(np.diag(P)))
    assert "standard deviations" in capsys.readouterr().out
    assert not check("elbo-1", 0.5)
    # 2. the gap of the best diagonal q, by a route of its own: Gaussian KL by hand
    def gap(W, sigma):
        P = np.eye(W.shape[1]) + W.T @ W / sigma**2
        S, C = np.diag(1 / np.diag(P)), np.linalg.inv(P)
        return 0.5 * (np.trace(np.linalg.solve(C, S)) - W.shape[1]
                      + np.linalg.slogdet(C)[1] - np.linalg.slogdet(S)[1])
    assert check("elbo-2", gap)
    assert not check("elbo-2", lambda W, s: 2 * gap(W, s))
    assert "Twice" in capsys.readouterr().out
    assert not check("elbo-2", lambda W, s: -gap(W, s))
    assert not check("elbo-2", lambda W, s: [gap(W, s)] * 2)
    # 3. log-mean-exp
    assert check("elbo-3", lambda lw: torch.logsumexp(lw, 0) - math.log(lw.shape[0]))
    assert not check("elbo-3", lambda lw: torch.log(torch.exp(lw).mean(0)))
    assert "subtract the maximum" in capsys.readouterr().out
    assert not check("elbo-3", lambda lw: torch.logsumexp(lw, 0))
    assert not check("elbo-3", "not a function")
    # 4. the PPCA threshold, against scipy's maximiser of the evidence along one direction
    assert check("elbo-4", lambda lam, s: max(lam - s**2, 0.0))
    assert not check("elbo-4", lambda lam, s: lam - s**2)
    assert "boundary" in capsys.readouterr().out
    assert not check("elbo-4", lambda lam, s: max(lam - s, 0.0))
    assert "sigma^2" in capsys.readouterr().out
    assert not check("elbo-4", lambda lam, s: 1 / 0)
