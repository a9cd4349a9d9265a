"""A non-conjugate model: a tiny fixed decoder (chapter 1).

    z ~ N(0, I_2),    x_i | z ~ N(f(z), σ² I_2),    f(z) = W2 tanh(W1 z + b1) + b2

(eq-bayes-decoder). No formula gives its evidence or its posterior; in two latent
dimensions a grid does (:mod:`vaelib.bayes.grid`).
"""
from __future__ import annotations

import numpy as np

from .. import _gaussian
from .._validation import check_array, check_std
from ._checks import _check_z
from .conjugate import _gaussian_log_likelihood

__all__ = ["decoder_mean", "decoder_log_joint", "DECODER_W1", "DECODER_B1", "DECODER_W2",
           "DECODER_B2"]


#: Weights of the tiny decoder f(z) = W2 tanh(W1 z + b1) + b2, fixed by hand: the first
#: two hidden units are mirror images in z_1, so f is even in z_1 (the code z and its
#: mirror image (-z_1, z_2) give the same output, so every posterior is symmetric), and
#: tanh bends the level sets. Its range is a bounded region of the plane: for z_2 < 1
#: the first output is negative and the second is below tanh(1.5) ≈ 0.905.
DECODER_W1 = np.array([[2.0, 1.0], [-2.0, 1.0], [0.0, 1.5]])     # (hidden=3, latent=2)
DECODER_B1 = np.array([-1.0, -1.0, 0.0])                        # (3,)
DECODER_W2 = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])       # (data=2, hidden=3)
DECODER_B2 = np.zeros(2)                                        # (2,)


def decoder_mean(z) -> np.ndarray:
    """The tiny decoder's output f(z) = W2 tanh(W1 z + b1) + b2 (eq-bayes-decoder).

    Parameters
    ----------
    z : array-like, shape (..., 2)

    Returns
    -------
    ndarray, shape (..., 2)
        The mean of x given z.
    """
    return _decoder_mean(_check_z(z, 2))


def _decoder_mean(z):
    hidden = np.tanh(z @ DECODER_W1.T + DECODER_B1)
    return hidden @ DECODER_W2.T + DECODER_B2


def decoder_log_joint(z, x, noise_std: float) -> np.ndarray:
    """log p(x, z) of the non-conjugate model, z ~ N(0, I_2), x_i | z ~ N(f(z), σ² I_2).

        log p(x, z) = Σ_i log N(x_i; f(z), σ² I) + log N(z; 0, I)

    No closed form exists for its integral over z: the chapter uses a grid.

    Parameters
    ----------
    z : array-like, shape (..., 2)
    x : array-like, shape (n, 2)
    noise_std : float
        σ > 0.

    Returns
    -------
    ndarray, shape (...)
    """
    x = check_array(x, "x", ndim=2)
    if x.shape[1] != 2:
        raise ValueError(f"x must have shape (n, 2) for the tiny decoder, got {x.shape}.")
    z = _check_z(z, 2)
    noise_std = check_std(noise_std, "noise_std")
    # Σ_i log N(x_i; f(z), σ² I) is the Gaussian model's likelihood evaluated at f(z)
    return (_gaussian_log_likelihood(_decoder_mean(z), x, noise_std)
            + _gaussian.log_normal_iso(z, 0.0, 1.0))
