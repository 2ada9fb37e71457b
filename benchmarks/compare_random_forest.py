#!/usr/bin/python3
"""redflag's RandomForest classifier against scikit-learn's, in one run on the same data.

Draws 1.1e6 rows of 20 standard normal columns with numpy (seed 2024) and a
label 1 for about 13 % of them (a noisy score mixing linear and interaction
terms of the first 8 columns, the rule bench_random_forest uses), hands the
matrix to bench_random_forest through REDFLAG_BENCH_RF_DATA and to
scikit-learn as is, and times both with one thread, 100 trees, max_depth 10
and class_weight "balanced":

  * redflag: bench_random_forest --benchmark_format=json
    --benchmark_repetitions=N --benchmark_report_aggregates_only=true, the
    median of the repetitions;
  * scikit-learn: RandomForestClassifier(n_estimators=100, max_depth=10,
    class_weight="balanced", n_jobs=1, random_state=1) fit and predict_proba
    on the same rows, the median of several calls.

predict_proba is then timed again in --rounds rounds (default 5) in which
redflag and scikit-learn take turns, and the medians of the rounds are
reported: the load of a shared machine drifts over minutes, and turns a few
seconds apart see the same load.

Fit cases: 7e4 rows (the issue's reference case), 1e5 and, with --full, 1e6
(scikit-learn takes several minutes there). predict_proba: 1e5 and 1e6 rows
with the model fitted on the first 7e4 rows; without --full scikit-learn's
1e6-row time is its 1e5-row time x 10 (the same time per row and tree).
AUC: test ROC AUC on the last 1e5 rows of the models fitted on 7e4 and 1e5
rows. Prints a Markdown table of medians, ratios (scikit-learn / redflag)
and the targets (fit and predict_proba >= 10x, AUC not lower, within 0.0005).

With --ranger (needs Rscript and the ranger package: Debian's r-cran-ranger),
ranger is timed on the reference case too (ranger(num.trees = 100,
max.depth = 10, class.weights = the balanced weights, min.node.size = 1,
probability = TRUE, num.threads = 1) on the first 7e4 rows, predict on 1e5
rows; CPU time from R's proc.time(), median of --sklearn-repetitions fits),
against the target fit >= 5x ranger.

    /usr/bin/python3 benchmarks/compare_random_forest.py [--bench build/bench/benchmarks/bench_random_forest]
    /usr/bin/python3 benchmarks/compare_random_forest.py --ranger
    /usr/bin/python3 benchmarks/compare_random_forest.py --sklearn-only

Times are CPU time by default (both sides run one thread; CPU time is
steadier than wall time on a shared machine): bench_random_forest's cpu_time
and Python's time.process_time(). --clock real uses wall time for both.
"""
import argparse
import json
import subprocess

import compare_support  # first: it limits numpy's BLAS to one thread before numpy loads
import sys
import tempfile
from pathlib import Path

import numpy as np
import sklearn
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score

from compare_support import (add_common_arguments, clock, format_seconds, load_average, median_seconds,
                             report, require_case, run_benchmark, start)

ROWS = 1_000_000
TEST_ROWS = 100_000
COLS = 20
SEED = 2024
TREES = 100
MAX_DEPTH = 10
REFERENCE_ROWS = 70_000  # the model the predict_proba cases use
TARGET = 10.0
RANGER_TARGET = 5.0
# "AUC not lower" up to this tolerance: the two forests draw different random
# numbers, so equal methods need not give equal AUCs.
AUC_NOISE = 0.0005
DEFAULT_BENCH = Path(__file__).resolve().parent.parent / "build" / "bench" / "benchmarks" / "bench_random_forest"


def make_data():
    """(X, y): ROWS + TEST_ROWS rows; the last TEST_ROWS are the test rows."""
    rng = np.random.default_rng(SEED)
    X = rng.standard_normal((ROWS + TEST_ROWS, COLS))
    score = (0.8 * X[:, 0] - 0.6 * X[:, 1] + 0.5 * X[:, 2] + 0.4 * X[:, 3] * X[:, 4] + 0.7 * np.abs(X[:, 5])
             - 0.3 * X[:, 6] ** 2 + 0.3 * X[:, 7] + 0.6 * rng.standard_normal(ROWS + TEST_ROWS))
    return X, (score > 1.9).astype(np.int64)


def sklearn_model():
    return RandomForestClassifier(n_estimators=TREES, max_depth=MAX_DEPTH, class_weight="balanced", n_jobs=1,
                                  random_state=1)


def time_sklearn(X, y, args, log):
    """scikit-learn's medians in seconds and test AUCs, keyed like the redflag
    cases, and the model fitted on the reference rows."""
    timer = clock(args.clock)
    out = {}
    test_X, test_y = X[-TEST_ROWS:], y[-TEST_ROWS:]
    fits = [REFERENCE_ROWS, 100_000] + ([ROWS] if args.full else [])
    for rows in fits:
        model = sklearn_model()
        repeats = args.sklearn_repetitions if rows < ROWS else 1
        seconds = median_seconds(lambda: model.fit(X[:rows], y[:rows]), repeats, timer)
        out[f"fit/rows:{rows}"] = seconds
        out[f"auc/rows:{rows}"] = roc_auc_score(test_y, model.predict_proba(test_X)[:, 1])
        log(f"scikit-learn fit, {rows} rows: {seconds:.2f} s, test AUC {out[f'auc/rows:{rows}']:.4f}")
        if rows == REFERENCE_ROWS:
            reference = model
    predict_rows = [100_000] + ([ROWS] if args.full else [])
    for rows in predict_rows:
        seconds = median_seconds(lambda: reference.predict_proba(X[:rows]), 3, timer)
        out[f"predict_proba/rows:{rows}"] = seconds
        log(f"scikit-learn predict_proba, {rows} rows: {seconds:.2f} s "
            f"({seconds / (rows * TREES) * 1e9:.0f} ns per row and tree)")
    if not args.full:
        out[f"predict_proba/rows:{ROWS}"] = out["predict_proba/rows:100000"] * ROWS / 100_000
    return out, reference


def interleave_predict(data_path, reference, X, ours, theirs, args, log):
    """Times predict_proba again, redflag (10⁵ and 10⁶ rows) and scikit-learn
    (10⁵ rows) taking turns for --rounds rounds, and keeps the medians of the
    rounds: on a
    shared machine whose load drifts over minutes, turns a second apart see
    the same load, so their ratio is steadier than that of runs minutes apart."""
    timer = clock(args.clock)
    cases = [f"predict_proba<{scalar}>/rows:{rows}" for scalar in ("double", "float") for rows in (100_000, ROWS)]
    mine = {case: [] for case in cases}
    sklearn_times = []
    for round_ in range(args.rounds):
        medians, _ = run_benchmark(args, f"^predict_proba<(double|float)>/rows:(100000|{ROWS})$",
                                   {"REDFLAG_BENCH_RF_DATA": str(data_path)}, log)
        for case in cases:
            mine[case].append(medians[case]["seconds"])
        start = timer()
        reference.predict_proba(X[:100_000])
        sklearn_times.append(timer() - start)
        log(f"round {round_ + 1}: redflag 10⁵ rows {mine[cases[0]][-1]:.3f} s (double), {mine[cases[2]][-1]:.3f} s "
            f"(float); scikit-learn {sklearn_times[-1]:.3f} s")
    for case, times in mine.items():
        ours[case]["seconds"] = float(np.median(times))
    theirs["predict_proba/rows:100000"] = float(np.median(sklearn_times))
    if not args.full:
        theirs[f"predict_proba/rows:{ROWS}"] = theirs["predict_proba/rows:100000"] * ROWS / 100_000


# ranger on the reference case: the data file holds ROWS + TEST_ROWS rows of
# COLS features and the label, row-major little-endian float64.
RANGER_SCRIPT = r"""
suppressMessages(library(ranger))
args <- commandArgs(trailingOnly = TRUE)
rows <- as.integer(args[2]); cols <- as.integer(args[3]); train <- as.integer(args[4])
test <- as.integer(args[5]); trees <- as.integer(args[6]); depth <- as.integer(args[7]); repeats <- as.integer(args[8])
con <- file(args[1], "rb")
values <- readBin(con, "double", n = rows * (cols + 1), size = 8, endian = "little")
close(con)
m <- matrix(values, nrow = rows, ncol = cols + 1, byrow = TRUE)
colnames(m) <- c(paste0("x", seq_len(cols)), "label")
x <- m[seq_len(train), seq_len(cols)]
y <- factor(m[seq_len(train), cols + 1], levels = c(0, 1))
weights <- as.numeric(train / (2 * table(y)))
cpu <- function() { t <- proc.time(); t[["user.self"]] + t[["sys.self"]] }
fits <- numeric(repeats)
for (i in seq_len(repeats)) {
  start <- cpu()
  model <- ranger(x = x, y = y, num.trees = trees, max.depth = depth, class.weights = weights, min.node.size = 1,
                  probability = TRUE, num.threads = 1, seed = 1)
  fits[i] <- cpu() - start
}
test_x <- m[(rows - test + 1):rows, seq_len(cols)]
start <- cpu()
p <- predict(model, data = test_x, num.threads = 1)$predictions[, 2]
predict_s <- cpu() - start
cat(sprintf('{"fit_s": %.6f, "predict_s": %.6f, "version": "%s"}\n', median(fits), predict_s,
            as.character(packageVersion("ranger"))))
writeLines(sprintf("%.17g", p), args[9])
"""


def time_ranger(data_path, y, args, log):
    """ranger's fit and predict seconds and test AUC on the reference case."""
    folder = Path(data_path).parent
    script = folder / "ranger.R"
    script.write_text(RANGER_SCRIPT)
    predictions = folder / "ranger-proba.txt"
    command = ["Rscript", str(script), str(data_path), str(ROWS + TEST_ROWS), str(COLS), str(REFERENCE_ROWS),
               str(TEST_ROWS), str(TREES), str(MAX_DEPTH), str(args.sklearn_repetitions), str(predictions)]
    log("running ranger: Rscript " + " ".join(command[2:]))
    result = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    out = json.loads(result.stdout.strip().splitlines()[-1])
    out["auc"] = roc_auc_score(y[-TEST_ROWS:], np.loadtxt(predictions))
    log(f"ranger {out['version']} fit, {REFERENCE_ROWS} rows: {out['fit_s']:.2f} s, test AUC {out['auc']:.4f}; "
        f"predict {TEST_ROWS} rows: {out['predict_s']:.2f} s")
    return out


def run_redflag(data_path, args, log):
    """bench_random_forest's medians: {run_name: {"seconds": ..., counters...}}."""
    rows = "(70000|100000|1000000)" if args.full else "(70000|100000)"
    pattern = f"^(fit<(double|float)>/rows:{rows}|predict_proba<(double|float)>/rows:(100000|1000000))$"
    medians, _ = run_benchmark(args, pattern, {"REDFLAG_BENCH_RF_DATA": str(data_path)}, log)
    require_case(medians, f"predict_proba<double>/rows:{ROWS}", args.bench)
    return medians


def per_row_tree(seconds, rows):
    return compare_support.per_row_tree(seconds, rows, TREES)


def table(ours, theirs, args, ranger=None):
    """Rows of (case, redflag, scikit-learn or ranger, ratio, target, met)."""
    lines = []

    def add(case, mine, reference, ratio, target="", met=None):
        verdict = "" if met is None else ("met" if met else "**not met**")
        shown = "" if ratio is None else f"{ratio:.1f}×"
        lines.append((case, mine, reference, shown, target, verdict))

    for rows, label in ((REFERENCE_ROWS, "7·10⁴"), (100_000, "10⁵"), (ROWS, "10⁶")):
        if f"fit/rows:{rows}" not in theirs:
            continue
        reference = theirs[f"fit/rows:{rows}"]
        for scalar in ("double", "float"):
            mine = ours[f"fit<{scalar}>/rows:{rows}"]["seconds"]
            add(f"fit, {label} rows, {scalar}", format_seconds(mine), format_seconds(reference), reference / mine,
                f"≥ {TARGET:.0f}×", reference / mine >= TARGET)
        for scalar in ("double", "float"):
            mine = ours[f"fit<{scalar}>/rows:{rows}"]["auc"]
            add(f"test AUC, fitted on {label} rows, {scalar}", f"{mine:.4f}", f"{theirs[f'auc/rows:{rows}']:.4f}",
                None, f"not lower (± {AUC_NOISE})", mine >= theirs[f"auc/rows:{rows}"] - AUC_NOISE)
    scaled = "" if args.full else " (10⁵ rows × 10)"
    for rows, label in ((100_000, "10⁵"), (ROWS, "10⁶")):
        reference = theirs[f"predict_proba/rows:{rows}"]
        for scalar in ("double", "float"):
            mine = ours[f"predict_proba<{scalar}>/rows:{rows}"]["seconds"]
            add(f"predict_proba, {label} rows, {scalar}", f"{format_seconds(mine)} ({per_row_tree(mine, rows)})",
                f"{format_seconds(reference)}{scaled if rows == ROWS else ''} ({per_row_tree(reference, rows)})",
                reference / mine, f"≥ {TARGET:.0f}×", reference / mine >= TARGET)
    if ranger is not None:
        label = f"ranger {ranger['version']}"
        for scalar in ("double", "float"):
            mine = ours[f"fit<{scalar}>/rows:{REFERENCE_ROWS}"]["seconds"]
            add(f"fit, 7·10⁴ rows, {scalar}, against {label}", format_seconds(mine), format_seconds(ranger["fit_s"]),
                ranger["fit_s"] / mine, f"≥ {RANGER_TARGET:.0f}×", ranger["fit_s"] / mine >= RANGER_TARGET)
        for scalar in ("double", "float"):
            mine = ours[f"predict_proba<{scalar}>/rows:100000"]["seconds"]
            add(f"predict_proba, 10⁵ rows, {scalar}, against {label}", format_seconds(mine),
                format_seconds(ranger["predict_s"]), ranger["predict_s"] / mine)
        mine = ours[f"fit<double>/rows:{REFERENCE_ROWS}"]["auc"]
        add(f"test AUC, fitted on 7·10⁴ rows, double, against {label}", f"{mine:.4f}", f"{ranger['auc']:.4f}", None,
            f"not lower (± {AUC_NOISE})", mine >= ranger["auc"] - AUC_NOISE)
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, DEFAULT_BENCH)
    parser.add_argument("--sklearn-repetitions", type=int, default=3,
                        help="scikit-learn fit calls per case below 1e6 rows [%(default)s]")
    parser.add_argument("--ranger", action="store_true", help="also time R's ranger on the reference case")
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds of predict_proba on 10⁵ rows, redflag and scikit-learn taking turns [%(default)s]")
    parser.add_argument("--full", action="store_true",
                        help="add the 1e6-row fit (minutes for scikit-learn) and predict 1e6 rows with scikit-learn")
    args = parser.parse_args()
    log = start(args)
    X, y = make_data()
    log(f"{y.mean() * 100:.1f} % positive rows")
    if args.sklearn_only:
        time_sklearn(X, y, args, log)
        return 0

    with tempfile.TemporaryDirectory(prefix="redflag-rf-") as folder:
        data_path = Path(folder) / "Xy.f64"
        np.column_stack([X, y.astype(np.float64)]).astype("<f8").tofile(data_path)
        ours = run_redflag(data_path, args, log)
        ranger = time_ranger(data_path, y, args, log) if args.ranger else None
        theirs, reference = time_sklearn(X, y, args, log)
        interleave_predict(data_path, reference, X, ours, theirs, args, log)
    log(f"load average {load_average()}")
    return report(table(ours, theirs, args, ranger), args,
                  f"{args.clock} time, 1 thread, {TREES} trees, max_depth {MAX_DEPTH}, class_weight balanced, "
                  f"d = {COLS}, synthetic data (numpy seed {SEED}); redflag: median of {args.repetitions} repetitions; "
                  f"predict_proba: medians of {args.rounds} rounds taking turns with scikit-learn",
                  None if ranger is None else f"scikit-learn {sklearn.__version__} or the ranger named")


if __name__ == "__main__":
    sys.exit(main())
