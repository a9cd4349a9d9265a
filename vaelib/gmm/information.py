"""How fast EM converges, and what kind of point it stops at (chapter 2).

Near a fixed point θ* of EM, one EM iteration acts on the error θ - θ* as the matrix
(Dempster, Laird & Rubin, 1977, §3)

    DM = I_c^{-1} I_m = I - I_c^{-1} I_obs,                      (eq-gmm-rate-matrix)

with the observed information I_obs = -∇² Σ_i log p(x_i; θ) and the expected
complete-data information I_c = -∇²_θ Σ_i Σ_k r_ik log p(x_i, z_i = k; θ), where the
responsibilities r_ik are held at θ*; I_m = I_c - I_obs is the information the missing
labels would have added. The eigenvalues of DM lie in [0, 1) at a strict local maximum;
the largest, the *fraction of missing information*, is EM's linear rate: the parameter
error shrinks by that factor per iteration, and the log-likelihood's distance to its
limit by its square (Xu & Jordan, 1996). The eigenvalues do not depend on how θ is
parameterised (a change of variables is a similarity transform of DM).

θ is packed as the first K - 1 weights (the last is 1 - their sum), the means, and
the lower triangle of each covariance (or the variances of diagonal ones). The
derivatives are exact: torch's automatic differentiation in float64.
"""
from __future__ import annotations

import numpy as np

from .._validation import check_array
from .em import _check_params

__all__ = ["pack_parameters", "log_likelihood_hessian", "missing_information"]


def pack_parameters(weights, means, covariances) -> np.ndarray:
    """θ as one vector: weights[:-1], means, then each covariance's lower triangle.

    Parameters
    ----------
    weights : array-like, shape (K,)
    means : array-like, shape (K, D)
    covariances : array-like, shape (K, D, D) or (K, D)

    Returns
    -------
    ndarray, shape (K - 1 + K D + K D (D + 1) / 2,) for full covariances,
        (K - 1 + 2 K D,) for diagonal ones: the free parameters, as
        ``vaelib.gmm.n_parameters`` counts them.
    """
    means = check_array(means, "means", ndim=2)
    _, weights, means, covariances, ct = _check_params(means[:1], weights, means, covariances)
    return _pack(weights, means, covariances, ct)


def _pack(weights, means, covariances, covariance_type):
    if covariance_type == "diag":
        cov_part = covariances.ravel()
    else:
        rows, cols = np.tril_indices(means.shape[1])
        cov_part = covariances[:, rows, cols].ravel()
    return np.concatenate([weights[:-1], means.ravel(), cov_part])


def _log_joint_torch(theta, X, n_components, covariance_type):
    """log p(x_i, z_i = k; θ) as a differentiable (n, K) tensor of the packed θ."""
    import torch

    n_features = X.shape[1]
    K, D = n_components, n_features
    free = theta[:K - 1]
    weights = torch.cat([free, (1.0 - free.sum()).reshape(1)])
    means = theta[K - 1:K - 1 + K * D].reshape(K, D)
    rest = theta[K - 1 + K * D:].reshape(K, -1)
    if covariance_type == "diag":
        dist = torch.distributions.Normal(means, rest.sqrt())
        log_prob = dist.log_prob(X[:, None, :]).sum(-1)
    else:
        rows, cols = torch.tril_indices(D, D)
        flat = torch.zeros(K, D * D, dtype=theta.dtype)
        lower = flat.index_add(1, rows * D + cols, rest).reshape(K, D, D)
        cov = lower + lower.transpose(1, 2) - torch.diag_embed(lower.diagonal(dim1=1, dim2=2))
        dist = torch.distributions.MultivariateNormal(means, covariance_matrix=cov)
        log_prob = dist.log_prob(X[:, None, :])
    return weights.log() + log_prob


def _hessians(X, weights, means, covariances, covariance_type, complete: bool):
    import torch

    Xt = torch.as_tensor(X, dtype=torch.float64)
    theta = torch.as_tensor(_pack(weights, means, covariances, covariance_type),
                            dtype=torch.float64)
    K = means.shape[0]

    def log_lik(t):
        return torch.logsumexp(_log_joint_torch(t, Xt, K, covariance_type), dim=1).sum()

    hess_obs = torch.autograd.functional.hessian(log_lik, theta, vectorize=True)
    if not complete:
        return hess_obs.numpy(), None
    with torch.no_grad():
        resp = torch.softmax(_log_joint_torch(theta, Xt, K, covariance_type), dim=1)

    def expected_complete(t):
        return (resp * _log_joint_torch(t, Xt, K, covariance_type)).sum()

    hess_c = torch.autograd.functional.hessian(expected_complete, theta, vectorize=True)
    return hess_obs.numpy(), hess_c.numpy()


def log_likelihood_hessian(X, weights, means, covariances) -> np.ndarray:
    """∇² Σ_i log p(x_i; θ) in the packed parameters (see :func:`pack_parameters`).

    At a stationary point of EM it says what kind of point it is: negative definite at
    a strict local maximum (every small change of θ lowers the likelihood), with a
    positive eigenvalue at a saddle point. A mixture's likelihood is unchanged by
    relabelling the components, so each such point comes with K! - 1 copies.

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
    weights, means, covariances
        As in :func:`vaelib.gmm.e_step`.

    Returns
    -------
    ndarray, shape (P, P), P = ``vaelib.gmm.n_parameters(K, D, covariance_type)``
    """
    X, weights, means, covariances, ct = _check_params(X, weights, means, covariances)
    return _hessians(X, weights, means, covariances, ct, complete=False)[0]


def missing_information(X, weights, means, covariances) -> np.ndarray:
    """Eigenvalues of EM's rate matrix DM = I - I_c^{-1} I_obs, largest first.

    Evaluate it at a fixed point of EM (the parameters a converged run returns). The
    first eigenvalue is the fraction of missing information, EM's linear rate
    (eq-gmm-rate-matrix): ‖θ_{t+1} - θ*‖ ≈ λ ‖θ_t - θ*‖ along the slowest direction, and
    ℓ* - ℓ(θ_t) shrinks like λ^{2t}.

    Parameters
    ----------
    X : array-like, shape (n_samples, n_features)
    weights, means, covariances
        As in :func:`vaelib.gmm.e_step`.

    Returns
    -------
    ndarray, shape (P,)
        Real parts of the eigenvalues (DM is similar to the symmetric matrix
        I_c^{-1/2} I_m I_c^{-1/2}, so they are real), in decreasing order.

    Raises
    ------
    ValueError
        If the expected complete-data information is not positive definite (a component
        with no responsibility, or parameters far from a fixed point).
    """
    X, weights, means, covariances, ct = _check_params(X, weights, means, covariances)
    hess_obs, hess_c = _hessians(X, weights, means, covariances, ct, complete=True)
    info_c, info_obs = -hess_c, -hess_obs
    try:
        np.linalg.cholesky(info_c)
    except np.linalg.LinAlgError:
        raise ValueError("the complete-data information is not positive definite: some "
                         "component has (almost) no responsibility, or the parameters are "
                         "far from a fixed point of EM. Pass a converged fit.") from None
    rate_matrix = np.eye(info_c.shape[0]) - np.linalg.solve(info_c, info_obs)
    return np.sort(np.linalg.eigvals(rate_matrix).real)[::-1]
