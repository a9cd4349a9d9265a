"""Timing helper shared by the benchmarks (run them as scripts from the book's root)."""
import statistics
import time


def median_time(func, repeats: int = 3) -> float:
    """Median wall time in seconds of ``repeats`` calls of ``func()``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
