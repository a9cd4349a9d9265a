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


@checker("vem-1")
def _check_mean_field_gap(answer):
    if not callable(answer):
        return False, "Give a function mean_field_gap(P) that returns one number."
    for P in _test_precisions():
        try:
            got = answer(P.copy())
        except Exception as exc:  # the reader's code: report, do not crash
            return False, f"Your function raised {type(exc).__name__}: {exc}"
        if isinstance(got, np.ndarray) and got.size == 1:
            got = got.item()
        if not _is_number(got):
            return False, f"mean_field_gap(P) must return one finite number, got {got!r}."
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
        return True, (f"Right: lr* = 2 / λ_max = {expected:.4g}. Below it the joint gradient "
                      "path converges (zig-zagging above lr*/2); above it, it cannot.")
    if math.isclose(answer, expected / 2, rel_tol=2e-3):
        return False, ("That is 1 / λ_max, the step that removes the steepest direction in "
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
                   "(w*, a*), take λ_max of −H, and use lr < 2 / λ_max.")


def _amortization_gap_reference(model, X, delta) -> np.ndarray:
    """ELBO(best diagonal q) - ELBO(its mean shifted by delta), from the closed forms."""
    q_mean, q_std = model.best_diagonal_q(X)
    return model.elbo(X, q_mean, q_std) - model.elbo(X, q_mean + delta, q_std)


@checker("vem-3")
def _check_amortization_gap(answer):
    from ..linear_gaussian import LinearGaussianModel

    if not callable(answer):
        return False, "Give a function amortization_gap(model, delta) that returns a number."
    rng = np.random.default_rng(11)
    for trial in range(4):
        D, k = (5, 2) if trial < 2 else (6, 3)
        W = rng.normal(size=(D, k))
        W[:, 1] += (trial % 2) * W[:, 0]                 # coupled columns half the time
        model = LinearGaussianModel(W, rng.normal(size=D), 0.3 + 0.4 * trial)
        delta = rng.normal(size=k) * 0.5
        X, _ = model.sample(4, random_state=trial)
        expected = _amortization_gap_reference(model, X, delta)
        try:
            got = answer(model, delta.copy())
        except Exception as exc:  # the reader's code: report, do not crash
            return False, f"Your function raised {type(exc).__name__}: {exc}"
        got_arr = np.asarray(got, dtype=float)
        if got_arr.size != 1 or not np.isfinite(got_arr).all():
            return False, ("Return one number: the gap is the same for every x (the shift "
                           "does not depend on x).")
        got = float(got_arr)
        if math.isclose(got, expected[0], rel_tol=1e-6, abs_tol=1e-9):
            continue
        noise_var = model.noise_std ** 2
        M = model.W.T @ model.W + noise_var * np.eye(k)
        diag_only = 0.5 * float(np.sum(np.diag(M) / noise_var * delta ** 2))
        if math.isclose(got, diag_only, rel_tol=1e-6):
            return False, ("Close: you kept only the diagonal of the precision. The ELBO is "
                           "quadratic in the mean with the full precision P = M/σ², "
                           "so the loss is ½ δᵀ P δ.")
        if math.isclose(got, 0.5 * float(delta @ M @ delta), rel_tol=1e-6):
            return False, "Divide M = WᵀW + σ²I by σ²: the posterior precision is M/σ²."
        if math.isclose(got, 2 * expected[0], rel_tol=1e-6):
            return False, "Off by a factor of 2: a quadratic form's loss is ½ δᵀ P δ."
        return False, (f"For one test model the gap is {expected[0]:.4g}, you gave {got:.4g}. "
                       "Expand E_q[log p(x, z)] around the best mean.")
    return True, ("Right: the gap is ½ δᵀ P δ with P = (WᵀW + σ²I)/σ², the posterior "
                  "precision, whatever x is. The sharper the posterior (small σ), the more "
                  "an encoder's small error in the mean costs.")
