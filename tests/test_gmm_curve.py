"""Tests of the one-latent-coordinate curve model of chapter 2 (vaelib.gmm.curve).

References: ``scipy.integrate.quad`` for the evidence integral, the mixture code of
``vaelib.gmm`` (the model on a grid is a Gaussian mixture with tied parameters), and
properties EM must have (the log-likelihood never decreases; the same seed, the same
result; f(-z) gives the same likelihood).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from vaelib import gmm
from vaelib.gmm import curve


def _model(seed=0, hidden=8):
    torch.manual_seed(seed)
    model = curve.CurveDecoder(2, hidden)
    with torch.no_grad():
        model.log_sigma.fill_(math.log(0.3))
    return model


def _points(n=40, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, np.pi, n)
    return np.stack([np.cos(t), np.sin(t)], 1) + 0.1 * rng.standard_normal((n, 2))


def test_curve_log_likelihood_matches_quad():
    """log ∫ N(x; f(z), σ² I) N(z; 0, 1) dz by adaptive quadrature, for a few points."""
    model = _model()
    X = _points(5)

    def f(z):
        with torch.no_grad():
            return model(torch.tensor([float(z)], dtype=torch.float64)).numpy()[0]

    sigma = model.log_sigma.exp().item()
    grid = curve.curve_log_likelihood(model, X, -8, 8, 4000)
    for x, value in zip(X, grid):
        integrand = lambda z: (stats.multivariate_normal(f(z), sigma**2).pdf(x)  # noqa: E731
                               * stats.norm.pdf(z))
        exact, _ = integrate.quad(integrand, -10, 10, epsabs=0, epsrel=1e-10, limit=200)
        assert value == pytest.approx(math.log(exact), abs=1e-8)


def test_curve_on_a_grid_is_a_tied_gaussian_mixture():
    """m grid cells: means f(z_k), covariance σ² I, weights h N(z_k; 0, 1) / total."""
    model = _model(1)
    X = _points(30, seed=1)
    m, lo, hi = 300, -5.0, 5.0
    centres, width = np.linspace(lo, hi, m, endpoint=False) + (hi - lo) / (2 * m), (hi - lo) / m
    with torch.no_grad():
        means = model(torch.as_tensor(centres)).numpy()
    weights = width * stats.norm.pdf(centres)
    sigma2 = model.log_sigma.exp().item() ** 2
    mixture = gmm.log_likelihood(X, weights / weights.sum(), means, np.full((m, 2), sigma2))
    np.testing.assert_allclose(curve.curve_log_likelihood(model, X, lo, hi, m),
                               mixture + math.log(weights.sum()), atol=1e-10)


def test_fit_curve_never_decreases_the_likelihood_and_is_deterministic():
    X = _points(200, seed=2)
    first = curve.fit_curve(X, seed=3, hidden=8, max_iter=15, n_per_dim=200)
    second = curve.fit_curve(X, seed=3, hidden=8, max_iter=15, n_per_dim=200)
    history = np.array(first.log_likelihoods)
    assert history.shape == (16,) and np.diff(history).min() > -1e-12
    assert history[-1] > history[0] + 0.1
    assert history == pytest.approx(second.log_likelihoods, abs=0)
    # the training log-likelihood is the grid log-likelihood of the returned model
    assert history[-1] == pytest.approx(
        curve.curve_log_likelihood(first.model, X, -4.0, 4.0, 200).mean(), abs=1e-10)


def test_mirror_image_curve_has_the_same_likelihood():
    model = _model(4)
    X = _points(20, seed=4)
    mirrored = curve.CurveDecoder(2, 8)
    mirrored.load_state_dict(model.state_dict())
    with torch.no_grad():
        mirrored.net[0].weight.neg_()
    np.testing.assert_allclose(curve.curve_log_likelihood(mirrored, X),
                               curve.curve_log_likelihood(model, X), atol=1e-10)


def test_fitted_curve_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEBOOK_CACHE", str(tmp_path))
    X = _points(100, seed=5)
    fit, from_cache = curve.fitted_curve(X, seed=0, hidden=8, max_iter=3, n_per_dim=100)
    again, from_cache_again = curve.fitted_curve(X, seed=0, hidden=8, max_iter=3,
                                                 n_per_dim=100)
    assert not from_cache and from_cache_again
    assert fit.log_likelihoods == again.log_likelihoods
    for a, b in zip(fit.model.parameters(), again.model.parameters()):
        assert torch.equal(a, b)


def test_parameter_count():
    assert curve.n_curve_parameters(curve.CurveDecoder(2, 16)) == (2 * 16) + (16 * 17) + (17 * 2) + 1


def test_curve_bad_inputs():
    model = _model()
    with pytest.raises(TypeError, match="CurveDecoder"):
        curve.curve_log_likelihood("model", np.zeros((3, 2)))
    with pytest.raises(ValueError, match="features"):
        curve.curve_log_likelihood(model, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="2 dimension"):
        curve.curve_log_likelihood(model, np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        curve.fit_curve(np.full((5, 2), np.nan), seed=0)
    with pytest.raises(ValueError, match="seed"):
        curve.fit_curve(np.zeros((5, 2)), seed=-1)
    with pytest.raises(ValueError, match="lr"):
        curve.fit_curve(np.zeros((5, 2)), seed=0, lr=-1.0)
    with pytest.raises(ValueError, match="sigma_init"):
        curve.fit_curve(np.zeros((5, 2)), seed=0, sigma_init=0.0)
