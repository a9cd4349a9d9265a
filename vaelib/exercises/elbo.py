"""Checkers for the exercises of chapter 4 (the ELBO, Jensen's inequality, the KL identity).

Three of the four ask for a derivation whose result is a function; the checker tries the
reader's function on cases the chapter's closed forms answer independently
(``vaelib.linear_gaussian``: the best diagonal q found by minimising the KL numerically,
the gap from ``kl_to_posterior``, the evidence of probabilistic PCA).
"""
from __future__ import annotations

import math

import numpy as np

from . import checker


def _call(answer, *args):
    """The reader's function on ``args`` as a float64 array, or an error message."""
    try:
        return np.asarray(answer(*args), dtype=float), None
    except Exception as exc:  # report, do not crash the reader's notebook
        return None, f"Your function raised {type(exc).__name__}: {exc}"


def _random_precisions(n=6, d=3, seed=0):
    """Symmetric positive definite matrices with correlations of every strength."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        A = rng.normal(size=(d + k % 2, d + k % 2))
        out.append(A @ A.T + 0.3 * np.eye(d + k % 2))
    return out


def _best_variances_numerically(P):
    """argmin over diagonal S of KL[N(0, S) || N(0, P^{-1})], by scipy (an independent route)."""
    from scipy.optimize import minimize

    d = P.shape[0]
    logdet_P = np.linalg.slogdet(P)[1]

    def kl(log_s2):        # 1/2 [tr(P S) - d - log det P - log det S]
        return 0.5 * (np.sum(np.diag(P) * np.exp(log_s2)) - d - logdet_P - np.sum(log_s2))

    return np.exp(minimize(kl, np.zeros(d), method="BFGS", options={"gtol": 1e-12}).x)


@checker("elbo-1")
def _elbo_1(answer):
    # the best diagonal q of a Gaussian posterior with precision P: variances 1 / P_jj
    if not callable(answer):
        return False, "Give a function best_variances(P) of the posterior precision P (d, d)."
    for P in _random_precisions():
        got, error = _call(answer, P.copy())
        if error:
            return False, error
        expected = _best_variances_numerically(P)
        if got.shape != expected.shape:
            return False, (f"For a {P.shape[0]}x{P.shape[0]} precision return {P.shape[0]} "
                           f"variances, got shape {got.shape}.")
        if not np.allclose(got, expected, rtol=1e-5):
            cov = np.linalg.inv(P)
            if np.allclose(got, np.diag(cov), rtol=1e-5):
                return False, ("Those are the posterior's marginal variances, diag(P^-1). "
                               "KL[q || p] is minimised by matching the diagonal of the "
                               "precision: differentiate 1/2 [tr(P S) - log det S] in S_jj.")
            if np.allclose(got, 1.0 / np.sqrt(np.diag(P)), rtol=1e-5):
                return False, "Those are standard deviations; the question asks for variances."
            if np.allclose(got, np.diag(P), rtol=1e-5):
                return False, "That is P_jj itself; the variance is its reciprocal."
            return False, (f"Not quite: for P = {np.round(P, 3).tolist()} expected "
                           f"{np.round(expected, 4).tolist()}, got {np.round(got, 4).tolist()}.")
    return True, ("Right: s_j^2 = 1 / P_jj, the reciprocal of the precision's diagonal, "
                  "never wider than the marginal variance (P^-1)_jj.")


def _gap_cases():
    rng = np.random.default_rng(1)
    return [(rng.normal(size=(6, d)), s) for d in (1, 2, 3) for s in (0.2, 1.0, 4.0)]


def _gap_reference(W, sigma):
    from ..linear_gaussian import LinearGaussianModel

    model = LinearGaussianModel(W, np.zeros(W.shape[0]), sigma)
    x = np.zeros((1, W.shape[0]))
    mean, std = model.best_diagonal_q(x)
    return float(model.kl_to_posterior(x, mean, std)[0])


@checker("elbo-2")
def _elbo_2(answer):
    # gap of the best diagonal q: 1/2 (sum_j log P_jj - log det P), P = I + W^T W / sigma^2
    if not callable(answer):
        return False, "Give a function gap(W, sigma) that returns a number of nats."
    for W, sigma in _gap_cases():
        got, error = _call(answer, W.copy(), sigma)
        if error:
            return False, error
        if got.shape != ():
            return False, f"gap(W, sigma) should return one number, got shape {got.shape}."
        expected = _gap_reference(W, sigma)
        if not math.isclose(float(got), expected, rel_tol=1e-6, abs_tol=1e-10):
            P = np.eye(W.shape[1]) + W.T @ W / sigma ** 2
            half = 0.5 * (np.sum(np.log(np.diag(P))) - np.linalg.slogdet(P)[1])
            if math.isclose(float(got), 2 * half, rel_tol=1e-6):
                return False, "Twice the gap: a KL between Gaussians carries a factor 1/2."
            if math.isclose(float(got), -half, rel_tol=1e-6):
                return False, "Right size, wrong sign: a KL divergence is never negative."
            return False, (f"Not quite: for sigma = {sigma} and W of shape {W.shape} expected "
                           f"{expected:.6g}, got {float(got):.6g}. The posterior precision is "
                           "P = I + W^T W / sigma^2.")
    return True, ("Right: the gap is 1/2 (sum_j log P_jj - log det P) >= 0 (Hadamard's "
                  "inequality), zero iff W^T W is diagonal, and it falls like sigma^-4.")


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


def _ppca_reference(lam, sigma):
    """argmax over l >= 0 of the PPCA log-evidence along one eigendirection, numerically.

    Along an eigenvector u of the sample covariance with eigenvalue lam, a column
    w = sqrt(l) u changes the average log-evidence by -1/2 [log(l + sigma^2) +
    lam / (l + sigma^2)] (plus terms free of l); scipy maximises it over l in [0, 100 lam].
    """
    from scipy.optimize import minimize_scalar

    def neg(l):
        return 0.5 * (math.log(l + sigma ** 2) + lam / (l + sigma ** 2))

    best = minimize_scalar(neg, bounds=(0.0, 100.0 * lam + 10 * sigma ** 2), method="bounded",
                           options={"xatol": 1e-12})
    return best.x if neg(best.x) < neg(0.0) else 0.0


@checker("elbo-4")
def _elbo_4(answer):
    # PPCA with sigma fixed: the squared length of W's column along eigenvalue lam is
    # max(lam - sigma^2, 0)
    if not callable(answer):
        return False, "Give a function squared_length(lam, sigma) that returns a number."
    cases = [(2.0, 0.5), (0.3, 0.5), (0.25, 0.5), (5.0, 2.0), (1.0, 1.5), (0.01, 0.05)]
    for lam, sigma in cases:
        got, error = _call(answer, lam, sigma)
        if error:
            return False, error
        if got.shape != ():
            return False, f"squared_length(lam, sigma) should return one number, got {got.shape}."
        expected = _ppca_reference(lam, sigma)
        if not math.isclose(float(got), expected, rel_tol=1e-5, abs_tol=1e-7):
            if lam < sigma ** 2 and math.isclose(float(got), lam - sigma ** 2, rel_tol=1e-6):
                return False, ("For lam < sigma^2 the stationary point lam - sigma^2 is "
                               "negative, which no squared length can be: the maximum over "
                               "l >= 0 is at the boundary, l = 0.")
            if math.isclose(float(got), max(lam - sigma, 0.0), rel_tol=1e-6):
                return False, "Compare lam with the noise variance sigma^2, not with sigma."
            return False, (f"Not quite: for lam = {lam}, sigma = {sigma} the evidence is "
                           f"largest at {expected:.6g}, you gave {float(got):.6g}.")
    return True, ("Right: l = max(lam - sigma^2, 0). A direction survives only where the "
                  "data vary more than the noise, lam > sigma^2.")
