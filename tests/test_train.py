"""vaelib.train: the loop against a plain reference loop, determinism, the cache."""
import hashlib
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
from vaelib.train import History, cache_path, fit, num_threads, pretrained


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


def test_fit_matches_a_plain_reference_loop(digits):
    """Same permutation and noise, loss from torch.distributions, textbook Adam."""
    X, _ = digits
    model, reference = small_model(), small_model()
    fit(model, X, epochs=2, batch_size=64, lr=1e-3, seed=5, progress=False)

    generator = torch.Generator().manual_seed(5)
    optimizer = torch.optim.Adam(reference.parameters(), lr=1e-3)   # for-loop Adam
    for _ in range(2):
        X_shuffled = X[torch.randperm(len(X), generator=generator)]
        for begin in range(0, len(X), 64):
            x = X_shuffled[begin:begin + 64]
            mu, logvar = reference.encode(x)
            std = torch.exp(0.5 * logvar)
            eps = torch.randn((1, *mu.shape), generator=generator)
            z = mu + std * eps
            log_px_z = Bernoulli(logits=reference.decode(z), validate_args=False
                                 ).log_prob(x).sum(-1)[0]
            kl = kl_divergence(Normal(mu, std), Normal(0.0, 1.0)).sum(-1)
            loss = (kl - log_px_z).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    for p, q in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-4)


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
    assert "2/2 epochs" in captured.err


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(epochs=0), ValueError, "epochs must be >= 1"),
    (dict(epochs=1, batch_size=0), ValueError, "batch_size"),
    (dict(epochs=1, lr=-1.0), ValueError, "lr must be a finite number > 0"),
    (dict(epochs=1, kind="gan"), ValueError, "kind must be"),
    (dict(epochs=1, seed=-3), ValueError, "seed"),
    (dict(epochs=1, threads=0), ValueError, "threads"),
])
def test_fit_bad_arguments(digits, kwargs, error, match):
    with pytest.raises(error, match=match):
        fit(small_model(), digits[0], progress=False, **kwargs)


def test_fit_bad_data(digits):
    X, _ = digits
    model = small_model()
    with pytest.raises(ValueError, match=r"shape \(n, 64\).*reshape"):
        fit(model, X.reshape(-1, 8, 8), epochs=1)
    with pytest.raises(ValueError, match="NaN"):
        fit(model, torch.full((4, 64), float("nan")), epochs=1)
    with pytest.raises(ValueError, match=r"pixels in \[0, 1\].*Divide"):
        fit(model, X * 16, epochs=1)
    with pytest.raises(TypeError, match="floating-point"):
        fit(model, (X * 16).long(), epochs=1)
    with pytest.raises(ValueError, match="X_test"):
        fit(model, X, epochs=1, X_test=X[:, :10])
    with pytest.raises(TypeError, match="vaelib.models.VAE"):
        fit(torch.nn.Linear(64, 2), X, epochs=1)
    # a NumPy array is accepted
    fit(model, X.numpy(), epochs=1, progress=False)


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
    path = cache_path(history.config)
    path.write_bytes(b"garbage")
    again, history2 = pretrained("digits", 2, epochs=1, hidden_dims=(8,), progress=False)
    assert "training it again" in capsys.readouterr().err
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
