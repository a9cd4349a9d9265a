"""vaelib.latent: each measurement against a case whose answer is known in closed form."""
import math

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from vaelib import _gaussian
from vaelib.latent import (ACTIVE_THRESHOLD, active_dimensions, aggregate_kl,
                           compare_latent_spaces, interpolate, largest_step, nearest_distance)


def test_active_dimensions_is_the_variance_of_the_means():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(500, 4)) * np.array([1.0, 0.2, 0.05, 0.0])     # var 1, .04, .0025, 0
    got = active_dimensions(torch.as_tensor(mu))
    assert got.tolist() == (mu.var(0) > ACTIVE_THRESHOLD).tolist() == [True, True, False, False]
    assert active_dimensions(torch.as_tensor(mu), threshold=1e-3).tolist() == [True] * 3 + [False]
    with pytest.raises(ValueError, match="at least 2"):
        active_dimensions(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="threshold"):
        active_dimensions(torch.zeros(4, 3), threshold=-1.0)


def test_interpolate_hits_both_ends_in_equal_steps():
    a, b = torch.tensor([[0.0, 1.0], [2.0, 2.0]]), torch.tensor([[4.0, 1.0], [2.0, -2.0]])
    path = interpolate(a, b, 5)
    assert path.shape == (5, 2, 2)
    torch.testing.assert_close(path[0], a)
    torch.testing.assert_close(path[-1], b)
    torch.testing.assert_close(path[1] - path[0], (b - a) / 4)
    with pytest.raises(ValueError, match="same shape"):
        interpolate(a, b[:1], 5)
    with pytest.raises(ValueError, match="n_points must be >= 2"):
        interpolate(a, b, 1)


def test_largest_step_of_a_linear_a_torn_and_a_blurred_path():
    a, b = torch.zeros(3, 2), torch.tensor([[1.0, 0.0], [0.0, 3.0], [2.0, 2.0]])
    W = torch.randn(2, 10, generator=torch.Generator().manual_seed(0))
    linear = interpolate(a, b, 41) @ W                                     # a linear decoder
    torch.testing.assert_close(largest_step(linear), torch.full((3,), 1 / 40))
    torn = torch.where(interpolate(a, b, 41)[..., :1] < 0.5 * b[:, :1], 0.0, 1.0) * W[0]
    assert float(largest_step(torn)[0]) == pytest.approx(1.0)             # one jump: all of it
    blurred = 0.3 * linear + 0.7 * linear.mean(dim=(0, 1))                 # towards the mean
    torch.testing.assert_close(largest_step(blurred), largest_step(linear))
    assert bool(torch.isnan(largest_step(torch.zeros(5, 2, 3))).all())      # nothing changes
    with pytest.raises(ValueError, match="at least 2 points"):
        largest_step(torch.zeros(1, 2, 3))


def test_nearest_distance_against_scipy():
    rng = np.random.default_rng(1)
    A, B = rng.random((30, 7)), rng.random((50, 7))
    got = nearest_distance(torch.as_tensor(A), torch.as_tensor(B), chunk_size=8)
    np.testing.assert_allclose(got.numpy(), cdist(A, B).min(1), rtol=1e-10)
    with pytest.raises(ValueError, match="same number of pixels"):
        nearest_distance(torch.zeros(2, 3), torch.zeros(2, 4))


def test_aggregate_kl_is_the_closed_form_kl_for_one_component():
    # every data point with the same q: the aggregate posterior is that q, and its KL to
    # N(0, I) is the closed form; the Monte Carlo estimate lies within 5 standard errors
    mu = torch.tensor([[0.7, -0.4, 0.1]]).repeat(50, 1)
    logvar = torch.tensor([[-1.0, 0.3, -0.2]]).repeat(50, 1)
    kl, se = aggregate_kl(mu, logvar, 20_000, torch.Generator().manual_seed(0))
    exact = float(_gaussian.kl_std_normal(mu[0], logvar[0]))
    assert abs(kl - exact) < 5 * se and se < 0.02
    # the prior itself: every term is exactly 0
    kl0, se0 = aggregate_kl(torch.zeros(10, 2), torch.zeros(10, 2), 100)
    assert abs(kl0) < 1e-12 and se0 < 1e-12


def test_aggregate_kl_of_a_two_point_mixture_against_numerical_integration():
    # q_agg = (N(-1, 0.25) + N(1, 0.25)) / 2 in one dimension, KL to N(0, 1) by quadrature
    from scipy import integrate, stats
    mu, logvar = torch.tensor([[-1.0], [1.0]]), torch.full((2, 1), math.log(0.25))

    def integrand(z):
        q = 0.5 * (stats.norm.pdf(z, -1, 0.5) + stats.norm.pdf(z, 1, 0.5))
        return q * (math.log(q) - stats.norm.logpdf(z)) if q > 0 else 0.0

    exact, _ = integrate.quad(integrand, -8, 8, epsrel=1e-10)
    kl, se = aggregate_kl(mu, logvar, 40_000, torch.Generator().manual_seed(1))
    assert abs(kl - exact) < 5 * se


def test_compare_latent_spaces_on_small_models(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEBOOK_CACHE", str(tmp_path))
    result = compare_latent_spaces("digits", latent_dims=(2,), seeds=(0,), n_prior=200,
                                   n_pairs=20, n_points=11)
    ae, vae = result["ae"][2][0], result["vae"][2][0]
    for entry in (ae, vae):
        assert 0 <= entry["class_tv_prior"] <= 1 and 0 <= entry["far_share_prior"] <= 1
        assert 1 / 10 <= entry["largest_step_median"] <= 1 and entry["active"] <= 2
    assert "aggregate_kl" in vae and "aggregate_kl" not in ae and vae["aggregate_kl"] > 0
    again = compare_latent_spaces("digits", latent_dims=(2,), seeds=(0,), n_prior=200,
                                  n_pairs=20, n_points=11)
    assert again == result                                                 # from the cache
    with pytest.raises(ValueError, match="kinds"):
        compare_latent_spaces("digits", kinds=("pca",))
