"""Variational EM and the amortization gap (chapter 6).

Every method of this package climbs the same objective, the ELBO

    F(q, theta) = E_q[log p_theta(x, z)] + H[q] = log p_theta(x) - KL[q || p_theta(z | x)],

and differs only in *which* variables it moves at each step (Neal & Hinton, 1998).
One module a topic:

``linear_em``
    An exact testbed (NumPy float64): the linear-Gaussian latent model of chapter 4,
    z ~ N(0, I_d), x | z ~ N(W z + b, Psi), with Psi = sigma**2 I (probabilistic PCA) or
    diag(psi) (factor analysis); its closed forms come from :mod:`vaelib.linear_gaussian`.
    :func:`fit_em` is exact EM (log p(x) never decreases; Dempster, Laird & Rubin, 1977),
    :func:`fit_variational_em` variational EM with a mean-field q per data point (the
    ELBO never decreases; log p(x) may).
``linear_vae``
    The same model trained as a linear VAE (affine encoder, linear decoder) by plain
    joint gradient ascent, with hand-written gradients and Hessian:
    :func:`fit_joint_gradient`, and the curvature just before each of its collapses
    (:func:`find_collapses`).
``amortized``
    A VAE on real digits (torch): the variational E-step per input with the decoder
    fixed (:func:`optimize_posterior`), log p(x) by importance sampling from a given q
    (:func:`iwae_bound_given_q`), and the split of log p(x) - ELBO into the
    approximation and amortization gaps (:func:`inference_gaps`; Cremer, Li &
    Duvenaud, 2018).
``schedule``
    Training a VAE by alternating encoder-only and decoder-only phases
    (:func:`fit_alternating`, a schedule of :func:`vaelib.train.fit`), raced against
    joint steps from the same start (:func:`compare_schedules`).

Every name is available as ``vaelib.vem.NAME``.
"""
from __future__ import annotations

from .amortized import (InferenceGaps, elbo_given_q, inference_gaps, iwae_bound_given_q,
                        optimize_posterior, posterior_path)
from .linear_em import (FitResult, e_step, fit_em, fit_variational_em, gaussian_elbo,
                        init_params, log_evidence, m_step, mean_field_e_step)
from .linear_vae import (Collapses, LinearVAEParams, find_collapses, fit_joint_gradient,
                         linear_vae_elbo, linear_vae_hessian, linear_vae_params)
from .schedule import SCHEDULES, compare_schedules, fit_alternating

__all__ = [
    "FitResult", "init_params", "log_evidence", "e_step", "mean_field_e_step", "m_step",
    "gaussian_elbo", "fit_em", "fit_variational_em", "LinearVAEParams", "linear_vae_params",
    "linear_vae_elbo", "linear_vae_hessian", "fit_joint_gradient", "Collapses",
    "find_collapses", "elbo_given_q", "optimize_posterior", "posterior_path",
    "iwae_bound_given_q", "InferenceGaps", "inference_gaps", "fit_alternating", "SCHEDULES",
    "compare_schedules",
]
