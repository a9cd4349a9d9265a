"""The Laplace approximation: a Gaussian at the posterior's mode (chapter 1).

    mode = argmax_z log p(x, z),     cov = (-∇²_z log p(x, z) |_mode)^{-1}
                                                              (eq-bayes-laplace)

Only the unnormalised log-joint is needed: the posterior's mode and its curvature are
local properties, while the normaliser p(x) is an integral over every z. The Laplace
evidence, log p(x) ≈ log p(x, mode) + (d/2) log 2π + ½ log det cov, is the candidate's
formula log p(x) = log p(x, z) - log p(z | x) at z = mode with the Gaussian in place of
the posterior (eq-bayes-laplace-evidence). Both are exact when the posterior is Gaussian,
as in the conjugate model, because log p(x, z) is then quadratic in z (MacKay, 2003,
ch. 27; Bishop, 2006, §4.4).

Derivatives are central finite differences of ``log_joint`` itself, evaluated in one
batched call per derivative: any function mapping z of shape (k, d) to (k,) will do.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import optimize

from .._gaussian import LOG_2PI
from .._validation import check_array, check_int, check_spd
from ._checks import _check_log_joint, _check_log_joint_values

__all__ = ["laplace_approximation", "laplace_log_evidence"]

#: Finite-difference steps, as fractions of the posterior's standard deviation along each
#: axis: ~ε^(1/3) for the gradient and ~ε^(1/4) for the Hessian balance truncation and
#: rounding (relative errors ~1e-10 and ~1e-7 times max(1, |log p(x, z)|)).
_GRAD_STEP, _HESS_STEP = 1e-5, 1e-3


def _evaluate(log_joint, z: np.ndarray) -> np.ndarray:
    values = _check_log_joint_values(log_joint(z), z.shape[0])
    if not np.all(np.isfinite(values)):
        raise ValueError("log_joint is -inf (zero density) near the point being examined; "
                         "start z_init where p(x, z) > 0.")
    return values


def _gradient(log_joint, z: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """∂/∂z_j log p(x, z) by central differences, one batched call of 2d points."""
    d = z.shape[0]
    offsets = np.diag(steps)
    values = _evaluate(log_joint, np.concatenate([z + offsets, z - offsets]))
    return (values[:d] - values[d:]) / (2.0 * steps)


def _hessian(log_joint, z: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """∇² log p(x, z) by central differences, one batched call of 2d² + 1 points.

    H_jj = [f(z + h_j e_j) - 2 f(z) + f(z - h_j e_j)] / h_j²,
    H_jk = [f(++) - f(+-) - f(-+) + f(--)] / (4 h_j h_k)   (j < k).
    Exact up to rounding when f is quadratic.
    """
    d = z.shape[0]
    eye = np.diag(steps)
    j, k = np.triu_indices(d, 1)
    points = [z[None], z + eye, z - eye]
    for sj, sk in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
        points.append(z + sj * eye[j] + sk * eye[k])
    values = _evaluate(log_joint, np.concatenate(points))
    f0, plus, minus = values[0], values[1:d + 1], values[d + 1:2 * d + 1]
    pp, pm, mp, mm = np.split(values[2 * d + 1:], 4)
    hess = np.diag((plus - 2.0 * f0 + minus) / steps**2)
    hess[j, k] = hess[k, j] = (pp - pm - mp + mm) / (4.0 * steps[j] * steps[k])
    return hess


def _curvature_scales(neg_hess: np.ndarray) -> np.ndarray:
    """Posterior standard deviations sqrt(diag cov), cov = neg_hess^{-1}; raises if not PD."""
    eigvals = np.linalg.eigvalsh(neg_hess)
    if not eigvals.min() > 0.0:
        raise ValueError("log_joint is not strictly concave at the point z_init climbs to "
                         f"(a curvature eigenvalue of -∇² log p(x, z) is {eigvals.min():.3g}"
                         " <= 0): it is not a maximum, and the Laplace approximation needs "
                         "one. Start z_init elsewhere, or check that log_joint is bounded "
                         "above.")
    return np.sqrt(np.diag(np.linalg.inv(neg_hess)))


def laplace_approximation(log_joint: Callable[[np.ndarray], np.ndarray], z_init, *,
                          max_iter: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """The Gaussian N(mode, cov) at a mode of the posterior, with the curvature there.

    Climbs log p(x, z) from ``z_init`` (BFGS, then Newton steps with the Hessian) to a
    local maximum, the mode, and returns the inverse of the negative Hessian there
    (eq-bayes-laplace):

        mode = argmax_z log p(x, z),     cov = (-∇² log p(x, z) |_mode)^{-1}.

    A multimodal posterior has one Laplace approximation per mode: the one returned is
    the mode ``z_init`` climbs to. Exact (to ~1e-7 relative) when log p(x, z) is
    quadratic in z, i.e. when the posterior is Gaussian, as in the conjugate model.

    Parameters
    ----------
    log_joint : callable
        ``log_joint(z)`` with z of shape (k, d) returns log p(x, z) of shape (k,), up to a
        constant that does not depend on z (the normaliser is never needed).
    z_init : array-like, shape (d,)
        Where the climb starts.
    max_iter : int
        Largest number of BFGS iterations (Newton then polishes in at most 20 steps).

    Returns
    -------
    mode : ndarray, shape (d,)
    cov : ndarray, shape (d, d)
        Symmetric positive definite.

    Raises
    ------
    ValueError
        If ``log_joint`` returns the wrong shape, NaN or +inf, is -inf at z_init, grows
        without bound from z_init, or is not strictly concave at the point reached.
    """
    log_joint = _check_log_joint(log_joint)
    z = check_array(z_init, "z_init", ndim=1).copy()
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    d = z.shape[0]
    _evaluate(log_joint, z[None])

    # 1) BFGS on -log p(x, z), gradients by central differences in unit steps
    unit = np.full(d, _GRAD_STEP)
    result = optimize.minimize(lambda v: -_evaluate(log_joint, v[None])[0], z,
                               jac=lambda v: -_gradient(log_joint, v, unit),
                               method="BFGS", options={"maxiter": max_iter, "gtol": 1e-8})
    z = result.x
    if not np.all(np.isfinite(z)) or np.max(np.abs(z)) > 1e8:
        raise ValueError("the climb from z_init ran away (|z| > 1e8): log_joint seems to grow "
                         "without bound, so the posterior has no mode there.")

    # 2) curvature scales, then Newton steps measured in posterior standard deviations
    scales = _curvature_scales(-_hessian(log_joint, z, np.full(d, _HESS_STEP)))
    for _ in range(20):
        neg_hess = -_hessian(log_joint, z, _HESS_STEP * scales)
        scales = _curvature_scales(neg_hess)
        step = np.linalg.solve(neg_hess, _gradient(log_joint, z, _GRAD_STEP * scales))
        z = z + step
        if np.max(np.abs(step) / scales) < 1e-9:
            break
    neg_hess = -_hessian(log_joint, z, _HESS_STEP * _curvature_scales(neg_hess))
    _curvature_scales(neg_hess)
    cov = np.linalg.inv(neg_hess)
    return z, 0.5 * (cov + cov.T)


def laplace_log_evidence(log_joint: Callable[[np.ndarray], np.ndarray], mode,
                         cov) -> float:
    """The Laplace approximation of the log-evidence (eq-bayes-laplace-evidence).

        log p(x) ≈ log p(x, mode) + (d/2) log 2π + ½ log det cov,

    which is the candidate's formula log p(x) = log p(x, z) - log p(z | x) at z = mode
    with N(mode, cov) in place of the posterior. Exact for a Gaussian posterior.

    Parameters
    ----------
    log_joint : callable
        As in :func:`laplace_approximation`; here its constant matters (it must be the
        normalised log p(x, z)).
    mode : array-like, shape (d,)
    cov : array-like, shape (d, d)
        Symmetric positive definite, e.g. from :func:`laplace_approximation`.

    Returns
    -------
    float
    """
    log_joint = _check_log_joint(log_joint)
    mode = check_array(mode, "mode", ndim=1)
    cov = check_spd(cov, "cov")
    d = mode.shape[0]
    if cov.shape != (d, d):
        raise ValueError(f"cov must have shape ({d}, {d}) to match mode, got {cov.shape}.")
    log_det = np.linalg.slogdet(cov)[1]
    return float(_evaluate(log_joint, mode[None])[0] + 0.5 * d * LOG_2PI + 0.5 * log_det)
