"""The VAE's encoder and decoder as a torch module (chapter 3).

Generative model (decoder, parameters theta) and approximate posterior (encoder,
parameters phi)::

    p(z)               = N(z; 0, I)                                  prior
    p_theta(x | z)     = prod_j Bernoulli(x_j; sigmoid(f_theta(z)_j))   or
                       = prod_j N(x_j; g_theta(z)_j, decoder_std**2)    likelihood
    q_phi(z | x)       = N(z; mu_phi(x), diag(exp(logvar_phi(x))))      mean-field posterior
    log p_theta(x, z)  = log p_theta(x | z) + log p(z)                   ``log_joint``

Both networks are multilayer perceptrons with ReLU hidden layers, as in
``pytorch/examples`` ``vae/main.py`` (784-400-20 there). The encoder returns
``(mu, logvar)``; the decoder returns the likelihood's parameters (Bernoulli logits, or
Gaussian means) and accepts any number of leading Monte Carlo sample dimensions, so
``decode(z)`` with ``z`` of shape ``(n_samples, batch, latent_dim)`` works as is.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from . import _gaussian
from ._validation import (check_generator, check_int, check_model_input, check_std,
                          check_tensor)

__all__ = ["VAE", "LIKELIHOODS"]

#: The decoders :class:`VAE` offers.
LIKELIHOODS = ("bernoulli", "gaussian")


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers with a ReLU after each one (a hidden stack)."""
    layers: list[nn.Module] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers)


class VAE(nn.Module):
    """Variational autoencoder with MLP encoder and decoder.

    Parameters
    ----------
    input_dim : int
        Number of pixels D of an input x (64 for 8x8 digits, 784 for MNIST).
    latent_dim : int
        Dimension d of the latent variable z (>= 1).
    hidden_dims : sequence of int, default (400,)
        Widths of the encoder's hidden layers; the decoder mirrors them
        (``input_dim -> *hidden_dims -> latent_dim`` and back).
    likelihood : {"bernoulli", "gaussian"}, default "bernoulli"
        ``"bernoulli"``: ``decode`` returns logits and
        log p(x|z) = sum_j [x_j * logit_j - softplus(logit_j)], defined for pixels in
        [0, 1] (binary or grey, as in Kingma & Welling's MNIST experiments).
        ``"gaussian"``: ``decode`` returns means in (0, 1) (a sigmoid output) and
        log p(x|z) = sum_j log N(x_j; mean_j, decoder_std**2).
    decoder_std : float, optional
        Standard deviation sigma of the Gaussian decoder (not a variance); required
        for ``likelihood="gaussian"``, must be ``None`` for ``"bernoulli"``.

    Attributes
    ----------
    encoder : nn.Sequential
        Hidden layers of q_phi(z | x).
    fc_mu_logvar : nn.Linear
        One linear head that outputs ``(mu, logvar)`` side by side (one matrix
        product instead of two; ``pytorch/examples`` uses two heads ``fc21``, ``fc22``,
        which is the same function).
    decoder : nn.Sequential
        Hidden layers and output layer of p_theta(x | z).

    Examples
    --------
    >>> model = VAE(784, 20)                 # the pytorch/examples architecture
    >>> mu, logvar = model.encode(torch.rand(5, 784))
    >>> model.decode(torch.randn(10, 5, 20)).shape
    torch.Size([10, 5, 784])
    """

    def __init__(self, input_dim: int, latent_dim: int, hidden_dims: Sequence[int] = (400,),
                 likelihood: str = "bernoulli", decoder_std: float | None = None):
        super().__init__()
        input_dim = check_int(input_dim, "input_dim", minimum=1)
        latent_dim = check_int(latent_dim, "latent_dim", minimum=1)
        if isinstance(hidden_dims, (int, str)) or not isinstance(hidden_dims, Sequence):
            raise TypeError("hidden_dims must be a sequence of layer widths, e.g. (400,) "
                            f"or (256, 128); got {hidden_dims!r}.")
        hidden_dims = tuple(check_int(h, "each hidden width", minimum=1) for h in hidden_dims)
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}.")
        if likelihood == "gaussian":
            if decoder_std is None:
                raise ValueError("a Gaussian decoder needs its noise level: pass "
                                 "decoder_std (a standard deviation, e.g. 0.1).")
            decoder_std = check_std(decoder_std, "decoder_std")
        elif decoder_std is not None:
            raise ValueError("decoder_std is only used with likelihood='gaussian'; "
                             "leave it as None for a Bernoulli decoder.")
        self.input_dim = input_dim
        self.latent_dim = latent_dim
        self.hidden_dims = hidden_dims
        self.likelihood = likelihood
        self.decoder_std = decoder_std
        last = hidden_dims[-1] if hidden_dims else input_dim
        self.encoder = _mlp((input_dim, *hidden_dims))
        self.fc_mu_logvar = nn.Linear(last, 2 * latent_dim)
        back = (latent_dim, *hidden_dims[::-1])
        self.decoder = nn.Sequential(*_mlp(back), nn.Linear(back[-1], input_dim))

    def extra_repr(self) -> str:
        extra = f", decoder_std={self.decoder_std:.4g}" if self.decoder_std else ""
        return (f"input_dim={self.input_dim}, latent_dim={self.latent_dim}, "
                f"hidden_dims={self.hidden_dims}, likelihood={self.likelihood!r}{extra}")

    # -- the three maps -------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Parameters of q_phi(z | x) = N(mu, diag(exp(logvar))).

        Parameters
        ----------
        x : torch.Tensor, shape (batch, input_dim)

        Returns
        -------
        mu, logvar : torch.Tensor, each of shape (batch, latent_dim)
        """
        return self._encode(check_model_input(x, self))

    def _encode(self, x):
        """Unchecked kernel of :meth:`encode` (for training loops)."""
        mu, logvar = self.fc_mu_logvar(self.encoder(x)).chunk(2, dim=-1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Parameters of p_theta(x | z): Bernoulli logits or Gaussian means.

        Parameters
        ----------
        z : torch.Tensor, shape (..., batch, latent_dim)
            Any leading dimensions (Monte Carlo samples first) are kept.

        Returns
        -------
        torch.Tensor, shape (..., batch, input_dim)
            Logits (``likelihood="bernoulli"``; pixel probabilities are
            ``torch.sigmoid`` of them) or means in (0, 1) (``"gaussian"``).
        """
        z = check_tensor(z, "z", dtype=self.fc_mu_logvar.weight.dtype)
        if z.dim() < 1 or z.shape[-1] != self.latent_dim:
            raise ValueError(f"z must have shape (..., batch, {self.latent_dim}) for this model "
                             f"(latent_dim={self.latent_dim}), got {tuple(z.shape)}.")
        return self._decode(z)

    def _decode(self, z):
        """Unchecked kernel of :meth:`decode` (for training loops)."""
        out = self.decoder(z)
        return torch.sigmoid(out) if self.likelihood == "gaussian" else out

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Encode, draw one z = mu + std * eps, decode.

        The draw uses torch's global generator in training mode; in eval mode
        (``model.eval()``) z = mu, so ``forward`` is deterministic. For seeded draws
        use ``vaelib.reparam.sample`` with a ``generator``.

        Returns
        -------
        decoded : torch.Tensor, shape (batch, input_dim)
            Output of :meth:`decode` (logits or means).
        mu, logvar : torch.Tensor, shape (batch, latent_dim)
        """
        mu, logvar = self.encode(x)
        z = _gaussian.sample(mu, logvar, 1)[0] if self.training else mu
        return self._decode(z), mu, logvar

    def log_likelihood(self, x: torch.Tensor, decoded: torch.Tensor) -> torch.Tensor:
        """log p_theta(x | z), summed over pixels.

        Bernoulli (from logits l, stable for any l)::

            log p(x | z) = sum_j x_j * l_j - softplus(l_j)
                         = sum_j x_j log sigmoid(l_j) + (1 - x_j) log(1 - sigmoid(l_j))

        Gaussian with standard deviation sigma = ``decoder_std``::

            log p(x | z) = -sum_j [ (x_j - mean_j)**2 / (2 sigma**2) + log sigma
                                    + log(2 pi) / 2 ]

        Parameters
        ----------
        x : torch.Tensor, shape (batch, input_dim)
        decoded : torch.Tensor, shape (..., batch, input_dim)
            Output of :meth:`decode`, with any leading sample dimensions.

        Returns
        -------
        torch.Tensor, shape (..., batch)
        """
        decoded = check_tensor(decoded, "decoded")
        x = check_model_input(x, self, dtype=decoded.dtype)
        if x.dim() > decoded.dim() or decoded.shape[decoded.dim() - x.dim():] != x.shape:
            raise ValueError(f"decoded has shape {tuple(decoded.shape)}, which does not end in "
                             f"x's shape {tuple(x.shape)}: pass decode(z) for z of shape "
                             "(..., batch, latent_dim) with the same batch as x.")
        return self._log_likelihood(x, decoded)

    def _log_likelihood(self, x, decoded):
        """Unchecked kernel of :meth:`log_likelihood` (for training loops)."""
        if self.likelihood == "bernoulli":
            return _bernoulli_log_likelihood(x, decoded)
        return _gaussian_log_likelihood(x, decoded, self.decoder_std)

    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """log p_theta(x, z) = log p_theta(x | z) + log N(z; 0, I), per sample and example.

        The integrand of the evidence p_theta(x) = int p_theta(x, z) dz: its logsumexp
        over a grid of z is the exact log-evidence in two dimensions (chapter 3), and
        minus log q_phi(z | x) it is the log importance weight (chapter 4).

        Parameters
        ----------
        x : torch.Tensor, shape (batch, input_dim)
        z : torch.Tensor, shape (n_samples, batch, latent_dim)
            Codes, Monte Carlo samples first (any number of leading dimensions, or none).

        Returns
        -------
        torch.Tensor, shape (n_samples, batch)
            The leading dimensions of ``z``, then the batch.
        """
        dtype = self.fc_mu_logvar.weight.dtype
        z = check_tensor(z, "z", dtype=dtype)
        x = check_model_input(x, self)
        if z.dim() < 2 or z.shape[-2:] != (x.shape[0], self.latent_dim):
            raise ValueError(f"z must have shape (n_samples, batch, latent_dim) = (..., "
                             f"{x.shape[0]}, {self.latent_dim}) for x of shape "
                             f"{tuple(x.shape)}, got {tuple(z.shape)}. For one image and "
                             "many codes pass x[None] and z[:, None].")
        return self._log_joint(x, z)

    def _log_joint(self, x, z):
        """Unchecked kernel of :meth:`log_joint`."""
        return self._log_likelihood(x, self._decode(z)) + _gaussian.log_std_normal(z)

    def _log_likelihood_pairs(self, X, decoded):
        """log p(x_i | z_g) for every pair of a row of X (n, D) and of decoded (G, D): (n, G).

        The same likelihood as :meth:`_log_likelihood`, laid out as a matrix product so
        that a whole grid of codes is scored against many images at once (the exact
        evidence of chapter 3): Bernoulli, sum_j x_j l_j - softplus(l_j) = X l^T - 1
        softplus(l)^T; Gaussian, -(|x|^2 - 2 x.m + |m|^2) / (2 sigma^2) - D log(sigma
        sqrt(2 pi)). Pass float64 tensors: the Gaussian expansion cancels in float32.
        """
        if self.likelihood == "bernoulli":
            return X @ decoded.T - F.softplus(decoded).sum(-1)
        sq = (X ** 2).sum(-1)[:, None] - 2.0 * X @ decoded.T + (decoded ** 2).sum(-1)
        return (-0.5 * sq / self.decoder_std ** 2
                - X.shape[-1] * (math.log(self.decoder_std) + 0.5 * _gaussian.LOG_2PI))

    # -- helpers --------------------------------------------------------------------
    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Decode ``n`` draws z ~ N(0, I) of the prior; returns pixel means, shape (n, input_dim).

        For a Bernoulli decoder the means are ``sigmoid(logits)``.
        """
        n = check_int(n, "n", minimum=1)
        check_generator(generator)
        device = self.fc_mu_logvar.weight.device
        z = torch.randn(n, self.latent_dim, generator=generator, device=device)
        return self.mean(z)

    def mean(self, z: torch.Tensor) -> torch.Tensor:
        """E[x | z] under the decoder: sigmoid(logits) or the Gaussian means, (..., input_dim)."""
        decoded = self.decode(z)
        return torch.sigmoid(decoded) if self.likelihood == "bernoulli" else decoded


def _bernoulli_log_likelihood(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """sum_j x_j * logits_j - softplus(logits_j); broadcasts x over leading sample dims.

    Computed by torch's fused, stable ``binary_cross_entropy_with_logits`` (one kernel
    forward, one backward), which is exactly the negative of each term.
    """
    return -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits),
                                               reduction="none").sum(dim=-1)


def _gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, std: float) -> torch.Tensor:
    """sum_j log N(x_j; mean_j, std**2); broadcasts x over leading sample dims."""
    return _gaussian.log_normal_iso(x, mean, std)
