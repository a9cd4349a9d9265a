"""The bounds of trained VAEs, measured once and cached (chapter 4).

:func:`measure_bounds` evaluates, for each shared MNIST model of chapter 3 (every latent
dimension and seed), on the first test digits of the book's fixed binarization:

* the ELBO with the closed-form KL, estimated with many samples per digit
  (``vaelib.elbo.elbo``);
* one draw of the importance-weighted bound IWAE_k for each k of a ladder, with
  independent noise for each k (``vaelib.elbo.iwae_bound``), per digit, so that
  differences between two k can be averaged over digits with a standard error;
* the number of active latent dimensions (``vaelib.latent.active_dimensions``) and the
  mean KL to the prior per dimension.

All numbers are in nats per image of a normalised probability of binary images.
"""
from __future__ import annotations

import json

import torch

from . import _cache
from ._validation import check_int
from .elbo import elbo, iwae_bound, kl_per_dimension
from .latent import active_dimensions

__all__ = ["KS", "measure_bounds"]

#: The ladder of importance samples k.
KS = (1, 4, 16, 64, 256, 1024)


@torch.no_grad()
def _measure(model, X, ks, elbo_samples, seed):
    mu, logvar = model.encode(X)
    out = {"elbo": elbo(model, X, elbo_samples, torch.Generator().manual_seed(seed)).tolist(),
           "active": int(active_dimensions(mu).sum()),
           "kl_per_dim": kl_per_dimension(mu, logvar).mean(0).tolist(),
           "var_mu": mu.var(0, unbiased=False).tolist(), "iwae": {}}
    for k in ks:
        # a fresh, seeded generator per k: the draws of different k are independent
        generator = torch.Generator().manual_seed(1000 * seed + k)
        out["iwae"][str(k)] = iwae_bound(model, X, k, generator, chunk_size=256).tolist()
    return out


def measure_bounds(dataset: str = "mnist", latent_dims=(2, 5, 10, 20), seeds=(0, 1, 2),
                   ks=KS, n_digits: int = 100, elbo_samples: int = 256,
                   progress: bool = False) -> dict:
    """ELBO, IWAE_k and active dimensions of the shared models, per digit, cached.

    Parameters
    ----------
    dataset : str
        The models are ``vaelib.train.pretrained(dataset, d, seed=seed)``.
    latent_dims, seeds : sequences of int
    ks : sequence of int
        The k of the importance-weighted bound.
    n_digits : int
        The first ``n_digits`` test digits (binarized once, as everywhere in the book).
    elbo_samples : int
        L for the ELBO estimate (closed-form KL).
    progress : bool
        Show training progress if a model has to be trained first.

    Returns
    -------
    dict
        ``result[d][seed]`` holds ``"elbo"`` (list of n_digits floats), ``"iwae"``
        (``{str(k): list of n_digits floats}``), ``"active"`` (int), ``"kl_per_dim"``
        and ``"var_mu"`` (lists of d floats), and ``"test_elbo_history"`` (the test ELBO
        per epoch recorded in training, on all test digits).
    """
    from .data import load_split
    from .train import pretrained

    n_digits = check_int(n_digits, "n_digits")
    elbo_samples = check_int(elbo_samples, "elbo_samples")
    ks = tuple(check_int(k, "each k") for k in ks)
    _, X_test, _, _ = load_split(dataset, binarize_test=dataset == "mnist")
    X = X_test[:n_digits]
    result: dict = {}
    for d in latent_dims:
        for seed in seeds:
            model, history = pretrained(dataset, d, seed=seed, progress=progress)
            config = {"dataset": dataset, "latent_dim": d, "seed": seed, "ks": list(ks),
                      "n_digits": n_digits, "elbo_samples": elbo_samples}
            stored, _ = _cache.cached(
                "bounds", f"{dataset}-d{d}-s{seed}", config,
                lambda: {"json": json.dumps(_measure(model, X, ks, elbo_samples, seed))},
                code=("bounds", "models"), data=(X, *model.state_dict().values()))
            entry = json.loads(stored["json"])
            entry["test_elbo_history"] = history.test_elbo
            result.setdefault(d, {})[seed] = entry
    return result
