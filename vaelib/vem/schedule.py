"""Variational EM as a training schedule for a VAE (chapter 6).

Variational EM alternates a variational E-step (improve q with the model fixed) and an
M-step (improve the model with q fixed). For a VAE, q is the encoder phi and the model
is the decoder theta, and both steps can be taken partially, a few mini-batch gradient
steps at a time: stochastic coordinate ascent on the ELBO. The loop is the book's one
training loop, :func:`vaelib.train.fit` with ``schedule="alternating"``.
"""
from __future__ import annotations

from ..train import History, fit

__all__ = ["fit_alternating"]


def fit_alternating(model, X, *, epochs: int, schedule: str = "alternating",
                    steps_per_phase: int = 1, batch_size: int = 100, lr: float = 1e-3,
                    seed: int = 0, X_test=None, progress: bool = False) -> History:
    """Train a VAE by alternating encoder-only and decoder-only steps, or jointly.

    ``schedule="alternating"``: ``steps_per_phase`` mini-batch steps that move only the
    encoder phi (a partial, amortized variational E-step), then as many that move only
    the decoder theta (a partial M-step), and so on. ``schedule="joint"``: every step
    moves phi and theta together. Both see the same mini-batches and noise and take the
    same number of gradient steps; the two blocks have separate Adam optimizers.

    Exactly ``vaelib.train.fit(model, X, epochs=..., schedule=schedule, ...)``, with the
    arguments chapter 6 varies.

    Parameters
    ----------
    model : vaelib.models.VAE
        Trained in place (left in eval mode).
    X : torch.Tensor, shape (n, input_dim)
    epochs : int
        Passes over X (>= 1).
    schedule : {"alternating", "joint"}
    steps_per_phase : int
        Mini-batch steps before switching block (>= 1; ignored for "joint").
    batch_size : int
    lr : float
        Adam's learning rate, for both blocks.
    seed : int
        Seeds the shuffling and the Monte Carlo noise.
    X_test : torch.Tensor, optional
        Evaluated after every epoch, as in :func:`vaelib.train.fit`.
    progress : bool
        A progress bar on stderr.

    Returns
    -------
    vaelib.train.History
    """
    return fit(model, X, epochs=epochs, schedule=schedule, steps_per_phase=steps_per_phase,
               batch_size=batch_size, lr=lr, seed=seed, X_test=X_test, progress=progress)
