"""An exact testbed for the ELBO: the linear-Gaussian latent model (chapter 4).

    z ~ N(0, I_d),        x | z ~ N(W z + b, Psi),   Psi = diag(psi_1, ..., psi_D)

is probabilistic PCA for Psi = sigma**2 I (Tipping & Bishop, 1999) and factor analysis
for a general diagonal Psi. Everything the ELBO chapter talks about is closed form here
(Bishop, 2006, section 12.2), through the d x d posterior precision

    P = I + W^T Psi^{-1} W:

* the evidence         p(x) = N(x; b, C),  C = W W^T + Psi;
* the posterior        p(z | x) = N(P^{-1} W^T Psi^{-1} (x - b), P^{-1});
* for a Gaussian q(z) = N(mu, S), the ELBO E_q[log p(x | z)] - KL[q || p(z)] and
  KL[q || p(z | x)], so the identity log p(x) = ELBO + KL[q || p(z | x)] can be checked
  to rounding error.

The module-level kernels (``_log_evidence``, ``_posterior``, ``_elbo``, ...) take the
noise variances ``noise_var`` of shape (D,) and serve both :class:`LinearGaussianModel`
(probabilistic PCA, one sigma) and the EM algorithms of :mod:`vaelib.vem` (factor
analysis too): one copy of each closed form.

All arrays are NumPy float64, batch first: ``x`` (n, input_dim), q's ``mu`` and ``std``
(n, latent_dim). :class:`LinearGaussianVAE` wraps a model as a torch module with the
interface of :class:`vaelib.models.VAE`, so the torch estimators of :mod:`vaelib.elbo`
can be checked against the closed forms.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.linalg import cho_factor, cho_solve

from . import _gaussian
from ._validation import (check_array, check_int, check_model_input, check_random_state,
                          check_std, check_tensor)

__all__ = ["LinearGaussianModel", "fit_ppca", "LinearGaussianVAE"]


# -- the closed forms, for any diagonal noise (kernels: inputs are checked by callers) --------

def _precision(W, noise_var):
    """Posterior precision P = I + W^T Psi^{-1} W, shape (d, d)."""
    return np.eye(W.shape[1]) + (W / noise_var[:, None]).T @ W


def _posterior(X, W, b, noise_var):
    """p(z | x_n) = N(mean_n, cov): mean (n, d) = (x - b) Psi^{-1} W P^{-1}, cov = P^{-1}."""
    cho = cho_factor(_precision(W, noise_var), lower=True, check_finite=False)
    cov = cho_solve(cho, np.eye(W.shape[1]), check_finite=False)
    cov = 0.5 * (cov + cov.T)
    # P >= I is well conditioned, so multiplying by its d x d inverse is accurate, and
    # much faster than a triangular solve with n right-hand sides
    return (X - b) @ (W / noise_var[:, None]) @ cov, cov


def _log_evidence(X, W, b, noise_var):
    """log N(x; b, W W^T + Psi) per row, by Woodbury and the determinant lemma, (n,).

    With r = x - b and m = the posterior mean: log det C = log det P + sum_d log psi_d and
    r^T C^{-1} r = (r - W m)^T Psi^{-1} (r - W m) + ||m||**2 (non-negative terms only, so
    no cancellation when the noise is small).
    """
    cho = cho_factor(_precision(W, noise_var), lower=True, check_finite=False)
    r = X - b
    m = r @ (W / noise_var[:, None]) @ cho_solve(cho, np.eye(W.shape[1]), check_finite=False)
    logdet_C = 2.0 * np.sum(np.log(np.diag(cho[0]))) + np.sum(np.log(noise_var))
    quad = np.sum((r - m @ W.T) ** 2 / noise_var, axis=1) + np.sum(m ** 2, axis=1)
    return -0.5 * (X.shape[1] * _gaussian.LOG_2PI + logdet_C + quad)


def _expected_log_likelihood(X, W, b, noise_var, mu, cov):
    """E_q[log p(x | z)] for q = N(mu, cov), cov (d, d) shared or (n, d, d); shape (n,).

    = -1/2 [sum_d log(2 pi psi_d) + (x - W mu - b)^T Psi^{-1} (x - W mu - b)
            + tr(W^T Psi^{-1} W cov)].
    """
    resid = X - mu @ W.T - b
    spread = np.einsum("jk,...kj->...", (W / noise_var[:, None]).T @ W, cov)
    return -0.5 * (np.sum(_gaussian.LOG_2PI + np.log(noise_var))
                   + np.sum(resid ** 2 / noise_var, axis=1) + spread)


def _kl_full_std_normal(mu, cov):
    """KL[N(mu, cov) || N(0, I)] = 1/2 [tr(cov) + ||mu||**2 - d - log det cov], (n,)."""
    return 0.5 * (np.trace(cov, axis1=-2, axis2=-1) + np.sum(mu ** 2, axis=1) - mu.shape[1]
                  - np.linalg.slogdet(cov)[1])


def _elbo(X, W, b, noise_var, mu, cov):
    """ELBO of q = N(mu_n, cov) per row: E_q[log p(x | z)] - KL[q || N(0, I)], (n,)."""
    return _expected_log_likelihood(X, W, b, noise_var, mu, cov) - _kl_full_std_normal(mu, cov)


# -- probabilistic PCA as an object ---------------------------------------------------------

class LinearGaussianModel:
    """Linear-Gaussian latent model (probabilistic PCA) with closed-form inference.

    Parameters
    ----------
    W : array-like, shape (input_dim, latent_dim)
        Loading (decoder) matrix.
    b : array-like, shape (input_dim,)
        Offset: the mean of x.
    noise_std : float
        Standard deviation sigma > 0 of the isotropic observation noise (not the
        variance).

    Attributes
    ----------
    W, b, noise_std
        As given (``W`` and ``b`` as float64 arrays).
    input_dim, latent_dim : int
        D and d.

    Examples
    --------
    >>> model = LinearGaussianModel(np.array([[2.0], [1.0]]), np.zeros(2), 0.5)
    >>> x = np.array([[1.0, 0.3]])
    >>> mean, cov = model.posterior(x)
    >>> bool(np.allclose(model.elbo(x, mean, np.sqrt(np.diag(cov))[None]),
    ...                  model.log_evidence(x)))
    True
    """

    def __init__(self, W, b, noise_std: float):
        W = check_array(W, "W", ndim=2)
        b = check_array(b, "b", ndim=1)
        if b.shape[0] != W.shape[0]:
            raise ValueError(f"b must have shape (input_dim,) = ({W.shape[0]},) to match W of "
                             f"shape {W.shape}, got {b.shape}.")
        self.W = W
        self.b = b
        self.noise_std = check_std(noise_std, "noise_std")
        self.input_dim, self.latent_dim = W.shape
        self._noise_var = np.full(self.input_dim, self.noise_std ** 2)
        # P = I + W^T W / sigma^2: every posterior quantity goes through its Cholesky factor.
        self._P = _precision(W, self._noise_var)
        self._P_cho = cho_factor(self._P, lower=True)

    def __repr__(self) -> str:
        return (f"LinearGaussianModel(input_dim={self.input_dim}, latent_dim={self.latent_dim}, "
                f"noise_std={self.noise_std:.4g})")

    # -- input checks ---------------------------------------------------------------
    def _check_x(self, x) -> np.ndarray:
        x = check_array(x, "x", ndim=2)
        if x.shape[1] != self.input_dim:
            raise ValueError(f"x must have shape (n, input_dim) with input_dim = "
                             f"{self.input_dim}, got {x.shape}.")
        return x

    def _check_q(self, mu, std, n: int | None = None):
        mu = check_array(mu, "mu", ndim=2)
        std = check_array(std, "std", ndim=2)
        expected = (mu.shape[0] if n is None else n, self.latent_dim)
        for name, arr in (("mu", mu), ("std", std)):
            if arr.shape != expected:
                raise ValueError(f"{name} must have shape (n, latent_dim) = {expected}, got "
                                 f"{arr.shape}. Use one row per example of x.")
        if np.any(std <= 0):
            raise ValueError("std must be > 0 everywhere (a standard deviation); "
                             f"its smallest entry is {std.min():.4g}.")
        return mu, std

    # -- the model ------------------------------------------------------------------
    def marginal_covariance(self) -> np.ndarray:
        """C = W W^T + sigma**2 I, the covariance of x under p(x), shape (D, D)."""
        return self.W @ self.W.T + np.diag(self._noise_var)

    def sample(self, n: int, random_state=None) -> tuple[np.ndarray, np.ndarray]:
        """Draw n pairs (x, z) from the joint p(z) p(x | z).

        Parameters
        ----------
        n : int
            Number of examples (>= 1).
        random_state : None, int or numpy.random.Generator

        Returns
        -------
        X : ndarray, shape (n, input_dim)
        Z : ndarray, shape (n, latent_dim)
        """
        n = check_int(n, "n", minimum=1)
        rng = check_random_state(random_state)
        Z = rng.standard_normal((n, self.latent_dim))
        X = Z @ self.W.T + self.b + self.noise_std * rng.standard_normal((n, self.input_dim))
        return X, Z

    def log_likelihood(self, x, z) -> np.ndarray:
        """log p(x | z) = log N(x; W z + b, sigma**2 I), summed over the D coordinates.

        Parameters
        ----------
        x : array-like, shape (n, input_dim)
        z : array-like, shape (..., n, latent_dim)
            Any leading sample dimensions, e.g. (L, n, latent_dim).

        Returns
        -------
        ndarray, shape (..., n)
        """
        x = self._check_x(x)
        z = check_array(z, "z")
        if z.ndim < 2 or z.shape[-2:] != (x.shape[0], self.latent_dim):
            raise ValueError(f"z must have shape (..., n, latent_dim) = (..., {x.shape[0]}, "
                             f"{self.latent_dim}), got {z.shape}.")
        return _gaussian.log_normal_iso(x, z @ self.W.T + self.b, self.noise_std)

    def log_evidence(self, x) -> np.ndarray:
        """log p(x) = log N(x; b, W W^T + sigma**2 I), per example.

        Computed in O(D d**2) through the posterior precision P = I + W^T W / sigma**2
        (Woodbury and the matrix determinant lemma): with r = x - b and m the posterior
        mean, log det C = D log sigma**2 + log det P and
        r^T C^{-1} r = ||r - W m||**2 / sigma**2 + ||m||**2.

        Parameters
        ----------
        x : array-like, shape (n, input_dim)

        Returns
        -------
        ndarray, shape (n,)
        """
        return _log_evidence(self._check_x(x), self.W, self.b, self._noise_var)

    def posterior(self, x) -> tuple[np.ndarray, np.ndarray]:
        """The exact posterior p(z | x) = N(mean, cov).

        mean = P^{-1} W^T (x - b) / sigma**2,  cov = P^{-1},  P = I + W^T W / sigma**2
        (Bishop, 2006, eq. 12.42, where M = sigma**2 P). The covariance does not depend
        on x.

        Parameters
        ----------
        x : array-like, shape (n, input_dim)

        Returns
        -------
        mean : ndarray, shape (n, latent_dim)
        cov : ndarray, shape (latent_dim, latent_dim)
        """
        return _posterior(self._check_x(x), self.W, self.b, self._noise_var)

    def best_diagonal_encoder(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The best diagonal q as an affine encoder: mu = A x + c, logvar constant.

        A = P^{-1} W^T / sigma**2 and c = -A b give the exact posterior mean; the
        log-variances -log P_jj are those of :meth:`best_diagonal_q`.

        Returns
        -------
        A : ndarray, shape (latent_dim, input_dim)
        c : ndarray, shape (latent_dim,)
        logvar : ndarray, shape (latent_dim,)
        """
        A = cho_solve(self._P_cho, (self.W / self._noise_var[:, None]).T)
        return A, -A @ self.b, -np.log(np.diag(self._P))

    def best_diagonal_q(self, x) -> tuple[np.ndarray, np.ndarray]:
        """The diagonal Gaussian q that maximises the ELBO (minimises KL[q || p(z | x)]).

        For a Gaussian posterior N(mean, P^{-1}) the mean-field optimum keeps the mean
        and takes the variances 1 / P_jj from the diagonal of the posterior *precision*
        (Bishop, 2006, section 10.1.2), so it is narrower than the posterior's marginals
        unless W^T W is diagonal.

        Parameters
        ----------
        x : array-like, shape (n, input_dim)

        Returns
        -------
        mu, std : ndarray, shape (n, latent_dim)
        """
        mu, _ = self.posterior(x)
        std = 1.0 / np.sqrt(np.diag(self._P))
        return mu, np.broadcast_to(std, mu.shape).copy()

    # -- the ELBO and its terms -----------------------------------------------------
    def reconstruction(self, x, mu, std) -> np.ndarray:
        """E_q[log p(x | z)] for q = N(mu, diag(std**2)), closed form.

        E_q[log p(x | z)] = -D/2 log(2 pi sigma**2)
                            - (||x - W mu - b||**2 + sum_j (W^T W)_jj s_j**2) / (2 sigma**2)

        Parameters
        ----------
        x : array-like, shape (n, input_dim)
        mu, std : array-like, shape (n, latent_dim)

        Returns
        -------
        ndarray, shape (n,)
        """
        x = self._check_x(x)
        mu, std = self._check_q(mu, std, x.shape[0])
        return self._reconstruction(x, mu, std)

    def _reconstruction(self, x, mu, std):
        cov = std[:, :, None] ** 2 * np.eye(self.latent_dim)               # (n, d, d)
        return _expected_log_likelihood(x, self.W, self.b, self._noise_var, mu, cov)

    def kl_to_prior(self, mu, std) -> np.ndarray:
        """KL[N(mu, diag(std**2)) || N(0, I)] = 1/2 sum_j (mu_j**2 + s_j**2 - log s_j**2 - 1).

        Parameters
        ----------
        mu, std : array-like, shape (n, latent_dim)

        Returns
        -------
        ndarray, shape (n,)
        """
        mu, std = self._check_q(mu, std)
        return _gaussian.kl_std_normal(mu, 2.0 * np.log(std))

    def elbo(self, x, mu, std) -> np.ndarray:
        """ELBO(q) = E_q[log p(x | z)] - KL[q || p(z)], closed form, per example.

        Parameters
        ----------
        x : array-like, shape (n, input_dim)
        mu, std : array-like, shape (n, latent_dim)
            Mean and standard deviation of the diagonal Gaussian q(z), one row per
            example.

        Returns
        -------
        ndarray, shape (n,)
            Never above :meth:`log_evidence`; equal to it minus
            :meth:`kl_to_posterior`.
        """
        x = self._check_x(x)
        mu, std = self._check_q(mu, std, x.shape[0])
        return self._reconstruction(x, mu, std) - _gaussian.kl_std_normal(mu, 2 * np.log(std))

    def kl_to_posterior(self, x, mu, std) -> np.ndarray:
        """KL[q || p(z | x)] for q = N(mu, diag(std**2)), closed form.

        With the posterior N(m, P^{-1}) and S = diag(std**2),

            KL = 1/2 [ tr(P S) + (m - mu)^T P (m - mu) - d - log det P - sum_j log s_j**2 ].

        Computed from the posterior alone (not as log p(x) - ELBO), so the identity
        log p(x) = ELBO + KL is a genuine check.

        Parameters
        ----------
        x : array-like, shape (n, input_dim)
        mu, std : array-like, shape (n, latent_dim)

        Returns
        -------
        ndarray, shape (n,)
            Non-negative (rounding errors below zero are clipped to 0).
        """
        x = self._check_x(x)
        mu, std = self._check_q(mu, std, x.shape[0])
        logdet_P = 2.0 * float(np.sum(np.log(np.diag(self._P_cho[0]))))
        var = std ** 2
        delta = _posterior(x, self.W, self.b, self._noise_var)[0] - mu
        trace = var @ np.diag(self._P)
        mahalanobis = np.einsum("ni,ij,nj->n", delta, self._P, delta)
        kl = 0.5 * (trace + mahalanobis - self.latent_dim - logdet_P
                    - np.sum(np.log(var), axis=1))
        return np.maximum(kl, 0.0)       # KL >= 0: clip rounding errors of order 1e-16

    def weight_relative_variance(self, x, mu, std) -> np.ndarray:
        """rho^2 = Var_q[w] / E_q[w]^2 of one importance weight w = p(x, z) / q(z), closed form.

        ``vaelib.elbo.gaussian_weight_relative_variance`` with this model's exact
        posterior N(m, P^{-1}) and q = N(mu, diag(std**2)): finite iff 2 diag(std**2) -
        P^{-1} is positive definite (``vaelib.elbo.weight_variance_criterion``), else
        ``inf``. The standard error of the log of an average of N weights is about
        rho / sqrt(N) (the delta method).

        Parameters
        ----------
        x : array-like, shape (n, input_dim)
        mu, std : array-like, shape (n, latent_dim)

        Returns
        -------
        ndarray, shape (n,)
        """
        from .elbo import gaussian_weight_relative_variance

        x = self._check_x(x)
        mu, std = self._check_q(mu, std, x.shape[0])
        mean, cov = _posterior(x, self.W, self.b, self._noise_var)
        cov_q = np.einsum("ij,nj->nij", np.eye(self.latent_dim), std ** 2)
        return gaussian_weight_relative_variance(mu, cov_q, mean, cov)

    def elbo_estimate(self, x, mu, std, n_samples: int, random_state=None) -> np.ndarray:
        """Monte Carlo estimate of the ELBO with L samples (unbiased).

        ELBO ~= (1/L) sum_l [log p(x | z_l) + log p(z_l) - log q(z_l)],  z_l ~ q,

        i.e. every term by Monte Carlo (the KL too), as in Kingma & Welling (2014),
        eq. 6. Its variance falls as 1/L.

        Parameters
        ----------
        x : array-like, shape (n, input_dim)
        mu, std : array-like, shape (n, latent_dim)
        n_samples : int
            L >= 1.
        random_state : None, int or numpy.random.Generator

        Returns
        -------
        ndarray, shape (n,)
        """
        x = self._check_x(x)
        mu, std = self._check_q(mu, std, x.shape[0])
        n_samples = check_int(n_samples, "n_samples", minimum=1)
        eps = check_random_state(random_state).standard_normal((n_samples, *mu.shape))
        logvar = 2.0 * np.log(std)
        z = _gaussian.reparameterize(mu, logvar, eps)                    # (L, n, d)
        log_px_z = _gaussian.log_normal_iso(x, z @ self.W.T + self.b, self.noise_std)
        return np.mean(log_px_z + _gaussian.log_std_normal(z)
                       - _gaussian.log_normal_diag(z, mu, logvar), axis=0)


def fit_ppca(X, latent_dim: int, noise_std: float | None = None) -> LinearGaussianModel:
    """Closed-form maximum-likelihood probabilistic PCA (Tipping & Bishop, 1999).

    With the sample mean x_bar, the sample covariance S = (1/n) sum_i (x_i - x_bar)
    (x_i - x_bar)^T and its eigenvalues lambda_1 >= ... >= lambda_D with
    eigenvectors U:

        b = x_bar,  sigma**2 = mean(lambda_{d+1}, ..., lambda_D),
        W = U_d (Lambda_d - sigma**2 I)^{1/2}

    (the maximum is unique up to a rotation W -> W R; this returns R = I, for which
    W^T W is diagonal).

    With the noise level held fixed (``noise_std`` = sigma), the maximum over W alone is

        W = U_d max(Lambda_d - sigma**2 I, 0)^{1/2}:

    a latent direction survives only if the data's variance along it exceeds the noise
    variance, lambda_j > sigma**2; the others get a zero column, and their latent
    coordinate is ignored by the decoder (the posterior equals the prior along it).
    This is posterior collapse in a linear VAE (Lucas et al., 2019), and the threshold
    the noise slider of chapter 4 moves.

    Parameters
    ----------
    X : array-like, shape (n_samples, input_dim)
    latent_dim : int
        d, with 1 <= d < input_dim (d <= input_dim for a fixed ``noise_std``).
    noise_std : float, optional
        sigma held fixed; ``None`` (default) estimates it by maximum likelihood too.

    Returns
    -------
    LinearGaussianModel
    """
    X = check_array(X, "X", ndim=2)
    latent_dim = check_int(latent_dim, "latent_dim", minimum=1)
    if noise_std is not None:
        noise_std = check_std(noise_std, "noise_std")
    n_samples, input_dim = X.shape
    if latent_dim > input_dim or (noise_std is None and latent_dim == input_dim):
        raise ValueError(f"latent_dim must be smaller than the number of features "
                         f"({input_dim}), got {latent_dim}: sigma**2 is the mean of the "
                         "discarded eigenvalues, so at least one must be left.")
    if n_samples < 2:
        raise ValueError("X needs at least 2 rows to estimate a covariance.")
    mean = X.mean(axis=0)
    S = (X - mean).T @ (X - mean) / n_samples
    eigvals, eigvecs = np.linalg.eigh(S)
    eigvals, eigvecs = eigvals[::-1], eigvecs[:, ::-1]               # descending
    if noise_std is not None:
        W = eigvecs[:, :latent_dim] * np.sqrt(np.maximum(eigvals[:latent_dim]
                                                         - noise_std ** 2, 0.0))
        return LinearGaussianModel(W, mean, noise_std)
    noise_var = float(np.mean(eigvals[latent_dim:]))
    if not noise_var > 1e-12 * max(float(eigvals[0]), 1e-300):
        raise ValueError("The discarded eigenvalues of the sample covariance are ~0, so the "
                         "ML noise variance is 0; lower latent_dim or add a little noise.")
    W = eigvecs[:, :latent_dim] * np.sqrt(np.maximum(eigvals[:latent_dim] - noise_var, 0.0))
    return LinearGaussianModel(W, mean, float(np.sqrt(noise_var)))


class LinearGaussianVAE(torch.nn.Module):
    """A :class:`LinearGaussianModel` as a torch module with the VAE interface.

    ``encode``, ``decode``, ``log_likelihood`` and ``forward`` behave like those of
    :class:`vaelib.models.VAE` with a Gaussian likelihood, so :func:`vaelib.elbo.elbo`
    and :func:`vaelib.elbo.iwae_bound` run on it and can be compared with the closed
    forms of the model. The encoder is affine, like the exact posterior mean: it returns
    the best diagonal Gaussian (:meth:`LinearGaussianModel.best_diagonal_q`), its mean
    shifted by ``mean_offset`` and its standard deviation multiplied by ``std_scale``.
    Everything is float64; there are no trainable parameters.

    Parameters
    ----------
    model : LinearGaussianModel
    mean_offset : float or array-like of shape (latent_dim,), default 0.0
    std_scale : float > 0, default 1.0
    """

    likelihood = "gaussian"

    def __init__(self, model: LinearGaussianModel, mean_offset=0.0, std_scale: float = 1.0):
        super().__init__()
        if not isinstance(model, LinearGaussianModel):
            raise TypeError(f"model must be a LinearGaussianModel, got {type(model).__name__}.")
        try:
            offset = np.broadcast_to(np.asarray(mean_offset, dtype=float), (model.latent_dim,))
        except ValueError:
            raise ValueError(f"mean_offset must be a number or have shape ({model.latent_dim},), "
                             f"got shape {np.shape(mean_offset)}.") from None
        offset = check_array(offset, "mean_offset", ndim=1)
        std_scale = check_std(std_scale, "std_scale")
        self.model = model
        self.input_dim, self.latent_dim = model.input_dim, model.latent_dim
        self.decoder_std = model.noise_std
        A, c, logvar = model.best_diagonal_encoder()

        def as_tensor(a):  # a copy: the model's arrays are read-only
            return torch.tensor(np.asarray(a), dtype=torch.float64)

        self.register_buffer("W", as_tensor(model.W))
        self.register_buffer("b", as_tensor(model.b))
        self.register_buffer("A", as_tensor(A))
        self.register_buffer("c", as_tensor(c + offset))
        self.register_buffer("logvar", as_tensor(logvar + 2.0 * np.log(std_scale)))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (batch, input_dim) -> (mu, logvar), each (batch, latent_dim)."""
        return self._encode(check_model_input(x, self))

    def _encode(self, x):
        mu = x @ self.A.T + self.c
        return mu, self.logvar.expand_as(mu)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (..., batch, latent_dim) -> the decoder's mean W z + b, (..., batch, input_dim)."""
        z = check_tensor(z, "z", dtype=torch.float64)
        if z.shape[-1] != self.latent_dim:
            raise ValueError(f"z must end in latent_dim={self.latent_dim}, got "
                             f"{tuple(z.shape)}.")
        return self._decode(z)

    def _decode(self, z):
        return z @ self.W.T + self.b

    def log_likelihood(self, x: torch.Tensor, decoded: torch.Tensor) -> torch.Tensor:
        """log N(x; decoded, sigma**2 I) summed over coordinates, shape (..., batch)."""
        decoded = check_tensor(decoded, "decoded", dtype=torch.float64)
        x = check_model_input(x, self)
        if decoded.shape[-x.dim():] != x.shape:
            raise ValueError(f"decoded has shape {tuple(decoded.shape)}, which does not end in "
                             f"x's shape {tuple(x.shape)}.")
        return self._log_likelihood(x, decoded)

    def _log_likelihood(self, x, decoded):
        return _gaussian.log_normal_iso(x, decoded, self.decoder_std)

    def forward(self, x: torch.Tensor):
        """x -> (decoded mean at z = mu, mu, logvar), like :class:`vaelib.models.VAE`."""
        mu, logvar = self.encode(x)
        return self._decode(mu), mu, logvar
