"""scikit-learn parity for redflag's RandomForest classifier.

For seeds 0..4: a stratified 70/30 split of a labelled CSV (label column
last, 1 = positive) made by scikit-learn's train_test_split and written to a
temporary folder; scikit-learn's RandomForestClassifier(class_weight=
"balanced") and redflag's (the rf_auc helper, same parameters) are fitted on
the training part and scored on the test part. Exits non-zero when the mean
ROC AUCs differ by more than 0.01, and 77 (the test's SKIP_RETURN_CODE) when
DATA.csv does not exist.

    random_forest_sklearn_parity.py RF_AUC_BINARY DATA.csv [--max-depth D]
"""
import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

SEEDS = 5
N_ESTIMATORS = 100
TOLERANCE = 0.01
SKIP = 77


def write(path, header, X, y):
    np.savetxt(path, np.column_stack([X, y]), delimiter=",", header=",".join(header), comments="",
               fmt=["%.17g"] * X.shape[1] + ["%d"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("helper")
    parser.add_argument("data")
    parser.add_argument("--max-depth", type=int, default=0, help="0: unlimited")
    args = parser.parse_args()
    if not Path(args.data).exists():
        print(f"SKIPPED: {args.data} not found (REDFLAG_DATA_DIR holds the labelled datasets)")
        return SKIP
    with open(args.data) as f:
        header = f.readline().strip().split(",")
    data = np.loadtxt(args.data, delimiter=",", skiprows=1)
    label = header.index("label")
    X, y = np.delete(data, label, axis=1), data[:, label].astype(int)
    features = [name for i, name in enumerate(header) if i != label]
    sk_aucs, rf_aucs = [], []
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(SEEDS):
            X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
            train, test = Path(folder) / "train.csv", Path(folder) / "test.csv"
            write(train, features + ["label"], X_train, y_train)
            write(test, features + ["label"], X_test, y_test)
            model = RandomForestClassifier(n_estimators=N_ESTIMATORS, class_weight="balanced",
                                           max_depth=args.max_depth or None, random_state=seed, n_jobs=-1)
            model.fit(X_train, y_train)
            sk_aucs.append(roc_auc_score(y_test, model.predict_proba(X_test)[:, -1]))
            result = subprocess.run([args.helper, str(train), str(test), str(seed), str(N_ESTIMATORS),
                                     str(args.max_depth)], check=True, capture_output=True, text=True)
            rf_aucs.append(float(result.stdout.strip()))
    redflag_auc, sklearn_auc = float(np.mean(rf_aucs)), float(np.mean(sk_aucs))
    diff = redflag_auc - sklearn_auc
    depth = f"max_depth {args.max_depth}" if args.max_depth else "max_depth none"
    print(f"{args.data}: mean test ROC AUC over {SEEDS} seeds ({N_ESTIMATORS} trees, {depth}, balanced): "
          f"redflag {redflag_auc:.4f}, scikit-learn {sklearn_auc:.4f}, difference {diff:+.4f} "
          f"(tolerance {TOLERANCE})")
    return 0 if abs(diff) <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
