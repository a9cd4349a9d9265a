"""Checkers for the exercises of chapter 2, "EM on a Gaussian mixture"
(``chapters/02_em_gmm.ipynb``).

Each checker returns ``(ok, message)``; ``vaelib.exercises.check`` prints the verdict.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
from scipy.stats import norm

from ..gmm import fit_gmm, log_gaussian_prob, log_likelihood, n_parameters, sample_gmm
from . import checker

# gmm-1: a 1-D mixture of two Gaussians and one point
EX1_WEIGHTS = (0.3, 0.7)
EX1_MEANS = (-1.0, 2.0)
EX1_STDS = (1.0, 0.5)
EX1_X = 0.5

# gmm-2: a 2-D mixture of three Gaussians and five points
EX2_WEIGHTS = np.array([0.5, 0.3, 0.2])
EX2_MEANS = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
EX2_COVARIANCES = np.array([[[1.0, 0.3], [0.3, 0.5]],
                            [[0.4, 0.0], [0.0, 0.4]],
                            [[0.8, -0.2], [-0.2, 0.6]]])
EX2_X = np.array([[0.2, 0.1], [2.5, 0.4], [0.3, 2.2], [1.5, 1.5], [-1.0, -0.5]])


def _is_number(value) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(float(value)))


def _responsibility(weights, means, stds, x) -> float:
    joint = [w * norm.pdf(x, m, s) for w, m, s in zip(weights, means, stds)]
    return float(joint[0] / sum(joint))


def ex1_answer() -> float:
    """r_1 = p(z = 1 | x) for the mixture of exercise gmm-1."""
    return _responsibility(EX1_WEIGHTS, EX1_MEANS, EX1_STDS, EX1_X)


@checker("gmm-1")
def _check_responsibility(answer):
    if not _is_number(answer):
        return False, "Give one number: the responsibility p(z = 1 | x = 0.5), in [0, 1]."
    answer, expected = float(answer), ex1_answer()
    if math.isclose(answer, expected, rel_tol=1e-6):
        return True, (f"Right: p(z = 1 | x = 0.5) = {expected:.4g}. The point is nearer to "
                      "the mean of component 2, yet component 1 explains it better: "
                      "component 2 is narrow, and x = 0.5 lies 3 of its stds away.")
    if math.isclose(answer, 1.0 - expected, rel_tol=1e-6):
        return False, "That is p(z = 2 | x), the responsibility of the other component."
    variance_as_std = _responsibility(EX1_WEIGHTS, EX1_MEANS,
                                      [math.sqrt(s) for s in EX1_STDS], EX1_X)
    if math.isclose(answer, variance_as_std, rel_tol=1e-4):
        return False, ("It looks like you used σ² where the std goes: N(x | μ, σ²) has "
                       "scale σ, here 1 and 0.5.")
    no_weights = _responsibility((0.5, 0.5), EX1_MEANS, EX1_STDS, EX1_X)
    if math.isclose(answer, no_weights, rel_tol=1e-4):
        return False, "You left out the mixing weights π = (0.3, 0.7) of the prior p(z)."
    if answer in (0.0, 1.0):
        return False, ("Responsibilities are soft: weigh each component by π_k N(x | μ_k, "
                       "σ_k²) and normalise; the nearest mean does not take it all.")
    if not 0.0 <= answer <= 1.0:
        return False, "A responsibility is a probability: normalise so that r_1 + r_2 = 1."
    return False, ("Not quite: r_1 = π_1 N(x | μ_1, σ_1²) / Σ_k π_k N(x | μ_k, σ_k²), "
                   "with the Gaussian density (not just its exponent).")


def _mc_reference(L: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact log p(x) and the exact standard deviation of the L-sample estimate of p(x)."""
    log_p = log_likelihood(EX2_X, EX2_WEIGHTS, EX2_MEANS, EX2_COVARIANCES)     # (n,)
    dens = np.exp(log_gaussian_prob(EX2_X, EX2_MEANS, EX2_COVARIANCES))       # (n, K)
    var_one = dens**2 @ EX2_WEIGHTS - np.exp(2 * log_p)   # Var_z[N(x | mu_z, Sigma_z)]
    return log_p, np.sqrt(var_one / L)


@checker("gmm-2")
def _check_mc_log_likelihood(answer):
    if not callable(answer):
        return False, ("Give the function itself: mc_log_likelihood(X, weights, means, "
                       "covariances, L, rng) returning an array of shape (n_samples,).")
    n = EX2_X.shape[0]

    def call(L, seed):
        out = answer(EX2_X.copy(), EX2_WEIGHTS.copy(), EX2_MEANS.copy(),
                     EX2_COVARIANCES.copy(), L, np.random.default_rng(seed))
        return np.asarray(out, dtype=float)

    try:
        first = call(1, 0)
    except Exception as exc:  # report the learner's error instead of crashing
        return False, f"Calling your function raised {type(exc).__name__}: {exc}"
    if first.shape != (n,):
        return False, (f"Return one estimate per row of X, shape ({n},); got shape "
                       f"{first.shape}.")
    if not np.all(np.isfinite(first)):
        return False, "Your estimates contain NaN or inf; average the densities in log space."
    big_L = 20_000
    log_p, sd_big = _mc_reference(big_L)
    estimate = call(big_L, 1)
    if np.allclose(np.log(np.clip(estimate, 1e-300, None)), log_p, atol=0.05):
        return False, "These look like p(x), not log p(x): return the logarithm."
    # delta method: sd(log p_hat) ~ sd(p_hat) / p; 5 sd makes a false alarm ~1e-6
    tol = 5 * sd_big / np.exp(log_p)
    if np.any(np.abs(estimate - log_p) > tol):
        return False, (f"With L = {big_L} the estimate should be within {tol.max():.2g} of "
                       "the exact log p(x); it is not. Draw z_l from the mixing weights, "
                       "average N(x | μ_{z_l}, Σ_{z_l}) over l, then take the log "
                       "(logsumexp - log L).")
    # unbiased in p: the average of p_hat = exp(estimate) over R seeds, at L = 10
    R = 1000
    p_hat = np.exp(np.stack([call(10, 100 + r) for r in range(R)]))           # (R, n)
    se = p_hat.std(axis=0, ddof=1) / math.sqrt(R)
    if np.any(np.abs(p_hat.mean(axis=0) - np.exp(log_p)) > 5 * se + 1e-300):
        return False, ("With L = 10 the average of exp(estimate) over many seeds should be "
                       "p(x) (the estimator of p is unbiased); yours is not. Are the z_l "
                       "drawn from the weights π, and is your estimate of p a plain mean?")
    if np.allclose(call(1, 1), call(1, 2)):
        return False, "Use the generator rng you are given for the draws of z."
    return True, ("Right: p̂(x) = (1/L) Σ_l N(x | μ_{z_l}, Σ_{z_l}) is unbiased for p(x), "
                  "and its log is biased low (Jensen), by about Var[p̂]/(2 p²) for large L.")


def ex3_answer(n_components: int, n_features: int, covariance_type: str) -> int:
    return n_parameters(n_components, n_features, covariance_type)


@checker("gmm-3")
def _check_n_parameters(answer):
    if not callable(answer):
        return False, ("Give the function itself: n_params(K, D, covariance_type) with "
                       "covariance_type 'full' or 'diag'.")
    for covariance_type in ("full", "diag"):
        for K in (1, 2, 5):
            for D in (1, 3, 10):
                try:
                    got = answer(K, D, covariance_type)
                except Exception as exc:
                    return False, f"n_params({K}, {D}, {covariance_type!r}) raised {exc!r}."
                expected = ex3_answer(K, D, covariance_type)
                if not _is_number(got) or got != expected:
                    hint = "Count weights, means and covariances separately."
                    if _is_number(got) and got == expected + 1:
                        hint = ("The K weights sum to one, so only K - 1 of them are free.")
                    elif (_is_number(got) and covariance_type == "full"
                          and got - expected == K * D * (D - 1) // 2):
                        hint = ("A covariance matrix is symmetric: it has D(D+1)/2 free "
                                "entries, not D².")
                    return False, (f"n_params({K}, {D}, {covariance_type!r}) should be "
                                   f"{expected}, got {got}. {hint}")
    return True, ("Right: (K - 1) + K D + K D(D+1)/2 for full covariances, (K - 1) + 2 K D "
                  "for diagonal ones. For MNIST (D = 784) one full covariance alone has "
                  f"{784 * 785 // 2:,} parameters.")


# gmm-4: the chapter's data, drawn from its three-component mixture with random_state=1
EX4_WEIGHTS = np.array([0.45, 0.35, 0.20])
EX4_MEANS = np.array([[-2.0, 0.0], [2.0, 0.5], [0.0, 3.0]])
EX4_COVARIANCES = np.array([[[1.0, 0.6], [0.6, 0.8]], [[0.6, -0.3], [-0.3, 0.9]],
                            [[0.5, 0.0], [0.0, 0.3]]])


def ex4_data() -> np.ndarray:
    """The 500 points X of chapter 2."""
    return sample_gmm(500, EX4_WEIGHTS, EX4_MEANS, EX4_COVARIANCES, random_state=1)[0]


def ex4_answer() -> float:
    """Mean log-likelihood after 50 EM iterations from the symmetric start: that of the
    best single Gaussian (the start is a fixed point of EM)."""
    X = ex4_data()
    return float(log_likelihood(X, [1.0], X.mean(axis=0)[None],
                                np.cov(X.T, bias=True)[None]).mean())


@checker("gmm-4")
def _check_symmetric_start(answer):
    if not _is_number(answer):
        return False, ("Give one number: the mean log-likelihood per point after 50 EM "
                       "iterations from the symmetric start (about -3.9 to -3.3 nats).")
    answer, expected = float(answer), ex4_answer()
    if math.isclose(answer, expected, abs_tol=1e-6):
        return True, (f"Right: ℓ = {expected:.6f}, the log-likelihood of the best *single* "
                      "Gaussian. Identical components get identical responsibilities (1/K "
                      "each), so the M-step returns identical components again: EM never "
                      "leaves the symmetric start, which is a stationary point but not a "
                      "maximum.")
    X = ex4_data()
    kmeans_pp = fit_gmm(X, 3, random_state=0).log_likelihoods[-1]
    true_value = float(log_likelihood(X, EX4_WEIGHTS, EX4_MEANS, EX4_COVARIANCES).mean())
    if math.isclose(answer, kmeans_pp, abs_tol=1e-4):
        return False, ("That is the k-means++ fit's log-likelihood. From three identical "
                       "components EM cannot get there: look at the responsibilities after "
                       "the first E-step.")
    if math.isclose(answer, true_value, abs_tol=1e-4):
        return False, "That is the log-likelihood of the true parameters, not of EM's end point."
    if answer == int(answer) and 1 <= answer <= 3:
        return False, ("The exercise asks for the final mean log-likelihood (a number like "
                       "-3.9), not the number of distinct components.")
    if math.isclose(answer, expected * len(X), rel_tol=1e-6):
        return False, "That is the total log-likelihood; give the mean per point."
    return False, ("Not quite. Start with weights 1/3, every mean at X.mean(axis=0) and every "
                   "precision np.linalg.inv(np.cov(X.T, bias=True)); run max_iter=50, tol=0; "
                   "report fit.log_likelihoods[-1].")
