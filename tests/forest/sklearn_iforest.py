"""scikit-learn parity for redflag's IsolationForest.

Runs scikit-learn's IsolationForest (n_estimators=100, max_samples="auto")
and redflag's (the iforest_auc helper) on a labelled CSV, fitting and scoring
all rows, and compares the ROC AUC averaged over seeds 0..4. Exits non-zero
when the two means differ by more than 0.01, and 77 (the test's
SKIP_RETURN_CODE) when DATA.csv does not exist.

    sklearn_iforest.py IFOREST_AUC_BINARY DATA.csv

With --timing it instead times scikit-learn alone (n_jobs=1) on the cases
of benchmarks/forest_benchmark.cpp, through benchmarks/compare_iforest.py
--sklearn-only (further options are passed on, e.g. --full); run
compare_iforest.py itself to time redflag in the same run and get ratios:

    sklearn_iforest.py --timing [--full] [--clock real]
"""
import subprocess
import sys
from pathlib import Path

import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

SEEDS = 5
N_ESTIMATORS = 100
TOLERANCE = 0.01
SKIP = 77


def timing(options):
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "compare_iforest.py"
    return subprocess.run([sys.executable, str(script), "--sklearn-only", *options]).returncode


def main():
    if sys.argv[1:2] == ["--timing"]:
        return timing(sys.argv[2:])
    helper, path = sys.argv[1], sys.argv[2]
    if not Path(path).exists():
        print(f"SKIPPED: {path} not found (REDFLAG_DATA_DIR holds the labelled datasets)")
        return SKIP
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
