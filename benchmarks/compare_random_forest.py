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

Fit cases: 7e4 rows (the issue's reference case), 1e5 and, with --full, 1e6
(scikit-learn takes several minutes there). predict_proba: 1e5 and 1e6 rows
with the model fitted on the first 7e4 rows; without --full scikit-learn's
1e6-row time is its 1e5-row time x 10 (the same time per row and tree).
AUC: test ROC AUC on the last 1e5 rows of the models fitted on 7e4 and 1e5
rows. Prints a Markdown table of medians, ratios (scikit-learn / redflag)
and the targets (fit and predict_proba >= 10x, AUC not lower, within 0.0005).

    /usr/bin/python3 benchmarks/compare_random_forest.py [--bench build/bench/benchmarks/bench_random_forest]
    /usr/bin/python3 benchmarks/compare_random_forest.py --sklearn-only

Times are CPU time by default (both sides run one thread; CPU time is
steadier than wall time on a shared machine): bench_random_forest's cpu_time
and Python's time.process_time(). --clock real uses wall time for both.
"""
import argparse
import os

# One thread for numpy's BLAS as well: the comparison is one thread against one thread.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

ROWS = 1_000_000
TEST_ROWS = 100_000
COLS = 20
SEED = 2024
TREES = 100
MAX_DEPTH = 10
REFERENCE_ROWS = 70_000  # the model the predict_proba cases use
TARGET = 10.0
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


def clock(kind):
    return time.process_time if kind == "cpu" else time.perf_counter


def median_seconds(call, repeats, timer):
    times = []
    for _ in range(repeats):
        start = timer()
        call()
        times.append(timer() - start)
    return float(np.median(times))


def sklearn_model():
    return RandomForestClassifier(n_estimators=TREES, max_depth=MAX_DEPTH, class_weight="balanced", n_jobs=1,
                                  random_state=1)


def time_sklearn(X, y, args, log):
    """scikit-learn's medians in seconds and test AUCs, keyed like the redflag cases."""
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
    return out


def run_redflag(bench, data_path, args, log):
    """bench_random_forest's medians: {run_name: {"seconds": ..., counters...}}."""
    rows = "(70000|100000|1000000)" if args.full else "(70000|100000)"
    pattern = f"^(fit<(double|float)>/rows:{rows}|predict_proba<(double|float)>/rows:(100000|1000000))$"
    command = [str(bench), f"--benchmark_filter={pattern}", "--benchmark_format=json",
               f"--benchmark_repetitions={args.repetitions}", "--benchmark_report_aggregates_only=true"]
    log("running " + " ".join(command[:1] + command[2:]))
    env = dict(os.environ, REDFLAG_BENCH_RF_DATA=str(data_path))
    result = subprocess.run(command, env=env, check=True, stdout=subprocess.PIPE, text=True)
    report = json.loads(result.stdout)
    scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    medians = {}
    for entry in report["benchmarks"]:
        if entry.get("aggregate_name") != "median":
            continue
        seconds = entry["cpu_time" if args.clock == "cpu" else "real_time"] * scale[entry["time_unit"]]
        medians[entry["run_name"]] = dict(entry, seconds=seconds)
    if f"predict_proba<double>/rows:{ROWS}" not in medians:
        sys.exit(f"{bench} has no 1e6-row cases: it was built without NDEBUG or with sanitizers; "
                 "build it with the bench preset (cmake --preset bench)")
    return medians


def format_seconds(seconds):
    for unit, factor in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= factor:
            return f"{seconds / factor:,.3g} {unit}"
    return f"{seconds / 1e-9:,.3g} ns"


def per_row_tree(seconds, rows):
    return f"{seconds / (rows * TREES) * 1e9:.3g} ns/row·tree"


def table(ours, theirs, args):
    """Rows of (case, redflag, scikit-learn, ratio, target, met)."""
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
    return lines


def print_markdown(rows):
    header = ("case", "redflag (median)", f"scikit-learn {sklearn.__version__} (median)", "ratio", "target", "met")
    print("| " + " | ".join(header) + " |")
    print("|---|--:|--:|--:|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", type=Path, default=DEFAULT_BENCH,
                        help="the bench_random_forest program of a Release (bench preset) build [%(default)s]")
    parser.add_argument("--repetitions", type=int, default=5, help="bench_random_forest repetitions [%(default)s]")
    parser.add_argument("--sklearn-repetitions", type=int, default=3,
                        help="scikit-learn fit calls per case below 1e6 rows [%(default)s]")
    parser.add_argument("--full", action="store_true",
                        help="add the 1e6-row fit (minutes for scikit-learn) and predict 1e6 rows with scikit-learn")
    parser.add_argument("--clock", choices=("cpu", "real"), default="cpu",
                        help="CPU time of the process or wall time, for both programs [%(default)s]")
    parser.add_argument("--cpu", type=int, help="pin both programs to this CPU")
    parser.add_argument("--sklearn-only", action="store_true", help="time scikit-learn only")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is not met")
    args = parser.parse_args()

    def log(message):
        # Progress goes to stderr so stdout is just the table, unless scikit-learn's figures are the output.
        print(message, file=sys.stdout if args.sklearn_only else sys.stderr, flush=True)

    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    if not args.sklearn_only and not args.bench.is_file():
        sys.exit(f"{args.bench} not found; build it with\n"
                 "  cmake --preset bench && cmake --build --preset bench --target bench_random_forest\n"
                 "or pass --bench PATH")
    log(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; scikit-learn {sklearn.__version__}, "
        f"numpy {np.__version__}; {args.clock} time")
    X, y = make_data()
    log(f"{y.mean() * 100:.1f} % positive rows")
    if args.sklearn_only:
        time_sklearn(X, y, args, log)
        return 0

    with tempfile.TemporaryDirectory(prefix="redflag-rf-") as folder:
        data_path = Path(folder) / "Xy.f64"
        np.column_stack([X, y.astype(np.float64)]).astype("<f8").tofile(data_path)
        ours = run_redflag(args.bench, data_path, args, log)
    theirs = time_sklearn(X, y, args, log)
    log(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    rows = table(ours, theirs, args)
    print(f"\n{args.clock} time, 1 thread, {TREES} trees, max_depth {MAX_DEPTH}, class_weight balanced, d = {COLS}, "
          f"synthetic data (numpy seed {SEED}); redflag: median of {args.repetitions} repetitions")
    print_markdown(rows)
    missed = [row[0] for row in rows if row[5] == "**not met**"]
    if missed:
        print("\nnot met: " + "; ".join(missed))
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
