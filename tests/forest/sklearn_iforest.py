"""scikit-learn parity for redflag's IsolationForest.

Runs scikit-learn's IsolationForest (n_estimators=100, max_samples="auto")
and redflag's (the iforest_auc helper) on a labelled CSV, fitting and scoring
all rows, and compares the ROC AUC averaged over seeds 0..4. Exits non-zero
when the two means differ by more than 0.01.

    sklearn_iforest.py IFOREST_AUC_BINARY DATA.csv

With --timing it instead times scikit-learn on the sizes of
benchmarks/forest_benchmark.cpp (median of 5 runs, n_jobs=1), for the
comparison in docs/isolation-forest.md:

    sklearn_iforest.py --timing
"""
import subprocess
import sys
import time

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

SEEDS = 5
N_ESTIMATORS = 100
TOLERANCE = 0.01


def median_seconds(call, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def timing():
    rng = np.random.default_rng(2024)
    data = rng.standard_normal((100_000, 10))
    data[::100] += 4.0
    for rows in (10_000, 100_000):
        X = data[:rows]
        model = IsolationForest(n_estimators=100, max_samples=256, random_state=1, n_jobs=1)
        fit = median_seconds(lambda: model.fit(X))
        score = median_seconds(lambda: model.score_samples(X))
        print(f"n={rows}: fit {fit * 1e3:.1f} ms, score_samples {score * 1e3:.1f} ms")
    model = IsolationForest(n_estimators=100, max_samples=256, random_state=1, n_jobs=1).fit(data[:10_000])
    one = data[7:8]
    print(f"score one row: {median_seconds(lambda: model.score_samples(one), 50) * 1e6:.0f} us")
    return 0


def main():
    if sys.argv[1:] == ["--timing"]:
        return timing()
    helper, path = sys.argv[1], sys.argv[2]
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    X, y = data[:, :-1], data[:, -1].astype(int)
    aucs = []
    for seed in range(SEEDS):
        model = IsolationForest(n_estimators=N_ESTIMATORS, max_samples="auto", random_state=seed)
        model.fit(X)
        aucs.append(roc_auc_score(y, -model.score_samples(X)))
    sklearn_auc = float(np.mean(aucs))
    result = subprocess.run([helper, path, str(SEEDS), str(N_ESTIMATORS)], check=True,
                            capture_output=True, text=True)
    redflag_auc = float(result.stdout.strip())
    diff = redflag_auc - sklearn_auc
    print(f"{path}: mean ROC AUC over {SEEDS} seeds: redflag {redflag_auc:.4f}, "
          f"scikit-learn {sklearn_auc:.4f}, difference {diff:+.4f} (tolerance {TOLERANCE})")
    return 0 if abs(diff) <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
