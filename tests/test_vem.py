"""Tests of vaelib.vem against independent references.

References: scipy.stats.multivariate_normal (the evidence), the conditioning formula
of a joint Gaussian by dense solves (the posterior), torch.distributions.kl_divergence
(the ELBO identity), torch autograd (the hand-written gradients of the linear VAE and
the stationarity of the M-step), the closed forms of vaelib.linear_gaussian (itself
tested against scipy), sklearn.decomposition.PCA and FactorAnalysis (the
maximum-likelihood fits EM must reach), and seeded Monte Carlo with
tolerances of 5 standard errors measured from the same draws (a false alarm has
probability ~6e-7 per compared number).
"""
import math

import numpy as np
import pytest
import scipy.stats as st
import torch
from sklearn.decomposition import PCA, FactorAnalysis
from torch.distributions import MultivariateNormal, kl_divergence

from vaelib import vem
from vaelib.linear_gaussian import LinearGaussianModel, LinearGaussianVAE, fit_ppca
from vaelib.models import VAE


# -- fixtures ------------------------------------------------------------------------------

def make_params(D=6, k=2, seed=0, diagonal=False):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(D, k))
    b = rng.normal(size=D)
    noise_std = np.exp(0.3 * rng.normal(size=D)) * 0.5 if diagonal else 0.5
    return W, b, noise_std


def sample_data(W, b, noise_std, n=400, seed=1):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, W.shape[1]))
    return Z @ W.T + b + np.asarray(noise_std) * rng.normal(size=(n, W.shape[0]))


def dense_posterior(X, W, b, noise_std):
    """p(z | x) from the joint Gaussian [z; x] by dense solves (no precision trick)."""
    psi = np.broadcast_to(np.asarray(noise_std, float) ** 2, (W.shape[0],))
    C = W @ W.T + np.diag(psi)
    gain = np.linalg.solve(C, W).T
    return (X - b) @ gain.T, np.eye(W.shape[1]) - gain @ W


@pytest.fixture(scope="module")
def ppca_data():
    W, b, _ = make_params(D=6, k=2, seed=0)
    W[:, 1] += 0.7 * W[:, 0]                        # correlated columns: not the PCA axes
    return sample_data(W, b, 0.8, n=400, seed=1)


# -- closed forms ---------------------------------------------------------------------------

@pytest.mark.parametrize("diagonal", [False, True])
def test_log_evidence_matches_scipy(diagonal):
    W, b, noise_std = make_params(diagonal=diagonal)
    X = sample_data(W, b, noise_std, n=9)
    cov = W @ W.T + np.diag(np.broadcast_to(np.asarray(noise_std) ** 2, (6,)))
    expected = st.multivariate_normal(mean=b, cov=cov).logpdf(X)
    np.testing.assert_allclose(vem.log_evidence(X, W, b, noise_std), expected, rtol=1e-10)


@pytest.mark.parametrize("diagonal", [False, True])
def test_e_step_is_the_exact_posterior(diagonal):
    W, b, noise_std = make_params(diagonal=diagonal)
    X = sample_data(W, b, noise_std, n=5)
    means, cov = vem.e_step(X, W, b, noise_std)
    mean_ref, cov_ref = dense_posterior(X, W, b, noise_std)
    np.testing.assert_allclose(means, mean_ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(cov, cov_ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("diagonal", [False, True])
def test_e_step_closes_the_gap(diagonal):
    # F(p(z|x), theta) = log p(x): the KL term of the ELBO identity is zero
    W, b, noise_std = make_params(diagonal=diagonal)
    X = sample_data(W, b, noise_std, n=7)
    means, cov = vem.e_step(X, W, b, noise_std)
    np.testing.assert_allclose(vem.gaussian_elbo(X, W, b, noise_std, means, cov),
                               vem.log_evidence(X, W, b, noise_std), rtol=1e-11)


@pytest.mark.parametrize("diagonal", [False, True])
def test_gaussian_elbo_is_log_evidence_minus_kl_to_the_posterior(diagonal):
    W, b, noise_std = make_params(diagonal=diagonal)
    X = sample_data(W, b, noise_std, n=5)
    rng = np.random.default_rng(4)
    means = rng.normal(size=(5, 2))
    A = rng.normal(size=(2, 2))
    cov = A @ A.T + 0.1 * np.eye(2)                 # a full covariance
    post_mean, post_cov = dense_posterior(X, W, b, noise_std)
    q = MultivariateNormal(torch.tensor(means), torch.tensor(cov))
    p = MultivariateNormal(torch.tensor(post_mean), torch.tensor(post_cov))
    kl = kl_divergence(q, p).numpy()
    np.testing.assert_allclose(vem.gaussian_elbo(X, W, b, noise_std, means, cov),
                               vem.log_evidence(X, W, b, noise_std) - kl, rtol=1e-10)


# -- the mean-field E-step --------------------------------------------------------------------

def test_mean_field_variances_are_one_over_the_posterior_precision_diagonal():
    # Bishop (2006, eq. 10.13): the mean-field variances are 1 / Lambda_jj, the inverse
    # diagonal of the posterior precision; reference: the dense posterior covariance
    # from conditioning the joint Gaussian, inverted
    W, b, noise_std = make_params()
    X = sample_data(W, b, noise_std, n=5)
    _, variances = vem.mean_field_e_step(X, W, b, noise_std, np.zeros((5, 2)))
    _, post_cov = dense_posterior(X, W, b, noise_std)
    np.testing.assert_allclose(variances, 1.0 / np.diag(np.linalg.inv(post_cov)), rtol=1e-10)
    assert np.all(variances < np.diag(post_cov))     # narrower than the marginals


@pytest.mark.parametrize("diagonal", [False, True])
def test_mean_field_sweeps_never_lower_the_elbo_and_reach_the_posterior_mean(diagonal):
    W, b, noise_std = make_params(diagonal=diagonal)
    W[:, 1] += 0.9 * W[:, 0]                        # strongly coupled coordinates
    X = sample_data(W, b, noise_std, n=20)
    means = np.zeros((20, 2))
    last = -np.inf
    for _ in range(300):
        means, variances = vem.mean_field_e_step(X, W, b, noise_std, means, n_sweeps=1)
        value = vem.gaussian_elbo(X, W, b, noise_std, means, np.diag(variances))
        assert np.all(value >= last - 1e-10)
        last = value
    post_mean, post_cov = dense_posterior(X, W, b, noise_std)
    np.testing.assert_allclose(means, post_mean, rtol=1e-7, atol=1e-9)
    # mean field is narrower than the posterior's marginals (Bishop, 2006, sec. 10.1.2)
    assert np.all(variances < np.diag(post_cov))


def test_each_coordinate_update_is_the_maximiser():
    W, b, noise_std = make_params()
    X = sample_data(W, b, noise_std, n=4)
    start = np.random.default_rng(0).normal(size=(4, 2))
    means, variances = vem.mean_field_e_step(X, W, b, noise_std, start, n_sweeps=1)
    # after the sweep the last coordinate (j = 1) is optimal given j = 0: moving it lowers F
    cov = np.diag(variances)
    best = vem.gaussian_elbo(X, W, b, noise_std, means, cov)
    for delta in (-1e-3, 1e-3):
        moved = means.copy()
        moved[:, 1] += delta
        assert np.all(vem.gaussian_elbo(X, W, b, noise_std, moved, cov) < best)
    np.testing.assert_array_equal(start, np.random.default_rng(0).normal(size=(4, 2)))


# -- the M-step ---------------------------------------------------------------------------

@pytest.mark.parametrize("noise", ["isotropic", "diagonal"])
def test_m_step_is_a_stationary_point_of_the_elbo(noise):
    # torch autograd: d F / d (W, b, log psi) = 0 at the M-step's answer, q fixed
    W, b, noise_std = make_params(diagonal=noise == "diagonal")
    X = sample_data(W, b, noise_std, n=50)
    means, cov = vem.e_step(X, W * 0.5, b + 0.3, noise_std)
    W_new, b_new, std_new = vem.m_step(X, means, cov, noise=noise)
    Wt = torch.tensor(W_new, requires_grad=True)
    bt = torch.tensor(b_new, requires_grad=True)
    log_psi = torch.tensor(np.log(std_new[:1] ** 2 if noise == "isotropic" else std_new ** 2),
                           requires_grad=True)
    Xt, mt, St = map(torch.tensor, (X, means, cov))
    psi = log_psi.exp().expand(6)
    resid2 = (Xt - mt @ Wt.T - bt) ** 2 + torch.einsum("dj,jl,dl->d", Wt, St, Wt)
    F = -0.5 * (torch.log(2 * math.pi * psi) + resid2 / psi).sum()
    grads = torch.autograd.grad(F, [Wt, bt, log_psi])
    for g in grads:
        assert float(g.abs().max()) < 1e-8 * len(X)


@pytest.mark.parametrize("noise", ["isotropic", "diagonal"])
def test_m_step_does_not_lower_the_elbo(noise):
    W, b, noise_std = make_params()
    X = sample_data(W, b, noise_std, n=60)
    W0, b0, s0 = W * 0.3, b - 1.0, 2.0
    means, cov = vem.e_step(X, W0, b0, s0)
    W1, b1, s1 = vem.m_step(X, means, cov, noise=noise)
    before = vem.gaussian_elbo(X, W0, b0, s0, means, cov).sum()
    after = vem.gaussian_elbo(X, W1, b1, s1, means, cov).sum()
    assert after > before


# -- the three fitting methods ---------------------------------------------------------------

def test_em_never_lowers_the_likelihood_and_sandwiches_the_elbo(ppca_data):
    fit = vem.fit_em(ppca_data, 2, max_iter=150)
    assert fit.method == "em" and fit.n_iter == 150
    assert np.all(np.diff(fit.log_likelihood) >= -1e-12)
    # log p(theta_{t-1}) = F(q_t, theta_{t-1}) <= F(q_t, theta_t) <= log p(theta_t)
    assert np.all(fit.log_likelihood[:-1] <= fit.elbo[1:] + 1e-12)
    assert np.all(fit.elbo[1:] <= fit.log_likelihood[1:] + 1e-12)


def test_em_reaches_the_tipping_bishop_maximum(ppca_data):
    fit = vem.fit_em(ppca_data, 2, max_iter=300)
    ml = fit_ppca(ppca_data, 2)
    np.testing.assert_allclose(fit.log_likelihood[-1], ml.log_evidence(ppca_data).mean(),
                               rtol=0, atol=1e-8)
    # W is identifiable only up to a rotation; W W^T and sigma are not
    np.testing.assert_allclose(fit.W @ fit.W.T, ml.W @ ml.W.T, atol=1e-4)
    np.testing.assert_allclose(fit.noise_std, ml.noise_std, rtol=1e-5)
    # and sklearn's PCA agrees once its 1/(n-1) covariance is rescaled to the ML 1/n
    n = len(ppca_data)
    C_sklearn = PCA(n_components=2).fit(ppca_data).get_covariance() * (n - 1) / n
    C_fit = fit.W @ fit.W.T + fit.noise_std[0] ** 2 * np.eye(6)
    np.testing.assert_allclose(C_fit, C_sklearn, atol=1e-4)
    assert isinstance(fit.to_model(), LinearGaussianModel)


def test_em_for_factor_analysis_reaches_sklearn(ppca_data):
    W, b, noise_std = make_params(D=6, k=2, seed=3, diagonal=True)
    X = sample_data(W, b, noise_std, n=500, seed=5)
    fit = vem.fit_em(X, 2, max_iter=1000, noise="diagonal")
    assert np.all(np.diff(fit.log_likelihood) >= -1e-12)
    fa = FactorAnalysis(n_components=2, tol=1e-12, max_iter=20000, svd_method="lapack").fit(X)
    np.testing.assert_allclose(fit.log_likelihood[-1], fa.score(X), atol=1e-5)
    np.testing.assert_allclose(fit.noise_std ** 2, fa.noise_variance_, rtol=1e-3)
    with pytest.raises(ValueError, match="isotropic"):
        fit.to_model()


def test_variational_em_never_lowers_the_elbo_and_finds_the_pca_axes(ppca_data):
    fit = vem.fit_variational_em(ppca_data, 2, max_iter=400, n_sweeps=1)
    assert np.all(np.diff(fit.elbo) >= -1e-12)
    assert np.all(fit.elbo <= fit.log_likelihood + 1e-12)
    # The best ELBO is the maximum likelihood: at the rotation with W^T W diagonal the
    # mean-field family holds the exact posterior, so the gap closes there.
    ml = fit_ppca(ppca_data, 2)
    ll_ml = ml.log_evidence(ppca_data).mean()
    np.testing.assert_allclose(fit.elbo[-1], ll_ml, atol=1e-6)
    gram = fit.W.T @ fit.W
    assert abs(gram[0, 1]) < 1e-3 * np.sqrt(gram[0, 0] * gram[1, 1])
    np.testing.assert_allclose(np.sort(np.diag(gram)), np.sort(np.diag(ml.W.T @ ml.W)),
                               rtol=1e-3)


def test_more_sweeps_give_a_higher_elbo_after_the_e_step(ppca_data):
    W, b, s = vem.init_params(ppca_data, 2, random_state=0)
    W = W * 30                                      # a model with coupled latent coordinates
    start = np.zeros((len(ppca_data), 2))
    values = []
    for n_sweeps in (1, 2, 5):
        means, variances = vem.mean_field_e_step(ppca_data, W, b, s, start, n_sweeps)
        values.append(vem.gaussian_elbo(ppca_data, W, b, s, means, np.diag(variances)).mean())
    assert values[0] < values[1] < values[2]


@pytest.mark.parametrize("isotropic", [True, False])
@pytest.mark.parametrize("L", [None, 3])
def test_linear_vae_gradient_matches_autograd(isotropic, L):
    rng = np.random.default_rng(0)
    n, D, k = 7, 5, 2
    X = rng.normal(size=(n, D))
    params = (rng.normal(size=(D, k)), rng.normal(size=D),
              0.3 * rng.normal(size=1 if isotropic else D), rng.normal(size=(k, D)),
              rng.normal(size=k), 0.3 * rng.normal(size=k))
    eps = None if L is None else rng.normal(size=(L, n, k))
    value, grads = vem.linear_vae_elbo(X, params, eps)
    W, b, log_psi, V, c, q_logvar = (torch.tensor(p, requires_grad=True) for p in params)
    Xt = torch.tensor(X)
    mu = Xt @ V.T + c
    s = q_logvar.exp()
    psi = log_psi.exp().expand(D)
    if eps is None:
        resid2 = ((Xt - mu @ W.T - b) ** 2).mean(0) + (W ** 2) @ s
    else:
        z = mu + s.sqrt() * torch.tensor(eps)
        resid2 = ((Xt - z @ W.T - b) ** 2).mean((0, 1))
    kl = 0.5 * (mu ** 2 + s - q_logvar - 1).sum(1)
    F = -0.5 * (torch.log(2 * math.pi * psi) + resid2 / psi).sum() - kl.mean()
    expected = torch.autograd.grad(F, [W, b, log_psi, V, c, q_logvar])
    assert value == pytest.approx(F.item(), rel=1e-12)
    for g, e in zip(grads, expected):
        np.testing.assert_allclose(g, e.numpy(), rtol=1e-10, atol=1e-12)


def test_linear_vae_monte_carlo_gradient_is_unbiased():
    rng = np.random.default_rng(1)
    n, D, k = 6, 4, 2
    X = rng.normal(size=(n, D))
    params = (rng.normal(size=(D, k)), rng.normal(size=D), np.zeros(1),
              0.3 * rng.normal(size=(k, D)), rng.normal(size=k), 0.3 * rng.normal(size=k))
    _, exact = vem.linear_vae_elbo(X, params)
    draws = [vem.linear_vae_elbo(X, params, rng.normal(size=(1, n, k)))[1]
             for _ in range(4000)]
    for i, g in enumerate(exact):
        samples = np.stack([d[i] for d in draws])
        se = samples.std(axis=0, ddof=1) / np.sqrt(len(samples))
        assert np.all(np.abs(samples.mean(axis=0) - g) <= 5 * se + 1e-12)


def test_joint_gradient_small_lr_climbs_and_large_lr_diverges(ppca_data):
    init = vem.init_params(ppca_data, 2, random_state=0)
    slow = vem.fit_joint_gradient(ppca_data, 2, lr=1e-3, max_iter=100, init=init)
    assert not slow.diverged and slow.n_iter == 100
    assert np.all(np.diff(slow.elbo) > 0)
    assert np.all(slow.elbo <= slow.log_likelihood + 1e-12)
    with pytest.warns(RuntimeWarning, match="diverged"):
        wild = vem.fit_joint_gradient(ppca_data, 2, lr=3.0, max_iter=100, init=init)
    assert wild.diverged and wild.n_iter < 100
    assert np.all(np.isfinite(wild.log_likelihood)) and np.all(np.isfinite(wild.elbo))


def test_maximum_likelihood_is_a_stationary_point_of_the_linear_vae():
    # Tipping & Bishop's W (orthogonal columns), b = mean, sigma, and the encoder that
    # outputs the exact posterior mean and the best diagonal variances: every gradient of
    # the linear VAE's ELBO vanishes there and the ELBO equals the maximum log-likelihood.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)) @ rng.normal(size=(6, 6))
    ml = fit_ppca(X, 2)
    params = vem.linear_vae_params(ml)
    value, grads = vem.linear_vae_elbo(X, params)
    assert value == pytest.approx(ml.log_evidence(X).mean(), rel=1e-12)
    for g in grads:
        assert np.abs(g).max() < 1e-10
    # and it is a maximum: the Hessian is negative semi-definite
    assert np.linalg.eigvalsh(vem.linear_vae_hessian(X, params)).max() < 1e-6


def test_linear_vae_hessian_matches_autograd():
    rng = np.random.default_rng(2)
    n, D, k = 9, 4, 2
    X = rng.normal(size=(n, D))
    params = vem.LinearVAEParams(rng.normal(size=(D, k)), rng.normal(size=D), np.zeros(1),
                                 0.3 * rng.normal(size=(k, D)), rng.normal(size=k),
                                 0.3 * rng.normal(size=k))
    shapes = [p.shape for p in params]
    sizes = [p.size for p in params]
    Xt = torch.tensor(X)

    def F(flat):
        W, b, log_psi, V, c, q_logvar = (t.reshape(s) for t, s in
                                         zip(torch.split(flat, sizes), shapes))
        mu = Xt @ V.T + c
        s = q_logvar.exp()
        psi = log_psi.exp().expand(D)
        resid2 = ((Xt - mu @ W.T - b) ** 2).mean(0) + (W ** 2) @ s
        kl = 0.5 * (mu ** 2 + s - q_logvar - 1).sum(1)
        return -0.5 * (torch.log(2 * math.pi * psi) + resid2 / psi).sum() - kl.mean()

    theta = torch.tensor(np.concatenate([p.ravel() for p in params]))
    expected = torch.autograd.functional.hessian(F, theta).numpy()
    np.testing.assert_allclose(vem.linear_vae_hessian(X, params), expected, atol=1e-6)


def test_joint_gradient_with_samples_is_seeded(ppca_data):
    a = vem.fit_joint_gradient(ppca_data, 2, lr=0.01, max_iter=20, n_samples=2, random_state=3)
    b = vem.fit_joint_gradient(ppca_data, 2, lr=0.01, max_iter=20, n_samples=2, random_state=3)
    np.testing.assert_array_equal(a.elbo, b.elbo)


# -- part 2: the VAE ----------------------------------------------------------------------

def small_vae(latent_dim=3, seed=0, input_dim=12):
    torch.manual_seed(seed)
    return VAE(input_dim, latent_dim, hidden_dims=(16,)).eval()


def binary_x(n=8, input_dim=12, seed=0):
    return torch.bernoulli(torch.full((n, input_dim), 0.4),
                           generator=torch.Generator().manual_seed(seed))


def test_iwae_given_q_approaches_the_exact_evidence():
    rng = np.random.default_rng(0)
    lg = LinearGaussianModel(rng.normal(size=(5, 2)), rng.normal(size=5), 0.7)
    X, _ = lg.sample(6, random_state=1)
    vae = LinearGaussianVAE(lg, mean_offset=np.zeros(2))
    x = torch.tensor(X)
    mu, logvar = vae.encode(x)
    est = torch.stack([vem.iwae_bound_given_q(vae, x, mu, logvar, 2000,
                                              torch.Generator().manual_seed(s), chunk_size=700)
                       for s in range(20)])
    # each estimate is a lower bound in expectation; with k = 2000 the bias is far below
    # the Monte Carlo error, so the mean is within 5 standard errors of log p(x)
    se = est.std(dim=0) / math.sqrt(len(est))
    exact = torch.tensor(lg.log_evidence(X))
    assert torch.all((est.mean(0) - exact).abs() <= 5 * se + 1e-3)


def test_optimize_posterior_reaches_the_best_diagonal_q():
    # An encoder that is off by a shift and a factor of 3 in the standard deviation;
    # the per-input optimum over diagonal Gaussians is known in closed form.
    rng = np.random.default_rng(0)
    lg = LinearGaussianModel(rng.normal(size=(6, 2)), rng.normal(size=6), 0.6)
    X, _ = lg.sample(10, random_state=2)
    vae = LinearGaussianVAE(lg, mean_offset=np.ones(2), std_scale=3.0)
    x = torch.tensor(X)
    mu, logvar = vem.optimize_posterior(vae, x, steps=600, lr=2e-2, n_samples=32, seed=0)
    q_mean, q_std = lg.best_diagonal_q(X)
    # Adam with a constant step and noisy gradients hovers around the optimum at a
    # distance of a few lr; the tolerances are 4 lr (measured: ~1.3 lr)
    np.testing.assert_allclose(mu.numpy(), q_mean, atol=0.08)
    np.testing.assert_allclose(torch.exp(0.5 * logvar).numpy(), q_std, rtol=0.08)
    elbo_opt = lg.elbo(X, mu.numpy(), torch.exp(0.5 * logvar).numpy())
    mu0, logvar0 = vae.encode(x)
    elbo_enc = lg.elbo(X, mu0.numpy(), torch.exp(0.5 * logvar0).numpy())
    assert np.all(elbo_opt > elbo_enc)
    np.testing.assert_allclose(elbo_opt, lg.elbo(X, q_mean, q_std), atol=0.02)


def test_optimize_posterior_raises_the_elbo_and_leaves_the_model_alone():
    model, x = small_vae(), binary_x(n=20)
    model.train()                                   # the mode must be restored
    before = {k: v.clone() for k, v in model.state_dict().items()}
    mu, logvar = vem.optimize_posterior(model, x, steps=300, lr=5e-2, n_samples=4, seed=0)
    after = model.state_dict()
    for k in before:
        torch.testing.assert_close(after[k], before[k], rtol=0, atol=0)
    assert all(p.grad is None for p in model.parameters())
    assert model.training
    assert not mu.requires_grad and not logvar.requires_grad
    with torch.no_grad():
        mu0, logvar0 = model.encode(x)
        g = torch.Generator().manual_seed(9)
        elbo_enc = vem.elbo_given_q(model, x, mu0, logvar0, 2000, g)
        g = torch.Generator().manual_seed(9)
        elbo_opt = vem.elbo_given_q(model, x, mu, logvar, 2000, g)
    assert float((elbo_opt - elbo_enc).mean()) > 0.05
    assert torch.all(elbo_opt > elbo_enc - 0.05)


def test_optimize_posterior_zero_steps_and_determinism():
    model, x = small_vae(), binary_x()
    mu0, logvar0 = model.encode(x)
    mu, logvar = vem.optimize_posterior(model, x, steps=0)
    torch.testing.assert_close(mu, mu0.detach(), rtol=0, atol=0)
    torch.testing.assert_close(logvar, logvar0.detach(), rtol=0, atol=0)
    a = vem.optimize_posterior(model, x, steps=20, seed=3)
    b = vem.optimize_posterior(model, x, steps=20, seed=3)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_posterior_path_snapshots_are_optimize_posterior():
    model, x = small_vae(), binary_x()
    path = vem.posterior_path(model, x, [0, 5, 30], lr=3e-2, n_samples=2, seed=1)
    assert sorted(path) == [0, 5, 30]
    for t, (mu, logvar) in path.items():
        ref = vem.optimize_posterior(model, x, steps=t, lr=3e-2, n_samples=2, seed=1)
        torch.testing.assert_close((mu, logvar), ref, rtol=0, atol=0)


def test_inference_gaps_on_the_linear_testbed():
    # Coupled latents (a mean-field approximation gap of 0.133 nats on average) and an
    # encoder that is off the optimum (shifted mean, std x 1.5: an amortization gap of
    # 1.14 nats). Both gaps have closed forms: approximation = KL[best diagonal q ||
    # posterior], amortization = ELBO(best diagonal q) - ELBO(encoder's q).
    rng = np.random.default_rng(1)
    W = rng.normal(size=(5, 2))
    W[:, 1] += W[:, 0]
    lg = LinearGaussianModel(W, rng.normal(size=5), 0.7)
    X, _ = lg.sample(8, random_state=4)
    vae = LinearGaussianVAE(lg, mean_offset=np.array([0.5, -0.4]), std_scale=1.5)
    best_mu, best_std = lg.best_diagonal_q(X)
    approximation = lg.kl_to_posterior(X, best_mu, best_std)
    mu0, logvar0 = vae.encode(torch.tensor(X))
    amortization = lg.elbo(X, best_mu, best_std) - lg.elbo(X, mu0.numpy(),
                                                            np.exp(0.5 * logvar0.numpy()))
    assert approximation.mean() > 0.1 and amortization.mean() > 1.0
    # The E-step reaches the optimum to ~1e-3 nats (a small step and L = 64); the
    # Monte Carlo errors of the two ELBOs and of IWAE with 40,000 samples are ~0.01 per
    # example (measured over 4 seeds: the mean errors stayed below 0.006, the largest
    # single error 0.018), so the tolerances are 0.01 on the mean, 0.03 per example.
    gaps = vem.inference_gaps(vae, torch.tensor(X), steps=1000, lr=3e-3, n_samples=64,
                              k=40_000, n_eval_samples=40_000, seed=0)
    for got, expected in ((gaps.approximation_gap, approximation),
                          (gaps.amortization_gap, amortization)):
        assert abs(float(got.mean()) - expected.mean()) < 0.01
        np.testing.assert_allclose(got.numpy(), expected, atol=0.03)
    np.testing.assert_allclose(gaps.log_px.numpy(), lg.log_evidence(X), atol=0.03)


def test_iwae_given_a_narrow_proposal_stays_below_log_evidence():
    # strongly coupled latents: the mean-field q is much narrower than the posterior and
    # the importance-weighted estimate is a (loose) lower bound, never above log p(x)
    rng = np.random.default_rng(0)
    W = rng.normal(size=(5, 2))
    W[:, 1] += W[:, 0]
    lg = LinearGaussianModel(W, rng.normal(size=5), 0.3)
    X, _ = lg.sample(8, random_state=4)
    vae = LinearGaussianVAE(lg, mean_offset=np.zeros(2))
    x = torch.tensor(X)
    mu, logvar = vae.encode(x)
    est = vem.iwae_bound_given_q(vae, x, mu, logvar, 1000, torch.Generator().manual_seed(0))
    q_mean, q_std = lg.best_diagonal_q(X)
    elbo = lg.elbo(X, q_mean, q_std)
    assert np.all(est.numpy() < lg.log_evidence(X))
    assert np.all(est.numpy() > elbo)


def test_inference_gaps_order_on_a_vae():
    model, x = small_vae(), binary_x(n=30)
    gaps = vem.inference_gaps(model, x, steps=200, lr=5e-2, n_samples=2, k=500,
                              n_eval_samples=500)
    assert float(gaps.amortization_gap.mean()) > 0
    assert float(gaps.approximation_gap.mean()) > 0
    assert gaps.log_px.shape == (30,)


def test_fit_alternating_moves_one_block_at_a_time():
    X = binary_x(n=40, seed=1)
    model = small_vae(seed=5)
    dec_before = [p.clone() for p in model.decoder.parameters()]
    enc_before = [p.clone() for p in model.encoder.parameters()]
    # 4 mini-batches per epoch, all in the first (encoder) phase
    vem.fit_alternating(model, X, epochs=1, batch_size=10, steps_per_phase=4)
    assert all(torch.equal(p, q) for p, q in zip(model.decoder.parameters(), dec_before))
    assert not all(torch.equal(p, q) for p, q in zip(model.encoder.parameters(), enc_before))
    # the next 4 steps (second epoch) move the decoder only
    enc_mid = [p.clone() for p in model.encoder.parameters()]
    dec_mid = [p.clone() for p in model.decoder.parameters()]
    vem.fit_alternating(model, X, epochs=2, batch_size=10, steps_per_phase=4)
    assert not all(torch.equal(p, q) for p, q in zip(model.decoder.parameters(), dec_mid))
    assert not all(torch.equal(p, q) for p, q in zip(model.encoder.parameters(), enc_mid))


# -- held parameters: where variational EM lowers the likelihood ---------------------------

def test_m_step_with_held_blocks_is_stationary_in_the_free_ones():
    W, b, noise_std = make_params()
    X = sample_data(W, b, noise_std, n=80)
    means, cov = vem.e_step(X, W * 0.5, b + 0.3, noise_std)
    Xt, mt, St = map(torch.tensor, (X, means, cov))
    for hold in ({"W": W}, {"b": b}, {"W": W, "b": b}):
        W1, b1, std1 = vem.m_step(X, means, cov, **hold)
        if "W" in hold:
            np.testing.assert_array_equal(W1, W)
        if "b" in hold:
            np.testing.assert_array_equal(b1, b)
        Wt = torch.tensor(W1, requires_grad=True)
        bt = torch.tensor(b1, requires_grad=True)
        log_psi = torch.tensor(np.log(std1[:1] ** 2), requires_grad=True)
        resid2 = (Xt - mt @ Wt.T - bt) ** 2 + torch.einsum("dj,jl,dl->d", Wt, St, Wt)
        psi = log_psi.exp().expand(6)
        F = -0.5 * (torch.log(2 * math.pi * psi) + resid2 / psi).sum()
        gW, gb, gpsi = torch.autograd.grad(F, [Wt, bt, log_psi])
        for name, g in (("W", gW), ("b", gb)):
            if name not in hold:
                assert float(g.abs().max()) < 1e-8 * len(X)
        assert abs(float(gpsi)) < 1e-8 * len(X)


def test_em_with_held_loadings_reaches_the_maximum_likelihood_sigma(ppca_data):
    from scipy.optimize import minimize_scalar

    W, b, _ = make_params(D=6, k=2, seed=0)
    W[:, 1] += 0.7 * W[:, 0]
    init = (W, b, 0.2)
    fit = vem.fit_em(ppca_data, 2, max_iter=400, init=init, fixed=("W", "b"))
    np.testing.assert_array_equal(fit.W, W)
    assert np.all(np.diff(fit.log_likelihood) >= -1e-12)
    best = minimize_scalar(lambda ls: -vem.log_evidence(ppca_data, W, b, np.exp(ls)).mean(),
                           bounds=(-4, 2), method="bounded", options={"xatol": 1e-12})
    np.testing.assert_allclose(fit.noise_std[0], np.exp(best.x), rtol=1e-6)


def test_variational_em_with_held_coupled_loadings_lowers_the_likelihood(ppca_data):
    # no rotation freedom left: the mean-field bias moves sigma off the maximum
    # likelihood, and log p(x) falls on the iterations after sigma passes it
    W, b, _ = make_params(D=6, k=2, seed=0)
    W[:, 1] += 0.7 * W[:, 0]
    init = (W, b, 0.2)
    em = vem.fit_em(ppca_data, 2, max_iter=400, init=init, fixed=("W", "b"))
    v = vem.fit_variational_em(ppca_data, 2, max_iter=400, n_sweeps=50, init=init,
                               fixed=("W", "b"))
    assert np.all(np.diff(v.elbo) >= -1e-12)
    assert np.sum(np.diff(v.log_likelihood) < -1e-12) >= 5
    assert v.log_likelihood[-1] < em.log_likelihood[-1] - 1e-4
    assert v.noise_std[0] > em.noise_std[0]


def test_variational_em_on_the_two_line_model_stops_at_the_exercise_fixed_point():
    from vaelib.exercises.vem import two_line_vem_sigma2

    rng = np.random.default_rng(3)
    x = (rng.normal(size=(2000, 2)).sum(1) + 1.0 * rng.normal(size=2000))[:, None]
    v = float(np.mean(x ** 2))
    init = (np.ones((1, 2)), np.zeros(1), 0.5)
    fit = vem.fit_variational_em(x, 2, max_iter=3000, n_sweeps=30, init=init,
                                 fixed=("W", "b"))
    np.testing.assert_allclose(fit.noise_std[0] ** 2, two_line_vem_sigma2(v), rtol=1e-6)
    em = vem.fit_em(x, 2, max_iter=3000, init=init, fixed=("W", "b"))
    np.testing.assert_allclose(em.noise_std[0] ** 2, v - 2, rtol=1e-6)
    with pytest.raises(ValueError, match="smaller than the number of features"):
        vem.fit_em(x, 2, max_iter=3, init=init)            # free W: sigma would collapse


def test_free_rotation_makes_the_mean_field_bias_free_also_for_factor_analysis(ppca_data):
    init = vem.init_params(ppca_data, 2, random_state=0)
    em = vem.fit_em(ppca_data, 2, max_iter=3000, init=init, noise="diagonal")
    v = vem.fit_variational_em(ppca_data, 2, max_iter=3000, init=init, noise="diagonal")
    np.testing.assert_allclose(v.log_likelihood[-1], em.log_likelihood[-1], atol=1e-7)
    np.testing.assert_allclose(v.elbo[-1], v.log_likelihood[-1], atol=1e-7)


def test_cached_fits_equal_fresh_ones(ppca_data, tmp_path, monkeypatch):
    monkeypatch.setenv("VAEBOOK_CACHE", str(tmp_path))
    init = vem.init_params(ppca_data, 2, random_state=0)
    fresh_em = vem.fit_em(ppca_data, 2, max_iter=20, init=init)
    for fit in (vem.fit_em, vem.fit_variational_em):
        fresh = fit(ppca_data, 2, max_iter=20, init=init)
        first = fit(ppca_data, 2, max_iter=20, init=init, cache=True)
        again = fit(ppca_data, 2, max_iter=20, init=init, cache=True)
        for a in (first, again):
            np.testing.assert_array_equal(a.elbo, fresh.elbo)
            np.testing.assert_array_equal(a.W, fresh.W)
            assert a.method == fresh.method
    assert len(list((tmp_path / "vem").glob("*.pt"))) == 2
    # the third call is read back, not recomputed (a stored numpy array would not load)
    monkeypatch.setattr(vem.linear_em, "_m_step", None)
    again = vem.fit_em(ppca_data, 2, max_iter=20, init=init, cache=True)
    np.testing.assert_array_equal(again.log_likelihood, fresh_em.log_likelihood)
    with pytest.raises(TypeError, match="int random_state"):
        vem.fit_em(ppca_data, 2, max_iter=2, random_state=np.random.default_rng(0), cache=True)


def test_joint_gradient_callback_sees_every_iterate(ppca_data):
    seen = []
    fit = vem.fit_joint_gradient(ppca_data, 2, lr=1e-3, max_iter=5,
                                 callback=lambda t, p: seen.append((t, p)))
    assert [t for t, _ in seen] == list(range(6))
    for t, params in seen:
        value, _ = vem.linear_vae_elbo(ppca_data, params)
        assert value == pytest.approx(fit.elbo[t], rel=1e-12)
    with pytest.raises(TypeError, match="callback"):
        vem.fit_joint_gradient(ppca_data, 2, lr=1e-3, max_iter=2, callback=3)


def test_collapses_happen_where_the_step_exceeds_two_over_the_curvature(ppca_data, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setenv("VAEBOOK_CACHE", str(tmp_path))
    init = vem.init_params(ppca_data, 2, random_state=0)
    lr = 0.05
    res = vem.find_collapses(ppca_data, 2, lr=lr, max_iter=200, init=init)
    assert len(res.steps) >= 1
    # the recorded curve is the fit's, and each collapse step lowers the ELBO by > 1 nat
    fit = vem.fit_joint_gradient(ppca_data, 2, lr=lr, max_iter=200, init=init)
    np.testing.assert_array_equal(res.elbo, fit.elbo)
    assert np.all(np.diff(res.elbo)[res.steps] < -1.0)
    # just before every collapse, gradient ascent is locally unstable there
    assert np.all(lr * res.curvature > 2)
    monkeypatch.setattr(vem.linear_vae, "linear_vae_hessian", None)   # must come from disk
    again = vem.find_collapses(ppca_data, 2, lr=lr, max_iter=200, init=init)
    np.testing.assert_array_equal(again.curvature, res.curvature)
    np.testing.assert_array_equal(again.steps, res.steps)
    with pytest.raises(ValueError, match="drop"):
        vem.find_collapses(ppca_data, 2, lr=lr, drop=-1.0)
    with pytest.raises(TypeError, match="int seed"):
        vem.find_collapses(ppca_data, 2, lr=lr, random_state=np.random.default_rng(0))


def test_a_decaying_step_removes_the_noise_floor_of_the_e_step():
    # constant step with L = 1 stalls short of the best diagonal q (known in closed
    # form); the same number of steps with a geometric decay gets an order closer
    rng = np.random.default_rng(0)
    lg = LinearGaussianModel(rng.normal(size=(6, 2)), rng.normal(size=6), 0.6)
    X, _ = lg.sample(10, random_state=2)
    vae = LinearGaussianVAE(lg, mean_offset=np.ones(2), std_scale=3.0)
    x = torch.tensor(X)
    best = lg.elbo(X, *lg.best_diagonal_q(X))

    def shortfall(**kwargs):
        mu, logvar = vem.optimize_posterior(vae, x, steps=400, n_samples=4, seed=0, **kwargs)
        return float(np.mean(best - lg.elbo(X, mu.numpy(), np.exp(0.5 * logvar.numpy()))))

    constant, decayed = shortfall(lr=5e-2), shortfall(lr=5e-2, lr_final=1e-4)
    assert constant > 5 * decayed and decayed < 5e-3
    with pytest.raises(ValueError, match="must not exceed lr"):
        vem.optimize_posterior(vae, x, steps=2, lr=1e-3, lr_final=1e-2)


def test_cached_inference_gaps_equal_fresh_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEBOOK_CACHE", str(tmp_path))
    model, x = small_vae(), binary_x(n=6)
    kwargs = dict(steps=20, lr=5e-2, n_samples=2, k=50, n_eval_samples=50)
    fresh = vem.inference_gaps(model, x, **kwargs)
    for _ in range(2):
        cached = vem.inference_gaps(model, x, cache=True, **kwargs)
        for a, b in zip(cached, fresh):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    # other weights, another entry
    with torch.no_grad():
        next(model.parameters()).add_(0.1)
    vem.inference_gaps(model, x, cache=True, **kwargs)
    assert len(list((tmp_path / "vem").glob("gaps-*.pt"))) == 2


def test_compare_schedules_joint_run_is_the_pretrained_model(tmp_path, monkeypatch):
    import vaelib.vem.schedule as schedule
    from vaelib.train import pretrained

    monkeypatch.setenv("VAEBOOK_CACHE", str(tmp_path))
    small = {"hidden_dims": (16,), "epochs": 2, "batch_size": 128, "lr": 3e-3}
    monkeypatch.setitem(schedule.DEFAULTS, "digits", small)
    runs = vem.compare_schedules(3, seed=1)
    assert set(runs) == set(vem.SCHEDULES)
    reference, _ = pretrained("digits", latent_dim=3, seed=1, binarize=True, progress=False,
                              **small)
    for name, tensor in reference.state_dict().items():
        assert torch.equal(runs["joint"].model.state_dict()[name], tensor), name
    assert not torch.equal(runs["alternate every step"].model.decoder[0].weight,
                           reference.decoder[0].weight)
    with pytest.raises(ValueError, match="schedules must be names"):
        vem.compare_schedules(3, schedules=("sometimes",))


# -- bad inputs -----------------------------------------------------------------------------

def test_bad_inputs_linear_testbed(ppca_data):
    X = ppca_data
    W, b, s = make_params()
    with pytest.raises(ValueError, match="noise_std must be a finite number > 0"):
        vem.log_evidence(X, W, b, -1.0)
    with pytest.raises(ValueError, match="noise_std must be a finite number > 0"):
        vem.e_step(X, W, b, np.r_[-1.0, np.ones(5)])
    with pytest.raises(ValueError, match="latent_dim must be >= 1"):
        vem.fit_em(X, 0)
    with pytest.raises(ValueError, match="smaller than the number of features"):
        vem.fit_variational_em(X, 6)
    with pytest.raises(TypeError, match="latent_dim must be an integer"):
        vem.fit_em(X, 2.0)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        vem.fit_em(bad, 2)
    with pytest.raises(ValueError, match="2 dimension"):
        vem.fit_em(X[0], 2)
    with pytest.raises(ValueError, match="b must have shape"):
        vem.log_evidence(X, W, b[:3], s)
    with pytest.raises(ValueError, match="W must have shape"):
        vem.log_evidence(X[:, :4], W, b, s)
    with pytest.raises(ValueError, match="n_sweeps must be >= 1"):
        vem.fit_variational_em(X, 2, n_sweeps=0)
    with pytest.raises(ValueError, match="mu must have shape"):
        vem.mean_field_e_step(X, W, b, s, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        vem.fit_joint_gradient(X, 2, lr=0.0)
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        vem.fit_joint_gradient(X, 2, lr=0.01, n_samples=0)
    with pytest.raises(ValueError, match="noise must be 'isotropic'"):
        vem.fit_em(X, 2, noise="full")
    with pytest.raises(TypeError, match="init must be a tuple"):
        vem.fit_em(X, 2, init=W)
    with pytest.raises(ValueError, match="columns but latent_dim"):
        vem.fit_em(X, 3, init=(W, b, s))
    with pytest.raises(ValueError, match="positive definite"):
        vem.gaussian_elbo(X, W, b, s, np.zeros((len(X), 2)), -np.eye(2))
    with pytest.raises(ValueError, match="cov must have shape"):
        vem.m_step(X, np.zeros((len(X), 2)), np.eye(3))
    with pytest.raises(ValueError, match="at least 2 rows"):
        vem.fit_em(X[:1], 2)
    params = vem.linear_vae_params(fit_ppca(X, 2))
    with pytest.raises(ValueError, match="V must have shape"):
        vem.linear_vae_elbo(X, params._replace(V=params.V[:1]))
    with pytest.raises(ValueError, match="eps must have shape"):
        vem.linear_vae_elbo(X, params, eps=np.zeros((2, 3, 2)))
    with pytest.raises(TypeError, match="LinearVAEParams"):
        vem.linear_vae_elbo(X, params[:3])
    with pytest.raises(TypeError, match="LinearGaussianModel"):
        vem.linear_vae_params(params)


def test_bad_inputs_vae():
    model, x = small_vae(), binary_x()
    with pytest.raises(TypeError, match="model must be a vaelib.models.VAE or offer the same"):
        vem.optimize_posterior(object(), x)
    with pytest.raises(TypeError, match="torch.Tensor"):
        vem.optimize_posterior(model, x.numpy())
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        vem.optimize_posterior(model, bad)
    with pytest.raises(ValueError, match="2 dimension"):
        vem.optimize_posterior(model, x[0])
    with pytest.raises(ValueError, match="steps must be >= 0"):
        vem.optimize_posterior(model, x, steps=-1)
    with pytest.raises(ValueError, match="lr must be a finite number > 0"):
        vem.optimize_posterior(model, x, lr=-1e-2)
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        vem.optimize_posterior(model, x, n_samples=0)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        vem.optimize_posterior(model, x, seed=-1)
    mu, logvar = model.encode(x)
    with pytest.raises(ValueError, match="one row per row of x"):
        vem.elbo_given_q(model, x, mu[:3], logvar[:3])
    with pytest.raises(ValueError, match="k must be >= 1"):
        vem.iwae_bound_given_q(model, x, mu, logvar, 0)
    with pytest.raises(ValueError, match="record_at is empty"):
        vem.posterior_path(model, x, [])
    with pytest.raises(ValueError, match="schedule must be"):
        vem.fit_alternating(model, x, epochs=1, schedule="random")
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        vem.fit_alternating(model, x, epochs=0)
    with pytest.raises(TypeError, match="vaelib.models.VAE"):
        vem.fit_alternating(LinearGaussianVAE(LinearGaussianModel(np.ones((3, 1)),
                                                                  np.zeros(3), 1.0)),
                            x, epochs=1)
