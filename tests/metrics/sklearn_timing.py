#!/usr/bin/env python3
"""Times scikit-learn's roc_auc_score and average_precision_score on data
shaped like benchmarks/metrics_benchmark.cpp's: 1e6 normal scores, ~10%
positives shifted up by 1, rounded to three decimals (many ties).

    /usr/bin/python3 tests/metrics/sklearn_timing.py

Prints the median of 5 runs of each, in milliseconds (wall clock and process
CPU time), for docs/metrics.md. Not part of the test suite.
"""

import statistics
import time

import numpy as np
import sklearn
from sklearn.metrics import average_precision_score, roc_auc_score

N = 1_000_000
REPETITIONS = 5


def median_ms(function, *args):
    wall, cpu = [], []
    for _ in range(REPETITIONS):
        w0, c0 = time.perf_counter(), time.process_time()
        function(*args)
        wall.append((time.perf_counter() - w0) * 1e3)
        cpu.append((time.process_time() - c0) * 1e3)
    return statistics.median(wall), statistics.median(cpu)


def main():
    rng = np.random.default_rng(42)
    y = (rng.random(N) < 0.1).astype(np.int64)
    for dtype in (np.float64, np.float32):
        scores = np.round(rng.normal(size=N) + y, 3).astype(dtype)
        for name, function in (("roc_auc_score", roc_auc_score),
                               ("average_precision_score", average_precision_score)):
            wall, cpu = median_ms(function, y, scores)
            print(f"sklearn {sklearn.__version__} {name}<{np.dtype(dtype).name}> n={N}: "
                  f"median {wall:.1f} ms wall, {cpu:.1f} ms CPU")


if __name__ == "__main__":
    main()
