"""Checkers for the exercises of chapter 4 (the ELBO, Jensen's inequality, the KL identity)."""
from __future__ import annotations

import math

import numpy as np

from . import checker


def _as_float(answer):
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


@checker("elbo-1")
def _elbo_1(answer):
    # KL(N(1, 0.5^2) || N(0, 1)) = 0.5 * (mu^2 + s^2 - log s^2 - 1)
    value = _as_float(answer)
    if value is None:
        return False, f"Give a finite number, got {answer!r}."
    mu, s = 1.0, 0.5
    expected = 0.5 * (mu**2 + s**2 - math.log(s**2) - 1.0)
    if math.isclose(value, expected, rel_tol=1e-4):
        return True, f"Right: ½(μ² + s² − log s² − 1) = {expected:.4g} nats."
    if math.isclose(value, 0.5 * (mu**2 + s - math.log(s) - 1.0), rel_tol=1e-4):
        return False, "You used the standard deviation where the variance s² = 0.25 belongs."
    if math.isclose(value, 2 * expected, rel_tol=1e-4):
        return False, "Close: you forgot the factor ½ in front of the sum."
    if math.isclose(value, 0.5 * (s**2 - math.log(s**2) - 1.0), rel_tol=1e-4):
        return False, "The mean μ = 1 contributes μ²/2 too."
    return False, "Not quite: use KL = ½(μ² + σ² − log σ² − 1) with σ² = 0.25."


def _exercise_2_model():
    from ..linear_gaussian import LinearGaussianModel

    return LinearGaussianModel(np.array([[2.0]]), np.zeros(1), 1.0), np.array([[3.0]])


@checker("elbo-2")
def _elbo_2(answer):
    # z ~ N(0, 1), x | z ~ N(2 z, 1), x = 3, q = the prior N(0, 1):
    # gap = log p(x) - ELBO(q) = KL(N(0, 1) || N(1.2, 0.2)) = 4.795...
    value = _as_float(answer)
    if value is None:
        return False, f"Give a finite number, got {answer!r}."
    model, x = _exercise_2_model()
    one = np.ones((1, 1))
    expected = float(model.kl_to_posterior(x, 0 * one, one)[0])
    log_px = float(model.log_evidence(x)[0])
    elbo = float(model.elbo(x, 0 * one, one)[0])
    if math.isclose(value, expected, rel_tol=1e-4):
        return True, (f"Right: log p(x) = {log_px:.4g}, ELBO(prior) = {elbo:.4g}, "
                      f"gap = KL(q ‖ p(z|x)) = {expected:.4g} nats.")
    if math.isclose(value, -expected, rel_tol=1e-4):
        return False, "Right size, wrong sign: the gap log p(x) − ELBO is never negative."
    if math.isclose(value, log_px, rel_tol=1e-4) or math.isclose(value, elbo, rel_tol=1e-4):
        return False, "That is one side of the gap; subtract the ELBO from log p(x)."
    return False, ("Not quite: the posterior is N(1.2, 0.2) (precision 1 + w²/σ² = 5); "
                   "the gap is KL(N(0, 1) ‖ N(1.2, 0.2)).")


@checker("elbo-3")
def _elbo_3(answer):
    # a function log_w (k, batch) -> log (1/k) sum_i exp(log_w_i), stable for log w ~ -1000
    import torch

    if not callable(answer):
        return False, "Pass a function log_mean_exp(log_w) that takes a (k, batch) tensor."
    cases = [
        torch.tensor([[0.0, -1.0], [0.0, 1.0]], dtype=torch.float64),
        torch.tensor([[-1000.0], [-1001.0], [-1002.0]], dtype=torch.float64),
        torch.tensor([[800.0, -5.0]], dtype=torch.float64),
        torch.randn(64, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 30,
    ]
    for log_w in cases:
        try:
            got = torch.as_tensor(answer(log_w.clone()), dtype=torch.float64)
        except Exception as exc:  # the reader's function failed: say how
            return False, f"Your function raised {type(exc).__name__}: {exc}"
        expected = torch.logsumexp(log_w, dim=0) - math.log(log_w.shape[0])
        if got.shape != expected.shape:
            return False, (f"For log_w of shape {tuple(log_w.shape)} return shape "
                           f"{tuple(expected.shape)} (one value per example), "
                           f"got {tuple(got.shape)}.")
        if not bool(torch.isfinite(got).all()):
            return False, ("Your result under- or overflows (log w = −1000 or +800): "
                           "subtract the maximum before exponentiating.")
        if not torch.allclose(got, expected, rtol=1e-9, atol=1e-9):
            if torch.allclose(got, expected + math.log(log_w.shape[0])):
                return False, "That is log Σ w; the bound needs the mean: subtract log k."
            return False, f"Wrong values: expected {expected.tolist()}, got {got.tolist()}."
    return True, "Right: stable for weights of any size, and equal to torch.logsumexp − log k."
