"""Variational EM as a training schedule for a VAE (chapter 6).

Variational EM alternates a variational E-step (improve q with the model fixed) and an
M-step (improve the model with q fixed). For a VAE, q is the encoder phi and the model
is the decoder theta, and both steps can be taken partially, a few mini-batch gradient
steps at a time: stochastic coordinate ascent on the ELBO. The loop is the book's one
training loop, :func:`vaelib.train.fit` with ``schedule="alternating"``.
"""
from __future__ import annotations

from ..train import DEFAULTS, History, fit

__all__ = ["fit_alternating", "SCHEDULES", "compare_schedules"]

#: The schedules :func:`compare_schedules` races: keyword arguments of
#: :func:`vaelib.train.fit`. With the digits' batch size of 128, an epoch is 12
#: mini-batches, so "every epoch" switches block every 12 steps.
SCHEDULES = {"joint": {"schedule": "joint"},
             "alternate every step": {"schedule": "alternating", "steps_per_phase": 1},
             "alternate every epoch": {"schedule": "alternating", "steps_per_phase": 12}}


def fit_alternating(model, X, *, epochs: int, schedule: str = "alternating",
                    steps_per_phase: int = 1, batch_size: int = 100, lr: float = 1e-3,
                    seed: int = 0, X_test=None, binarize: bool = False,
                    progress: bool = False) -> History:
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
    binarize : bool
        Dynamic binarization of the training pixels, as in :func:`vaelib.train.fit`.
    progress : bool
        A progress bar on stderr.

    Returns
    -------
    vaelib.train.History
    """
    return fit(model, X, epochs=epochs, schedule=schedule, steps_per_phase=steps_per_phase,
               batch_size=batch_size, lr=lr, seed=seed, X_test=X_test, binarize=binarize,
               progress=progress)


def compare_schedules(latent_dim: int = 5, *, seed: int = 0, schedules=tuple(SCHEDULES),
                      cache: bool = True) -> dict:
    """Train the book's digits VAE once per schedule of :data:`SCHEDULES`, from one start.

    The configuration of :func:`vaelib.train.pretrained` ``("digits", latent_dim,
    seed=seed, binarize=True)`` (its epochs, batch size, learning rate and hidden
    widths), through :func:`vaelib.gradients.train_variants`: the same initial weights,
    mini-batches, binarizations and noise, and the same number of mini-batch gradients;
    only which parameters each step moves differs. ``"joint"`` is exactly the
    pretrained model.

    Parameters
    ----------
    latent_dim : int
    seed : int
    schedules : sequence of names in :data:`SCHEDULES`
    cache : bool
        Read and write the book's cache.

    Returns
    -------
    dict
        schedule name -> :class:`vaelib.gradients.TrainedRun` (model, history with the
        test ELBO per epoch on the fixed binarization of the test digits).
    """
    from ..gradients import train_variants

    if isinstance(schedules, str):
        schedules = (schedules,)
    unknown = [name for name in schedules if name not in SCHEDULES]
    if unknown or not schedules:
        raise ValueError(f"schedules must be names from {tuple(SCHEDULES)}, got "
                         f"{tuple(schedules)!r}.")
    cfg = DEFAULTS["digits"]
    return train_variants({name: SCHEDULES[name] for name in schedules},
                          latent_dim=latent_dim, seed=seed, epochs=cfg["epochs"],
                          batch_size=cfg["batch_size"], lr=cfg["lr"],
                          hidden_dims=cfg["hidden_dims"], binarize=True, n_eval_samples=1,
                          label="schedules", cache=cache)
