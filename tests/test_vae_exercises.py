"""Checkers of chapter 3's exercises accept the right answers and explain wrong ones."""
import torch
from torch.nn import functional as F

from vaelib.exercises import available, check
from vaelib.exercises.vae import ex1_answer, ex3_answer
from vaelib.models import VAE


def test_registered():
    assert {"vae-1", "vae-2", "vae-3"} <= set(available())


def test_vae1_parameter_count(capsys):
    model = VAE(784, 20, hidden_dims=(400,))
    assert ex1_answer() == sum(p.numel() for p in model.parameters()) == 652_824
    # independent count, layer by layer: n_in * n_out + n_out
    layers = [(784, 400), (400, 40), (20, 400), (400, 784)]
    assert sum(i * o + o for i, o in layers) == ex1_answer()
    assert check("vae-1", 652_824)
    assert not check("vae-1", 652_824 - (400 * 20 + 20))
    assert "mu and logvar" in capsys.readouterr().out
    assert not check("vae-1", 652_824.0)
    assert not check("vae-1", True)


def test_vae2_bernoulli_log_likelihood(capsys):
    assert check("vae-2", lambda x, l: (x * l - F.softplus(l)).sum(-1))
    assert check("vae-2", lambda x, l: torch.distributions.Bernoulli(
        logits=l, validate_args=False).log_prob(x).sum(-1))
    naive = lambda x, l: (x * torch.log(torch.sigmoid(l))
                          + (1 - x) * torch.log(1 - torch.sigmoid(l))).sum(-1)
    assert not check("vae-2", naive)
    assert "not finite" in capsys.readouterr().out
    assert not check("vae-2", lambda x, l: (x * l - F.softplus(l)))
    assert "sum over the last" in capsys.readouterr().out
    assert not check("vae-2", lambda x, l: -(x * l - F.softplus(l)).sum(-1))
    assert "sign" in capsys.readouterr().out
    assert not check("vae-2", lambda x, l: 1 / 0)
    assert not check("vae-2", 3.0)


def test_vae3_beta_of_sigma(capsys):
    # -ELBO * 2 sigma^2 = ||x - m||^2 + 2 sigma^2 KL + const: check numerically
    sigma = 0.3
    model = VAE(5, 2, (4,), likelihood="gaussian", decoder_std=sigma)
    x, m = torch.rand(3, 5, dtype=torch.float64), torch.rand(3, 5, dtype=torch.float64)
    log_lik = model.log_likelihood(x, m)
    sse = ((x - m) ** 2).sum(-1)
    const = log_lik + sse / (2 * sigma**2)
    torch.testing.assert_close(const, const[:1].expand(3))      # the rest is constant
    assert abs(ex3_answer(sigma) / (2 * sigma**2) - 1.0) < 1e-12
    assert check("vae-3", lambda s: 2 * s**2)
    assert not check("vae-3", lambda s: s**2)
    assert not check("vae-3", lambda s: 1 / (2 * s**2))
    assert not check("vae-3", lambda s: "two sigma squared")
    assert not check("vae-3", 0.5)
    capsys.readouterr()
