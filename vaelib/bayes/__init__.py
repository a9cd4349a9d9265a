"""Bayes' theorem and the evidence (chapter 1).

    p(z | x) = p(x | z) p(z) / p(x),        p(x) = ∫ p(x | z) p(z) dz.

Models, from exact to hopeless:

* :mod:`~vaelib.bayes.conjugate`: the conjugate Gaussian model, z ~ N(m0, s0² I_d) and
  x_i | z ~ N(z, σ² I_d), and the Beta–Bernoulli pair, whose posteriors and evidences
  have closed forms (:func:`gaussian_posterior`, :func:`gaussian_log_evidence`,
  :func:`beta_bernoulli_posterior`, :func:`beta_bernoulli_log_evidence`);
* :mod:`~vaelib.bayes.decoder`: a tiny fixed decoder network f, z ~ N(0, I_2) and
  x_i | z ~ N(f(z), σ² I_2), which has no closed form (:func:`decoder_mean`,
  :func:`decoder_log_joint`).

Ways to compute or approximate what the formulas no longer give:

* :mod:`~vaelib.bayes.grid`: the midpoint rule on a grid over z, whose cost m^d explodes
  with the latent dimension d (:func:`grid_log_evidence`, :func:`grid_posterior`, the
  convergence table :func:`grid_log_evidence_table`, :func:`grid_moments`);
* :mod:`~vaelib.bayes.monte_carlo`: naive Monte Carlo from the prior and the variance of
  importance weights (:func:`mc_log_evidence`, :func:`gaussian_mc_relative_variance`,
  :func:`gaussian_importance_relative_variance`, :func:`effective_sample_size`);
* :mod:`~vaelib.bayes.laplace`: the Gaussian at a mode of the posterior
  (:func:`laplace_approximation`, :func:`laplace_log_evidence`).

Everything is computed in log space; the latent dimension is d (``latent_dim``).
"""
from __future__ import annotations

from .conjugate import (beta_bernoulli_log_evidence, beta_bernoulli_posterior,
                        gaussian_log_evidence, gaussian_log_joint, gaussian_log_likelihood,
                        gaussian_mc_relative_variance, gaussian_posterior)
from .decoder import (DECODER_B1, DECODER_B2, DECODER_W1, DECODER_W2, decoder_log_joint,
                      decoder_mean)
from .grid import (MAX_GRID_POINTS, MAX_POSTERIOR_GRID_POINTS, grid_axis, grid_log_evidence,
                   grid_log_evidence_table, grid_moments, grid_posterior)
from .laplace import laplace_approximation, laplace_log_evidence
from .monte_carlo import (effective_sample_size, gaussian_importance_relative_variance,
                          log_mean_exp, mc_log_evidence)

__all__ = [
    "gaussian_posterior",
    "gaussian_log_evidence",
    "gaussian_log_likelihood",
    "gaussian_log_joint",
    "gaussian_mc_relative_variance",
    "beta_bernoulli_posterior",
    "beta_bernoulli_log_evidence",
    "grid_axis",
    "grid_log_evidence",
    "grid_log_evidence_table",
    "grid_posterior",
    "grid_moments",
    "log_mean_exp",
    "effective_sample_size",
    "mc_log_evidence",
    "gaussian_importance_relative_variance",
    "laplace_approximation",
    "laplace_log_evidence",
    "decoder_mean",
    "decoder_log_joint",
    "DECODER_W1",
    "DECODER_B1",
    "DECODER_W2",
    "DECODER_B2",
    "MAX_GRID_POINTS",
    "MAX_POSTERIOR_GRID_POINTS",
]
