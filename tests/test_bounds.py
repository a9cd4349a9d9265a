"""vaelib.bounds: the cached table of bounds is what the estimators give when called directly."""
import torch

from vaelib.bounds import measure_bounds
from vaelib.data import load_split
from vaelib.elbo import elbo, iwae_bound
from vaelib.train import pretrained


def test_measure_bounds_records_the_estimators_and_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("VAEBOOK_CACHE", str(tmp_path))
    table = measure_bounds("digits", latent_dims=(2,), seeds=(0,), ks=(1, 8), n_digits=5,
                           elbo_samples=20)
    entry = table[2][0]
    model, history = pretrained("digits", 2, seed=0)
    X = load_split("digits")[1][:5]
    with torch.no_grad():
        torch.testing.assert_close(torch.tensor(entry["elbo"], dtype=torch.float64),
                                   elbo(model, X, 20, torch.Generator().manual_seed(0)).double())
        iwae8 = iwae_bound(model, X, 8, torch.Generator().manual_seed(8), chunk_size=256)
    torch.testing.assert_close(torch.tensor(entry["iwae"]["8"], dtype=torch.float64), iwae8.double())
    assert len(entry["iwae"]["1"]) == 5 and 0 <= entry["active"] <= 2
    assert len(entry["kl_per_dim"]) == 2 and entry["test_elbo_history"] == history.test_elbo
    assert len(list((tmp_path / "bounds").glob("*.pt"))) == 1
    assert measure_bounds("digits", latent_dims=(2,), seeds=(0,), ks=(1, 8), n_digits=5,
                          elbo_samples=20) == table
