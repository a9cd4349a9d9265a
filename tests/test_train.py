"""vaelib.train: the loop against plain reference loops, determinism, the cache."""
import hashlib
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.distributions import Bernoulli, Normal, kl_divergence

import vaelib
from vaelib.data import load_split
from vaelib.elbo import elbo
from vaelib.models import VAE
from vaelib.train import History, Step, fit, num_threads, pretrained


@pytest.fixture(scope="module")
def digits():
    X_train, X_test, y_train, y_test = load_split("digits")
    return X_train[:300], X_test[:100]


def small_model(latent_dim=2, seed=0, **kwargs):
    torch.manual_seed(seed)
    return VAE(64, latent_dim, hidden_dims=(32,), **kwargs)


def state_digest(model):
    return hashlib.sha256(b"".join(v.detach().numpy().tobytes()
                                   for v in model.state_dict().values())).hexdigest()


def _reference_loop(model, X, epochs, batch_size, lr, seed, n_samples=1, blocks=None):
    """Textbook training: same permutation and noise, loss from torch.distributions.

    ``blocks``: None for joint steps, or (encoder params, decoder params) to alternate
    one mini-batch each, with an Adam per block.
    """
    generator = torch.Generator().manual_seed(seed)
    groups = [list(model.parameters())] if blocks is None else blocks
    optimizers = [torch.optim.Adam(g, lr=lr) for g in groups]          # for-loop Adam
    step = 0
    for _ in range(epochs):
        X_shuffled = X[torch.randperm(len(X), generator=generator)]
        for begin in range(0, len(X), batch_size):
            x = X_shuffled[begin:begin + batch_size]
            mu, logvar = model.encode(x)
            std = torch.exp(0.5 * logvar)
            eps = torch.randn((n_samples, *mu.shape), generator=generator)
            z = mu + std * eps
            log_px_z = Bernoulli(logits=model.decode(z), validate_args=False
                                 ).log_prob(x).sum(-1).mean(0)
            kl = kl_divergence(Normal(mu, std), Normal(0.0, 1.0)).sum(-1)
            loss = (kl - log_px_z).mean()
            model.zero_grad()
            loss.backward()
            optimizers[step % len(optimizers)].step()
            step += 1


@pytest.mark.parametrize("n_samples", [1, 3])
def test_fit_matches_a_plain_reference_loop(digits, n_samples):
    X, _ = digits
    model, reference = small_model(), small_model()
    fit(model, X, epochs=2, batch_size=64, lr=1e-3, seed=5, n_samples=n_samples,
        progress=False)
    _reference_loop(reference, X, 2, 64, 1e-3, 5, n_samples)
    for p, q in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-4)


def test_alternating_schedule_matches_a_plain_reference_loop(digits):
    X, _ = digits
    model, reference = small_model(), small_model()
    fit(model, X, epochs=2, batch_size=64, lr=1e-3, seed=5, schedule="alternating",
        progress=False)
    encoder = [*reference.encoder.parameters(), *reference.fc_mu_logvar.parameters()]
    _reference_loop(reference, X, 2, 64, 1e-3, 5, blocks=(encoder,
                                                         list(reference.decoder.parameters())))
    for p, q in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-4)


def test_alternating_schedule_moves_one_block_at_a_time(digits):
    X, _ = digits
    steps = []

    def snapshot(step):
        steps.append([p.detach().clone() for p in step.model.parameters()])

    model = small_model()
    initial = [p.detach().clone() for p in model.parameters()]
    n_encoder = len([*model.encoder.parameters(), *model.fc_mu_logvar.parameters()])
    fit(model, X[:200], epochs=1, batch_size=50, schedule="alternating", steps_per_phase=2,
        callback=snapshot, progress=False)
    before = [initial, *steps[:-1]]
    for k, (old, new) in enumerate(zip(before, steps)):
        moved = [not torch.equal(a, b) for a, b in zip(old, new)]
        encoder_phase = (k // 2) % 2 == 0             # steps 0, 1: encoder; 2, 3: decoder
        assert all(moved[:n_encoder]) == encoder_phase and not any(moved[:n_encoder]) != \
            encoder_phase
        assert all(moved[n_encoder:]) != encoder_phase and any(moved[n_encoder:]) != \
            encoder_phase


def test_score_function_training_is_seeded_and_climbs(digits):
    X, X_test = digits
    runs = []
    for baseline in (None, None, "leave-one-out", -40.0):
        model = small_model()
        history = fit(model, X, epochs=6, batch_size=50, lr=3e-3, seed=2, X_test=X_test,
                      n_samples=4, estimator="score", baseline=baseline, progress=False)
        runs.append((state_digest(model), history))
    assert runs[0][0] == runs[1][0]                            # deterministic
    assert len({r[0] for r in runs[1:]}) == 3                  # the baseline matters
    for _, history in runs:
        assert history.test_elbo[-1] > history.test_elbo[0] + 3


def test_callback_sees_every_step(digits):
    X, _ = digits
    seen = []
    fit(small_model(), X, epochs=2, batch_size=64, callback=seen.append, progress=False)
    per_epoch = math.ceil(len(X) / 64)
    assert [s.step for s in seen] == list(range(1, 2 * per_epoch + 1))
    assert [s.epoch for s in seen] == [0] * per_epoch + [1] * per_epoch
    assert all(isinstance(s, Step) and s.elbo.shape == (len(s.x),)
               and not s.elbo.requires_grad for s in seen)


def test_dynamic_binarization_draws_fresh_binary_pixels(digits):
    # each epoch trains on x ~ Bernoulli(grey level), drawn afresh: binary values whose
    # average over epochs is the grey level (pixel means over all rows, 5 standard errors)
    X = digits[0][:40]
    epochs = 200
    batches = []
    fit(small_model(), X, epochs=epochs, batch_size=40, binarize=True,
        callback=lambda step: batches.append(step.x.clone()), progress=False)
    batches = torch.stack(batches)                                  # (epochs, 40, 64)
    assert torch.all((batches == 0) | (batches == 1))
    grey = X.mean(0)
    se = (X * (1 - X)).sum(0).sqrt() / (len(X) * math.sqrt(epochs))
    assert torch.all((batches.mean((0, 1)) - grey).abs() <= 5 * se + 1e-6)
    assert not torch.equal(batches[0].sum(0), batches[1].sum(0))    # fresh draws


def test_a_diverging_fit_warns_and_stops(digits):
    X, X_test = digits
    with pytest.warns(RuntimeWarning, match="diverged"):
        history = fit(small_model(), X, epochs=5, lr=1e4, X_test=X_test, progress=False)
    assert history.diverged
    assert all(math.isfinite(v) for v in history.train_elbo + history.test_elbo)
    assert history.epochs < 5


def test_history_is_consistent_and_the_elbo_rises(digits):
    X, X_test = digits
    model = small_model()
    history = fit(model, X, epochs=8, batch_size=50, lr=3e-3, X_test=X_test, progress=False)
    assert isinstance(history, History) and history.epochs == 8
    for name in ("train_elbo", "test_elbo", "train_recon", "test_recon", "train_kl", "test_kl"):
        assert len(getattr(history, name)) == 8
    for e in range(8):
        assert history.train_elbo[e] == pytest.approx(history.train_recon[e] - history.train_kl[e])
        assert history.test_kl[e] >= 0
    assert history.train_elbo[-1] > history.train_elbo[0] + 5
    assert history.test_elbo[-1] > history.test_elbo[0] + 5
    assert not model.training


def test_test_elbo_is_vaelib_elbo_with_the_documented_noise(digits):
    X, X_test = digits
    model = small_model()
    history = fit(model, X, epochs=2, batch_size=100, seed=3, X_test=X_test, progress=False)
    with torch.no_grad():
        value = elbo(model, X_test, generator=torch.Generator().manual_seed(3 + 1)).mean()
    assert history.test_elbo[-1] == pytest.approx(float(value), rel=1e-5)


def test_fit_is_deterministic_and_seeded(digits):
    X, _ = digits
    runs = []
    for seed in (0, 0, 1):
        model = small_model()
        fit(model, X, epochs=2, batch_size=64, seed=seed, progress=False)
        runs.append(state_digest(model))
    assert runs[0] == runs[1] != runs[2]


def test_fit_leaves_global_state_alone(digits):
    X, _ = digits
    model = small_model()
    rng_state = torch.get_rng_state()
    threads = torch.get_num_threads()
    fit(model, X, epochs=1, progress=False, threads=1)
    assert torch.equal(torch.get_rng_state(), rng_state)
    assert torch.get_num_threads() == threads
    with num_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == threads


def test_autoencoder_trains_the_reconstruction_only(digits):
    X, X_test = digits
    model = small_model()
    history = fit(model, X, epochs=5, batch_size=50, lr=3e-3, X_test=X_test, kind="ae",
                  progress=False)
    assert history.kind == "ae"
    assert history.train_elbo == history.test_elbo == history.train_kl == []
    assert history.train_recon[-1] > history.train_recon[0]
    with torch.no_grad():   # the reported test term is log p(x | z = mu)
        expected = model.log_likelihood(X_test, model.decode(model.encode(X_test)[0])).mean()
    assert history.test_recon[-1] == pytest.approx(float(expected), rel=1e-5)


def test_fit_trains_inside_no_grad(digits):
    X, _ = digits
    reference, model = small_model(), small_model()
    fit(reference, X, epochs=1, progress=False)
    with torch.no_grad():
        fit(model, X, epochs=1, progress=False)
    assert state_digest(model) == state_digest(reference)


def test_gaussian_decoder_trains(digits):
    X, _ = digits
    model = small_model(likelihood="gaussian", decoder_std=0.2)
    history = fit(model, X, epochs=3, progress=False)
    assert history.train_elbo[-1] > history.train_elbo[0]


def test_progress_goes_to_stderr_only(digits, capsys):
    X, _ = digits
    fit(small_model(), X, epochs=2, progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "training vae" in captured.err


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(epochs=0), ValueError, "epochs must be >= 1"),
    (dict(epochs=1, batch_size=0), ValueError, "batch_size"),
    (dict(epochs=1, lr=-1.0), ValueError, "lr must be a finite number > 0"),
    (dict(epochs=1, kind="gan"), ValueError, "kind must be"),
    (dict(epochs=1, seed=-3), ValueError, "seed"),
    (dict(epochs=1, threads=0), ValueError, "threads"),
    (dict(epochs=1, estimator="reinforce"), ValueError, "estimator must be one of"),
    (dict(epochs=1, schedule="random"), ValueError, "schedule must be one of"),
    (dict(epochs=1, baseline=1.0), ValueError, "only applies to estimator='score'"),
    (dict(epochs=1, estimator="score", baseline="leave-one-out"), ValueError,
     "n_samples >= 2"),
    (dict(epochs=1, estimator="score", baseline="mean"), ValueError, "'leave-one-out'"),
    (dict(epochs=1, estimator="score", baseline=float("nan")), ValueError, "finite number"),
    (dict(epochs=1, kind="ae", n_samples=2), ValueError, "autoencoder"),
    (dict(epochs=1, n_samples=0), ValueError, "n_samples must be >= 1"),
    (dict(epochs=1, callback=3), TypeError, "callback"),
    (dict(epochs=1, lr=1), None, None),
])
def test_fit_bad_arguments(digits, kwargs, error, match):
    if error is None:                 # an int learning rate is a number: accepted
        fit(small_model(), digits[0], progress=False, **kwargs)
        return
    with pytest.raises(error, match=match):
        fit(small_model(), digits[0], progress=False, **kwargs)


def test_fit_bad_data(digits):
    X, _ = digits
    model = small_model()
    with pytest.raises(ValueError, match=r"2 dimension.*reshape"):
        fit(model, X.reshape(-1, 8, 8), epochs=1)
    with pytest.raises(ValueError, match="NaN"):
        fit(model, torch.full((4, 64), float("nan")), epochs=1)
    with pytest.raises(ValueError, match=r"pixels in \[0, 1\].*Divide"):
        fit(model, X * 16, epochs=1)
    with pytest.raises(TypeError, match="floating-point"):
        fit(model, (X * 16).long(), epochs=1)
    with pytest.raises(ValueError, match="X_test"):
        fit(model, X, epochs=1, X_test=X[:, :10])
    with pytest.raises(ValueError, match="X is empty"):
        fit(model, X[:0], epochs=1)
    with pytest.raises(ValueError, match="Gaussian"):
        fit(small_model(likelihood="gaussian", decoder_std=0.2), X, epochs=1, binarize=True)
    with pytest.raises(TypeError, match="vaelib.models.VAE"):
        fit(torch.nn.Linear(64, 2), X, epochs=1)
    # a NumPy array and a float64 tensor are accepted (converted once)
    fit(model, X.numpy(), epochs=1, progress=False)
    fit(model, X.double(), epochs=1, progress=False)


# -- pretrained and the cache --------------------------------------------------------

@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEBOOK_CACHE", str(tmp_path))
    return tmp_path


def test_pretrained_trains_once_then_loads(cache, capsys):
    model, history = pretrained("digits", 2, epochs=2, hidden_dims=(16,))
    files = list((cache / "models").glob("*.pt"))
    assert len(files) == 1 and files[0].name.startswith("digits-vae-bernoulli-d2-")
    assert not list((cache / "models").glob("*.tmp"))
    assert history.seconds > 0 and history.config["epochs"] == 2
    again, history2 = pretrained("digits", 2, epochs=2, hidden_dims=(16,))
    assert history2.seconds == 0
    assert state_digest(model) == state_digest(again)
    assert history2.test_elbo == history.test_elbo and history2.config == history.config
    assert not again.training and next(again.parameters()).device.type == "cpu"
    # trained here or loaded from the cache: no gradients left over from training
    assert all(p.grad is None for p in model.parameters())
    assert all(p.grad is None for p in again.parameters())
    assert capsys.readouterr().out == ""           # nothing on stdout, trained or loaded


def test_pretrained_key_covers_the_configuration(cache):
    base = dict(dataset="digits", latent_dim=2, epochs=1, hidden_dims=(8,), progress=False)
    pretrained(**base)
    pretrained(**{**base, "latent_dim": 3})
    pretrained(**{**base, "kind": "ae"})
    pretrained(**{**base, "likelihood": "gaussian", "decoder_std": 0.1})
    pretrained(**{**base, "seed": 1})
    pretrained(**{**base, "lr": 2e-3})
    assert len(list((cache / "models").glob("*.pt"))) == 6
    _, history = pretrained(**{**base, "kind": "ae"})
    assert history.kind == "ae" and history.train_elbo == [] and len(history.test_recon) == 1


def test_pretrained_replaces_a_corrupt_file(cache, capsys):
    model, history = pretrained("digits", 2, epochs=1, hidden_dims=(8,), progress=False)
    (path,) = (cache / "models").glob("*.pt")
    path.write_bytes(b"garbage")
    again, history2 = pretrained("digits", 2, epochs=1, hidden_dims=(8,), progress=False)
    assert "computing it again" in capsys.readouterr().err
    assert state_digest(model) == state_digest(again) and history2.seconds > 0


def test_pretrained_bad_arguments(cache):
    with pytest.raises(ValueError, match="dataset"):
        pretrained("cifar")
    with pytest.raises(ValueError, match="latent_dim"):
        pretrained("digits", 0)
    with pytest.raises(ValueError, match="decoder_std"):
        pretrained("digits", 2, likelihood="gaussian")
    with pytest.raises(ValueError, match="kind"):
        pretrained("digits", 2, kind="pca")
    assert not (cache / "models").exists() or not list((cache / "models").iterdir())


_SCRIPT = """
import hashlib, torch
from vaelib.train import pretrained
model, history = pretrained("digits", 2, epochs=3, hidden_dims=(32,), progress=False)
print(hashlib.sha256(b"".join(v.numpy().tobytes()
                              for v in model.state_dict().values())).hexdigest())
print(repr(history.test_elbo))
"""


def test_two_fresh_processes_train_bitwise_identical_models(tmp_path):
    outputs = []
    for k in range(2):
        env = {**os.environ, "VAEBOOK_CACHE": str(tmp_path / f"cache{k}")}
        # a different default thread count must not matter: training fixes its own
        env["OMP_NUM_THREADS"] = str(k + 1)
        result = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, check=True,
                                capture_output=True, text=True)
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    assert len(list(Path(tmp_path / "cache0" / "models").glob("*.pt"))) == 1


def test_cache_dir_follows_the_environment(cache):
    assert Path(vaelib.cache_dir()) == cache
