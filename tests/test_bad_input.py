"""Bad input, as a reader makes it: one test per class of mistake, across the library.

Each class is fixed once, at its root (the shared validators of ``vaelib._validation``,
the exercise dispatcher, the one training loop), so every public entry point that takes
that kind of input behaves the same: a clear ``TypeError``/``ValueError`` that says what
to do, a correct result, or a warning for divergence. Never a silent NaN, an empty
result, or an error from deep inside torch.
"""
import math
import warnings

import numpy as np
import pytest
import torch

from vaelib import bayes, elbo, gmm, reparam, vem
from vaelib.exercises import available, check
from vaelib.gradients import gaussian_score, pathwise_grad, score_function_grad
from vaelib.linear_gaussian import LinearGaussianModel, fit_ppca
from vaelib.models import VAE
from vaelib.train import fit


def vae(likelihood="bernoulli", **kwargs):
    torch.manual_seed(0)
    return VAE(12, 3, hidden_dims=(8,), likelihood=likelihood, **kwargs).eval()


X = torch.bernoulli(torch.full((6, 12), 0.4), generator=torch.Generator().manual_seed(0))
GEN = torch.Generator


def gen():
    return torch.Generator().manual_seed(1)


# -- 1. float64 tensors, as torch.as_tensor gives them for NumPy data ------------------------
FLOAT64_CALLS = {
    "encode": lambda m, x: m.encode(x)[0],
    "decode": lambda m, x: m.decode(x[:, :3]),
    "elbo": lambda m, x: elbo.elbo(m, x, 4, gen()),
    "iwae_bound": lambda m, x: elbo.iwae_bound(m, x, 4, gen()),
    "log_importance_weights": lambda m, x: elbo.log_importance_weights(m, x, 4, gen()),
    "elbo_given_q": lambda m, x: vem.elbo_given_q(m, x, *m.encode(x.float()), 4, gen()),
    "optimize_posterior": lambda m, x: vem.optimize_posterior(m, x, steps=3)[0],
}


@pytest.mark.parametrize("name", list(FLOAT64_CALLS))
def test_float64_data_is_accepted_and_gives_the_float32_result(name):
    model = vae()
    with torch.no_grad() if name != "optimize_posterior" else torch.enable_grad():
        got = FLOAT64_CALLS[name](model, X.double())
        expected = FLOAT64_CALLS[name](model, X.float())
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected)


def test_float64_data_trains():
    a, b = vae(), vae()
    fit(a, X.double(), epochs=2, batch_size=3, progress=False)
    fit(b, X, epochs=2, batch_size=3, progress=False)
    for p, q in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(p, q)


# -- 2. pixels outside [0, 1] for a Bernoulli decoder -------------------------------------------
PIXEL_CALLS = {
    "log_likelihood": lambda m, x: m.log_likelihood(x, m.decode(torch.zeros(6, 3))),
    "elbo": lambda m, x: elbo.elbo(m, x),
    "iwae_bound": lambda m, x: elbo.iwae_bound(m, x, 3),
    "log_importance_weights": lambda m, x: elbo.log_importance_weights(m, x, 3),
    "elbo_given_q": lambda m, x: vem.elbo_given_q(m, x, torch.zeros(6, 3), torch.zeros(6, 3)),
    "iwae_bound_given_q": lambda m, x: vem.iwae_bound_given_q(m, x, torch.zeros(6, 3),
                                                              torch.zeros(6, 3), 3),
    "optimize_posterior": lambda m, x: vem.optimize_posterior(m, x, steps=1),
    "inference_gaps": lambda m, x: vem.inference_gaps(m, x, steps=1, k=2),
    "fit": lambda m, x: fit(m, x, epochs=1, progress=False),
}


@pytest.mark.parametrize("name", list(PIXEL_CALLS))
@pytest.mark.parametrize("scale", [255.0, -1.0])
def test_pixels_outside_the_unit_interval_are_refused_for_a_bernoulli_decoder(name, scale):
    with pytest.raises(ValueError, match=r"pixels in \[0, 1\].*Divide"):
        PIXEL_CALLS[name](vae(), X * scale)


def test_a_gaussian_decoder_takes_any_real_data():
    model = vae("gaussian", decoder_std=0.5)
    value = elbo.elbo(model, X * 4 - 3, 2, gen())
    assert torch.isfinite(value).all()


# -- 3. empty inputs and a latent dimension of 0 ------------------------------------------------
EMPTY_CALLS = {
    "kl of a 0-dim latent": lambda: elbo.kl_normal_std_normal(torch.zeros(5, 0),
                                                              torch.zeros(5, 0)),
    "kl of an empty batch": lambda: elbo.kl_per_dimension(torch.zeros(0, 2), torch.zeros(0, 2)),
    "elbo of an empty batch": lambda: elbo.elbo(vae(), X[:0]),
    "sample a 0-dim latent": lambda: reparam.sample(torch.zeros(3, 0), torch.zeros(3, 0), 2),
    "pathwise of a 0-dim latent": lambda: pathwise_grad(lambda z: z.sum(-1), torch.zeros(3, 0),
                                                        torch.zeros(3, 0), 2),
    "fit on no data": lambda: fit(vae(), X[:0], epochs=1),
    "VAE with latent_dim 0": lambda: VAE(12, 0),
    "conjugate evidence of no data": lambda: bayes.gaussian_log_evidence(np.zeros((0, 2)), 0, 1, 1),
    "a mixture of no data": lambda: gmm.fit_gmm(np.zeros((0, 2)), 1),
    "PPCA of no data": lambda: fit_ppca(np.zeros((0, 3)), 1),
    "an ELBO of a 0-dim q": lambda: LinearGaussianModel(np.ones((3, 1)), np.zeros(3), 1.0).elbo(
        np.zeros((2, 3)), np.zeros((2, 0)), np.ones((2, 0))),
    "EM with 0 latent dimensions": lambda: vem.fit_em(np.random.default_rng(0).normal(
        size=(10, 3)), 0),
}


@pytest.mark.parametrize("name", list(EMPTY_CALLS))
def test_empty_inputs_and_zero_dimensions_are_refused(name):
    with pytest.raises(ValueError, match="empty|>= 1|must have shape"):
        EMPTY_CALLS[name]()


# -- 4. divergence warns and says so in the result ---------------------------------------------
def test_a_diverging_training_run_warns_and_flags_it():
    with pytest.warns(RuntimeWarning, match="diverged"):
        history = fit(vae(), X, epochs=4, lr=1e4, progress=False)
    assert history.diverged and all(math.isfinite(v) for v in history.train_elbo)


def test_a_diverging_e_step_warns():
    with pytest.warns(RuntimeWarning, match="diverged"):
        vem.optimize_posterior(vae("gaussian", decoder_std=0.01), X * 0.5, steps=40,
                               lr=1e12)


def test_a_diverging_joint_gradient_ascent_warns_and_flags_it():
    X_lin = np.random.default_rng(0).normal(size=(50, 4))
    with pytest.warns(RuntimeWarning, match="diverged"):
        result = vem.fit_joint_gradient(X_lin, 2, lr=50.0, max_iter=50)
    assert result.diverged and np.all(np.isfinite(result.log_likelihood))


# -- 5. extreme but valid-looking values ------------------------------------------------------------
OVERFLOW_CALLS = {
    "KL with logvar 100 (float32)": lambda: elbo.kl_normal_std_normal(
        torch.zeros(2, 3), torch.full((2, 3), 100.0)),
    "sample with logvar -120 (float32)": lambda: reparam.sample(
        torch.zeros(2, 3), torch.full((2, 3), -120.0), 2),
    "log-density with logvar 1000 (float64)": lambda: reparam.log_normal_diag(
        torch.zeros(2, 3, dtype=torch.float64), torch.zeros(2, 3, dtype=torch.float64),
        torch.full((2, 3), 1000.0, dtype=torch.float64)),
    "noise sigma = 1e-200": lambda: bayes.gaussian_log_evidence(np.ones((3, 2)), 0.0, 1.0,
                                                                1e-200),
    "prior std = 1e200": lambda: bayes.gaussian_posterior(np.ones((3, 2)), 0.0, 1e200, 1.0),
    "PPCA noise 1e-200": lambda: LinearGaussianModel(np.ones((3, 1)), np.zeros(3), 1e-200),
    "data scaled by 1e200 (conjugate)": lambda: bayes.gaussian_log_evidence(
        np.ones((3, 2)) * 1e200, 0.0, 1.0, 1.0),
    "data scaled by 1e200 (mixture)": lambda: gmm.fit_gmm(
        np.random.default_rng(0).normal(size=(20, 2)) * 1e200, 2),
    "data scaled by 1e200 (PPCA)": lambda: fit_ppca(
        np.random.default_rng(0).normal(size=(20, 3)) * 1e200, 1),
    "float32 pixels scaled by 1e20": lambda: elbo.elbo(vae("gaussian", decoder_std=1.0),
                                                        X * 1e20),
    "an encoder fed data far off its scale": lambda: elbo.elbo(
        vae("gaussian", decoder_std=1.0), X * 1e6),
    "a learning rate of 1e200 (float32 Adam)": lambda: vem.optimize_posterior(
        vae(), X, steps=2, lr=1e200),
}


@pytest.mark.parametrize("name", list(OVERFLOW_CALLS))
def test_extreme_values_get_a_message_not_inf_or_nan(name):
    with pytest.raises(ValueError, match="overflow|underflow|too small|too large|rescale"):
        OVERFLOW_CALLS[name]()


def test_extreme_but_representable_values_give_finite_results():
    # logvar 80 is a variance of 5.5e34, still a float32: a huge but exact KL
    kl = elbo.kl_normal_std_normal(torch.zeros(1, 1), torch.full((1, 1), 80.0))
    assert torch.isfinite(kl).all() and float(kl) == pytest.approx(
        0.5 * (math.exp(80.0) - 81.0), rel=1e-6)
    # a tiny but squarable noise: the conjugate posterior sits on the data mean
    mean, std = bayes.gaussian_posterior(np.ones((3, 2)), 0.0, 1.0, 1e-100)
    np.testing.assert_allclose(mean, 1.0) and np.testing.assert_allclose(std, 1e-100 / np.sqrt(3))


# -- 6. hints that name the right fix ------------------------------------------------------------
def test_a_learning_rate_is_not_told_to_be_a_standard_deviation():
    with pytest.raises(ValueError) as info:
        fit(vae(), X, epochs=1, lr=-1.0)
    assert "standard deviation" not in str(info.value) and "learning rate" in str(info.value)
    with pytest.raises(ValueError) as info:
        bayes.beta_bernoulli_posterior([1, 0], -1.0, 1.0)
    assert "standard deviation" not in str(info.value) and "pseudo-count" in str(info.value)
    with pytest.raises(ValueError, match="standard deviation"):
        bayes.gaussian_posterior(np.ones((2, 1)), 0.0, -1.0, 1.0)


def test_one_feature_data_is_told_about_X_column_vectors():
    with pytest.raises(ValueError, match=r"X\[:, None\]"):
        gmm.fit_gmm(np.arange(10.0), 2)
    with pytest.raises(ValueError, match=r"X\[:, None\]"):
        fit_ppca(np.arange(10.0), 1)
    with pytest.raises(ValueError, match=r"\[:, None\]"):
        elbo.elbo(vae(), X[0])


# -- 7. what torch, PIL or matplotlib would have said, said by vaelib ---------------------------
GENERATOR_CALLS = {
    "sample": lambda g: reparam.sample(torch.zeros(2, 3), torch.zeros(2, 3), 2, generator=g),
    "elbo": lambda g: elbo.elbo(vae(), X, 2, generator=g),
    "iwae_bound": lambda g: elbo.iwae_bound(vae(), X, 2, generator=g),
    "kl_mc": lambda g: elbo.kl_normal_std_normal_mc(torch.zeros(2, 3), torch.zeros(2, 3), 2,
                                                     generator=g),
    "pathwise_grad": lambda g: pathwise_grad(lambda z: z.sum(-1), torch.zeros(2, 3),
                                             torch.zeros(2, 3), 2, generator=g),
    "score_function_grad": lambda g: score_function_grad(lambda z: z.sum(-1),
                                                         torch.zeros(2, 3),
                                                         torch.zeros(2, 3), 2, generator=g),
    "model.sample": lambda g: vae().sample(3, generator=g),
    "elbo_given_q": lambda g: vem.elbo_given_q(vae(), X, torch.zeros(6, 3), torch.zeros(6, 3),
                                               2, generator=g),
}


@pytest.mark.parametrize("name", list(GENERATOR_CALLS))
def test_a_seed_passed_as_a_generator_gets_a_hint(name):
    with pytest.raises(TypeError, match=r"torch.Generator\(\).manual_seed\(7\)"):
        GENERATOR_CALLS[name](7)


def test_mismatched_shapes_in_the_score_function_are_named():
    with pytest.raises(ValueError, match="must broadcast to eps's shape"):
        gaussian_score(torch.zeros(3, 2), torch.zeros(4, 2))
    with pytest.raises(ValueError, match="same shape"):
        score_function_grad(lambda z: z.sum(-1), torch.zeros(3, 2), torch.zeros(3, 3), 2)
    with pytest.raises(ValueError, match=r"map shape \(..., latent_dim\) to \(...\)"):
        score_function_grad(lambda z: z, torch.zeros(3, 2), torch.zeros(3, 2), 2)


def test_integer_pixels_are_told_to_divide():
    with pytest.raises(TypeError, match=r"float\(\) / 255"):
        elbo.elbo(vae(), (X * 255).to(torch.uint8))


# -- 8. exercise checkers give a verdict for any answer ----------------------------------------
WRONG_ANSWERS = [None, "0.5", [1, 2, 3], {"a": 1}, np.zeros((7, 7)), lambda *a: "x",
                 float("nan"), (1.0,), torch.zeros(2)]


@pytest.mark.parametrize("key", available())
def test_every_checker_gives_a_verdict_for_answers_of_the_wrong_type(key, capsys):
    for answer in WRONG_ANSWERS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            verdict = check(key, answer)
        assert verdict is False
        out = capsys.readouterr().out
        assert out.startswith("✘ ") and len(out.strip()) > 10
