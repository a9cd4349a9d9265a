"""Speed of the fitting methods and the per-input E-step of chapter 6 (vaelib.vem).

Measures, on this machine:

* one iteration of exact EM, of variational EM (one sweep) and one step of joint
  gradient ascent (exact, and with L = 1 and 10 samples) on probabilistic PCA, for
  n = 300 and n = 20,000 points in D = 8 dimensions with k = 2;
* sklearn.decomposition.FactorAnalysis on the same data, for scale (it fits factor
  analysis, a slightly different model, by a different algorithm);
* the variational E-step of a pretrained digits VAE (``optimize_posterior``,
  200 inputs, 200 Adam steps) for d = 2 and 20, and the importance-weighted bound
  with k = 1000 on the same inputs.

Run:  .venv/bin/python benchmarks/bench_vem.py
Timings are medians of a few repeats; on a shared machine they are noisy.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.decomposition import FactorAnalysis

from vaelib import vem
from vaelib.linear_gaussian import LinearGaussianModel


from _timing import median_time  # noqa: E402  (benchmarks/ is on sys.path)


def bench_linear(n: int, iters: int = 50) -> None:
    rng = np.random.default_rng(0)
    W = rng.standard_normal((8, 2))
    W[:, 1] += 0.8 * W[:, 0]
    X, _ = LinearGaussianModel(W, np.linspace(-1, 1, 8), 0.5).sample(n, random_state=1)
    init = vem.init_params(X, 2, random_state=0)
    rows = [
        ("exact EM", lambda: vem.fit_em(X, 2, max_iter=iters, init=init)),
        ("variational EM, 1 sweep", lambda: vem.fit_variational_em(X, 2, max_iter=iters,
                                                                    init=init)),
        ("joint gradient, exact", lambda: vem.fit_joint_gradient(X, 2, lr=1e-3,
                                                                 max_iter=iters, init=init)),
        ("joint gradient, L = 1", lambda: vem.fit_joint_gradient(
            X, 2, lr=1e-3, max_iter=iters, n_samples=1, init=init)),
        ("joint gradient, L = 10", lambda: vem.fit_joint_gradient(
            X, 2, lr=1e-3, max_iter=iters, n_samples=10, init=init)),
    ]
    print(f"probabilistic PCA, n = {n:,}, D = 8, k = 2 ({iters} iterations, "
          "log p(x) and the ELBO recorded every iteration)")
    for label, func in rows:
        t = median_time(func)
        print(f"  {label:26s} {1e3 * t / iters:8.3f} ms per iteration")
    fa = FactorAnalysis(n_components=2, max_iter=iters, tol=0.0, svd_method="lapack")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                # it warns that it did not converge
        t = median_time(lambda: fa.fit(X))
    print(f"  {'sklearn FactorAnalysis':26s} {1e3 * t / iters:8.3f} ms per iteration "
          "(for scale)")


def bench_vae(n_inputs: int = 200, steps: int = 200) -> None:
    from vaelib.data import load_split
    from vaelib.train import pretrained

    _, X_test, _, _ = load_split("digits")
    x = X_test[:n_inputs]
    print(f"digits VAE, {n_inputs} test inputs")
    for d in (2, 20):
        model, _ = pretrained("digits", latent_dim=d, progress=False)
        vem.optimize_posterior(model, x[:8], steps=5)                # warm-up
        t = median_time(lambda: vem.optimize_posterior(model, x, steps=steps), repeats=3)
        mu, logvar = vem.optimize_posterior(model, x, steps=steps)
        t_iw = median_time(lambda: vem.iwae_bound_given_q(
            model, x, mu, logvar, 1000, torch.Generator().manual_seed(0)), repeats=3)
        print(f"  d = {d:2d}: optimize_posterior {steps} steps {t:6.2f} s "
              f"({1e3 * t / steps:.2f} ms per step for the whole batch); "
              f"IWAE k = 1000: {t_iw:.2f} s")


if __name__ == "__main__":
    print(f"torch threads: {torch.get_num_threads()}")
    bench_linear(300)
    bench_linear(20_000, iters=20)
    bench_vae()
