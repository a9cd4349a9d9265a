"""Speed of the evidence estimators of chapter 1 (vaelib.bayes).

Measures, on this machine:

* the grid evidence (midpoint rule, 12 points per axis on [-4, 4]^D) for D = 1..6:
  wall time, nanoseconds per grid point, and the extrapolated time for D = 20 and 100;
* naive Monte Carlo from the prior: nanoseconds per prior sample for L = 10**4 and
  D = 1..100 (linear in D: the cost of Monte Carlo does not explode, its error does).

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
