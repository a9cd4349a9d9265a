"""Checkers for the exercises of chapter 6, "Variational EM"
(``chapters/06_variational_em.ipynb``).

Each checker returns ``(ok, message)``; ``vaelib.exercises.check`` prints the verdict.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from . import checker

# vem-2: the two-parameter slice of the chapter (data variance v, noise sigma)
EX2_DATA_VAR, EX2_NOISE_STD = 1.25, 0.5


def _is_number(value) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(float(value)))


def _test_precisions() -> list[np.ndarray]:
    """A few posterior precision matrices: coupled, diagonal, 3 x 3."""
    rng = np.random.default_rng(6)
    A = rng.normal(size=(3, 3))
    return [np.array([[2.0, 1.5], [1.5, 2.0]]), np.diag([0.5, 3.0]),
            A @ A.T + np.eye(3), np.array([[5.0, -0.4], [-0.4, 1.0]])]


def ex1_answer(P: np.ndarray) -> float:
    """KL[best mean-field q || N(mu, P^{-1})] = 1/2 (sum_j log P_jj - log det P)."""
    return 0.5 * (float(np.sum(np.log(np.diag(P)))) - float(np.linalg.slogdet(P)[1]))


def _kl_gaussians(mean_q, cov_q, mean_p, cov_p) -> float:
    """KL[N(mean_q, cov_q) || N(mean_p, cov_p)] by the textbook formula (a reference)."""
    k = len(mean_q)
    inv_p = np.linalg.inv(cov_p)
    delta = mean_p - mean_q
    return 0.5 * (np.trace(inv_p @ cov_q) + delta @ inv_p @ delta - k
                  + np.linalg.slogdet(cov_p)[1] - np.linalg.slogdet(cov_q)[1])


def _number_from(func, *args):
    try:
        value = func(*args)
    except Exception as exc:  # the reader's code: report, do not crash
        return None, f"Your function raised {type(exc).__name__}: {exc}"
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if not _is_number(value):
        return None, f"Your function must return one finite number, got {value!r}."
    return float(value), None


@checker("vem-1")
def _check_mean_field_gap(answer):
    if not callable(answer):
        return False, "Give a function mean_field_gap(P) that returns one number."
    for P in _test_precisions():
        got, error = _number_from(answer, P.copy())
        if error:
            return False, error
        cov = np.linalg.inv(P)
        expected = _kl_gaussians(np.zeros(len(P)), np.diag(1.0 / np.diag(P)),
                                 np.zeros(len(P)), cov)
        if math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-9):
            continue
        if math.isclose(got, -expected, rel_tol=1e-6, abs_tol=1e-9):
            return False, "The sign is flipped: a KL is never negative."
        if math.isclose(got, 2 * expected, rel_tol=1e-6):
            return False, "Off by a factor of 2: the Gaussian KL carries a 1/2 in front."
        moment = 0.5 * (np.sum(np.log(np.diag(cov))) - np.linalg.slogdet(cov)[1])
        if math.isclose(got, moment, rel_tol=1e-6):
            return False, ("That uses the marginal variances (P^-1)_jj: it is KL[p || q] for "
                           "the moment-matched q. The ELBO's KL[q || p] picks s_j² = 1/P_jj.")
        return False, (f"For P = {P.round(3).tolist()} the gap is {expected:.4g}, you gave "
                       f"{got:.4g}. Plug s_j² = 1/P_jj and m = mu into the Gaussian KL.")
    return True, ("Right: KL = ½ (Σ_j log P_jj − log det P) ≥ 0 (Hadamard's inequality), "
                  "zero exactly when P is diagonal: mean field is exact only for "
                  "uncoupled latent coordinates.")


def ex2_answer() -> float:
    """2 / lambda_max(-Hessian) of the slice's ELBO at its maximum."""
    v, sigma2 = EX2_DATA_VAR, EX2_NOISE_STD ** 2
    s2 = sigma2 / v
    w, a = math.sqrt(v - sigma2), math.sqrt(v - sigma2) / v
    # -d^2F/dw^2, -d^2F/dw da, -d^2F/da^2 of F(w, a) in the chapter
    hww = (a * a * v + s2) / sigma2
    hwa = (2 * w * a - 1) * v / sigma2
    haa = w * w * v / sigma2 + v
    lam_max = 0.5 * (hww + haa) + math.sqrt(0.25 * (hww - haa) ** 2 + hwa ** 2)
    return 2.0 / lam_max


@checker("vem-2")
def _check_critical_lr(answer):
    if not _is_number(answer):
        return False, "Give one number: the largest stable learning rate."
    answer, expected = float(answer), ex2_answer()
    if math.isclose(answer, expected, rel_tol=2e-3):
        return True, (f"Right: lr* = 2 / κ_max = {expected:.4g}. Below it the joint gradient "
                      "path converges (zig-zagging above lr*/2); above it, it cannot.")
    if math.isclose(answer, expected / 2, rel_tol=2e-3):
        return False, ("That is 1 / κ_max, the step that removes the steepest direction in "
                       "one move; the iteration still converges up to twice that.")
    v, sigma2 = EX2_DATA_VAR, EX2_NOISE_STD ** 2
    w, a = math.sqrt(v - sigma2), math.sqrt(v - sigma2) / v
    hww, haa = (a * a * v + sigma2 / v) / sigma2, w * w * v / sigma2 + v
    hwa = (2 * w * a - 1) * v / sigma2
    lam_min = 0.5 * (hww + haa) - math.sqrt(0.25 * (hww - haa) ** 2 + hwa ** 2)
    if math.isclose(answer, 2 / lam_min, rel_tol=2e-3):
        return False, ("That uses the smallest curvature; the steepest direction (largest "
                       "eigenvalue of −H) is the one that breaks first.")
    if math.isclose(answer, 2 / max(hww, haa), rel_tol=2e-3):
        return False, ("That ignores the off-diagonal term ∂²F/∂w∂a; take the largest "
                       "eigenvalue of the full 2 × 2 matrix −H.")
    return False, (f"Not quite ({answer:.4g}). Evaluate the 2 × 2 Hessian of F at "
                   "(w*, a*), take its largest eigenvalue κ_max, and use lr < 2 / κ_max.")


def em_rate_reference(lam: float, sigma: float) -> float:
    """Linear rate of EM for one PPCA column at its fixed point, sigma held fixed.

    The M-step along an eigenvector of the sample covariance (eigenvalue lam, the
    chapter's nu) maps the column's length w to g(w) = lam w M / (sigma**2 M + lam w**2),
    M = w**2 + sigma**2; at w**2 = lam - sigma**2, g'(w) = 1 - 2 sigma**2 (lam - sigma**2)
    / lam**2.
    """
    s2 = sigma ** 2
    return 1.0 - 2.0 * s2 * (lam - s2) / lam ** 2


@checker("vem-3")
def _check_em_rate(answer):
    if not callable(answer):
        return False, "Give a function em_rate(nu, sigma) that returns one number."
    for lam, sigma in [(20.0, 0.5), (1.5, 0.5), (21.0, 1.0), (4.0, 1.0), (9.0, 0.2)]:
        got, error = _number_from(answer, lam, sigma)
        if error:
            return False, error
        expected = em_rate_reference(lam, sigma)
        if math.isclose(got, expected, rel_tol=1e-9, abs_tol=1e-12):
            continue
        if math.isclose(got, expected ** 2, rel_tol=1e-9):
            return False, ("That is the rate of the log-likelihood gap, which shrinks like the "
                           "square of the parameter error; the question asks for g'(w*).")
        if math.isclose(got, 1 - sigma ** 2 / lam, rel_tol=1e-9) or \
                math.isclose(got, 1 - 2 * sigma ** 2 / lam, rel_tol=1e-9):
            return False, ("Close: that is the leading term for sigma**2 << nu. Differentiate "
                           "g(w) exactly and evaluate it at w**2 = nu - sigma**2.")
        if math.isclose(got, 2 * sigma ** 2 * (lam - sigma ** 2) / lam ** 2, rel_tol=1e-9):
            return False, ("That is 1 - g'(w*), the fraction of the error removed per "
                           "iteration; the rate is what remains.")
        return False, (f"For nu = {lam}, sigma = {sigma} the rate is {expected:.6g}, you gave "
                       f"{got:.6g}. Write the M-step for one column, w' = g(w), and "
                       "differentiate at the fixed point.")
    return True, ("Right: g'(w*) = 1 - 2 sigma^2 (nu - sigma^2) / nu^2, the fraction of "
                  "missing information along that axis. It tends to 1 as sigma^2 / nu -> 0: "
                  "sharp posteriors, slow EM.")


def two_line_vem_sigma2(v: float) -> float:
    """Fixed point of variational EM for x = z1 + z2 + noise, W = (1, 1) held, sigma learned.

    Solves 1 = v t / (2 + t)**2 + 2 / (1 + t) for t = sigma**2 by bisection (the left
    side minus 1 is positive at t -> 0 and negative for large t, with one crossing).
    """
    def excess(t):
        return v * t / (2 + t) ** 2 + 2 / (1 + t) - 1

    lo, hi = 1e-12, 1.0
    while excess(hi) > 0:
        hi *= 2
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if excess(mid) > 0 else (lo, mid)
    return 0.5 * (lo + hi)


@checker("vem-4")
def _check_two_line_vem(answer):
    if not callable(answer):
        return False, ("Give a function vem_sigma2(v) returning the sigma**2 at which "
                       "variational EM stops, for data with mean square v = mean(x**2).")
    for v in (2.5, 3.0, 5.0, 12.0):
        got, error = _number_from(answer, v)
        if error:
            return False, error
        expected = two_line_vem_sigma2(v)
        if math.isclose(got, expected, rel_tol=1e-6):
            continue
        if math.isclose(got, v - 2, rel_tol=1e-6):
            return False, ("v - 2 is the maximum-likelihood sigma**2, where exact EM stops. "
                           "Variational EM's M-step sees the mean-field variances "
                           "s_j**2 = 1 / P_jj instead of the posterior's.")
        return False, (f"For v = {v} variational EM stops at sigma**2 = {expected:.5g}, you "
                       f"gave {got:.5g}. Write the M-step sigma**2 = E_q[(x - z1 - z2)**2] "
                       "with the mean-field q and look for its fixed point.")
    return True, ("Right: the fixed point solves 1 = v sigma^2 / (2 + sigma^2)^2 + "
                  "2 / (1 + sigma^2). The mean-field q ignores the negative posterior "
                  "correlation of z1 and z2, overstates the uncertainty of z1 + z2, and the "
                  "M-step answers with a larger sigma than the maximum likelihood v - 2.")
