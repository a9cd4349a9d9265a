"""Gradients of an expectation over q, and what they cost (chapter 5).

For q = N(mu, diag(exp(logvar))) and a function f, both estimators below estimate the
gradient, with respect to (mu, logvar), of

    F(mu, logvar) = E_{z ~ q}[f(z)].

* Score function (likelihood ratio, REINFORCE; Williams, 1992): move the gradient onto
  the log-density,

      grad F = E_q[(f(z) - b) grad log q(z)],
      d log q / d mu_d     = (z_d - mu_d) / std_d**2 = eps_d / std_d,
      d log q / d logvar_d = ((z_d - mu_d)**2 / std_d**2 - 1) / 2 = (eps_d**2 - 1) / 2,

  valid for any f (even a step function) and any baseline b that does not depend on z,
  because E_q[grad log q] = 0.
* Pathwise (reparameterization; Kingma & Welling, 2014; Rezende et al., 2014): write
  z = mu + std * eps and move the gradient inside,

      grad F = E_eps[grad f(mu + std * eps)],
      d/d mu_d = df/dz_d,    d/d logvar_d = df/dz_d * eps_d * std_d / 2,

  which needs f differentiable in z.

One module a topic:

``estimators``
    The two estimators (:func:`pathwise_grad`, :func:`score_function_grad`, with a
    constant or leave-one-out baseline) and :func:`gradient_moments`, which measures an
    estimator's mean and variance over independent repeats. Drawn with the same
    ``generator`` state, the two estimators see the same noise eps (common random
    numbers), so their difference is the estimator, not the luck of the draw.
``objectives``
    Test functions with closed-form gradients and variances: ||z||**2 (pathwise
    variance flat in the latent dimension), (sum z)**2 (growing with it) and
    sum sin(omega z) (where the score function wins at high frequency). The review of
    Mohamed et al. (2020) treats the estimators in depth.
``race``
    The same comparison inside a VAE trained on the digits (:func:`compare_estimators`),
    with a plain autoencoder as the no-noise control.

Every name is available as ``vaelib.gradients.NAME``.
"""
from __future__ import annotations

from .estimators import (GradientMoments, gaussian_score, gradient_moments, pathwise_grad,
                         score_function_grad)
from .objectives import (sine_grad, sine_pathwise_variance, squared_norm_grad,
                         squared_norm_grad_variance, squared_sum_grad,
                         squared_sum_pathwise_variance)
from .race import ESTIMATORS, RUNS, TrainedRun, compare_estimators, train_variants

__all__ = [
    "pathwise_grad", "score_function_grad", "gaussian_score",
    "GradientMoments", "gradient_moments",
    "squared_norm_grad", "squared_norm_grad_variance",
    "squared_sum_grad", "squared_sum_pathwise_variance", "sine_grad", "sine_pathwise_variance",
    "RUNS", "ESTIMATORS", "TrainedRun", "train_variants", "compare_estimators",
]
