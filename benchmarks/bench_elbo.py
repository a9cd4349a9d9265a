"""Speed of chapter 4's kernels (printed, never asserted).

* ``LinearGaussianModel.log_evidence`` (Woodbury, O(n D_x D_z^2)) against
  ``scipy.stats.multivariate_normal.logpdf`` (dense D_x x D_x Cholesky);
* ``vaelib.elbo.iwae_bound`` on the cached digits VAE (d = 5) for growing k.

Run: ``.venv/bin/python benchmarks/bench_elbo.py``.
"""
from __future__ import annotations

import time

import numpy as np
import scipy.stats as st
import torch

from vaelib.elbo import elbo, iwae_bound
from vaelib.linear_gaussian import LinearGaussianModel


def best_of(fn, repeat=5):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def bench_log_evidence():
    rng = np.random.default_rng(0)
    print("log_evidence, n = 1000 examples: Woodbury (vaelib) vs dense (scipy)")
    for input_dim, latent_dim in ((64, 5), (784, 20), (2000, 20)):
        model = LinearGaussianModel(rng.normal(size=(input_dim, latent_dim)),
                                    rng.normal(size=input_dim), 0.5)
        X, _ = model.sample(1000, random_state=0)
        t_lib = best_of(lambda: model.log_evidence(X))
        dense = st.multivariate_normal(model.b, model.marginal_covariance())
        t_scipy = best_of(lambda: dense.logpdf(X), repeat=2)
        assert np.allclose(model.log_evidence(X), dense.logpdf(X), rtol=1e-8)
        print(f"  D_x = {input_dim:4d}, D_z = {latent_dim:2d}: vaelib {1e3 * t_lib:8.2f} ms, "
              f"scipy {1e3 * t_scipy:8.2f} ms (its covariance factorised once, outside)")


def bench_iwae():
    from vaelib.data import load_split
    from vaelib.train import num_threads, pretrained

    model, _ = pretrained("digits", latent_dim=5, progress=False)
    _, X_test, _, _ = load_split("digits")
    x = X_test[:100]
    print("iwae_bound on the digits VAE (d = 5), 100 test digits, 2 threads")
    with torch.no_grad(), num_threads(2):
        t = best_of(lambda: elbo(model, x, 1, torch.Generator().manual_seed(0)))
        print(f"  elbo, L = 1     : {1e3 * t:8.2f} ms")
        for k in (1, 16, 256, 1024):
            t = best_of(lambda: iwae_bound(model, x, k, torch.Generator().manual_seed(0)), repeat=3)
            print(f"  iwae_bound k = {k:4d}: {1e3 * t:8.2f} ms  ({100 * k / t:,.0f} samples/s)")


if __name__ == "__main__":
    bench_log_evidence()
    bench_iwae()
