"""Tests of vaelib.gradients: both estimators against closed-form gradients.

Unbiasedness is checked by seeded Monte Carlo: R independent L-sample estimates, whose
mean must lie within 5 standard errors sqrt(var / R) of the closed form in every
coordinate (|N(0, 1)| > 5 has probability 6e-7 per coordinate, so a failure means bias,
not bad luck). Variances are checked against their closed forms with a tolerance of
5 standard errors of the sample variance, sqrt((m4 - s**4) / R), m4 the fourth central
moment estimated from the same draws.
"""
import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch.distributions import Normal

from vaelib.gradients import (
    gaussian_score, gradient_moments, pathwise_grad, score_function_grad, sine_grad,
    sine_pathwise_variance, squared_norm_grad, squared_norm_grad_variance, squared_sum_grad,
    squared_sum_pathwise_variance)
from vaelib.models import VAE
from vaelib.reparam import sample
from vaelib.train import _terms, num_threads

DT = torch.float64


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


MU = torch.tensor([[0.5, -1.0, 0.0], [1.5, 0.2, -0.3]], dtype=DT)
LOGVAR = torch.tensor([[0.0, -1.0, 0.5], [-2.0, 0.3, 0.0]], dtype=DT)
A = torch.tensor([0.4, -0.7, 0.25], dtype=DT)


def _sum_of_squares(z):
    return (z ** 2).sum(-1)


def _linear(z):
    return z @ A


def _exp_linear(z):
    return torch.exp(z @ A)


def _exact(name, mu, logvar):
    """Closed-form gradients of E[f(z)], z ~ N(mu, diag(exp(logvar)))."""
    var = torch.exp(logvar)
    if name == "sum_of_squares":                 # E = sum(mu^2 + var)
        return 2 * mu, var
    if name == "linear":                         # E = a^T mu
        return A.expand_as(mu), torch.zeros_like(mu)
    if name == "exp_linear":                     # E = exp(a^T mu + a^2^T var / 2)
        E = torch.exp(mu @ A + 0.5 * var @ A ** 2)[..., None]
        return A * E, 0.5 * A ** 2 * var * E
    raise KeyError(name)


OBJECTIVES = {"sum_of_squares": _sum_of_squares, "linear": _linear,
              "exp_linear": _exp_linear}
ESTIMATORS = [
    ("pathwise", pathwise_grad, {}),
    ("score", score_function_grad, {}),
    ("score-constant", score_function_grad, {"baseline": 2.0}),
    ("score-loo", score_function_grad, {"baseline": "leave-one-out"}),
]


@pytest.mark.parametrize("fname", list(OBJECTIVES))
@pytest.mark.parametrize("label, estimator, kwargs", ESTIMATORS, ids=[e[0] for e in ESTIMATORS])
def test_estimators_are_unbiased(fname, label, estimator, kwargs):
    m = gradient_moments(estimator, OBJECTIVES[fname], MU, LOGVAR, n_samples=4,
                         n_repeats=40_000, generator=_gen(1), **kwargs)
    grad_mu, grad_logvar = _exact(fname, MU, LOGVAR)
    # 5 standard errors, plus round-off room for the zero-variance cases (pathwise, linear f)
    assert torch.all((m.mean_mu - grad_mu).abs() <= 5 * m.stderr_mu + 1e-10)
    assert torch.all((m.mean_logvar - grad_logvar).abs() <= 5 * m.stderr_logvar + 1e-10)


def test_output_shapes_follow_mu():
    for estimator in (pathwise_grad, score_function_grad):
        for shape in [(3,), (2, 3), (4, 2, 3)]:
            mu = torch.zeros(shape)
            g_mu, g_logvar = estimator(_sum_of_squares, mu, mu, 2, generator=_gen())
            assert g_mu.shape == shape and g_logvar.shape == shape
            assert not g_mu.requires_grad


def test_pathwise_is_exact_for_a_linear_objective():
    g_mu, g_logvar = pathwise_grad(_linear, MU, LOGVAR, 1, generator=_gen(2))
    torch.testing.assert_close(g_mu, A.expand_as(MU))


def test_pathwise_matches_autograd_through_sample():
    # the same generator state gives the same eps as vaelib.reparam.sample
    mu = MU.clone().requires_grad_(True)
    logvar = LOGVAR.clone().requires_grad_(True)
    z = sample(mu, logvar, 5, generator=_gen(3))
    _exp_linear(z).mean(0).sum().backward()
    g_mu, g_logvar = pathwise_grad(_exp_linear, MU, LOGVAR, 5, generator=_gen(3))
    torch.testing.assert_close(g_mu, mu.grad)
    torch.testing.assert_close(g_logvar, logvar.grad)


def test_both_estimators_see_the_same_samples():
    seen = []

    def f(z):
        seen.append(z.detach().clone())
        return _sum_of_squares(z)

    pathwise_grad(f, MU, LOGVAR, 3, generator=_gen(4))
    score_function_grad(f, MU, LOGVAR, 3, generator=_gen(4))
    assert torch.equal(seen[0], seen[1])
    assert torch.equal(seen[0], sample(MU, LOGVAR, 3, generator=_gen(4)))


def test_gaussian_score_matches_autograd_of_torch_log_prob():
    mu = MU.clone().requires_grad_(True)
    logvar = LOGVAR.clone().requires_grad_(True)
    eps = torch.randn((4, *MU.shape), dtype=DT, generator=_gen(5))
    z = (MU + torch.exp(0.5 * LOGVAR) * eps).detach()
    log_q = Normal(mu, torch.exp(0.5 * logvar)).log_prob(z)
    for l in range(4):
        g_mu, g_logvar = torch.autograd.grad(log_q[l].sum(), (mu, logvar), retain_graph=True)
        s_mu, s_logvar = gaussian_score(eps[l], LOGVAR)
        torch.testing.assert_close(s_mu, g_mu)
        torch.testing.assert_close(s_logvar, g_logvar)


def test_score_function_equals_hand_written_formula():
    L = 3
    g_mu, g_logvar = score_function_grad(_sum_of_squares, MU, LOGVAR, L,
                                         generator=_gen(6), baseline="leave-one-out")
    eps = torch.randn((L, *MU.shape), dtype=DT, generator=_gen(6))
    std = torch.exp(0.5 * LOGVAR)
    fz = _sum_of_squares(MU + std * eps)
    b = torch.stack([(fz.sum(0) - fz[l]) / (L - 1) for l in range(L)])   # leave-one-out
    w = (fz - b)[..., None]
    torch.testing.assert_close(g_mu, (w * eps / std).mean(0))
    torch.testing.assert_close(g_logvar, (w * 0.5 * (eps ** 2 - 1)).mean(0))


def test_score_function_handles_a_step_function():
    # d/dmu_1 P(z_1 > 0) = phi(mu_1 / std_1) / std_1 (standard normal density phi)
    mu = torch.tensor([0.5, -0.2], dtype=DT)
    logvar = torch.tensor([0.0, 0.7], dtype=DT)

    def step(z):
        return (z[..., 0] > 0).to(z.dtype)

    m = gradient_moments(score_function_grad, step, mu, logvar, n_samples=8,
                         n_repeats=50_000, generator=_gen(7), baseline="leave-one-out")
    exact = stats.norm.pdf(0.5)
    assert abs(m.mean_mu[0].item() - exact) <= 5 * m.stderr_mu[0].item()
    assert abs(m.mean_mu[1].item()) <= 5 * m.stderr_mu[1].item()
    with pytest.raises(ValueError, match="differentiable f"):
        pathwise_grad(step, mu, logvar, 4)


@pytest.mark.parametrize("name, estimator", [("pathwise", pathwise_grad),
                                             ("score", score_function_grad)])
@pytest.mark.parametrize("mu_value, std", [(0.0, 1.0), (1.0, 0.5), (-0.5, 2.0)])
def test_one_sample_variance_matches_closed_form(name, estimator, mu_value, std):
    D, R = 4, 200_000
    mu = torch.full((D,), mu_value, dtype=DT)
    mu[1] = 0.3
    logvar = torch.full((D,), 2 * math.log(std), dtype=DT)
    g_mu, g_logvar = estimator(_sum_of_squares, mu.expand(R, D), logvar.expand(R, D), 1,
                               generator=_gen(8))
    var_mu, var_logvar = squared_norm_grad_variance(mu, logvar, name)
    for draws, var in ((g_mu, var_mu), (g_logvar, var_logvar)):
        s2 = draws.var(0)
        m4 = ((draws - draws.mean(0)) ** 4).mean(0)
        se = ((m4 - s2 ** 2) / R).sqrt()
        assert torch.all((s2 - var).abs() <= 5 * se)


def test_score_variance_at_zero_mean_is_d_plus_2_times_d_plus_4():
    for D in (1, 5, 30):
        var_mu, _ = squared_norm_grad_variance(torch.zeros(D), torch.zeros(D), "score")
        torch.testing.assert_close(var_mu, torch.full((D,), float((D + 2) * (D + 4))))


def test_variance_of_l_sample_estimator_scales_as_one_over_l():
    L = 10
    m = gradient_moments(pathwise_grad, _sum_of_squares, MU, LOGVAR, n_samples=L,
                         n_repeats=100_000, generator=_gen(9))
    var_mu, _ = squared_norm_grad_variance(MU, LOGVAR, "pathwise")
    # sample variance of Gaussian draws: relative standard error sqrt(2 / R) = 0.0045
    torch.testing.assert_close(m.var_mu, var_mu / L, rtol=5 * math.sqrt(2 / 100_000), atol=0)


def test_squared_norm_grad_matches_autograd_of_the_closed_form_expectation():
    mu = MU.clone().requires_grad_(True)
    logvar = LOGVAR.clone().requires_grad_(True)
    (mu ** 2 + torch.exp(logvar)).sum().backward()
    g_mu, g_logvar = squared_norm_grad(MU, LOGVAR)
    torch.testing.assert_close(g_mu, mu.grad)
    torch.testing.assert_close(g_logvar, logvar.grad)


def test_full_batch_mean_baseline_would_be_biased_by_l_minus_one_over_l():
    # why the baseline is leave-one-out: including f(z_l) in its own baseline shrinks
    # the expected gradient by (L - 1) / L (checked here by hand, exercise reparam-1)
    L, R = 4, 200_000
    mu = torch.tensor([1.0], dtype=DT)
    eps = torch.randn((L, R, 1), dtype=DT, generator=_gen(10))
    fz = _sum_of_squares(mu + eps)
    g = ((fz - fz.mean(0))[..., None] * eps).mean(0)[:, 0]
    assert abs(g.mean().item() - (L - 1) / L * 2.0) <= 5 * (g.std() / math.sqrt(R)).item()


# --- the other test objectives: (sum z)^2 and sum sin(omega z) ---------------------------
def _squared_sum(z):
    return z.sum(-1) ** 2


def test_squared_sum_grad_matches_autograd_of_the_closed_form_expectation():
    mu = MU.clone().requires_grad_(True)
    logvar = LOGVAR.clone().requires_grad_(True)
    (mu.sum(-1) ** 2 + torch.exp(logvar).sum(-1)).sum().backward()
    g_mu, g_logvar = squared_sum_grad(MU, LOGVAR)
    torch.testing.assert_close(g_mu, mu.grad)
    torch.testing.assert_close(g_logvar, logvar.grad)


@pytest.mark.parametrize("omega", [0.5, 3.0])
def test_sine_grad_matches_gauss_hermite_quadrature(omega):
    # E[sin(omega z)] by 80-point Gauss-Hermite quadrature (numpy), differentiated by
    # central differences: an independent route to the closed form
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    weights = weights / weights.sum()
    mu, logvar = MU.numpy(), LOGVAR.numpy()

    def F(m, lv):
        return (np.sin(omega * (m[..., None] + np.exp(0.5 * lv)[..., None] * nodes))
                @ weights).sum()

    g_mu, g_logvar = sine_grad(MU, LOGVAR, omega)
    h = 1e-6
    for idx in np.ndindex(mu.shape):
        step = np.zeros_like(mu)
        step[idx] = h
        fd_mu = (F(mu + step, logvar) - F(mu - step, logvar)) / (2 * h)
        fd_lv = (F(mu, logvar + step) - F(mu, logvar - step)) / (2 * h)
        assert abs(fd_mu - g_mu[idx].item()) < 1e-6
        assert abs(fd_lv - g_logvar[idx].item()) < 1e-6


@pytest.mark.parametrize("name", ["squared_sum", "sine_1", "sine_10"])
def test_pathwise_variances_of_the_new_objectives_match_monte_carlo(name):
    # one-sample pathwise estimates, R = 100,000 repeats; 5 standard errors of a
    # sample variance (sqrt((m4 - s^4) / R), m4 from the same draws)
    if name == "squared_sum":
        f, closed = _squared_sum, squared_sum_pathwise_variance(MU, LOGVAR)
    else:
        omega = float(name.split("_")[1])
        f = lambda z: torch.sin(omega * z).sum(-1)              # noqa: E731
        closed = sine_pathwise_variance(MU, LOGVAR, omega)
    R = 100_000
    g_mu, g_logvar = pathwise_grad(f, MU.expand(R, *MU.shape), LOGVAR.expand(R, *MU.shape), 1,
                                   generator=_gen(21))
    for g, exact in ((g_mu, closed[0]), (g_logvar, closed[1])):
        var = g.var(0)
        m4 = ((g - g.mean(0)) ** 4).mean(0)
        se = ((m4 - var ** 2) / R).sqrt()
        assert torch.all((var - exact).abs() <= 5 * se + 1e-12)


def test_pathwise_variance_of_squared_sum_grows_with_the_latent_dimension():
    for d in (1, 4, 16):
        mu, logvar = torch.ones(d, dtype=DT), torch.zeros(d, dtype=DT)
        var_mu, _ = squared_sum_pathwise_variance(mu, logvar)
        assert torch.allclose(var_mu, torch.full((d,), 4.0 * d, dtype=DT))
        # while ||z||^2 keeps 4 std^2 in every dimension
        assert torch.allclose(squared_norm_grad_variance(mu, logvar, "pathwise")[0],
                              torch.full((d,), 4.0, dtype=DT))


def test_sine_variance_tends_to_omega_squared_over_two():
    mu, logvar = torch.tensor([0.3], dtype=DT), torch.zeros(1, dtype=DT)
    for omega in (5.0, 10.0):
        var_mu, _ = sine_pathwise_variance(mu, logvar, omega)
        assert abs(var_mu.item() - omega ** 2 / 2) < 1e-9 * omega ** 2


def test_objective_bad_inputs():
    mu = torch.zeros(3)
    for bad in (0.0, -1.0, float("nan"), "3"):
        with pytest.raises((ValueError, TypeError), match="omega"):
            sine_grad(mu, mu, bad)
        with pytest.raises((ValueError, TypeError), match="omega"):
            sine_pathwise_variance(mu, mu, bad)
    with pytest.raises(ValueError, match="same shape"):
        squared_sum_grad(mu, torch.zeros(2))
    with pytest.raises(ValueError, match="NaN"):
        squared_sum_pathwise_variance(torch.full((3,), float("nan")), mu)


# --- the VAE surrogate of vaelib.train, on a tiny model ---------------------------------
def _tiny(seed=0):
    """x (batch, 3) -> q(z | x) with z in R^2 -> Bernoulli logits: linear maps only."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return VAE(3, 2, hidden_dims=()).double()


X_TINY = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0]], dtype=DT)


def test_surrogate_gradients_of_all_estimators_agree_in_expectation():
    # average the parameter gradient over many independent surrogate draws: encoder and
    # decoder gradients of the score-function surrogates (no baseline, a constant, the
    # leave-one-out mean) must match the pathwise ones within 5 standard errors (the
    # pathwise estimate itself is averaged too)
    model = _tiny()
    R, L = 4000, 4

    def grads(estimator, baseline, seed):
        gen = _gen(seed)
        rows = []
        for _ in range(R // 100):
            x = X_TINY.repeat(100, 1)
            _, _, surrogate = _terms(model, x, "vae", L, estimator, baseline, gen)
            flat = torch.cat([g.reshape(-1) for g in torch.autograd.grad(
                surrogate.sum(), list(model.parameters()))])
            rows.append(flat / x.shape[0])
        g = torch.stack(rows)
        return g.mean(0), g.std(0) / math.sqrt(g.shape[0])

    with num_threads(1):                 # tiny matrices: one thread is fastest
        m_path, se_path = grads("pathwise", None, 11)
        for baseline in (None, -2.0, "leave-one-out"):
            m, se = grads("score", baseline, 12)
            assert torch.all((m - m_path).abs() <= 5 * (se**2 + se_path**2).sqrt() + 1e-12)


def test_surrogate_value_is_the_elbo_and_the_score_surrogate_reaches_the_encoder():
    # the value of every surrogate is the ELBO estimate (recon - KL), and with the score
    # function the encoder's gradient flows through log q only (z is detached)
    model = _tiny()
    recon, kl, surrogate = _terms(model, X_TINY, "vae", 3, "score", "leave-one-out", _gen(13))
    torch.testing.assert_close(surrogate, recon - kl)
    grad_enc = torch.autograd.grad(surrogate.sum(), model.fc_mu_logvar.weight)[0]
    assert torch.all(torch.isfinite(grad_enc)) and grad_enc.abs().sum() > 0


def test_compare_estimators_starts_every_run_alike_and_caches(tmp_path, monkeypatch):
    import vaelib.train
    from vaelib.gradients import compare_estimators

    monkeypatch.setenv("VAEBOOK_CACHE", str(tmp_path))
    started = []
    real_fit = vaelib.train.fit

    def recording_fit(model, X, **kwargs):
        started.append(({k: v.clone() for k, v in model.state_dict().items()}, kwargs))
        return real_fit(model, X, **kwargs)

    monkeypatch.setattr(vaelib.train, "fit", recording_fit)
    kwargs = dict(latent_dim=2, epochs=1, hidden_dims=(16,), batch_size=256)
    runs = ("pathwise", "score", "score+loo", "ae")
    first = compare_estimators(runs=runs, **kwargs)
    assert set(first) == set(runs)
    assert len(started) == 4                       # one run each ...
    for state, _ in started[1:]:                   # ... each from the same initial weights
        for name, tensor in state.items():
            assert torch.equal(tensor, started[0][0][name]), name
    options = {run["estimator"] if "estimator" in run else "ae": run for _, run in started}
    assert options["ae"]["kind"] == "ae" and options["ae"]["n_samples"] == 1
    assert started[2][1]["baseline"] == "leave-one-out" and started[2][1]["n_samples"] == 2
    assert all(kw["binarize"] for _, kw in started)
    assert first["ae"].history.kind == "ae" and not first["ae"].history.test_elbo
    assert all(len(first[r].history.test_elbo) == 1 for r in runs[:3])
    assert len(list((tmp_path / "gradients").glob("estimators-d2-s0-*.pt"))) == 1

    def state(result):
        return {name: [t.clone() for t in run.model.state_dict().values()]
                for name, run in result.items()}

    again = compare_estimators(runs=runs, **kwargs)          # read back from the cache
    assert len(started) == 4                                 # without training again
    for name in runs:
        assert again[name].history.test_recon == first[name].history.test_recon
        assert all(torch.equal(a, b) for a, b in zip(state(again)[name], state(first)[name]))
    fresh = compare_estimators(runs=runs, cache=False, **kwargs)      # reproducible
    assert fresh["pathwise"].history.test_elbo == first["pathwise"].history.test_elbo
    with pytest.raises(ValueError, match="runs must be names"):
        compare_estimators(runs=("reinforce",))
    with pytest.raises(ValueError, match="n_samples >= 2"):
        compare_estimators(runs=("score+loo",), n_samples=1)


def test_train_variants_bad_inputs():
    from vaelib.gradients import train_variants

    with pytest.raises(TypeError, match="non-empty dict"):
        train_variants({}, latent_dim=2)
    with pytest.raises(ValueError, match="without"):
        train_variants({"a": {"epochs": 3}}, latent_dim=2)
    with pytest.raises(ValueError, match="latent_dim must be >= 1"):
        train_variants({"a": {}}, latent_dim=0)


# --- bad inputs -----------------------------------------------------------------------
@pytest.mark.parametrize("estimator", [pathwise_grad, score_function_grad])
def test_estimator_bad_inputs(estimator):
    mu = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        estimator(_sum_of_squares, mu, mu, 0)
    with pytest.raises(TypeError, match="f must be a function"):
        estimator("sum of squares", mu, mu, 1)
    with pytest.raises(ValueError, match="same shape"):
        estimator(_sum_of_squares, mu, torch.zeros(2, 4), 1)
    with pytest.raises(ValueError, match="NaN"):
        estimator(_sum_of_squares, torch.full((2, 3), float("nan")), mu, 1)
    with pytest.raises(ValueError, match="NaN"):
        estimator(_sum_of_squares, mu, torch.full((2, 3), float("inf")), 1)
    with pytest.raises(ValueError, match="at least one dimension"):
        estimator(_sum_of_squares, torch.tensor(0.0), torch.tensor(0.0), 1)
    with pytest.raises(TypeError, match="torch.Tensor"):
        estimator(_sum_of_squares, [0.0, 1.0], mu, 1)
    with pytest.raises(ValueError, match=r"map shape \(..., latent_dim\) to \(...\)"):
        estimator(lambda z: z ** 2, mu, mu, 1)
    with pytest.raises(ValueError, match="f returned NaN"):
        estimator(lambda z: torch.log(z).sum(-1) * 0 + float("nan"), mu, mu, 1)
    with pytest.raises(TypeError, match="f must return a torch.Tensor"):
        estimator(lambda z: 1.0, mu, mu, 1)
    with pytest.raises(TypeError, match="generator"):
        estimator(_sum_of_squares, mu, mu, 1, generator=np.random.default_rng(0))


def test_score_function_bad_baselines():
    mu = torch.zeros(2, 3)
    with pytest.raises(ValueError, match="n_samples >= 2"):
        score_function_grad(_sum_of_squares, mu, mu, 1, baseline="leave-one-out")
    with pytest.raises(ValueError, match="None, a number or 'leave-one-out'"):
        score_function_grad(_sum_of_squares, mu, mu, 2, baseline="mean")
    with pytest.raises(TypeError, match="None, a number or 'leave-one-out'"):
        score_function_grad(_sum_of_squares, mu, mu, 2, baseline=True)
    with pytest.raises(ValueError, match="finite"):
        score_function_grad(_sum_of_squares, mu, mu, 2, baseline=float("nan"))


def test_gradient_moments_bad_inputs():
    mu = torch.zeros(3)
    with pytest.raises(ValueError, match="n_repeats must be >= 2"):
        gradient_moments(pathwise_grad, _sum_of_squares, mu, mu, 1, 1)
    with pytest.raises(TypeError, match="estimator"):
        gradient_moments("pathwise", _sum_of_squares, mu, mu, 1, 10)


def test_squared_norm_grad_variance_bad_inputs():
    mu = torch.zeros(3)
    with pytest.raises(ValueError, match="'pathwise' or 'score'"):
        squared_norm_grad_variance(mu, mu, "reinforce")
    with pytest.raises(ValueError, match="same shape"):
        squared_norm_grad_variance(mu, torch.zeros(2), "score")
