"""An exact testbed for the ELBO: the linear-Gaussian latent model (chapter 4).

    z ~ N(0, I_{D_z}),        x | z ~ N(W z + b, sigma**2 I_{D_x})

is probabilistic PCA (Tipping & Bishop, 1999). Everything the ELBO chapter talks about
is closed form here (Bishop, 2006, section 12.2):

* the evidence         p(x) = N(x; b, C),  C = W W^T + sigma**2 I;
* the posterior        p(z | x) = N(M^{-1} W^T (x - b), sigma**2 M^{-1}),
                       M = W^T W + sigma**2 I  (a D_z x D_z matrix);
* for a diagonal Gaussian q(z) = N(m, diag(s**2)), the ELBO
      E_q[log p(x | z)] - KL[q || p(z)]
  and KL[q || p(z | x)], so the identity log p(x) = ELBO + KL[q || p(z | x)] can be
  checked to rounding error.

All arrays are NumPy float64, batch first: ``x`` (n, D_x), ``q_mean`` and ``q_std``
(n, D_z). :class:`LinearGaussianVAE` wraps a model as a torch module with the
interface of :class:`vaelib.models.VAE`, so the torch estimators of
:mod:`vaelib.elbo` can be checked against the closed forms.
"""
from __future__ import annotations


import numpy as np
import torch
from scipy.linalg import cho_factor, cho_solve

from ._validation import check_array, check_int, check_positive, check_random_state

__all__ = ["LinearGaussianModel", "fit_ppca", "LinearGaussianVAE"]

_LOG_2PI = float(np.log(2.0 * np.pi))


class LinearGaussianModel:
    """Linear-Gaussian latent model (probabilistic PCA) with closed-form inference.

    Parameters
    ----------
    W : array-like, shape (D_x, D_z)
        Loading (decoder) matrix.
    b : array-like, shape (D_x,)
        Offset: the mean of x.
    noise_std : float
        Standard deviation sigma > 0 of the isotropic observation noise (not the
        variance).

    Attributes
    ----------
    W, b, noise_std
        As given (``W`` and ``b`` as float64 arrays).
    input_dim, latent_dim : int
        D_x and D_z.

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
            raise ValueError(f"b must have shape (D_x,) = ({W.shape[0]},) to match W of shape "
                             f"{W.shape}, got {b.shape}.")
        self.W = W
        self.b = b
        self.noise_std = check_positive(noise_std, "noise_std")
        self.input_dim, self.latent_dim = W.shape
        noise_var = self.noise_std ** 2
        # M = W^T W + sigma^2 I: every posterior quantity goes through its Cholesky factor.
        self._M = W.T @ W + noise_var * np.eye(self.latent_dim)
        self._M_cho = cho_factor(self._M, lower=True)
        self._logdet_M = 2.0 * float(np.sum(np.log(np.diag(self._M_cho[0]))))

    def __repr__(self) -> str:
        return (f"LinearGaussianModel(input_dim={self.input_dim}, latent_dim={self.latent_dim}, "
                f"noise_std={self.noise_std:.4g})")

    # -- input checks ---------------------------------------------------------------
    def _check_x(self, x) -> np.ndarray:
        x = check_array(x, "x", ndim=2)
        if x.shape[1] != self.input_dim:
            raise ValueError(f"x must have shape (n, D_x) with D_x = {self.input_dim}, "
                             f"got {x.shape}.")
        return x

    def _check_q(self, q_mean, q_std, n: int | None = None):
        q_mean = check_array(q_mean, "q_mean", ndim=2)
        q_std = check_array(q_std, "q_std", ndim=2)
        expected = (q_mean.shape[0] if n is None else n, self.latent_dim)
        for name, arr in (("q_mean", q_mean), ("q_std", q_std)):
            if arr.shape != expected:
                raise ValueError(f"{name} must have shape (n, D_z) = {expected}, got {arr.shape}. "
                                 "Use one row per example of x.")
        if np.any(q_std <= 0):
            raise ValueError("q_std must be > 0 everywhere (a standard deviation); "
                             f"its smallest entry is {q_std.min():.4g}.")
        return q_mean, q_std

    # -- the model ------------------------------------------------------------------
    def marginal_covariance(self) -> np.ndarray:
        """C = W W^T + sigma**2 I, the covariance of x under p(x), shape (D_x, D_x)."""
        return self.W @ self.W.T + self.noise_std ** 2 * np.eye(self.input_dim)

    def sample(self, n: int, random_state=None) -> tuple[np.ndarray, np.ndarray]:
        """Draw n pairs (x, z) from the joint p(z) p(x | z).

        Parameters
        ----------
        n : int
            Number of examples (>= 1).
        random_state : None, int or numpy.random.Generator

        Returns
        -------
        X : ndarray, shape (n, D_x)
        Z : ndarray, shape (n, D_z)
        """
        n = check_int(n, "n", minimum=1)
        rng = check_random_state(random_state)
        Z = rng.standard_normal((n, self.latent_dim))
        X = Z @ self.W.T + self.b + self.noise_std * rng.standard_normal((n, self.input_dim))
        return X, Z

    def log_likelihood(self, x, z) -> np.ndarray:
        """log p(x | z) = log N(x; W z + b, sigma**2 I), summed over the D_x coordinates.

        Parameters
        ----------
        x : array-like, shape (n, D_x)
        z : array-like, shape (..., n, D_z)
            Any leading sample dimensions, e.g. (L, n, D_z).

        Returns
        -------
        ndarray, shape (..., n)
        """
        x = self._check_x(x)
        z = check_array(z, "z")
        if z.ndim < 2 or z.shape[-2:] != (x.shape[0], self.latent_dim):
            raise ValueError(f"z must have shape (..., n, D_z) = (..., {x.shape[0]}, "
                             f"{self.latent_dim}), got {z.shape}.")
        return self._log_likelihood(x, z)

    def _log_likelihood(self, x, z):
        noise_var = self.noise_std ** 2
        resid = x - (z @ self.W.T + self.b)
        return -0.5 * (self.input_dim * (_LOG_2PI + np.log(noise_var))
                       + np.sum(resid ** 2, axis=-1) / noise_var)

    def log_evidence(self, x) -> np.ndarray:
        """log p(x) = log N(x; b, W W^T + sigma**2 I), per example.

        Computed in O(D_x D_z**2) through M = W^T W + sigma**2 I (Woodbury and the
        matrix determinant lemma): with r = x - b and mu = M^{-1} W^T r (the
        posterior mean),

            log det C      = (D_x - D_z) log sigma**2 + log det M
            r^T C^{-1} r   = (||r - W mu||**2 + sigma**2 ||mu||**2) / sigma**2

        (a sum of non-negative terms, so no cancellation when sigma is small).

        Parameters
        ----------
        x : array-like, shape (n, D_x)

        Returns
        -------
        ndarray, shape (n,)
        """
        x = self._check_x(x)
        noise_var = self.noise_std ** 2
        r = x - self.b
        mu = self._posterior_mean(x)
        logdet_C = (self.input_dim - self.latent_dim) * np.log(noise_var) + self._logdet_M
        quad = (np.sum((r - mu @ self.W.T) ** 2, axis=1) + noise_var * np.sum(mu ** 2, axis=1))
        return -0.5 * (self.input_dim * _LOG_2PI + logdet_C + quad / noise_var)

    def _posterior_mean(self, x):
        # mu = M^{-1} W^T (x - b), solved for all rows at once: (n, D_z)
        return cho_solve(self._M_cho, self.W.T @ (x - self.b).T).T

    def posterior(self, x) -> tuple[np.ndarray, np.ndarray]:
        """The exact posterior p(z | x) = N(mean, cov).

        mean = M^{-1} W^T (x - b),  cov = sigma**2 M^{-1},  M = W^T W + sigma**2 I
        (Bishop, 2006, eq. 12.42). The covariance does not depend on x.

        Parameters
        ----------
        x : array-like, shape (n, D_x)

        Returns
        -------
        mean : ndarray, shape (n, D_z)
        cov : ndarray, shape (D_z, D_z)
        """
        x = self._check_x(x)
        cov = self.noise_std ** 2 * cho_solve(self._M_cho, np.eye(self.latent_dim))
        return self._posterior_mean(x), 0.5 * (cov + cov.T)

    def best_diagonal_q(self, x) -> tuple[np.ndarray, np.ndarray]:
        """The diagonal Gaussian q that maximises the ELBO (minimises KL[q || p(z | x)]).

        For a Gaussian posterior N(mean, P^{-1}) the mean-field optimum keeps the mean
        and takes the variances 1 / P_dd from the diagonal of the posterior
        *precision* P = M / sigma**2 (Bishop, 2006, section 10.1.2), so it is narrower
        than the posterior's marginals unless W^T W is diagonal.

        Parameters
        ----------
        x : array-like, shape (n, D_x)

        Returns
        -------
        q_mean, q_std : ndarray, shape (n, D_z)
        """
        x = self._check_x(x)
        q_std = self.noise_std / np.sqrt(np.diag(self._M))
        q_mean = self._posterior_mean(x)
        return q_mean, np.broadcast_to(q_std, q_mean.shape).copy()

    # -- the ELBO and its terms -----------------------------------------------------
    def reconstruction(self, x, q_mean, q_std) -> np.ndarray:
        """E_q[log p(x | z)] for q = N(q_mean, diag(q_std**2)), closed form.

        E_q[log p(x | z)] = -D_x/2 log(2 pi sigma**2)
                            - (||x - W m - b||**2 + sum_d (W^T W)_dd s_d**2) / (2 sigma**2)

        Parameters
        ----------
        x : array-like, shape (n, D_x)
        q_mean, q_std : array-like, shape (n, D_z)

        Returns
        -------
        ndarray, shape (n,)
        """
        x = self._check_x(x)
        q_mean, q_std = self._check_q(q_mean, q_std, x.shape[0])
        return self._reconstruction(x, q_mean, q_std)

    def _reconstruction(self, x, q_mean, q_std):
        noise_var = self.noise_std ** 2
        resid = x - q_mean @ self.W.T - self.b
        spread = (q_std ** 2) @ np.sum(self.W ** 2, axis=0)       # sum_d (W^T W)_dd s_d^2
        return -0.5 * (self.input_dim * (_LOG_2PI + np.log(noise_var))
                       + (np.sum(resid ** 2, axis=1) + spread) / noise_var)

    def kl_to_prior(self, q_mean, q_std) -> np.ndarray:
        """KL[N(q_mean, diag(q_std**2)) || N(0, I)] = 1/2 sum_d (m_d**2 + s_d**2 - log s_d**2 - 1).

        Parameters
        ----------
        q_mean, q_std : array-like, shape (n, D_z)

        Returns
        -------
        ndarray, shape (n,)
        """
        q_mean, q_std = self._check_q(q_mean, q_std)
        return self._kl_to_prior(q_mean, q_std)

    @staticmethod
    def _kl_to_prior(q_mean, q_std):
        var = q_std ** 2
        return 0.5 * np.sum(q_mean ** 2 + var - np.log(var) - 1.0, axis=1)

    def elbo(self, x, q_mean, q_std) -> np.ndarray:
        """ELBO(q) = E_q[log p(x | z)] - KL[q || p(z)], closed form, per example.

        Parameters
        ----------
        x : array-like, shape (n, D_x)
        q_mean, q_std : array-like, shape (n, D_z)
            Mean and standard deviation of the diagonal Gaussian q(z), one row per
            example.

        Returns
        -------
        ndarray, shape (n,)
            Never above :meth:`log_evidence`; equal to it minus
            :meth:`kl_to_posterior`.
        """
        x = self._check_x(x)
        q_mean, q_std = self._check_q(q_mean, q_std, x.shape[0])
        return self._reconstruction(x, q_mean, q_std) - self._kl_to_prior(q_mean, q_std)

    def kl_to_posterior(self, x, q_mean, q_std) -> np.ndarray:
        """KL[q || p(z | x)] for q = N(q_mean, diag(q_std**2)), closed form.

        With the posterior N(mu, P^{-1}), P = M / sigma**2,

            KL = 1/2 [ tr(P S) + (mu - m)^T P (mu - m) - D_z
                       - log det P - sum_d log s_d**2 ],   S = diag(s**2).

        Computed from the posterior alone (not as log p(x) - ELBO), so the identity
        log p(x) = ELBO + KL is a genuine check.

        Parameters
        ----------
        x : array-like, shape (n, D_x)
        q_mean, q_std : array-like, shape (n, D_z)

        Returns
        -------
        ndarray, shape (n,)
            Non-negative (rounding errors below zero are clipped to 0).
        """
        x = self._check_x(x)
        q_mean, q_std = self._check_q(q_mean, q_std, x.shape[0])
        noise_var = self.noise_std ** 2
        precision = self._M / noise_var
        logdet_precision = self._logdet_M - self.latent_dim * np.log(noise_var)
        var = q_std ** 2
        delta = self._posterior_mean(x) - q_mean
        trace = var @ np.diag(precision)
        mahalanobis = np.einsum("ni,ij,nj->n", delta, precision, delta)
        kl = 0.5 * (trace + mahalanobis - self.latent_dim - logdet_precision
                    - np.sum(np.log(var), axis=1))
        return np.maximum(kl, 0.0)       # KL >= 0: clip rounding errors of order 1e-16

    def elbo_estimate(self, x, q_mean, q_std, n_samples: int,
                      random_state=None) -> np.ndarray:
        """Monte Carlo estimate of the ELBO with L samples (unbiased).

        ELBO ~= (1/L) sum_l [log p(x | z_l) + log p(z_l) - log q(z_l)],  z_l ~ q,

        i.e. every term by Monte Carlo (the KL too), as in Kingma & Welling (2014),
        eq. 6. Its variance falls as 1/L.

        Parameters
        ----------
        x : array-like, shape (n, D_x)
        q_mean, q_std : array-like, shape (n, D_z)
        n_samples : int
            L >= 1.
        random_state : None, int or numpy.random.Generator

        Returns
        -------
        ndarray, shape (n,)
        """
        x = self._check_x(x)
        q_mean, q_std = self._check_q(q_mean, q_std, x.shape[0])
        n_samples = check_int(n_samples, "n_samples", minimum=1)
        eps = check_random_state(random_state).standard_normal((n_samples, *q_mean.shape))
        z = q_mean + q_std * eps                                   # (L, n, D_z)
        log_prior = -0.5 * np.sum(_LOG_2PI + z ** 2, axis=-1)
        log_q = -0.5 * np.sum(_LOG_2PI + np.log(q_std ** 2) + eps ** 2, axis=-1)
        return np.mean(self._log_likelihood(x, z) + log_prior - log_q, axis=0)


def fit_ppca(X, latent_dim: int) -> LinearGaussianModel:
    """Closed-form maximum-likelihood probabilistic PCA (Tipping & Bishop, 1999).

    With the sample mean x_bar, the sample covariance S = (1/N) sum_n (x_n - x_bar)
    (x_n - x_bar)^T and its eigenvalues lambda_1 >= ... >= lambda_{D_x} with
    eigenvectors U:

        b = x_bar,  sigma**2 = mean(lambda_{D_z+1}, ..., lambda_{D_x}),
        W = U_{D_z} (Lambda_{D_z} - sigma**2 I)^{1/2}

    (the maximum is unique up to a rotation W -> W R; this returns R = I, for which
    W^T W is diagonal).

    Parameters
    ----------
    X : array-like, shape (n_samples, D_x)
    latent_dim : int
        D_z, with 1 <= D_z < D_x.

    Returns
    -------
    LinearGaussianModel
    """
    X = check_array(X, "X", ndim=2)
    latent_dim = check_int(latent_dim, "latent_dim", minimum=1)
    n_samples, input_dim = X.shape
    if latent_dim >= input_dim:
        raise ValueError(f"latent_dim must be smaller than the number of features "
                         f"({input_dim}), got {latent_dim}: sigma**2 is the mean of the "
                         "discarded eigenvalues, so at least one must be left.")
    if n_samples < 2:
        raise ValueError("X needs at least 2 rows to estimate a covariance.")
    mean = X.mean(axis=0)
    S = (X - mean).T @ (X - mean) / n_samples
    eigvals, eigvecs = np.linalg.eigh(S)
    eigvals, eigvecs = eigvals[::-1], eigvecs[:, ::-1]               # descending
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
    mean_offset : float or array-like of shape (D_z,), default 0.0
    std_scale : float > 0, default 1.0
    """

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
        std_scale = check_positive(std_scale, "std_scale")
        self.model = model
        self.input_dim, self.latent_dim = model.input_dim, model.latent_dim
        self.decoder_std = model.noise_std
        A = cho_solve(model._M_cho, model.W.T)          # posterior mean = A (x - b), (D_z, D_x)
        q_std = std_scale * model.noise_std / np.sqrt(np.diag(model._M))

        def as_tensor(a):  # a copy: the model's arrays are read-only
            return torch.tensor(np.asarray(a), dtype=torch.float64)

        self.register_buffer("W", as_tensor(model.W))
        self.register_buffer("b", as_tensor(model.b))
        self.register_buffer("A", as_tensor(A))
        self.register_buffer("offset", as_tensor(offset))
        self.register_buffer("q_logvar", as_tensor(2.0 * np.log(q_std)))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (batch, D_x) -> (mu, logvar), each (batch, D_z)."""
        mu = (x - self.b) @ self.A.T + self.offset
        return mu, self.q_logvar.expand_as(mu)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (..., batch, D_z) -> the decoder's mean W z + b, shape (..., batch, D_x)."""
        return z @ self.W.T + self.b

    def log_likelihood(self, x: torch.Tensor, decoded: torch.Tensor) -> torch.Tensor:
        """log N(x; decoded, sigma**2 I) summed over coordinates, shape (..., batch)."""
        var = self.decoder_std ** 2
        return -0.5 * (((x - decoded) ** 2).sum(-1) / var
                       + x.shape[-1] * (_LOG_2PI + float(np.log(var))))

    def forward(self, x: torch.Tensor):
        """x -> (decoded mean at z = mu, mu, logvar), like :class:`vaelib.models.VAE`."""
        mu, logvar = self.encode(x)
        return self.decode(mu), mu, logvar
