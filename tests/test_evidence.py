"""vaelib.evidence: the exact evidence on a grid against scipy's adaptive quadrature and
seeded Monte Carlo; the no-latent baseline against scipy.stats and a sum over all images."""
import itertools
import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from vaelib import bayes
from vaelib.evidence import (BURDA2016_VAE_TEST_LL, GridEvidence, cached_grid_evidence,
                             fit_independent_bernoulli, grid_evidence,
                             independent_bernoulli_log_prob)
from vaelib.models import VAE


def small_vae(latent_dim, likelihood="bernoulli", seed=0, **kwargs):
    torch.manual_seed(seed)
    return VAE(6, latent_dim, hidden_dims=(8,), likelihood=likelihood, **kwargs).double().eval()


def images(n=3, seed=0):
    return torch.bernoulli(torch.full((n, 6), 0.5, dtype=torch.float64),
                           generator=torch.Generator().manual_seed(seed))


def joint_density(model, x):
    """p(x, z) at one point z, for scipy's integrators."""
    def f(*z):
        zt = torch.tensor(z, dtype=torch.float64)[None, None]
        return math.exp(float(model.log_joint(x[None], zt).detach()))
    return f


# -- the no-latent baseline -------------------------------------------------------------

def test_independent_bernoulli_fit_and_log_prob():
    X_train = np.random.default_rng(0).random((50, 4))          # grey levels
    X_train[:, 3] = 0.0                                           # a pixel never on
    probs = fit_independent_bernoulli(X_train, pseudo_count=1.0)
    np.testing.assert_allclose(probs, (X_train.sum(0) + 1) / 52)
    assert probs[3] == pytest.approx(1 / 52)
    X = (np.random.default_rng(1).random((6, 4)) < 0.5).astype(float)
    expected = stats.bernoulli(probs).logpmf(X).sum(1)
    np.testing.assert_allclose(independent_bernoulli_log_prob(X, probs), expected, rtol=1e-12)
    # torch tensors are accepted, and a tiny pseudo-count gives the mean grey level
    np.testing.assert_allclose(fit_independent_bernoulli(torch.as_tensor(X_train), 1e-9)[:3],
                               X_train.mean(0)[:3], rtol=1e-7)


def test_independent_bernoulli_is_a_normalised_distribution():
    probs = fit_independent_bernoulli(np.random.default_rng(2).random((10, 5)))
    every_image = np.array(list(itertools.product([0.0, 1.0], repeat=5)))   # all 32
    total = np.exp(independent_bernoulli_log_prob(every_image, probs)).sum()
    assert total == pytest.approx(1.0, abs=1e-12)


def test_baseline_bad_inputs():
    with pytest.raises(ValueError, match=r"\[0, 1\].*255"):
        fit_independent_bernoulli(np.full((3, 2), 255.0))
    with pytest.raises(ValueError, match="pseudo_count"):
        fit_independent_bernoulli(np.zeros((3, 2)), pseudo_count=0.0)
    with pytest.raises(ValueError, match="one entry per pixel"):
        independent_bernoulli_log_prob(np.zeros((3, 2)), [0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match=r"strictly inside \(0, 1\)"):
        independent_bernoulli_log_prob(np.zeros((3, 2)), [0.0, 0.5])
    with pytest.raises(ValueError, match="2 dimension"):
        fit_independent_bernoulli(np.zeros(3))
    assert BURDA2016_VAE_TEST_LL == -86.76


# -- the evidence on a grid ---------------------------------------------------------------

def test_grid_evidence_matches_adaptive_quadrature_in_one_dimension():
    # A ReLU decoder has kinks, so the midpoint rule's error falls like h^2 with an
    # erratic sign (measured: 1.6e-6 at h = 0.023, 1.5e-8 at h = 0.003): allow 0.01 h^2,
    # far below the thousandth of a nat the chapter prints.
    model = small_vae(1)
    X = images(2)
    m = 2400
    result = grid_evidence(model, X, -7.0, 7.0, m).log_evidence
    first = model.decoder[0]                        # the decoder's kinks: W z + b = 0
    kinks = sorted((-first.bias / first.weight[:, 0]).detach().tolist())
    for i in range(2):
        value, _ = integrate.quad(joint_density(model, X[i]), -9, 9, epsabs=0, epsrel=1e-11,
                                  limit=400, points=[k for k in kinks if -9 < k < 9])
        assert abs(float(result[i]) - math.log(value)) < 0.01 * (14.0 / m) ** 2


def test_grid_evidence_matches_seeded_monte_carlo_in_two_dimensions():
    # p(x) = E_{z ~ N(0, I)}[p(x | z)]: for this small decoder the likelihood varies
    # mildly over the prior, so 400,000 prior draws pin log p(x) down to ~1e-3; the grid
    # must lie within 5 standard errors (delta method: sd(w) / (mean(w) sqrt(N))).
    model = small_vae(2)
    X = images(3)
    result = grid_evidence(model, X, -7.0, 7.0, 300).log_evidence
    N = 400_000
    z = torch.randn(N, 3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        w = torch.exp(model.log_likelihood(X, model.decode(z)))                 # (N, 3)
    estimate = torch.log(w.mean(0))
    se = w.std(0) / w.mean(0) / math.sqrt(N)
    assert bool(((result - estimate).abs() < 5 * se).all()), (result, estimate, se)


def test_grid_evidence_is_chapter_ones_grid_and_its_posterior_moments():
    model = small_vae(2, seed=3)
    X = images(3, seed=1)
    result = grid_evidence(model, X, -6.0, 6.0, 150, chunk_size=1000)   # chunks: online lse
    for i in range(3):
        log_joint = lambda z: model.log_joint(X[i:i + 1], torch.as_tensor(z)[:, None]
                                              ).detach().numpy()[:, 0]
        ref = bayes.grid_log_evidence(log_joint, 2, -6.0, 6.0, 150)
        assert float(result.log_evidence[i]) == pytest.approx(ref, abs=1e-10)
        centres, log_post, _ = bayes.grid_posterior(log_joint, 2, -6.0, 6.0, 150)
        post = np.exp(log_post) * (centres[1] - centres[0]) ** 2           # cell masses
        z1, z2 = np.meshgrid(centres, centres, indexing="ij")
        mean = np.array([(post * z1).sum(), (post * z2).sum()])
        cov = np.array([[(post * (z1 - mean[0]) ** 2).sum(),
                         (post * (z1 - mean[0]) * (z2 - mean[1])).sum()],
                        [0.0, (post * (z2 - mean[1]) ** 2).sum()]])
        cov[1, 0] = cov[0, 1]
        np.testing.assert_allclose(result.posterior_mean[i].numpy(), mean, atol=1e-10)
        np.testing.assert_allclose(result.posterior_cov[i].numpy(), cov, atol=1e-10)


def test_a_centred_fine_grid_agrees_with_the_wide_grid():
    model = small_vae(2, seed=4)
    X = images(1, seed=2)
    wide = grid_evidence(model, X, -7.0, 7.0, 400)
    centre = wide.posterior_mean[0].numpy()
    half = 8 * float(torch.linalg.eigvalsh(wide.posterior_cov[0]).max().sqrt())
    local = grid_evidence(model, X, -half, half, 200, centre=centre)
    # both midpoint rules err by O(h^2) (h = 0.035 and ~0.01 here): agree to 1e-5
    torch.testing.assert_close(local.log_evidence, wide.log_evidence, rtol=0, atol=1e-5)
    torch.testing.assert_close(local.posterior_mean, wide.posterior_mean, rtol=0, atol=1e-5)
    with pytest.raises(ValueError, match="centre"):
        grid_evidence(model, X, -1.0, 1.0, 10, centre=[0.0, 0.0, 0.0])


def test_grid_evidence_of_a_gaussian_decoder():
    model = small_vae(1, "gaussian", decoder_std=0.4)
    X = torch.rand(2, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    result = grid_evidence(model, X, -8.0, 8.0, 800)
    for i in range(2):
        # the integrand is float32-exact to ~1e-7: ask quad for no more than that
        value, _ = integrate.quad(joint_density(model, X[i]), -10, 10, epsabs=1e-10,
                                  epsrel=1e-7, limit=200)
        assert float(result.log_evidence[i]) == pytest.approx(math.log(value), abs=1e-6)


def test_cached_grid_evidence_computes_once(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEBOOK_CACHE", str(tmp_path))
    model, X = small_vae(2), images(2)
    first = cached_grid_evidence(model, X, -5.0, 5.0, 60)
    assert isinstance(first, GridEvidence) and len(list((tmp_path / "evidence").glob("*.pt"))) == 1
    direct = grid_evidence(model, X, -5.0, 5.0, 60)
    torch.testing.assert_close(first.log_evidence, direct.log_evidence)
    again = cached_grid_evidence(model, X, -5.0, 5.0, 60)
    torch.testing.assert_close(again.posterior_cov, direct.posterior_cov)
    cached_grid_evidence(model, X, -5.0, 5.0, 61)                          # another grid
    assert len(list((tmp_path / "evidence").glob("*.pt"))) == 2


def test_grid_evidence_bad_inputs():
    with pytest.raises(ValueError, match="latent_dim <= 3"):
        grid_evidence(small_vae(4), images(), n_per_dim=5)
    with pytest.raises(ValueError, match="lo < hi"):
        grid_evidence(small_vae(2), images(), 1.0, -1.0)
    with pytest.raises(ValueError, match="n_per_dim must be >= 2"):
        grid_evidence(small_vae(2), images(), n_per_dim=1)
    with pytest.raises(ValueError, match="MAX_GRID_POINTS"):
        grid_evidence(small_vae(3), images(), n_per_dim=1000)
    with pytest.raises(ValueError, match=r"shape \(batch, 6\)"):
        grid_evidence(small_vae(2), torch.zeros(3, 5, dtype=torch.float64))
    with pytest.raises(TypeError, match="vaelib.models.VAE"):
        grid_evidence(object(), images())
