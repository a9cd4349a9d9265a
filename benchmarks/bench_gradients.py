"""Speed of the gradient estimators of chapter 5 (vaelib.gradients).

Measures, on this machine:

1. one call of each estimator on a batch of 2,000 independent problems
   (f(z) = ||z||^2, L = 8), for latent dimensions 8 and 64;
2. one training step of the chapter's digits VAE (64-256-d, L = 2, batch 64) with each
   encoder-gradient estimator, under the one torch thread the book trains with;
3. the wall time of ``compare_estimators`` for one latent dimension, uncached.

Run: ``.venv/bin/python benchmarks/bench_gradients.py`` (no assertions: numbers only).
"""
from __future__ import annotations

import statistics
import tempfile
import time

import torch

from vaelib import gradients


def _best_of(fn, repeats=7):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def bench_estimators():
    f = lambda z: (z**2).sum(-1)  # noqa: E731
    print("1. one estimator call, 2,000 problems, L = 8")
    for D in (8, 64):
        mu = torch.ones(2000, D)
        logvar = torch.zeros(2000, D)
        for name, est, kw in [("pathwise", gradients.pathwise_grad, {}),
                              ("score", gradients.score_function_grad, {}),
                              ("score+loo", gradients.score_function_grad,
                               {"baseline": "leave-one-out"})]:
            g = torch.Generator().manual_seed(0)
            best, med = _best_of(lambda: est(f, mu, logvar, 8, generator=g, **kw))
            print(f"   D = {D:3d}  {name:>10}: best {best * 1e3:7.2f} ms, median {med * 1e3:7.2f} ms")


def bench_vae_steps():
    from vaelib.data import load_split
    from vaelib.models import VAE
    from vaelib.train import _terms, num_threads

    X_train, _, _, _ = load_split("digits")
    x = X_train[:64]
    print("2. one VAE training step (64-256-d, L = 2, batch 64, 1 thread)")
    with num_threads(1):
        for D in (2, 20):
            for name in gradients.ESTIMATORS:
                estimator = gradients.RUNS[name]["estimator"]
                baseline = gradients.RUNS[name].get("baseline")
                torch.manual_seed(0)
                model = VAE(64, D, hidden_dims=(256,))
                opt = torch.optim.Adam(model.parameters(), lr=1e-3)
                g = torch.Generator().manual_seed(0)

                def step():
                    _, _, surrogate = _terms(model, x, "vae", 2, estimator, baseline, g)
                    opt.zero_grad()
                    (-surrogate.mean()).backward()
                    opt.step()

                for _ in range(20):
                    step()
                best, med = _best_of(lambda: [step() for _ in range(50)], repeats=5)
                print(f"   D = {D:2d}  {name:>10}: best {best / 50 * 1e3:6.2f} ms/step, "
                      f"median {med / 50 * 1e3:6.2f} ms/step")


def bench_compare():
    import os

    print("3. compare_estimators(latent_dim=2), 40 epochs x 3 estimators, one seed, uncached")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["VAEBOOK_CACHE"] = tmp
        start, cpu = time.perf_counter(), time.process_time()
        gradients.compare_estimators(latent_dim=2, cache=False)
        print(f"   wall {time.perf_counter() - start:.1f} s, CPU {time.process_time() - cpu:.1f} s")


if __name__ == "__main__":
    bench_estimators()
    bench_vae_steps()
    bench_compare()
