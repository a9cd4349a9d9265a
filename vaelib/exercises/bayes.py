"""Checkers for the exercises of chapter 1, "Bayes' theorem and why the evidence is
intractable" (``chapters/01_bayes_evidence.ipynb``).

Each checker returns ``(ok, message)``; ``vaelib.exercises.check`` prints the verdict.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..bayes import (beta_bernoulli_log_evidence, gaussian_log_evidence,
                     gaussian_mc_relative_variance, gaussian_posterior)
from . import checker

# bayes-1: one latent coordinate, prior N(1, 2²), noise σ = 1, four observations
EX1_X = np.array([[2.9], [3.4], [2.2], [3.1]])
EX1_PRIOR_MEAN, EX1_PRIOR_STD, EX1_NOISE_STD = 1.0, 2.0, 1.0

# bayes-2: ten coin flips, two priors on the coin's bias
EX2_X = np.array([1, 1, 0, 1, 1, 1, 0, 1, 1, 1])
EX2_PRIOR_UNIFORM = (1.0, 1.0)
EX2_PRIOR_FAIR = (50.0, 50.0)

# bayes-3: D = 20 coordinates, each with one observation x_d = 1, prior N(0, 1), σ = 0.5
EX3_LATENT_DIM, EX3_NOISE_STD, EX3_TARGET = 20, 0.5, 0.1


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(
        float(value))


def ex1_answer() -> tuple[float, float]:
    mean, std = gaussian_posterior(EX1_X, EX1_PRIOR_MEAN, EX1_PRIOR_STD, EX1_NOISE_STD)
    return float(mean[0]), float(std[0])


@checker("bayes-1")
def _check_posterior_by_hand(answer):
    try:
        mean, std = (float(np.asarray(a).squeeze()) for a in answer)
    except (TypeError, ValueError):
        return False, "Give a pair (post_mean, post_std) of two numbers."
    true_mean, true_std = ex1_answer()
    mean_ok = math.isclose(mean, true_mean, rel_tol=1e-6, abs_tol=1e-9)
    std_ok = math.isclose(std, true_std, rel_tol=1e-6)
    if mean_ok and std_ok:
        return True, (f"Right: posterior N({true_mean:.4g}, {true_std:.4g}²). The precisions "
                      f"add (1/4 + 4/1 = 4.25) and the mean sits close to the sample mean "
                      f"{EX1_X.mean():.4g}, because four observations with σ = 1 outweigh a "
                      f"prior with s0 = 2.")
    if mean_ok and math.isclose(std, true_std**2, rel_tol=1e-6):
        return False, "The mean is right; for the spread you gave the variance, not the std."
    if math.isclose(mean, float(EX1_X.mean()), rel_tol=1e-9):
        return False, ("That mean is the sample mean x̄: the prior N(1, 2²) also pulls it a "
                       "little towards 1.")
    wrong_prior = gaussian_posterior(EX1_X, EX1_PRIOR_MEAN, math.sqrt(EX1_PRIOR_STD),
                                     EX1_NOISE_STD)
    if math.isclose(mean, float(wrong_prior[0][0]), rel_tol=1e-6):
        return False, "It looks like you used s0 = 2 as the prior variance; it is the std."
    if not std_ok:
        return False, ("The std is off: 1/post_std² = 1/s0² + n/σ² (precisions add); "
                       "check that n = 4.")
    return False, ("The std is right but the mean is off: post_mean = post_std² "
                   "(m0/s0² + Σ x_i/σ²).")


def ex2_answer() -> float:
    return (beta_bernoulli_log_evidence(EX2_X, *EX2_PRIOR_UNIFORM)
            - beta_bernoulli_log_evidence(EX2_X, *EX2_PRIOR_FAIR))


@checker("bayes-2")
def _check_bayes_factor(answer):
    if not _is_number(answer):
        return False, "Give one number: log p(x | Beta(1, 1)) − log p(x | Beta(50, 50))."
    answer, expected = float(answer), ex2_answer()
    if math.isclose(answer, expected, abs_tol=1e-6):
        return True, (f"Right: log Bayes factor {expected:.4g}, i.e. the data are "
                      f"{math.exp(expected):.4g} times more probable under the uniform prior: "
                      "mild evidence against a coin believed fair.")
    if math.isclose(answer, -expected, abs_tol=1e-6):
        return False, "Right size, wrong sign: subtract the 'fair' model from the uniform one."
    log_binom = math.log(math.comb(10, 8))
    if any(math.isclose(answer, expected + s * log_binom, abs_tol=1e-6) for s in (-1, 1)):
        return False, ("Off by log C(10, 8): count the binomial coefficient in both evidences "
                       "or in neither (it cancels in the ratio).")
    return False, ("Not quite. Each evidence is log B(a + k, b + n − k) − log B(a, b) with "
                   "k = 8, n = 10 (scipy.special.betaln).")


def ex3_answer() -> float:
    x = np.ones((1, EX3_LATENT_DIM))
    rho2 = gaussian_mc_relative_variance(x, 0.0, 1.0, EX3_NOISE_STD)
    return rho2 / EX3_TARGET**2


@checker("bayes-3")
def _check_samples_needed(answer):
    if not _is_number(answer) or float(answer) <= 0:
        return False, "Give the number of prior samples L as one positive number."
    answer, expected = float(answer), ex3_answer()
    if math.isclose(answer, expected, rel_tol=0.01):
        return True, (f"Right: about {expected:.3g} prior samples for a 10 % relative error "
                      "at D = 20; the factor 1 + ρ² is raised to the power D.")
    one_dim = gaussian_mc_relative_variance(np.ones((1, 1)), 0.0, 1.0, EX3_NOISE_STD)
    if math.isclose(answer, one_dim * EX3_LATENT_DIM / EX3_TARGET**2, rel_tol=0.01):
        return False, ("You added the per-coordinate ρ² over the 20 coordinates; it is 1 + ρ² "
                       "that multiplies (the coordinates are independent).")
    if math.isclose(answer, math.sqrt(expected) * EX3_TARGET, rel_tol=0.01) or math.isclose(
            answer, expected * EX3_TARGET, rel_tol=0.01):
        return False, "Solve sqrt(ρ² / L) = 0.1 for L: L = ρ² / 0.1² = 100 ρ²."
    return False, (f"Not quite (you are off by a factor {answer / expected:.3g}). Compute "
                   "ρ₁² for one coordinate, then ρ² = (1 + ρ₁²)^20 − 1 and L = ρ² / 0.1².")


@checker("bayes-4")
def _check_evidence_via_bayes(answer):
    if not callable(answer):
        return False, ("Give a function log_evidence_via_bayes(x, prior_mean, prior_std, "
                       "noise_std) that returns a float.")
    rng = np.random.default_rng(2024)
    cases = [((1, 1), 0.0, 1.0, 0.5), ((5, 3), 0.7, 2.0, 0.3), ((2, 4), -1.0, 0.5, 1.5)]
    for (n, D), m0, s0, sigma in cases:
        x = m0 + s0 * rng.standard_normal(D) + sigma * rng.standard_normal((n, D))
        try:
            value = float(answer(x, m0, s0, sigma))
        except Exception as exc:  # the reader's code: report, do not crash the notebook
            return False, f"Your function raised {type(exc).__name__}: {exc}"
        expected = gaussian_log_evidence(x, m0, s0, sigma)
        if not math.isclose(value, expected, abs_tol=1e-8):
            return False, (f"For x of shape {x.shape} you return {value:.6g}, the evidence is "
                           f"{expected:.6g}. Sum log-densities over all n·D numbers in "
                           "log p(x|z) and over the D coordinates of log p(z) and log p(z|x).")
    return True, ("Right, on three models of different shapes: knowing the normalised "
                  "posterior at one point is the same as knowing the evidence.")
