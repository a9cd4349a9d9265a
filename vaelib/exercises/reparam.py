"""Checkers for the exercises of chapter 5, "The reparameterization trick"."""
from __future__ import annotations

import math
import numbers

import torch

from . import checker


def _number(answer):
    if isinstance(answer, torch.Tensor) and answer.numel() == 1:
        answer = answer.item()
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        return None
    return float(answer)


@checker("reparam-1")
def _(answer):
    """answer: a function score(z, mu, logvar) -> (d log q / d mu, d log q / d logvar)."""
    if not callable(answer):
        return False, ("Give a function score(z, mu, logvar) returning the pair "
                       "(d log q / d mu, d log q / d logvar).")
    gen = torch.Generator().manual_seed(123)
    mu = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    logvar = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    z = mu + torch.exp(0.5 * logvar) * torch.randn(4, 3, generator=gen, dtype=torch.float64)
    mu_l, logvar_l = mu.clone().requires_grad_(True), logvar.clone().requires_grad_(True)
    log_q = torch.distributions.Normal(mu_l, torch.exp(0.5 * logvar_l)).log_prob(z).sum()
    ref_mu, ref_logvar = torch.autograd.grad(log_q, (mu_l, logvar_l))
    try:
        out = answer(z.clone(), mu.clone(), logvar.clone())
        got_mu, got_logvar = (torch.as_tensor(t, dtype=torch.float64) for t in out)
    except Exception as exc:  # the reader's code: report what went wrong
        return False, f"Calling score(z, mu, logvar) failed: {type(exc).__name__}: {exc}"
    if got_mu.shape != mu.shape or got_logvar.shape != mu.shape:
        return False, ("Each returned tensor must have the shape of mu (one derivative "
                       "per coordinate).")
    ok_mu = torch.allclose(got_mu, ref_mu, rtol=1e-6, atol=1e-8)
    ok_logvar = torch.allclose(got_logvar, ref_logvar, rtol=1e-6, atol=1e-8)
    if ok_mu and ok_logvar:
        return True, ("Right: (z - mu) / std**2 and ((z - mu)**2 / std**2 - 1) / 2, "
                      "that is eps / std and (eps**2 - 1) / 2.")
    std = torch.exp(0.5 * logvar)
    if not ok_mu:
        if torch.allclose(got_mu, (z - mu) / std, rtol=1e-6):
            return False, ("d/dmu: you divided by std once; the log-density has "
                           "(z - mu)**2 / (2 std**2), so its derivative is (z - mu) / std**2.")
        return False, "d/dmu is off: differentiate -(z - mu)**2 / (2 exp(logvar)) in mu."
    wrt_std = (z - mu) ** 2 / std ** 3 - 1 / std
    if torch.allclose(got_logvar, wrt_std, rtol=1e-6):
        return False, ("That is the derivative with respect to std. The chain rule "
                       "d std / d logvar = std / 2 turns it into the one asked for.")
    return False, ("d/dlogvar is off: write log q = -logvar / 2 - (z - mu)**2 exp(-logvar) / 2 "
                   "+ const and differentiate in logvar.")


@checker("reparam-2")
def _(answer):
    """answer: E[biased estimate] / true gradient for L = 4 (full-mean baseline)."""
    value = _number(answer)
    if value is None:
        return False, "Give a number: the ratio E[estimate] / true gradient."
    if abs(value - 0.75) < 1e-3:
        return True, ("Right: (L - 1) / L = 3/4. The baseline shares the term f(z_l) / L "
                      "with the sample it is subtracted from, and E[f(z_l) score(z_l)] is "
                      "the whole gradient, so a fraction 1/L of it is cancelled.")
    if abs(value - 1.0) < 1e-3:
        return False, ("Not unbiased here: the baseline contains f(z_l) itself, so it is "
                       "not independent of z_l. Expand E[(f_l - (1/L) sum_k f_k) s_l].")
    if abs(value - 0.25) < 1e-3:
        return False, "You found the part that is cancelled (1/L); what is left?"
    return False, ("Not quite. Split the baseline into f(z_l)/L and the other terms; the "
                   "others are independent of z_l and average out against the score.")


@checker("reparam-3")
def _(answer):
    """answer: Var of the one-sample score-function estimate of dF/dmu_1, D = 10, mu = 0, std = 1."""
    value = _number(answer)
    if value is None:
        return False, "Give a number: the variance for D = 10."
    if abs(value - 168.0) < 1e-6 * 168:
        return True, ("Right: (D + 2)(D + 4) = 12 * 14 = 168, against 4 for the pathwise "
                      "estimator. It grows like D**2.")
    if abs(value - 4.0) < 1e-9:
        return False, "That is the pathwise variance 4 std**2; the question is the score function."
    if abs(value - 100.0) < 1e-9 or abs(value - 120.0) < 1e-9:
        return False, ("Close to the leading term. Keep every term of "
                       "E[eps_1**2 (eps_1**2 + S)**2] with S = sum_{j>1} eps_j**2 ~ chi2(D - 1): "
                       "E[eps**6] = 15, E[eps**4] = 3, E[S] = D - 1, E[S**2] = (D - 1)(D + 1).")
    return False, ("Not quite. At mu = 0, std = 1 the estimate is f(eps) eps_1 with "
                   "f = sum_j eps_j**2; its mean is 0, so the variance is E[eps_1**2 f**2].")


@checker("reparam-4")
def _(answer):
    """answer: d/dmu P(z > 0) for z ~ N(0.5, 1)."""
    value = _number(answer)
    if value is None:
        return False, "Give a number: the derivative of P(z > 0) with respect to mu."
    exact = math.exp(-0.125) / math.sqrt(2 * math.pi)          # phi(0.5)
    if abs(value - exact) < 1e-3:
        return True, (f"Right: phi(mu / std) / std = {exact:.4f}. The score-function "
                      "estimator finds it; the pathwise estimator sees a derivative that "
                      "is 0 almost everywhere and cannot.")
    if abs(value) < 1e-9:
        return False, ("0 is what differentiating the step inside the expectation gives; "
                       "the probability itself still changes with mu. Write "
                       "P(z > 0) = Phi(mu / std).")
    if abs(value - 0.6915) < 2e-3:
        return False, "That is P(z > 0) = Phi(0.5) itself; differentiate it in mu."
    return False, "Not quite: P(z > 0) = Phi(mu / std); differentiate in mu at mu = 0.5, std = 1."
