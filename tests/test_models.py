"""vaelib.models.VAE against torch.distributions and scipy.stats."""
import numpy as np
import pytest
import torch
from scipy import stats
from torch.distributions import Bernoulli, Normal, kl_divergence

from vaelib.elbo import elbo
from vaelib.models import VAE


def make(input_dim=12, latent_dim=3, **kwargs):
    torch.manual_seed(0)
    return VAE(input_dim, latent_dim, hidden_dims=kwargs.pop("hidden_dims", (16, 8)), **kwargs)


def test_shapes_with_leading_sample_dims():
    model = make()
    x = torch.rand(5, 12)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (5, 3)
    assert model.decode(torch.randn(5, 3)).shape == (5, 12)
    z = torch.randn(7, 5, 3)
    decoded = model.decode(z)
    assert decoded.shape == (7, 5, 12)
    assert model.log_likelihood(x, decoded).shape == (7, 5)
    assert model.decode(torch.randn(2, 7, 5, 3)).shape == (2, 7, 5, 12)
    # each sample decoded alone gives the same numbers as the batched call
    for l in range(7):
        torch.testing.assert_close(decoded[l], model.decode(z[l]))
        torch.testing.assert_close(model.log_likelihood(x, decoded)[l],
                                   model.log_likelihood(x, decoded[l]))


def test_architecture_mirrors_hidden_dims():
    model = VAE(784, 20)                         # the pytorch/examples network
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [(400, 784), (400,), (40, 400), (40,), (400, 20), (400,), (784, 400), (784,)]
    assert VAE(10, 2, hidden_dims=()).decode(torch.zeros(1, 2)).shape == (1, 10)


def test_forward_in_eval_mode_decodes_the_mean():
    model = make().eval()
    x = torch.rand(4, 12)
    decoded, mu, logvar = model(x)
    torch.testing.assert_close(decoded, model.decode(model.encode(x)[0]))
    model.train()
    torch.manual_seed(1)
    decoded_train, mu2, logvar2 = model(x)
    torch.testing.assert_close(mu2, mu)
    assert not torch.allclose(decoded_train, decoded)   # a random z in training mode


def test_bernoulli_log_likelihood_matches_torch_distributions():
    model = make()
    logits = torch.randn(3, 6, 12, dtype=torch.float64) * 4
    x = torch.bernoulli(torch.full((6, 12), 0.4, dtype=torch.float64))
    expected = Bernoulli(logits=logits).log_prob(x).sum(-1)
    torch.testing.assert_close(model.log_likelihood(x, logits), expected)


def test_bernoulli_log_likelihood_for_grey_pixels_is_the_cross_entropy():
    # x in [0, 1] (not binary): x log p + (1 - x) log(1 - p), summed over pixels
    model = make()
    logits = torch.randn(6, 12, dtype=torch.float64) * 3
    x = torch.rand(6, 12, dtype=torch.float64)
    p = 1 / (1 + np.exp(-logits.numpy()))
    expected = (x.numpy() * np.log(p) + (1 - x.numpy()) * np.log1p(-p)).sum(-1)
    np.testing.assert_allclose(model.log_likelihood(x, logits).numpy(), expected, rtol=1e-12)


def test_bernoulli_log_likelihood_is_stable_for_extreme_logits():
    model = make()
    logits = torch.tensor([[200.0, -200.0] + [0.0] * 10])
    x = torch.tensor([[1.0, 0.0] + [0.5] * 10])
    value = model.log_likelihood(x, logits)
    assert torch.isfinite(value).all()
    torch.testing.assert_close(value, torch.tensor([10 * np.log(0.5)], dtype=torch.float32))


@pytest.mark.parametrize("std", [0.05, 0.3, 2.0])
def test_gaussian_log_likelihood_matches_scipy(std):
    model = make(likelihood="gaussian", decoder_std=std)
    mean = torch.rand(4, 5, 12, dtype=torch.float64)
    x = torch.rand(5, 12, dtype=torch.float64)
    expected = stats.norm(loc=mean.numpy(), scale=std).logpdf(x.numpy()).sum(-1)
    np.testing.assert_allclose(model.log_likelihood(x, mean).numpy(), expected, rtol=1e-12)
    torch.testing.assert_close(model.log_likelihood(x, mean),
                               Normal(mean, std).log_prob(x).sum(-1))


def test_gaussian_decoder_outputs_means_in_unit_interval():
    model = make(likelihood="gaussian", decoder_std=0.1)
    means = model.decode(torch.randn(100, 3) * 10)
    assert (means > 0).all() and (means < 1).all()
    torch.testing.assert_close(model.mean(torch.zeros(1, 3)), model.decode(torch.zeros(1, 3)))


def test_mean_and_sample_of_a_bernoulli_model_are_probabilities():
    model = make()
    z = torch.randn(4, 3)
    torch.testing.assert_close(model.mean(z), torch.sigmoid(model.decode(z)))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    torch.testing.assert_close(model.sample(5, generator=g1), model.sample(5, generator=g2))
    assert model.sample(5).shape == (5, 12)


def test_elbo_of_the_model_matches_torch_distributions():
    # vaelib.elbo.elbo (chapter 4) with this model, against an independent computation
    model = make()
    x = torch.bernoulli(torch.full((6, 12), 0.3))
    L = 4
    value = elbo(model, x, n_samples=L, generator=torch.Generator().manual_seed(0))
    mu, logvar = model.encode(x)
    std = torch.exp(0.5 * logvar)
    eps = torch.randn((L, 6, 3), generator=torch.Generator().manual_seed(0))
    z = mu + std * eps
    log_px_z = Bernoulli(logits=model.decode(z)).log_prob(x).sum(-1).mean(0)
    kl = kl_divergence(Normal(mu, std), Normal(0.0, 1.0)).sum(-1)
    torch.testing.assert_close(value, log_px_z - kl)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_log_joint_is_likelihood_plus_prior(likelihood):
    # against torch.distributions: Bernoulli (or Normal) pixels times a standard normal prior
    kwargs = {"decoder_std": 0.3} if likelihood == "gaussian" else {}
    model = make(likelihood=likelihood, **kwargs).double()
    x = torch.bernoulli(torch.full((5, 12), 0.4, dtype=torch.float64),
                        generator=torch.Generator().manual_seed(0))
    z = torch.randn(7, 5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    decoded = model.decode(z)
    pixels = (Bernoulli(logits=decoded) if likelihood == "bernoulli"
              else Normal(decoded, 0.3))
    expected = pixels.log_prob(x).sum(-1) + Normal(0.0, 1.0).log_prob(z).sum(-1)
    got = model.log_joint(x, z)
    assert got.shape == (7, 5)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-10)
    # one image, many codes (the grid of chapter 3): x[None], z[:, None]
    torch.testing.assert_close(model.log_joint(x[:1], z[:, :1]), expected[:, :1])
    # any number of leading sample dimensions
    assert model.log_joint(x, z[None]).shape == (1, 7, 5)


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_pairwise_log_likelihood_is_the_broadcast_one(likelihood):
    kwargs = {"decoder_std": 0.2} if likelihood == "gaussian" else {}
    model = make(likelihood=likelihood, **kwargs).double()
    X = torch.bernoulli(torch.full((4, 12), 0.5, dtype=torch.float64))
    decoded = model.decode(torch.randn(9, 3, dtype=torch.float64))
    pairs = model._log_likelihood_pairs(X, decoded)                        # (4, 9)
    broadcast = model.log_likelihood(X, decoded[:, None].expand(9, 4, 12))  # (9, 4)
    torch.testing.assert_close(pairs, broadcast.T, rtol=1e-12, atol=1e-9)


def test_log_joint_bad_shapes():
    model = make()
    x = torch.rand(5, 12)
    assert model.log_joint(x, torch.zeros(5, 3)).shape == (5,)   # no sample dimension: (batch,)
    with pytest.raises(ValueError, match=r"\(n_samples, batch, latent_dim\).*x\[None\]"):
        model.log_joint(x, torch.zeros(3))               # a single code, no batch
    with pytest.raises(ValueError, match="n_samples, batch, latent_dim"):
        model.log_joint(x, torch.zeros(2, 4, 3))         # batch differs
    with pytest.raises(ValueError, match="n_samples, batch, latent_dim"):
        model.log_joint(x, torch.zeros(2, 5, 2))         # latent_dim differs
    with pytest.raises(ValueError, match="NaN"):
        model.log_joint(x, torch.full((2, 5, 3), float("nan")))
    with pytest.raises(ValueError, match=r"pixels in \[0, 1\]"):
        model.log_joint(x * 255, torch.zeros(2, 5, 3))


def test_repr_names_the_configuration():
    assert "decoder_std=0.1" in repr(VAE(4, 2, (3,), likelihood="gaussian", decoder_std=0.1))


# -- bad inputs ------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, match", [
    (dict(input_dim=0, latent_dim=2), ValueError, "input_dim must be >= 1"),
    (dict(input_dim=4, latent_dim=0), ValueError, "latent_dim must be >= 1"),
    (dict(input_dim=4, latent_dim=2.5), TypeError, "latent_dim must be an integer"),
    (dict(input_dim=4, latent_dim=2, hidden_dims=400), TypeError, "sequence of layer widths"),
    (dict(input_dim=4, latent_dim=2, hidden_dims=(8, 0)), ValueError, "hidden width"),
    (dict(input_dim=4, latent_dim=2, likelihood="poisson"), ValueError, "bernoulli"),
    (dict(input_dim=4, latent_dim=2, likelihood="gaussian"), ValueError, "decoder_std"),
    (dict(input_dim=4, latent_dim=2, likelihood="gaussian", decoder_std=-0.1), ValueError,
     "standard deviation"),
    (dict(input_dim=4, latent_dim=2, likelihood="gaussian", decoder_std=float("nan")),
     ValueError, "finite"),
    (dict(input_dim=4, latent_dim=2, decoder_std=0.1), ValueError, "only used with"),
])
def test_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        VAE(**kwargs)


def test_bad_tensors_are_rejected_with_a_hint():
    model = make()
    with pytest.raises(ValueError, match="2 dimension.*Flatten"):
        model.encode(torch.rand(5, 3, 4))
    with pytest.raises(ValueError, match=r"shape \(batch, 12\).*Flatten"):
        model.encode(torch.rand(5, 4))
    with pytest.raises(TypeError, match="torch.as_tensor"):
        model.encode(np.zeros((5, 12)))
    with pytest.raises(TypeError, match="floating-point"):
        model.encode(torch.zeros(5, 12, dtype=torch.int64))
    with pytest.raises(ValueError, match="NaN"):
        model.encode(torch.full((5, 12), float("nan")))
    with pytest.raises(ValueError, match="NaN"):
        model.decode(torch.tensor([[0.0, float("inf"), 0.0]]))
    with pytest.raises(ValueError, match=r"shape \(\.\.\., batch, 3\)"):
        model.decode(torch.zeros(5, 4))
    with pytest.raises(ValueError, match="does not end in"):
        model.log_likelihood(torch.rand(5, 12), torch.zeros(2, 4, 12))
    with pytest.raises(ValueError, match="n must be >= 1"):
        model.sample(0)
