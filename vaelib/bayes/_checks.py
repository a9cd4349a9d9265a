"""Input checks shared by the public functions of :mod:`vaelib.bayes` (chapter 1).

The conjugate model observes its code directly, so its data dimension equals the latent
dimension d; the messages speak of latent coordinates.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .._validation import check_array, check_std


def _check_gaussian_model(x, prior_mean, prior_std, noise_std):
    """Validate (x, m0, s0, σ) of the conjugate model; return x (n, d), m0 (d,), s0, σ."""
    x = check_array(x, "x", ndim=2)
    prior_mean = _check_mean(prior_mean, x.shape[1])
    prior_std = check_std(prior_std, "prior_std")
    noise_std = check_std(noise_std, "noise_std")
    return x, prior_mean, prior_std, noise_std


def _check_mean(prior_mean, latent_dim: int) -> np.ndarray:
    """A scalar or a (d,) array, returned as a (d,) array."""
    prior_mean = check_array(prior_mean, "prior_mean")
    if prior_mean.ndim == 0:
        return np.full(latent_dim, float(prior_mean))
    if prior_mean.shape != (latent_dim,):
        raise ValueError(f"prior_mean must be a scalar or have shape ({latent_dim},) to match "
                         f"x's {latent_dim} latent coordinates, got shape {prior_mean.shape}.")
    return prior_mean


def _check_z(z, latent_dim: int, name: str = "z") -> np.ndarray:
    """Latent points of shape (..., d)."""
    z = check_array(z, name)
    if z.ndim == 0 or z.shape[-1] != latent_dim:
        raise ValueError(f"{name} must have shape (..., {latent_dim}) (latent dimension last), "
                         f"got shape {z.shape}.")
    return z


def _check_log_joint(log_joint) -> Callable[[np.ndarray], np.ndarray]:
    if not callable(log_joint):
        raise TypeError("log_joint must be a function mapping z of shape (k, latent_dim) to "
                        f"log p(x, z) of shape (k,), got {type(log_joint).__name__}.")
    return log_joint


def _check_log_joint_values(values, n_points: int) -> np.ndarray:
    """What a log_joint returned: shape (n_points,), no NaN, no +inf (-inf is a zero)."""
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (n_points,):
        raise ValueError(f"log_joint must map z of shape (n_points, latent_dim) to shape "
                         f"(n_points,), returned shape {values.shape}.")
    if np.any(np.isnan(values)) or np.any(values == np.inf):
        raise ValueError("log_joint returned NaN or +inf; it must return log-densities "
                         "(finite, or -inf where the density is zero).")
    return values
