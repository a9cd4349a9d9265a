"""Input checks shared by the public entry points of vaelib.

Each helper raises ``TypeError`` or ``ValueError`` with a message that says what was
wrong and what to do. Inner kernels assume their inputs were checked here once.
"""
from __future__ import annotations

import numbers

import numpy as np


def check_positive(value, name: str) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a positive number, got {type(value).__name__}.")
    value = float(value)
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value}. "
                         f"Pass a standard deviation (not a variance), e.g. {name}=1.0.")
    return value


def check_int(value, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def check_array(X, name: str, ndim: int | None = None, dtype=np.float64) -> np.ndarray:
    """Return ``X`` as a finite NumPy array of ``dtype``, checking its number of dimensions."""
    try:
        arr = np.asarray(X, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be array-like of numbers: {exc}") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {arr.shape}. "
                         + ("Reshape a single example x to x[None, :]." if ndim == 2 else ""))
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}).")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values; clean or impute them first.")
    return arr


def check_tensor(t, name: str, ndim: int | None = None):
    """Check that ``t`` is a finite floating torch tensor with ``ndim`` dimensions."""
    import torch

    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}; "
                        f"wrap it with torch.as_tensor({name}, dtype=torch.float32).")
    if not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}.")
    if ndim is not None and t.dim() != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {tuple(t.shape)}.")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return t


def check_random_state(random_state) -> np.random.Generator:
    """``None``, a non-negative int seed or a ``numpy.random.Generator`` -> a Generator.

    A Generator is returned as it is (so a caller's stream continues); an int seeds a
    new one; ``None`` draws fresh entropy (not reproducible: pass a seed in notebooks).
    """
    if random_state is None or isinstance(random_state, np.random.Generator):
        return np.random.default_rng(random_state)
    if isinstance(random_state, bool) or not isinstance(random_state, numbers.Integral):
        raise TypeError("random_state must be None, a non-negative int or a "
                        f"numpy.random.Generator, got {type(random_state).__name__}.")
    if random_state < 0:
        raise ValueError(f"random_state must be >= 0, got {random_state}.")
    return np.random.default_rng(int(random_state))
