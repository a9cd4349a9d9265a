"""Checkers for the exercises of chapter 3, "The VAE model"
(``chapters/03_vae_model.ipynb``).

Each checker returns ``(ok, message)``; ``vaelib.exercises.check`` prints the verdict.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import torch

from ..models import VAE, _bernoulli_log_likelihood
from . import checker

# vae-1: parameters of the pytorch/examples network 784-400-20
EX1_SIZES = (784, 400, 20)

# vae-3: the sigmas at which a beta(sigma) answer is tried
EX3_SIGMAS = (0.05, 0.1, 0.3, 1.0, 2.5)


def _is_number(value) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(float(value)))


def ex1_answer() -> int:
    """Number of weights and biases of ``VAE(784, 20, hidden_dims=(400,))``."""
    model = VAE(EX1_SIZES[0], EX1_SIZES[2], hidden_dims=(EX1_SIZES[1],))
    return sum(p.numel() for p in model.parameters())


@checker("vae-1")
def _check_parameter_count(answer):
    if isinstance(answer, bool) or not isinstance(answer, numbers.Integral):
        return False, "Give the count as an integer."
    D, H, d = EX1_SIZES
    true = ex1_answer()
    if answer == true:
        return True, (f"Right: {true:,} parameters. The two big matrices 784×400 and "
                      f"400×784 hold {2 * D * H / true:.1%} of them; the latent layer "
                      "(400×40 + 20×400) is tiny, so d hardly changes the cost.")
    one_head = true - (H * d + d)
    no_bias = true - (H + 2 * d + H + D)
    if answer == one_head:
        return False, ("Close: the encoder outputs both mu and logvar, so its last layer "
                       "maps 400 → 2·20 = 40, not 400 → 20.")
    if answer == no_bias:
        return False, "Close: each linear layer also has one bias per output."
    if answer == D * H + H * 2 * d + d * H + H * D:
        return False, "You counted the weight matrices; add the biases (one per output)."
    return False, (f"Not quite ({answer:,}). Count each nn.Linear(n_in, n_out) as "
                   "n_in·n_out + n_out: 784→400, 400→40 (mu and logvar), 20→400, 400→784.")


def _reference_cases():
    generator = torch.Generator().manual_seed(0)
    x_binary = torch.bernoulli(torch.full((4, 9), 0.5), generator=generator)
    x_grey = torch.rand(4, 9, generator=generator)
    logits = 3 * torch.randn(4, 9, generator=generator)
    samples = torch.randn(3, 4, 9, generator=generator)
    extreme = torch.tensor([[80.0, -80.0, 0.0], [-120.0, 120.0, 5.0]])
    x_extreme = torch.tensor([[1.0, 0.0, 0.5], [0.0, 1.0, 1.0]])
    return [("binary pixels", x_binary, logits), ("grey pixels", x_grey, logits),
            ("sample dimensions (3, 4, 9)", x_grey, samples),
            ("extreme logits ±80, ±120", x_extreme, extreme)]


@checker("vae-2")
def _check_bernoulli_log_likelihood(answer):
    if not callable(answer):
        return False, "Give a function bernoulli_log_likelihood(x, logits)."
    for name, x, logits in _reference_cases():
        expected = _bernoulli_log_likelihood(x, logits)
        try:
            got = answer(x, logits)
        except Exception as exc:  # report, do not crash the reader's notebook
            return False, f"Your function raised {type(exc).__name__} on {name}: {exc}"
        got = torch.as_tensor(got, dtype=expected.dtype)
        if got.shape != expected.shape:
            if got.shape == logits.shape:
                return False, ("The result has one value per pixel: sum over the last "
                               "dimension (the pixels) to get log p(x | z) per example.")
            return False, (f"On {name} the result has shape {tuple(got.shape)}; expected "
                           f"{tuple(expected.shape)} (one value per example and sample).")
        if not torch.isfinite(got).all():
            return False, (f"On {name} the result is not finite: log(sigmoid(l)) underflows "
                           "for large |l|; use -softplus(-l) and -softplus(l), or "
                           "x·l - softplus(l).")
        if not torch.allclose(got, expected, rtol=1e-4, atol=1e-4):
            if torch.allclose(got, -expected, rtol=1e-4, atol=1e-4):
                return False, "Off by a sign: that is the cross-entropy, -log p(x | z)."
            return False, (f"On {name} the values differ (e.g. {float(got.flatten()[0]):.4g} "
                           f"instead of {float(expected.flatten()[0]):.4g}). Recall "
                           "log p = x log σ(l) + (1 - x) log(1 - σ(l)).")
    return True, ("Right, and stable for extreme logits: x·l - softplus(l) never takes "
                  "the log of a probability that rounded to 0.")


def ex3_answer(sigma: float) -> float:
    """KL weight beta that makes -ELBO with a Gaussian decoder proportional to SSE + beta KL."""
    return 2.0 * sigma**2


@checker("vae-3")
def _check_beta_of_sigma(answer):
    if not callable(answer):
        return False, "Give a function beta(sigma) that returns a number."
    got = []
    for sigma in EX3_SIGMAS:
        try:
            value = answer(sigma)
        except Exception as exc:
            return False, f"beta({sigma}) raised {type(exc).__name__}: {exc}"
        value = float(value) if _is_number(value) or isinstance(value, np.floating) else value
        if not _is_number(value):
            return False, f"beta({sigma}) should be a finite number, got {value!r}."
        got.append(value)
    true = [ex3_answer(s) for s in EX3_SIGMAS]
    if np.allclose(got, true, rtol=1e-9):
        return True, ("Right: beta = 2σ². Multiplying -ELBO by 2σ² turns the reconstruction "
                      "term into the squared error; a large σ is a large KL weight, which "
                      "is why the σ slider switches latent dimensions off.")
    if np.allclose(got, [s**2 for s in EX3_SIGMAS], rtol=1e-9):
        return False, "Close: the Gaussian's exponent has 2σ² in the denominator, not σ²."
    if np.allclose(got, [1 / (2 * s**2) for s in EX3_SIGMAS], rtol=1e-9):
        return False, ("That is the weight of the squared error when the KL weight is 1; "
                       "divide through so the squared error has weight 1.")
    if np.allclose(got, list(EX3_SIGMAS), rtol=1e-9) or np.allclose(
            got, [2 * s for s in EX3_SIGMAS], rtol=1e-9):
        return False, "It grows faster than σ: the noise variance σ² enters, not σ."
    return False, ("Not quite. Write log N(x; m, σ²I) = -‖x - m‖²/(2σ²) + const, then "
                   "multiply -ELBO by the factor that gives ‖x - m‖² weight 1.")
