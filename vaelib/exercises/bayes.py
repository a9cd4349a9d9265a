"""Checkers for the exercises of chapter 1, "Bayes' theorem and why the evidence is
intractable" (``chapters/01_bayes_evidence.ipynb``).

Each checker returns ``(ok, message)``; ``vaelib.exercises.check`` prints the verdict.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import _gaussian
from ..bayes import (beta_bernoulli_log_evidence, gaussian_log_evidence,
                     gaussian_log_likelihood, gaussian_mc_relative_variance, gaussian_posterior)
from . import checker

# bayes-1: one latent coordinate, prior N(1, 2²), noise σ = 1, four observations
EX1_X = np.array([[2.9], [3.4], [2.2], [3.1]])
EX1_PRIOR_MEAN, EX1_PRIOR_STD, EX1_NOISE_STD = 1.0, 2.0, 1.0

# bayes-2: ten coin flips, two priors on the coin's bias
EX2_X = np.array([1, 1, 0, 1, 1, 1, 0, 1, 1, 1])
EX2_PRIOR_UNIFORM = (1.0, 1.0)
EX2_PRIOR_FAIR = (50.0, 50.0)

# bayes-3: d = 20 coordinates, each with one observation x_d = 1, prior N(0, 1), σ = 0.5
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
                      "at d = 20; the factor 1 + ρ² is raised to the power d.")
    one_dim = gaussian_mc_relative_variance(np.ones((1, 1)), 0.0, 1.0, EX3_NOISE_STD)
    if math.isclose(answer, one_dim * EX3_LATENT_DIM / EX3_TARGET**2, rel_tol=0.01):
        return False, ("You added the per-coordinate ρ² over the 20 coordinates; it is 1 + ρ² "
                       "that multiplies (the coordinates are independent).")
    if math.isclose(answer, math.sqrt(expected) * EX3_TARGET, rel_tol=0.01) or math.isclose(
            answer, expected * EX3_TARGET, rel_tol=0.01):
        return False, "Solve sqrt(ρ² / L) = 0.1 for L: L = ρ² / 0.1² = 100 ρ²."
    return False, (f"Not quite (you are off by a factor {answer / expected:.3g}). Compute "
                   "ρ₁² for one coordinate, then ρ² = (1 + ρ₁²)^20 − 1 and L = ρ² / 0.1².")


def _bayes4_model():
    """The conjugate model the bayes-4 checker uses: n = 3 observations, d = 2."""
    rng = np.random.default_rng(2024)
    m0, s0, sigma = 0.7, 1.5, 0.6
    x = m0 + s0 * rng.standard_normal(2) + sigma * rng.standard_normal((3, 2))
    post_mean, post_std = gaussian_posterior(x, m0, s0, sigma)
    z = np.array([[0.0, 0.0], [1.0, -2.0], [-1.5, 0.5], [3.0, 3.0], [0.2, 1.1]])
    pieces = {
        "log_likelihood": lambda v: gaussian_log_likelihood(v, x, sigma),
        "log_prior": lambda v: _gaussian.log_normal_iso(v, m0, s0),
        "log_posterior": lambda v: _gaussian.log_normal_iso(v, post_mean, float(post_std[0])),
    }
    wrong = lambda v: _gaussian.log_normal_iso(v, post_mean + 0.5, float(post_std[0]))  # noqa
    return z, pieces, wrong, gaussian_log_evidence(x, m0, s0, sigma)


@checker("bayes-4")
def _check_evidence_at(answer):
    signature = ("log_evidence_at(z, log_likelihood, log_prior, log_posterior), with z of "
                 "shape (k, d) and three functions mapping z to shape (k,)")
    if not callable(answer):
        return False, f"Give the function itself: {signature}."
    z, pieces, wrong_posterior, evidence = _bayes4_model()
    terms = {name: f(z) for name, f in pieces.items()}
    try:
        value = np.asarray(answer(z.copy(), **pieces), dtype=float)
    except TypeError:
        try:
            value = np.asarray(answer(z.copy(), *pieces.values()), dtype=float)
        except Exception as exc:  # the reader's code: report it, do not crash
            return False, f"Calling {signature} raised {type(exc).__name__}: {exc}"
    except Exception as exc:
        return False, f"Calling {signature} raised {type(exc).__name__}: {exc}"
    if value.shape != (z.shape[0],):
        return False, (f"Return one value per row of z, shape ({z.shape[0]},); got shape "
                       f"{value.shape}. Sum over coordinates inside the three functions, not "
                       "over the points.")
    if not np.allclose(value, evidence, atol=1e-8):
        lik, prior, post = terms["log_likelihood"], terms["log_prior"], terms["log_posterior"]
        if np.allclose(value, lik + prior + post, atol=1e-8):
            return False, "You added log p(z|x); the identity subtracts it."
        if np.allclose(value, -evidence, atol=1e-8):
            return False, "Right size, wrong sign: log p(x) = log p(x|z) + log p(z) - log p(z|x)."
        if np.allclose(value, lik - post, atol=1e-8) or np.allclose(value, lik + prior, atol=1e-8):
            return False, "A term is missing: the identity has log p(x|z), log p(z) and log p(z|x)."
        return False, (f"With the exact posterior every point should give log p(x) = "
                       f"{evidence:.6g}; you return values from {value.min():.6g} to "
                       f"{value.max():.6g}. Use log p(x|z) + log p(z) - log p(z|x).")
    # the exact posterior gives the evidence at every z: so does any other route. A wrong
    # posterior separates the identity (values that vary with z) from every other route.
    try:
        value_wrong = np.asarray(answer(z.copy(), pieces["log_likelihood"],
                                        pieces["log_prior"], wrong_posterior), dtype=float)
    except Exception as exc:
        return False, f"With another posterior function your code raised {type(exc).__name__}: {exc}"
    identity = terms["log_likelihood"] + terms["log_prior"] - wrong_posterior(z)
    if np.allclose(value_wrong, identity, atol=1e-8):
        return True, ("Right, and you used the identity: with the exact posterior it gives "
                      f"log p(x) = {evidence:.4f} at every z, and with a wrong posterior its "
                      f"values change with z (here from {identity.min():.4f} to "
                      f"{identity.max():.4f}), exactly as log p(x|z) + log p(z) - log q(z) "
                      "does. A normalised posterior at one point is the evidence.")
    if np.allclose(value_wrong, evidence, atol=1e-6):
        return False, ("Your values are right, but they stay equal to the evidence when the "
                       "posterior function is wrong: your function computes log p(x) some "
                       "other way (an integral, or a closed form) instead of with the identity. "
                       "Use only the three functions you are given.")
    return False, ("With the exact posterior your values are right, but with another "
                   "posterior function they are not log p(x|z) + log p(z) - log p(z|x): use "
                   "the log_posterior you are given.")
