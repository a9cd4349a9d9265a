"""The estimators raced inside a VAE on the digits, with an autoencoder as control (chapter 5).

:func:`train_variants` trains the same network once per variant of the book's one
training loop (:func:`vaelib.train.fit`) from the same initial weights, on the same
minibatches and noise; :func:`compare_estimators` races the encoder-gradient estimators
of :data:`RUNS` that way. Models and histories go through the book's cache.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from typing import NamedTuple

import torch

from .. import _cache
from .._validation import check_int
from ..train import History

__all__ = ["RUNS", "ESTIMATORS", "TrainedRun", "train_variants", "compare_estimators"]


# ---------------------------------------------------------------------------------
# the same comparison inside a VAE
# ---------------------------------------------------------------------------------
#: The training runs :func:`compare_estimators` races, by name: keyword arguments of
#: :func:`vaelib.train.fit`. Three VAEs that differ only in the encoder's gradient
#: estimator, and a plain autoencoder with the same networks (no noise, no KL).
RUNS = {"pathwise": {"estimator": "pathwise"},
        "score": {"estimator": "score"},
        "score+loo": {"estimator": "score", "baseline": "leave-one-out"},
        "ae": {"kind": "ae"}}
#: The three gradient estimators among :data:`RUNS`.
ESTIMATORS = ("pathwise", "score", "score+loo")


class TrainedRun(NamedTuple):
    """One training run: the trained model (in eval mode) and its history."""

    model: torch.nn.Module
    history: History


def train_variants(variants: dict, *, latent_dim: int, seed: int = 0, epochs: int = 40,
                   batch_size: int = 64, lr: float = 1e-3, hidden_dims=(256,),
                   binarize: bool = True, n_eval_samples: int = 10, label: str = "variants",
                   cache: bool = True) -> dict[str, TrainedRun]:
    """Train the same network on the digits once per variant of the training loop.

    Every variant starts from the same initial weights (built under ``seed``), sees the
    same minibatches and noise, and differs only in the keyword arguments of
    :func:`vaelib.train.fit` it names (``estimator``, ``baseline``, ``kind``,
    ``n_samples``, ``schedule``, ``steps_per_phase``). Data: the book's split
    :func:`vaelib.data.load_split` ``("digits")``; with ``binarize`` the training pixels
    are drawn afresh every epoch and the test ELBO is measured on the fixed binarization
    ``vaelib.data.binarize(X_test, 0)``, so it is a log-probability of binary images.
    Weights and histories are stored in the book's cache (keyed by the arguments, the
    data and the code) unless ``cache=False``.

    Parameters
    ----------
    variants : dict
        name -> dict of keyword arguments of :func:`vaelib.train.fit`.
    latent_dim : int
    seed : int
        Seeds the initial weights, the shuffling, the binarization and the noise.
    epochs, batch_size, lr, hidden_dims, binarize, n_eval_samples
        As in :func:`vaelib.train.fit` (the same for every variant).
    label : str
        Readable start of the cache file's name.
    cache : bool
        Read and write the cache.

    Returns
    -------
    dict
        variant name -> :class:`TrainedRun`.
    """
    from ..data import binarize as binarize_pixels, load_split
    from ..models import VAE
    from ..train import fit

    if not isinstance(variants, dict) or not variants:
        raise TypeError("variants must be a non-empty dict: name -> keyword arguments of "
                        "vaelib.train.fit, e.g. {'pathwise': {'estimator': 'pathwise'}}.")
    reserved = {"epochs", "batch_size", "lr", "seed", "X_test", "binarize", "n_eval_samples",
                "progress", "callback", "threads"}
    for name, options in variants.items():
        if not isinstance(options, dict) or reserved & set(options):
            raise ValueError(f"variant {name!r} must be a dict of the arguments that differ "
                             f"between runs, without {sorted(reserved)}.")
    latent_dim = check_int(latent_dim, "latent_dim", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    hidden_dims = tuple(check_int(h, "each hidden width") for h in hidden_dims)
    X_train, X_test, _, _ = load_split("digits")
    if binarize:
        X_test = binarize_pixels(X_test, 0)
    config = dict(variants=variants, latent_dim=latent_dim, epochs=epochs,
                  batch_size=batch_size, lr=lr, hidden_dims=list(hidden_dims), seed=seed,
                  binarize=bool(binarize), n_eval_samples=n_eval_samples)

    def build():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)                       # the same initial weights for all
            return VAE(X_train.shape[1], latent_dim, hidden_dims=hidden_dims)

    def train_all() -> dict:
        results = {}
        for name, options in variants.items():
            model = build()
            history = fit(model, X_train, epochs=epochs, batch_size=batch_size, lr=lr,
                          seed=seed, X_test=X_test, binarize=binarize,
                          n_eval_samples=n_eval_samples, progress=False, **options)
            results[name] = {"state_dict": model.state_dict(),
                             "history": json.dumps(asdict(history))}
        return results

    stored, _ = _cache.cached("gradients", f"{label}-d{latent_dim}-s{seed}", config,
                              train_all, code=("gradients.race",), data=(X_train, X_test),
                              enabled=cache)
    out = {}
    for name in variants:
        model = build()
        model.load_state_dict(stored[name]["state_dict"])
        out[name] = TrainedRun(model.eval(), History(**json.loads(stored[name]["history"])))
    return out


def compare_estimators(latent_dim: int = 2, *, runs=ESTIMATORS, seed: int = 0,
                       epochs: int = 40, n_samples: int = 2, batch_size: int = 64,
                       lr: float = 1e-3, hidden_dims=(256,), binarize: bool = True,
                       n_eval_samples: int = 10, cache: bool = True) -> dict[str, TrainedRun]:
    """Train the same VAE on the digits once per gradient estimator (and an autoencoder).

    The runs of :data:`RUNS`, through :func:`train_variants`: from the same initial
    weights, on the same minibatches, with the same number L = ``n_samples`` of decoder
    evaluations per example and step, the VAEs differ only in the encoder's gradient
    estimator of E_q[log p(x | z)] (pathwise, score function, score function with the
    leave-one-out baseline); ``"ae"`` trains the same networks as a plain autoencoder
    (z = mu, no KL, one decoder evaluation per example).

    Parameters
    ----------
    latent_dim : int
    runs : sequence of names in :data:`RUNS`
    seed : int
    epochs, n_samples, batch_size, lr, hidden_dims, binarize, n_eval_samples, cache
        As in :func:`train_variants` and :func:`vaelib.train.fit`.

    Returns
    -------
    dict
        run name -> :class:`TrainedRun`.
    """
    if isinstance(runs, str):
        runs = (runs,)
    runs = tuple(runs)
    unknown = [name for name in runs if name not in RUNS]
    if unknown or not runs:
        raise ValueError(f"runs must be names from {tuple(RUNS)}, got {runs!r}.")
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    if n_samples < 2 and "score+loo" in runs:
        raise ValueError("'score+loo' (the leave-one-out baseline) needs n_samples >= 2.")
    variants = {name: {**RUNS[name], "n_samples": 1 if name == "ae" else n_samples}
                for name in runs}
    return train_variants(variants, latent_dim=latent_dim, seed=seed, epochs=epochs,
                          batch_size=batch_size, lr=lr, hidden_dims=hidden_dims,
                          binarize=binarize, n_eval_samples=n_eval_samples,
                          label="estimators", cache=cache)
