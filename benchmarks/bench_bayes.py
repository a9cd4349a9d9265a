"""Speed of the evidence estimators of chapter 1 (vaelib.bayes).

Measures, on this machine:

* the grid evidence (midpoint rule, 12 points per axis on [-4, 4]^D) for D = 1..6:
  wall time, nanoseconds per grid point, and the extrapolated time for D = 20 and 100;
* naive Monte Carlo from the prior: nanoseconds per prior sample for L = 10**4 and
  d = 1..100 (linear in d: the cost of Monte Carlo does not explode, its error does);
* the Laplace approximation (an optimiser and finite-difference derivatives of the
  log-joint): wall time and number of log-joint evaluations for the tiny decoder
  (d = 2) and the conjugate model with d = 10 and 50 (the Hessian costs ~2d² points).

Run:  .venv/bin/python benchmarks/bench_bayes.py
Timings are medians of a few repeats; on a shared machine they are noisy.
"""
from __future__ import annotations


import numpy as np

from vaelib import bayes

SECONDS_PER_YEAR = 3.156e7


from _timing import median_time  # noqa: E402  (benchmarks/ is on sys.path)


def bench_grid(m: int = 12, box: float = 4.0, max_dim: int = 6) -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(max_dim) + 0.5 * rng.standard_normal(max_dim))[None, :]
    print(f"grid evidence, {m} points per axis on [-{box:g}, {box:g}]^D")
    print(" D     points     seconds   ns/point")
    per_point = None
    for D in range(1, max_dim + 1):
        xD = x[:, :D]
        t = median_time(lambda: bayes.grid_log_evidence(
            lambda z: bayes.gaussian_log_joint(z, xD, 0.0, 1.0, 0.5), D, -box, box, m),
            repeats=3 if D < max_dim else 1)
        per_point = t / m**D
        print(f"{D:2d} {m**D:10,d} {t:11.4f} {per_point * 1e9:10.1f}")
    for D in (20, 100):
        years = per_point * float(m) ** D / SECONDS_PER_YEAR
        print(f"extrapolated from D = {max_dim}: D = {D} takes {years:.2g} years")


def bench_laplace() -> None:
    print("\nLaplace approximation")
    print("  model                 d    seconds   log-joint points")
    cases = [("tiny decoder, x_A", 2, np.array([[-0.5, -0.5]]), None)]
    rng = np.random.default_rng(2)
    for d in (10, 50):
        cases.append(("conjugate, n = 1", d, rng.standard_normal((1, d)), d))
    for label, d, x, conj in cases:
        count = [0]

        def log_joint(z, x=x, conj=conj):
            count[0] += len(z)
            if conj is None:
                return bayes.decoder_log_joint(z, x, 0.3)
            return bayes.gaussian_log_joint(z, x, 0.0, 1.0, 0.5)

        t = median_time(lambda: bayes.laplace_approximation(log_joint, np.full(d, 0.5)))
        print(f"  {label:18s} {d:4d} {t:10.4f} {count[0] // 3:12,d}")


def bench_mc(L: int = 10_000) -> None:
    rng = np.random.default_rng(1)
    print(f"\nnaive Monte Carlo evidence, L = {L} prior samples, 20 estimates")
    print("  D    seconds   ns/sample")
    for D in (1, 2, 5, 10, 20, 50, 100):
        x = rng.standard_normal((1, D))
        t = median_time(lambda: bayes.mc_log_evidence(
            lambda z: bayes.gaussian_log_likelihood(z, x, 0.5), 0.0, 1.0, D, L,
            np.random.default_rng(0), n_estimates=20))
        print(f"{D:3d} {t:10.4f} {t / (20 * L) * 1e9:11.1f}")


if __name__ == "__main__":
    bench_grid()
    bench_mc()
    bench_laplace()
