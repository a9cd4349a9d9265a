"""EM for a Gaussian mixture: ``vaelib.gmm.fit_gmm`` against scikit-learn's ``GaussianMixture``.

Both start from the same weights, means and precisions and run the same number of EM
iterations (``tol=0``, fixed ``max_iter``), so they do the same arithmetic; the script
checks that they end at the same parameters, then prints the time per iteration of
each and the ratio vaelib / sklearn (below 1: vaelib is faster).

The machine is shared, so each case alternates the two implementations ``--repeats``
times and keeps the fastest run of each (the least disturbed one). BLAS threads are
limited to ``--threads`` (default 1) for both: on an oversubscribed machine OpenBLAS
threads that spin-wait make timings swing by an order of magnitude.

It then times the chapter's other computations: the fraction of missing information
and the log-likelihood Hessian (``vaelib.gmm.information``, automatic differentiation in
float64) for K = 3 and K = 9, and one EM iteration of the one-latent-coordinate curve
model (``vaelib.gmm.curve``) on the two moons.

    python benchmarks/bench_gmm.py [--repeats 5] [--threads 1] [--max-iter 20]
"""
from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from vaelib.gmm import ConvergenceWarning, fit_gmm

#: (n_samples, n_features, n_components, covariance_type)
CASES = [
    (1_000, 2, 3, "full"),
    (10_000, 4, 5, "full"),
    (20_000, 8, 6, "full"),
    (100_000, 2, 3, "full"),
    (100_000, 16, 10, "full"),
    (20_000, 8, 6, "diag"),
    (100_000, 16, 10, "diag"),
]


def make_case(n_samples, n_features, n_components, covariance_type, seed=0):
    """Well-separated blobs and a deliberately rough initialisation."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=4.0, size=(n_components, n_features))
    X = centers[rng.integers(n_components, size=n_samples)] + rng.normal(
        size=(n_samples, n_features))
    init = dict(weights_init=np.full(n_components, 1.0 / n_components),
                means_init=centers + rng.normal(scale=0.5, size=centers.shape),
                precisions_init=(np.tile(np.eye(n_features), (n_components, 1, 1))
                                 if covariance_type == "full"
                                 else np.ones((n_components, n_features))))
    return X, init


def run_case(n_samples, n_features, n_components, covariance_type, *, max_iter, repeats):
    X, init = make_case(n_samples, n_features, n_components, covariance_type)
    common = dict(covariance_type=covariance_type, tol=0.0, max_iter=max_iter,
                  reg_covar=1e-6, **init)
    times = {"vaelib": [], "sklearn": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # tol=0 never converges
        warnings.simplefilter("ignore", category=UserWarning)
        for _ in range(repeats):
            start = time.perf_counter()
            ours = fit_gmm(X, n_components, **common)
            times["vaelib"].append(time.perf_counter() - start)
            start = time.perf_counter()
            ref = GaussianMixture(n_components, **common).fit(X)
            times["sklearn"].append(time.perf_counter() - start)
    assert ours.n_iter == ref.n_iter_ == max_iter
    np.testing.assert_allclose(ours.means, ref.means_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ours.covariances, ref.covariances_, rtol=1e-6, atol=1e-8)
    return min(times["vaelib"]) / max_iter, min(times["sklearn"]) / max_iter


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-iter", type=int, default=20)
    args = parser.parse_args(argv)
    print(f"fit_gmm vs GaussianMixture, {args.max_iter} EM iterations each, best of "
          f"{args.repeats}, BLAS threads = {args.threads}")
    print(f"{'n':>8} {'D':>3} {'K':>3} {'cov':>5} {'vaelib ms/it':>13} "
          f"{'sklearn ms/it':>14} {'ratio':>6}")
    ratios = []
    with threadpool_limits(limits=args.threads):
        for n, d, k, ct in CASES:
            ours, ref = run_case(n, d, k, ct, max_iter=args.max_iter, repeats=args.repeats)
            ratios.append(ours / ref)
            print(f"{n:>8} {d:>3} {k:>3} {ct:>5} {ours * 1e3:>13.2f} {ref * 1e3:>14.2f} "
                  f"{ours / ref:>6.2f}")
    print(f"ratio vaelib / sklearn: median {np.median(ratios):.2f}, max {max(ratios):.2f}")
    with threadpool_limits(limits=args.threads):
        bench_information(args.repeats)
        bench_curve()


def bench_information(repeats):
    from vaelib.gmm import information

    print("\nfraction of missing information / Hessian of the log-likelihood (first call "
          "includes torch's warm-up)")
    for n, d, k in ((400, 2, 3), (900, 2, 9)):
        X, _ = make_case(n, d, k, "full")
        fit = fit_gmm(X, k, random_state=0, max_iter=500)
        start = time.perf_counter()
        information.missing_information(X, fit.weights, fit.means, fit.covariances)
        first = time.perf_counter() - start
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            information.missing_information(X, fit.weights, fit.means, fit.covariances)
            times.append(time.perf_counter() - start)
        print(f"  n = {n}, K = {k}: first call {first:.2f} s, then {min(times):.3f} s")


def bench_curve(iterations=20):
    from sklearn.datasets import make_moons

    from vaelib.gmm import curve

    X, _ = make_moons(n_samples=1000, noise=0.06, random_state=0)
    start = time.perf_counter()
    curve.fit_curve(X, seed=0, max_iter=iterations)
    per_iteration = (time.perf_counter() - start) / iterations
    print(f"\ncurve model (n = 1000, 400 grid cells, 20 Adam steps per M-step): "
          f"{per_iteration * 1e3:.1f} ms per EM iteration (the chapter runs 400)")


if __name__ == "__main__":
    main()
