"""EM on a Gaussian mixture (chapter 2).

The model has a discrete latent variable z in {1, ..., K}:

    z ~ Categorical(weights),    x | z = k ~ N(means[k], covariances[k]),
    p(x) = sum_k weights[k] N(x | means[k], covariances[k]).

EM alternates two closed-form steps (Dempster, Laird & Rubin, 1977; Bishop, 2006, §9.2):

* E-step, Bayes' theorem over the K values of z (exact, in log space)::

      log_resp[i, k] = log weights[k] + log N(x_i | mu_k, Sigma_k) - log p(x_i)

* M-step, weighted maximum likelihood with N_k = sum_i resp[i, k]::

      weights[k] = N_k / n,    means[k] = sum_i resp[i, k] x_i / N_k,
      covariances[k] = sum_i resp[i, k] (x_i - mu_k)(x_i - mu_k)^T / N_k + reg_covar * I.

Each EM iteration is coordinate ascent on the lower bound (:func:`lower_bound`)

    F(q, theta) = log p(X | theta) - KL[q || p(z | X, theta)],

whose gap the E-step closes because it sets q to the exact posterior; so the mean
log-likelihood never decreases (Neal & Hinton, 1998).

Implementation notes. The code follows scikit-learn's
``sklearn/mixture/_gaussian_mixture.py``: Gaussians are evaluated through the
Cholesky factor of the precision (no matrix inverse, no determinant),
responsibilities are normalised with logsumexp, ``reg_covar`` goes on the diagonal,
``10 * eps`` is added to every N_k so that an empty component does not divide by
zero. Unlike scikit-learn, the E-step evaluates all K components with one matrix
product per block of rows (no loop over components, and the working set stays in
cache), and the M-step forms each scatter matrix as A^T A with A = sqrt(resp) (X - mu);
``benchmarks/bench_gmm.py`` compares the two.
"""
from __future__ import annotations

from ._kernels import COVARIANCE_TYPES, ConvergenceWarning
from .em import (GaussianMixtureResult, e_step, fit_gmm, kmeans_plusplus, log_gaussian_prob,
                 log_likelihood, lower_bound, m_step, n_parameters, sample_gmm)

__all__ = [
    "ConvergenceWarning",
    "GaussianMixtureResult",
    "fit_gmm",
    "e_step",
    "m_step",
    "lower_bound",
    "log_gaussian_prob",
    "log_likelihood",
    "kmeans_plusplus",
    "sample_gmm",
    "n_parameters",
    "COVARIANCE_TYPES",
]
