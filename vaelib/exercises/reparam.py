"""Checkers for the exercises of chapter 5, "The reparameterization trick".

Each checker returns ``(ok, message)``; ``vaelib.exercises.check`` prints the verdict.
The references are independent of the reader's route: closed forms evaluated here,
and ``torch.distributions`` for the full-covariance Gaussian.
"""
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
    value = float(answer)
    return value if math.isfinite(value) else None


def _call_number(func, *args):
    """func(*args) as a float, or an error message."""
    try:
        value = _number(func(*args))
    except Exception as exc:  # the reader's code: report what went wrong
        return None, f"Calling your function with {args} failed: {type(exc).__name__}: {exc}"
    if value is None:
        return None, f"Your function must return one finite number; for {args} it did not."
    return value, None


@checker("reparam-1")
def _(answer):
    """answer: E[estimate] / true gradient with the all-samples baseline, as a function of L."""
    if not callable(answer):
        value = _number(answer)
        if value is not None and abs(value - 0.75) < 1e-9:
            return False, ("3/4 is right for L = 4; the exercise asks for the multiple as a "
                           "function ratio(L) of any L >= 2.")
        return False, "Give a function ratio(L) returning E[estimate] / true gradient."
    for L in (2, 3, 4, 10, 100):
        got, error = _call_number(answer, L)
        if error:
            return False, error
        exact = (L - 1) / L
        if abs(got - exact) < 1e-9:
            continue
        if abs(got - 1.0) < 1e-9:
            return False, ("Not unbiased: this baseline contains f(z_l) itself, so it is not "
                           "independent of z_l. Expand E[(f_l - (1/L) sum_k f_k) s_l].")
        if abs(got - 1 / L) < 1e-9:
            return False, "That is the part that is cancelled (1/L); what is left?"
        return False, (f"For L = {L} the multiple is not {got:.4g}. Split the baseline into "
                       "f(z_l)/L and the other terms; the others are independent of z_l and "
                       "average out against the score.")
    return True, ("Right: (L - 1) / L, so 3/4 for L = 4. The baseline shares the term "
                  "f(z_l) / L with the sample it is subtracted from, and E[f(z_l) score(z_l)] "
                  "is the whole gradient, so a fraction 1/L of it is cancelled.")


def _sine_variance_reference(omega: float, mu: float, std: float) -> float:
    """Var of omega cos(omega z), z ~ N(mu, std**2): the reference of reparam-2."""
    a, b = 2 * omega * mu, 2 * omega * std
    second = 0.5 * (1 + math.cos(a) * math.exp(-0.5 * b * b))          # E[cos^2]
    first = math.cos(omega * mu) * math.exp(-0.5 * (omega * std) ** 2)  # E[cos]
    return omega ** 2 * (second - first ** 2)


@checker("reparam-2")
def _(answer):
    """answer: a function var(omega, mu, std) of the one-sample pathwise variance for sin."""
    if not callable(answer):
        return False, ("Give a function var(omega, mu, std): the variance of the one-sample "
                       "pathwise estimate of dF/dmu for F = E[sin(omega z)].")
    for omega, mu, std in [(0.5, 0.3, 1.0), (1.0, 0.5, 1.0), (3.0, 0.5, 1.0), (10.0, 0.5, 1.0),
                           (2.0, -1.2, 0.3), (7.0, 0.1, 0.05)]:
        got, error = _call_number(answer, omega, mu, std)
        if error:
            return False, error
        exact = _sine_variance_reference(omega, mu, std)
        if math.isclose(got, exact, rel_tol=1e-6, abs_tol=1e-12):
            continue
        second = 0.5 * omega ** 2 * (1 + math.cos(2 * omega * mu)
                                     * math.exp(-2 * (omega * std) ** 2))
        if math.isclose(got, second, rel_tol=1e-6):
            return False, ("That is E[(omega cos(omega z))^2], the second moment; subtract the "
                           "squared mean (dF/dmu)^2 = (omega cos(omega mu) e^{-omega^2 std^2/2})^2.")
        if math.isclose(got, exact / omega ** 2, rel_tol=1e-6):
            return False, "Missing the factor omega^2: the per-sample gradient is omega cos(omega z)."
        if math.isclose(got, 0.5 * omega ** 2, rel_tol=1e-6):
            return False, ("omega^2 / 2 is the limit for omega std >> 1; keep the terms "
                           "e^{-2 omega^2 std^2} and e^{-omega^2 std^2} for the exact value.")
        return False, (f"For omega = {omega}, mu = {mu}, std = {std} the variance is "
                       f"{exact:.4g}, you gave {got:.4g}. Use E[cos(a + b eps)] = cos(a) "
                       "e^{-b^2/2} and cos^2 = (1 + cos 2x) / 2.")
    return True, ("Right: omega^2 [(1 + cos(2 omega mu) e^{-2 omega^2 std^2}) / 2 - cos^2(omega mu) "
                  "e^{-omega^2 std^2}], which tends to omega^2 / 2 once omega std >> 1: the "
                  "faster f oscillates, the noisier its derivative.")


@checker("reparam-3")
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


def _test_problems():
    """(mu, C, eps) triples: C lower-triangular with a positive diagonal."""
    gen = torch.Generator().manual_seed(2024)
    problems = []
    for d, n in [(2, 5), (3, 4), (5, 3)]:
        A = torch.randn(d, d, generator=gen, dtype=torch.float64)
        C = torch.tril(A, -1) + torch.diag(torch.rand(d, generator=gen,
                                                      dtype=torch.float64) + 0.3)
        mu = torch.randn(d, generator=gen, dtype=torch.float64)
        eps = torch.randn(n, d, generator=gen, dtype=torch.float64)
        problems.append((mu, C, eps))
    return problems


@checker("reparam-4")
def _(answer):
    """answer: a function full_cov_trick(mu, C, eps) -> (z, log_q) for Sigma = C C^T."""
    if not callable(answer):
        return False, ("Give a function full_cov_trick(mu, C, eps) returning (z, log_q): the "
                       "samples z = mu + C eps (one per row of eps) and log q(z).")
    for mu, C, eps in _test_problems():
        try:
            z, log_q = answer(mu.clone(), C.clone(), eps.clone())
            z = torch.as_tensor(z, dtype=torch.float64)
            log_q = torch.as_tensor(log_q, dtype=torch.float64)
        except Exception as exc:  # the reader's code: report what went wrong
            return False, f"Calling full_cov_trick(mu, C, eps) failed: {type(exc).__name__}: {exc}"
        ref = torch.distributions.MultivariateNormal(mu, scale_tril=C)
        z_ref = mu + eps @ C.T
        if z.shape != z_ref.shape:
            return False, (f"z must have the shape of eps, (n, d) = {tuple(eps.shape)}; got "
                           f"{tuple(z.shape)}.")
        if not torch.allclose(z, z_ref, rtol=1e-9, atol=1e-12):
            if torch.allclose(z, mu + eps @ C, rtol=1e-9, atol=1e-12):
                return False, ("With one sample per row, C eps is eps @ C.T (you used C's "
                               "transpose, whose product with itself is not Sigma).")
            if torch.allclose(z, mu + eps @ (C @ C.T).T, rtol=1e-9, atol=1e-12):
                return False, ("That multiplies eps by Sigma = C C^T, the covariance: the "
                               "factor must be a square root of Sigma, C itself.")
            return False, "z is off: z = mu + C eps, with C the lower-triangular factor."
        if log_q.shape != z.shape[:-1]:
            return False, (f"log_q must have one value per sample, shape {tuple(z.shape[:-1])}; "
                           f"got {tuple(log_q.shape)}.")
        expected = ref.log_prob(z_ref)
        if torch.allclose(log_q, expected, rtol=1e-9, atol=1e-9):
            continue
        std_normal = -0.5 * (eps ** 2).sum(-1) - 0.5 * eps.shape[-1] * math.log(2 * math.pi)
        if torch.allclose(log_q, std_normal, rtol=1e-9, atol=1e-9):
            return False, ("That is log N(eps; 0, I). The map eps -> mu + C eps stretches "
                           "volume by |det C|, so subtract log |det C| = sum_j log C_jj.")
        if torch.allclose(log_q, std_normal + torch.log(torch.diagonal(C)).sum(),
                          rtol=1e-9, atol=1e-9):
            return False, ("The sign of the Jacobian term is flipped: the density is divided "
                           "by the volume stretch, log q = log N(eps) - sum_j log C_jj.")
        if torch.allclose(log_q, std_normal - 2 * torch.log(torch.diagonal(C)).sum(),
                          rtol=1e-9, atol=1e-9):
            return False, ("sum_j log C_jj is already half of log det Sigma; you subtracted "
                           "log det Sigma.")
        return False, "log_q is off: log q(z) = log N(eps; 0, I) - sum_j log C_jj."
    return True, ("Right: z = mu + C eps has covariance C C^T = Sigma, and the change of "
                  "variables divides the density by |det C| = prod_j C_jj: "
                  "log q(z) = log N(eps; 0, I) - sum_j log C_jj. With a diagonal C = diag(s) "
                  "it is the diagonal trick.")
