"""vaelib: the mathematics behind *vae-book*, one small function per equation.

Each module is named after the chapter that derives what it holds:

==================  ==========================================================
``bayes``           Bayes' theorem and the evidence (chapter 1)
``gmm``             EM on a Gaussian mixture (chapter 2)
``models``          the VAE's encoder and decoder (chapter 3)
``data``, ``train`` real digits and deterministic, cached training (chapter 3)
``evidence``        the exact evidence of a 2-D VAE on a grid; reference lines (3)
``latent``          active dimensions, tears and holes of a latent space (3)
``linear_gaussian`` an exact testbed: probabilistic PCA (chapter 4)
``elbo``            the ELBO, the KL term and the importance-weighted bound (4)
``bounds``          the bounds of the trained VAEs, measured and cached (4)
``reparam``         the reparameterization trick (chapter 5)
``gradients``       score-function and pathwise gradient estimators (chapter 5)
``vem``             variational EM and the amortization gap (chapter 6)
``widgets``         the slider mechanism every chapter uses
``plotting``        a plot style readable on a projector, colour-blind safe
``exercises``       checkers for the exercises
==================  ==========================================================
"""
from __future__ import annotations

import os
import random

import numpy as np

__version__ = "0.1.0"

__all__ = ["__version__", "seed_everything", "get_device", "cache_dir"]


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python's ``random``, NumPy's legacy global generator and torch.

    Parameters
    ----------
    seed : int
        A non-negative integer below 2**32.

    Returns
    -------
    numpy.random.Generator
        A fresh generator seeded with ``seed``; pass it on explicitly rather than
        relying on the global state (library functions take a ``random_state`` or
        ``generator`` argument).
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__}.")
    if not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must lie in [0, 2**32), got {seed}.")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    import torch

    torch.manual_seed(seed)  # also seeds CUDA generators when present
    return np.random.default_rng(seed)


def get_device(prefer: str | None = None):
    """Return the torch device to compute on: CUDA when present, else the CPU.

    Parameters
    ----------
    prefer : {None, "cpu", "cuda"}, optional
        Force a device. ``None`` picks CUDA if ``torch.cuda.is_available()``.
        The environment variable ``VAEBOOK_DEVICE`` overrides the automatic choice.

    Returns
    -------
    torch.device
    """
    import torch

    choice = prefer if prefer is not None else os.environ.get("VAEBOOK_DEVICE")
    if choice is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {choice!r}.")
    if choice == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was asked for but torch.cuda.is_available() is False; use 'cpu'.")
    return torch.device(choice)


def cache_dir() -> "os.PathLike[str]":
    """Folder for trained models and other artefacts shared between chapters.

    ``$VAEBOOK_CACHE`` if set, else ``~/.cache/vae-book``; created if missing. It
    lives outside the repository, so nothing trained is ever committed.
    """
    from pathlib import Path

    path = Path(os.environ.get("VAEBOOK_CACHE", Path.home() / ".cache" / "vae-book"))
    path.mkdir(parents=True, exist_ok=True)
    return path
