"""The checkers of chapter 6's exercises accept right answers and explain wrong ones."""
import math

import numpy as np
from scipy.optimize import brentq

from vaelib.exercises import available, check


def test_the_four_checkers_are_registered():
    assert {"vem-1", "vem-2", "vem-3", "vem-4"} <= set(available())


def test_vem_1_mean_field_gap(capsys):
    def gap(P):
        return 0.5 * (np.sum(np.log(np.diag(P))) - np.linalg.slogdet(P)[1])

    assert check("vem-1", gap)
    assert not check("vem-1", lambda P: -gap(P))
    assert "sign" in capsys.readouterr().out
    assert not check("vem-1", lambda P: 2 * gap(P))
    assert "factor of 2" in capsys.readouterr().out


def test_vem_2_critical_learning_rate(capsys):
    H = np.array([[4.0, 3.0], [3.0, 6.25]])
    lam = np.linalg.eigvalsh(H)
    assert check("vem-2", 2 / lam.max())
    assert not check("vem-2", 1 / lam.max())
    assert "1 / κ_max" in capsys.readouterr().out
    assert not check("vem-2", 2 / lam.min())
    assert "smallest curvature" in capsys.readouterr().out


def _numeric_rate(lam, sigma):
    # the derivative of the one-column EM map at its fixed point, by central differences
    s2 = sigma ** 2

    def g(w):
        M = w ** 2 + s2
        return lam * w * M / (s2 * M + lam * w ** 2)

    w_star, h = math.sqrt(lam - s2), 1e-6
    return (g(w_star + h) - g(w_star - h)) / (2 * h)


def test_vem_3_em_rate(capsys):
    assert check("vem-3", lambda lam, sigma: 1 - 2 * sigma ** 2 * (lam - sigma ** 2) / lam ** 2)
    # the checker's closed form agrees with a numerical derivative of the EM map
    from vaelib.exercises.vem import em_rate_reference
    for lam, sigma in [(20.0, 0.5), (3.0, 1.0)]:
        assert abs(em_rate_reference(lam, sigma) - _numeric_rate(lam, sigma)) < 1e-7
    assert not check("vem-3", lambda lam, sigma: em_rate_reference(lam, sigma) ** 2)
    assert "square" in capsys.readouterr().out
    assert not check("vem-3", lambda lam, sigma: 1 - 2 * sigma ** 2 / lam)
    assert "leading term" in capsys.readouterr().out
    assert not check("vem-3", lambda lam, sigma: 1 - em_rate_reference(lam, sigma))
    assert "fraction of the error removed" in capsys.readouterr().out
    assert not check("vem-3", 0.95)


def test_vem_4_two_line_fixed_point(capsys):
    def right(v):
        return brentq(lambda t: v * t / (2 + t) ** 2 + 2 / (1 + t) - 1, 1e-9, 10 * v)

    assert check("vem-4", right)
    assert not check("vem-4", lambda v: v - 2)
    assert "maximum-likelihood" in capsys.readouterr().out
    assert not check("vem-4", lambda v: v)
    assert not check("vem-4", "v - 2")
