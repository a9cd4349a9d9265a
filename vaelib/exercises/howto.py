"""Checker for the example exercise on the "How to use this book" page."""
from __future__ import annotations

import math

from . import checker


@checker("howto-1")
def _howto_1(answer):
    # RMS error of the mean of L = 25 draws of N(0, sigma^2 I) in D = 4 dims, sigma = 2:
    # E||zbar - mu||^2 = D sigma^2 / L  =>  sqrt(4 * 4 / 25) = 0.8
    try:
        value = float(answer)
    except (TypeError, ValueError):
        return False, f"Give a number, got {answer!r}."
    expected = math.sqrt(4 * 2.0**2 / 25)
    if math.isclose(value, expected, rel_tol=1e-3):
        return True, f"Right: sqrt(D σ² / L) = sqrt(4 · 4 / 25) = {expected:.4g}."
    if math.isclose(value, expected**2, rel_tol=1e-3):
        return False, "That is the mean squared error; take its square root."
    if math.isclose(value, 2.0 / 5, rel_tol=1e-3):
        return False, "That is the error of one coordinate; the norm adds D of them."
    return False, "Not quite: each of the D coordinates of the mean has variance σ²/L."
