"""Measuring a latent space: active dimensions, tears, holes (chapter 3).

The source article says a VAE's latent space, unlike a plain autoencoder's, is smooth
("not torn") and tied to the prior, so decoding prior draws generates new data. Each
function here turns one part of that claim into a number:

* :func:`active_dimensions`: coordinate j is *active* when the encoder's mean varies
  with the data, Var_x[mu_j(x)] > 0.01 (Burda et al., 2016; the book's one definition,
  on the notation page);
* :func:`largest_step`: along a decoded straight path between two codes, the largest
  step in pixel space as a share of the distance between the two end images (a tear is
  one step that carries much of the change; a smooth path of n steps has ~1/n);
* :func:`nearest_distance`: the distance from each image to its nearest neighbour in a
  reference set (decoded prior draws that land far from every training digit fall in a
  hole of the latent space);
* :func:`aggregate_kl`: KL[q_agg || N(0, I)] for the aggregate posterior
  q_agg(z) = (1/n) sum_i q_phi(z | x_i), by Monte Carlo with a standard error: how far
  the codes of the data, as a whole, are from the prior the decoder is sampled with.

:func:`compare_latent_spaces` runs them for trained models and caches the results.
"""
from __future__ import annotations

import json
import math

import numpy as np
import torch

from . import _cache, _gaussian
from ._validation import (check_generator, check_int, check_mu_logvar, check_positive,
                          check_tensor)

__all__ = ["ACTIVE_THRESHOLD", "active_dimensions", "interpolate", "largest_step",
           "nearest_distance", "aggregate_kl", "referee", "compare_latent_spaces"]

#: Var_x[mu_j(x)] above which latent coordinate j counts as active (notation page).
ACTIVE_THRESHOLD = 0.01


def active_dimensions(mu: torch.Tensor, threshold: float = ACTIVE_THRESHOLD) -> torch.Tensor:
    """Which latent coordinates the encoder uses: Var_x[mu_j(x)] > threshold.

    Parameters
    ----------
    mu : torch.Tensor, shape (n, latent_dim)
        The encoder's means for n data points (n >= 2).
    threshold : float, default 0.01

    Returns
    -------
    torch.Tensor of bool, shape (latent_dim,)
    """
    mu = check_tensor(mu, "mu", ndim=2)
    if mu.shape[0] < 2:
        raise ValueError("active_dimensions needs the means of at least 2 data points.")
    threshold = check_positive(threshold, "threshold", "e.g. 0.01")
    return mu.detach().var(dim=0, unbiased=False) > threshold


def interpolate(z_start: torch.Tensor, z_end: torch.Tensor, n_points: int) -> torch.Tensor:
    """Codes on straight lines, (1 - t) z_start + t z_end for t = 0, 1/(n-1), ..., 1.

    Parameters
    ----------
    z_start, z_end : torch.Tensor, shape (n_pairs, latent_dim)
    n_points : int
        >= 2 points per path, ends included.

    Returns
    -------
    torch.Tensor, shape (n_points, n_pairs, latent_dim)
    """
    z_start = check_tensor(z_start, "z_start", ndim=2)
    z_end = check_tensor(z_end, "z_end", ndim=2)
    if z_start.shape != z_end.shape:
        raise ValueError(f"z_start and z_end must have the same shape, got "
                         f"{tuple(z_start.shape)} and {tuple(z_end.shape)}.")
    n_points = check_int(n_points, "n_points", minimum=2)
    t = torch.linspace(0.0, 1.0, n_points, dtype=z_start.dtype)[:, None, None]
    return (1 - t) * z_start + t * z_end


def largest_step(images: torch.Tensor) -> torch.Tensor:
    """Largest step along each decoded path, as a share of the distance between its ends.

    max_t ||x_{t+1} - x_t|| / ||x_last - x_first||: 1/(n - 1) for a path that changes
    at a constant rate along a straight line in pixel space (a linear decoder), close to
    1 when one step carries the whole change (a tear). Not fooled by blur: a decoder
    that outputs blurrier images shrinks every step and the end distance alike.

    Parameters
    ----------
    images : torch.Tensor, shape (n_points, n_pairs, input_dim)
        Decoded paths (e.g. the decoder's mean along :func:`interpolate`).

    Returns
    -------
    torch.Tensor, shape (n_pairs,)
        Paths whose two ends decode to the same image give NaN (there is no change to
        share out); choose pairs of different digits.
    """
    images = check_tensor(images, "images", ndim=3)
    if images.shape[0] < 2:
        raise ValueError("a path needs at least 2 points (images of shape "
                         "(n_points, n_pairs, input_dim)).")
    steps = (images[1:] - images[:-1]).norm(dim=-1)                 # (n_points - 1, n_pairs)
    ends = (images[-1] - images[0]).norm(dim=-1)
    return torch.where(ends > 0, steps.max(dim=0).values / ends, torch.nan)


def nearest_distance(images: torch.Tensor, reference: torch.Tensor,
                     chunk_size: int = 1024) -> torch.Tensor:
    """Euclidean distance from each image to its nearest neighbour in ``reference``.

    Parameters
    ----------
    images : torch.Tensor, shape (n, D)
    reference : torch.Tensor, shape (m, D)
    chunk_size : int
        Rows of ``images`` compared at a time (memory chunk_size * m).

    Returns
    -------
    torch.Tensor, shape (n,)
    """
    images = check_tensor(images, "images", ndim=2)
    reference = check_tensor(reference, "reference", ndim=2, dtype=images.dtype)
    if images.shape[1] != reference.shape[1]:
        raise ValueError(f"images and reference must have the same number of pixels, got "
                         f"{images.shape[1]} and {reference.shape[1]}.")
    chunk_size = check_int(chunk_size, "chunk_size")
    return torch.cat([torch.cdist(part, reference).min(dim=1).values
                      for part in images.split(chunk_size)])


def aggregate_kl(mu: torch.Tensor, logvar: torch.Tensor, n_draws: int = 2000,
                 generator: torch.Generator | None = None) -> tuple[float, float]:
    """KL[q_agg || N(0, I)] of the aggregate posterior, by Monte Carlo, with its standard error.

    q_agg(z) = (1/n) sum_i N(z; mu_i, diag(exp(logvar_i))) is the distribution of the
    codes of the whole data set (Hoffman & Johnson, 2016). With z_r ~ q_agg (a random
    row i, then z ~ q(z | x_i)),

        KL ~= (1/R) sum_r [log q_agg(z_r) - log N(z_r; 0, I)],

    where log q_agg(z_r) is exact (a logsumexp over all n components). A KL near 0
    means that prior draws land where the data's codes are; a large one means holes
    (prior mass the decoder never saw during training) or codes outside the prior.

    Parameters
    ----------
    mu, logvar : torch.Tensor, shape (n, latent_dim)
        The encoder's outputs on the data.
    n_draws : int
        R.
    generator : torch.Generator, optional

    Returns
    -------
    kl, standard_error : float
        In nats; the standard error is the sample standard deviation of the R terms
        over sqrt(R).
    """
    mu, logvar = check_mu_logvar(mu, logvar)
    n_draws = check_int(n_draws, "n_draws", minimum=2)
    generator = check_generator(generator)
    mu, logvar = mu.detach().double(), logvar.detach().double()
    rows = torch.randint(0, mu.shape[0], (n_draws,), generator=generator)
    z = _gaussian.sample(mu[rows], logvar[rows], 1, generator)[0]        # (R, d)
    log_q = torch.cat([torch.logsumexp(_gaussian.log_normal_diag(part[:, None], mu, logvar),
                                       dim=1) for part in z.split(256)]) - math.log(len(mu))
    terms = log_q - _gaussian.log_std_normal(z)
    return float(terms.mean()), float(terms.std() / math.sqrt(n_draws))


# -- the measurements of chapter 3, for trained models, cached ---------------------------

def referee(dataset: str = "mnist"):
    """A digit classifier trained on the training split of ``dataset`` (cached).

    ``sklearn.linear_model.LogisticRegression(C=0.1, max_iter=2000)`` on the grey
    training images: it reads decoded images (pixel probabilities, grey) as digits. The
    first call fits it (tens of seconds for MNIST) and stores its coefficients in the
    book's cache; later calls rebuild it from them.

    Returns
    -------
    sklearn.linear_model.LogisticRegression
        Fitted (``predict``, ``predict_proba``, ``score``).
    """
    from sklearn.linear_model import LogisticRegression

    from .data import load_split

    X_train, _, y_train, _ = load_split(dataset)
    config = {"dataset": dataset, "C": 0.1, "max_iter": 2000}

    def fit() -> dict:
        clf = LogisticRegression(C=0.1, max_iter=2000).fit(X_train.numpy(), y_train.numpy())
        return {"coef": torch.as_tensor(clf.coef_), "intercept": torch.as_tensor(clf.intercept_),
                "classes": torch.as_tensor(clf.classes_)}

    stored, _ = _cache.cached("referee", f"{dataset}-logistic", config, fit, code=("latent",),
                              data=(X_train, y_train))
    clf = LogisticRegression(C=0.1, max_iter=2000)
    clf.coef_ = stored["coef"].numpy()
    clf.intercept_ = stored["intercept"].numpy()
    clf.classes_ = stored["classes"].numpy()
    return clf


#: A decoded path "tears" when one of its steps carries at least this share of the
#: distance between its two end images (a smooth path of 40 steps has steps of ~0.025).
TEAR_SHARE = 0.25


@torch.no_grad()
def _measure(model, kind, X_train, X_test, y_train, y_test, clf, n_prior, n_pairs, n_points,
             seed):
    """The numbers of :func:`compare_latent_spaces` for one trained model."""
    from .data import binarize

    generator = torch.Generator().manual_seed(seed)
    codes_train = model._encode(binarize(X_train, seed + 1))[0]       # (n, d)
    mu_test, logvar_test = model._encode(X_test)
    d = model.latent_dim
    recon_test = model.mean(mu_test)
    prior = torch.randn(n_prior, d, generator=generator)
    mean, cov = codes_train.mean(0), torch.cov(codes_train.T).reshape(d, d)
    fitted = mean + prior @ torch.linalg.cholesky(cov).T
    train_freq = np.bincount(y_train.numpy(), minlength=10) / len(y_train)
    # the decoder's own reconstructions of test digits set the scale of "far": their
    # 95th percentile of the distance to the nearest training digit
    far = float(torch.quantile(nearest_distance(recon_test, X_train), 0.95))
    out = {"active": int(active_dimensions(mu_test).sum()), "far_threshold": far,
           "test_recon": float(model._log_likelihood(X_test, model._decode(mu_test)).mean())}
    for name, z in (("prior", prior), ("fitted", fitted)):
        images = model.mean(z)
        proba = clf.predict_proba(images.numpy())
        counts = np.bincount(proba.argmax(1), minlength=10) / len(z)
        out[f"class_tv_{name}"] = float(0.5 * np.abs(counts - train_freq).sum())
        out[f"confidence_{name}"] = float(proba.max(1).mean())
        out[f"far_share_{name}"] = float((nearest_distance(images, X_train) > far)
                                         .double().mean())
    pairs = torch.randint(0, len(X_test), (4 * n_pairs, 2), generator=generator)
    pairs = pairs[y_test[pairs[:, 0]] != y_test[pairs[:, 1]]][:n_pairs]
    paths = model.mean(interpolate(mu_test[pairs[:, 0]], mu_test[pairs[:, 1]], n_points))
    steps = largest_step(paths)
    out["largest_step_median"] = float(steps.median())
    out["tear_share"] = float((steps > TEAR_SHARE).double().mean())
    if kind == "vae":
        kl, se = aggregate_kl(mu_test, logvar_test, 2000, generator)
        out["aggregate_kl"], out["aggregate_kl_se"] = kl, se
    return out


def compare_latent_spaces(dataset: str = "mnist", kinds=("ae", "vae"), latent_dims=(2, 10),
                          seeds=(0, 1, 2), n_prior: int = 2000, n_pairs: int = 200,
                          n_points: int = 41, progress: bool = False) -> dict:
    """Autoencoder against VAE: the measurements of chapter 3 for every model, cached.

    For each kind, latent dimension and seed, the shared model
    ``vaelib.train.pretrained(dataset, d, kind=kind, seed=seed)`` (trained once) is
    measured on the book's split (binarized test digits for MNIST):

    ``active``
        active latent dimensions on the test digits (:func:`active_dimensions`);
    ``test_recon``
        mean log p(x | z = mu(x)) over the test digits, nats;
    ``class_tv_prior``, ``class_tv_fitted``
        total variation between the class frequencies of ``n_prior`` decoded draws,
        read by :func:`referee`, and those of the training set: draws from N(0, I)
        (``prior``) and from a Gaussian fitted to the training codes (``fitted``, the
        fairest Gaussian an autoencoder can have);
    ``confidence_prior``, ``confidence_fitted``
        the referee's mean top probability on those draws (a sharpness measure);
    ``far_share_prior``, ``far_share_fitted``
        the share of those draws whose decoded image is farther from every training
        digit than 95 % of the model's own reconstructions of test digits are
        (``far_threshold``): 0.05 would mean no more holes than the test digits show;
    ``largest_step_median``, ``tear_share``
        over ``n_pairs`` straight paths (``n_points`` codes) between the codes of test
        digits of different classes: the median of :func:`largest_step` and the share
        of paths with a step above :data:`TEAR_SHARE`;
    ``aggregate_kl``, ``aggregate_kl_se`` (VAE only)
        :func:`aggregate_kl` on the test digits.

    Returns
    -------
    dict
        ``result[kind][latent_dim][seed]`` is the dict of numbers above (JSON keys:
        ``latent_dim`` and ``seed`` are ints).
    """
    from .data import load_split
    from .train import pretrained

    for name, value in (("n_prior", n_prior), ("n_pairs", n_pairs), ("n_points", n_points)):
        check_int(value, name, minimum=2)
    kinds, latent_dims, seeds = tuple(kinds), tuple(latent_dims), tuple(seeds)
    if not set(kinds) <= {"ae", "vae"}:
        raise ValueError(f"kinds must be drawn from ('ae', 'vae'), got {kinds}.")
    X_train, X_test, y_train, y_test = load_split(dataset, binarize_test=dataset == "mnist")
    clf = referee(dataset)
    result: dict = {}
    for kind in kinds:
        for d in latent_dims:
            for seed in seeds:
                model, _ = pretrained(dataset, d, kind=kind, seed=seed, progress=progress)
                config = {"dataset": dataset, "kind": kind, "latent_dim": d, "seed": seed,
                          "n_prior": n_prior, "n_pairs": n_pairs, "n_points": n_points}
                stored, _ = _cache.cached(
                    "latent", f"{dataset}-{kind}-d{d}-s{seed}", config,
                    lambda: {"json": json.dumps(_measure(model, kind, X_train, X_test, y_train,
                                                         y_test, clf, n_prior, n_pairs,
                                                         n_points, seed))},
                    code=("latent", "models"),
                    data=(X_train, X_test, *model.state_dict().values(), clf.coef_))
                result.setdefault(kind, {}).setdefault(d, {})[seed] = json.loads(stored["json"])
    return result
