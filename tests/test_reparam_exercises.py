"""The checkers of chapter 5's exercises accept right answers and explain wrong ones."""
import math

import pytest
import torch
from scipy import stats

from vaelib.exercises import available, check


def test_the_four_checkers_are_registered():
    assert {"reparam-1", "reparam-2", "reparam-3", "reparam-4"} <= set(available())


def test_reparam_1_biased_baseline(capsys):
    assert check("reparam-1", lambda L: (L - 1) / L)
    assert not check("reparam-1", lambda L: 1.0)
    assert "not independent" in capsys.readouterr().out
    assert not check("reparam-1", lambda L: 1 / L)
    assert "cancelled" in capsys.readouterr().out
    assert not check("reparam-1", 0.75)             # a number: the exercise asks for ratio(L)
    assert "ratio(L) of any L" in capsys.readouterr().out
    assert not check("reparam-1", lambda L: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def _sine_var(omega, mu, std):
    # by adaptive quadrature over the Gaussian density (scipy): an independent reference
    from scipy.integrate import quad

    def moment(k):
        return quad(lambda z: (omega * math.cos(omega * z)) ** k * stats.norm.pdf(z, mu, std),
                    mu - 12 * std, mu + 12 * std, limit=800, epsabs=1e-13, epsrel=1e-12)[0]

    return moment(2) - moment(1) ** 2


def test_reparam_2_sine_variance(capsys):
    assert check("reparam-2", _sine_var)
    second_moment = lambda w, m, s: 0.5 * w ** 2 * (                          # noqa: E731
        1 + math.cos(2 * w * m) * math.exp(-2 * (w * s) ** 2))
    assert not check("reparam-2", second_moment)
    assert "squared mean" in capsys.readouterr().out
    assert not check("reparam-2", lambda w, m, s: _sine_var(w, m, s) / w ** 2)
    assert "omega^2" in capsys.readouterr().out
    assert not check("reparam-2", lambda w, m, s: w ** 2 / 2)
    assert "limit" in capsys.readouterr().out
    assert not check("reparam-2", "omega**2 / 2")


def test_reparam_3_step_function(capsys):
    assert check("reparam-3", stats.norm.pdf(0.5))
    assert not check("reparam-3", 0.0)
    assert "Phi(mu / std)" in capsys.readouterr().out
    assert not check("reparam-3", stats.norm.cdf(0.5))
    assert "Phi(0.5) itself" in capsys.readouterr().out


def _right(mu, C, eps):
    z = mu + eps @ C.T
    log_q = torch.distributions.MultivariateNormal(mu, scale_tril=C).log_prob(z)
    return z, log_q


def test_reparam_4_full_covariance(capsys):
    assert check("reparam-4", _right)

    def transposed(mu, C, eps):
        z = mu + eps @ C
        return z, _right(mu, C, eps)[1]

    def covariance(mu, C, eps):
        return mu + eps @ (C @ C.T).T, _right(mu, C, eps)[1]

    def no_jacobian(mu, C, eps):
        z = mu + eps @ C.T
        return z, torch.distributions.Normal(0.0, 1.0).log_prob(eps).sum(-1)

    def wrong_sign(mu, C, eps):
        z, log_q = _right(mu, C, eps)
        return z, log_q + 2 * torch.log(torch.diagonal(C)).sum()

    def full_logdet(mu, C, eps):
        z, log_q = _right(mu, C, eps)
        return z, log_q - torch.log(torch.diagonal(C)).sum()

    for answer, hint in [(transposed, "transpose"), (covariance, "square root"),
                         (no_jacobian, "volume"), (wrong_sign, "sign"),
                         (full_logdet, "half of log det")]:
        assert not check("reparam-4", answer)
        assert hint in capsys.readouterr().out
    assert not check("reparam-4", lambda mu, C, eps: (mu, 0.0))
    assert not check("reparam-4", 3)


@pytest.mark.parametrize("key", ["reparam-1", "reparam-2", "reparam-4"])
def test_a_raising_answer_gets_a_verdict(key, capsys):
    def broken(*args):
        raise RuntimeError("boom")

    assert not check(key, broken)
    assert "boom" in capsys.readouterr().out
