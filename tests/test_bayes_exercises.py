"""The exercise checkers of chapter 1 accept right answers (computed here independently)
and explain the common wrong ones."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from scipy.special import betaln

from vaelib.exercises import available, check
from vaelib.exercises import bayes as ex


def test_all_four_are_registered():
    assert {"bayes-1", "bayes-2", "bayes-3", "bayes-4"} <= set(available())


def test_bayes_1(capsys):
    x = ex.EX1_X[:, 0]
    precision = 1 / 2.0**2 + x.size / 1.0**2
    mean = (1.0 / 2.0**2 + x.sum() / 1.0**2) / precision
    std = precision**-0.5
    assert check("bayes-1", (mean, std))
    assert not check("bayes-1", (mean, std**2))
    assert "variance" in capsys.readouterr().out
    assert not check("bayes-1", (x.mean(), std))
    assert "sample mean" in capsys.readouterr().out
    assert not check("bayes-1", "0.5")


def test_bayes_2(capsys):
    k, n = 8, 10
    expected = (betaln(1 + k, 1 + n - k) - betaln(1, 1)) - (betaln(50 + k, 50 + n - k)
                                                           - betaln(50, 50))
    assert check("bayes-2", expected)
    assert not check("bayes-2", -expected)
    assert "wrong sign" in capsys.readouterr().out
    assert not check("bayes-2", expected + math.log(45))
    assert "binomial" in capsys.readouterr().out
    assert not check("bayes-2", [expected])


def test_bayes_3(capsys):
    # per coordinate: E[p(x|z)^2] / p(x)^2 for x = 1, z ~ N(0, 1), sigma = 0.5, by quadrature
    from scipy import integrate
    lik = lambda z: stats.norm.pdf(1.0, z, 0.5)          # noqa: E731
    first = integrate.quad(lambda z: lik(z) * stats.norm.pdf(z), -20, 20, epsrel=1e-12)[0]
    second = integrate.quad(lambda z: lik(z)**2 * stats.norm.pdf(z), -20, 20, epsrel=1e-12)[0]
    one_plus_rho2 = second / first**2
    L = (one_plus_rho2**20 - 1) / 0.1**2
    assert check("bayes-3", L)
    assert check("bayes-3", math.ceil(L))
    assert not check("bayes-3", 20 * (one_plus_rho2 - 1) / 0.01)
    assert "multiplies" in capsys.readouterr().out
    assert not check("bayes-3", -3)


def test_bayes_4(capsys):
    """The checker accepts the identity and tells every other route from it."""
    from scipy import integrate

    def identity(z, log_likelihood, log_prior, log_posterior):
        return log_likelihood(z) + log_prior(z) - log_posterior(z)

    assert check("bayes-4", identity)
    assert "used the identity" in capsys.readouterr().out

    def by_integration(z, log_likelihood, log_prior, log_posterior):
        # the evidence by 2-D quadrature: right values, but not the identity
        f = lambda b, a: math.exp(log_likelihood(np.array([[a, b]]))[0]     # noqa: E731
                                  + log_prior(np.array([[a, b]]))[0])
        value, _ = integrate.dblquad(f, -8, 8, -8, 8, epsabs=0, epsrel=1e-9)
        return np.full(len(z), math.log(value))

    assert not check("bayes-4", by_integration)
    assert "some other way" in capsys.readouterr().out
    assert not check("bayes-4", lambda z, a, b, c: a(z) + b(z) + c(z))
    assert "subtracts" in capsys.readouterr().out
    assert not check("bayes-4", lambda z, a, b, c: -(a(z) + b(z) - c(z)))
    assert "sign" in capsys.readouterr().out
    assert not check("bayes-4", lambda z, a, b, c: (a(z) + b(z) - c(z)).sum())
    assert "shape" in capsys.readouterr().out
    assert not check("bayes-4", lambda *args: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert not check("bayes-4", 3.0)


@pytest.mark.parametrize("key", ["bayes-1", "bayes-2", "bayes-3", "bayes-4"])
def test_checkers_never_crash_on_junk(key):
    for junk in (None, "x", [1, 2, 3], float("nan")):
        assert check(key, junk) is False
