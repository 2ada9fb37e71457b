#!/usr/bin/python3
"""redflag's IsolationForest against scikit-learn's, in one run on the same data.

Draws a 1e6 x 10 standard normal matrix with numpy (seed 2024), hands it to
bench_forest through REDFLAG_BENCH_FOREST_DATA and to scikit-learn as is, and
times both with one thread, 100 trees and max_samples 256:

  * redflag: bench_forest --benchmark_format=json --benchmark_repetitions=5
    --benchmark_report_aggregates_only=true, the median of the repetitions;
  * scikit-learn: IsolationForest(n_estimators=100, max_samples=256, n_jobs=1,
    random_state=1) fit and score_samples on the same rows, the median of
    several calls.

Scoring 1e6 rows takes scikit-learn about 30 s, so by default it scores the
first 1e5 rows and its 1e6-row time is that x 10 (the same time per row and
tree); --full times it on all 1e6 rows, and adds the max_samples 4096 and
65536 fits. Prints a Markdown table of medians, ratios (scikit-learn /
redflag) and the targets of docs/benchmarks.md.

    /usr/bin/python3 benchmarks/compare_iforest.py [--bench build/bench/benchmarks/bench_forest]
    /usr/bin/python3 benchmarks/compare_iforest.py --sklearn-only   # no redflag binary needed

Times are CPU time by default (both sides run one thread; CPU time is steadier
than wall time on a shared machine): bench_forest's cpu_time and Python's
time.process_time(). --clock real uses wall time for both.
"""
import argparse

import compare_support  # first: it limits numpy's BLAS to one thread before numpy loads
import pickle
import sys
import tempfile
from pathlib import Path

import numpy as np
from sklearn.ensemble import IsolationForest

from compare_support import (add_common_arguments, clock, format_seconds, load_average, median_seconds,
                             report, require_case, run_benchmark, start)

ROWS = 1_000_000
COLS = 10
SEED = 2024
TREES = 100
LATENCY_ROWS = 100_000  # the model bench_forest's batch and score_one cases use
KIB = 1024
SIZE_LIMIT = 512 * KIB
# Node counts vary by chance between forests (about 3.5 % standard deviation),
# so "independent of n" allows the tolerance of tests/forest/isolation_forest_size_test.cpp.
SIZE_SPREAD = 0.20
DEFAULT_BENCH = Path(__file__).resolve().parent.parent / "build" / "bench" / "benchmarks" / "bench_forest"


def make_data():
    return np.random.default_rng(SEED).standard_normal((ROWS, COLS))


def sklearn_model(max_samples=256):
    return IsolationForest(n_estimators=TREES, max_samples=max_samples, n_jobs=1, random_state=1)


def time_sklearn(X, args, log):
    """scikit-learn's medians in seconds (model sizes in bytes), keyed like the redflag cases."""
    timer = clock(args.clock)
    out = {}
    fits = [(10_000, 256), (100_000, 256), (ROWS, 256)]
    if args.full:
        fits += [(ROWS, 4096), (ROWS, 65536)]
    for rows, max_samples in fits:
        repeats = args.sklearn_repetitions if max_samples == 256 else 3
        seconds = median_seconds(lambda: sklearn_model(max_samples).fit(X[:rows]), repeats, timer)
        out[f"fit<double>/rows:{rows}/max_samples:{max_samples}"] = seconds
        log(f"scikit-learn fit, {rows} rows, max_samples {max_samples}: {seconds * 1e3:.1f} ms")
    model = sklearn_model().fit(X)
    out["pickle_bytes"] = len(pickle.dumps(model))

    score_rows = ROWS if args.full else 100_000
    for rows in sorted({100_000, score_rows}):
        model = sklearn_model().fit(X[:rows])
        repeats = 3
        seconds = median_seconds(lambda: model.score_samples(X[:rows]), repeats, timer)
        out[f"anomaly_score/rows:{rows}"] = seconds
        log(f"scikit-learn score_samples, {rows} rows: {seconds:.2f} s "
            f"({seconds / (rows * TREES) * 1e9:.0f} ns per row and tree)")
    if score_rows != ROWS:
        out[f"anomaly_score/rows:{ROWS}"] = out[f"anomaly_score/rows:{score_rows}"] * ROWS / score_rows

    # Latency: successive batches of the first LATENCY_ROWS rows, as bench_forest does.
    model = sklearn_model().fit(X[:LATENCY_ROWS])
    for batch, calls in ((1, 100), (64, 50), (2048, 20)):
        batches = (X[start:start + batch] for start in range(0, LATENCY_ROWS - batch + 1, batch))
        seconds = median_seconds(lambda: model.score_samples(next(batches)), calls, timer)
        out["score_one" if batch == 1 else f"anomaly_score_batch/rows:{batch}"] = seconds
        log(f"scikit-learn score_samples, {batch} row(s) per call: {seconds * 1e3:.2f} ms")
    return out


def run_redflag(data_path, args, log):
    """bench_forest's medians: {run_name: {"seconds": ..., counters...}}."""
    max_samples = "(256|4096|65536)" if args.full else "256"
    pattern = (f"^(fit<(double|float)>/rows:[0-9]+/max_samples:{max_samples}"
               "|anomaly_score<(double|float)>/rows:(100000|1000000)"
               "|anomaly_score_batch<(double|float)>/rows:(64|2048)"
               "|score_one<(double|float)>)$")
    medians, _ = run_benchmark(args, pattern, {"REDFLAG_BENCH_FOREST_DATA": str(data_path)}, log)
    require_case(medians, f"fit<double>/rows:{ROWS}/max_samples:256", args.bench)
    return medians


def format_bytes(count):
    return f"{count / KIB:,.0f} KiB"


def per_row_tree(seconds, rows):
    return compare_support.per_row_tree(seconds, rows, TREES)


def table(ours, theirs, args):
    """Rows of (case, redflag, scikit-learn, ratio, target, met)."""
    lines = []

    def add(case, mine, reference, ratio, target="", met=None):
        verdict = "" if met is None else ("met" if met else "**not met**")
        shown = "" if not ratio else f"{ratio:,.0f}×" if ratio >= 100 else f"{ratio:.1f}×"
        lines.append((case, mine, reference, shown, target, verdict))

    scaled = "" if args.full else " (10⁵ rows × 10)"
    for rows, label in ((10_000, "10⁴"), (100_000, "10⁵"), (ROWS, "10⁶")):
        for scalar in ("double", "float"):
            name = f"fit<{scalar}>/rows:{rows}/max_samples:256"
            if name not in ours:
                continue
            mine = ours[name]["seconds"]
            reference = theirs[f"fit<double>/rows:{rows}/max_samples:256"]
            ratio = reference / mine
            target = (ratio >= 100) if rows == ROWS else None
            add(f"fit, {label} rows, ψ 256, {scalar}", format_seconds(mine), format_seconds(reference), ratio,
                "≥ 100×" if rows == ROWS else "", target)
    for max_samples in (4096, 65536):
        name = f"fit<double>/rows:{ROWS}/max_samples:{max_samples}"
        if name in ours and name in theirs:
            mine, reference = ours[name]["seconds"], theirs[name]
            add(f"fit, 10⁶ rows, ψ {max_samples}, double", format_seconds(mine), format_seconds(reference),
                reference / mine)
    for rows, label in ((100_000, "10⁵"), (ROWS, "10⁶")):
        reference = theirs[f"anomaly_score/rows:{rows}"]
        for scalar in ("double", "float"):
            mine = ours[f"anomaly_score<{scalar}>/rows:{rows}"]["seconds"]
            add(f"anomaly_score, {label} rows, {scalar}",
                f"{format_seconds(mine)} ({per_row_tree(mine, rows)})",
                f"{format_seconds(reference)}{scaled if rows == ROWS else ''} ({per_row_tree(reference, rows)})",
                reference / mine, "≥ 100×" if rows == ROWS else "", (reference / mine >= 100) if rows == ROWS else None)
    for batch in (64, 2048):
        reference = theirs[f"anomaly_score_batch/rows:{batch}"]
        for scalar in ("double", "float"):
            mine = ours[f"anomaly_score_batch<{scalar}>/rows:{batch}"]["seconds"]
            add(f"anomaly_score, batch of {batch} rows, {scalar}",
                f"{format_seconds(mine)} ({per_row_tree(mine, batch)})", format_seconds(reference),
                reference / mine)
    reference = theirs["score_one"]
    for scalar in ("double", "float"):
        mine = ours[f"score_one<{scalar}>"]["seconds"]
        add(f"score_one, {scalar}", format_seconds(mine), f"{format_seconds(reference)} (`score_samples`, 1 row)",
            reference / mine, "< 2 µs", mine < 2e-6)
    for scalar in ("double", "float"):
        sizes = {rows: ours[f"fit<{scalar}>/rows:{rows}/max_samples:256"]
                 for rows in (10_000, 100_000, ROWS) if f"fit<{scalar}>/rows:{rows}/max_samples:256" in ours}
        big = sizes[ROWS]
        for key, what, reference in (("model_bytes", "in memory", None), ("file_bytes", "on disk", "pickle_bytes")):
            spread = max(abs(entry[key] / sizes[10_000][key] - 1) for entry in sizes.values())
            add(f"model size {what}, 100 trees, ψ 256, {scalar}",
                f"{format_bytes(big[key])} (10⁴–10⁶ rows: within {spread * 100:.0f} %)",
                f"{format_bytes(theirs[reference])} (pickle)" if reference else "",
                theirs[reference] / big[key] if reference else None,
                "< 512 KiB, independent of n", big[key] < SIZE_LIMIT and spread <= SIZE_SPREAD)
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_common_arguments(parser, DEFAULT_BENCH)
    parser.add_argument("--sklearn-repetitions", type=int, default=5,
                        help="scikit-learn fit calls per case (scoring 1e5+ rows: 3) [%(default)s]")
    parser.add_argument("--full", action="store_true",
                        help="score 1e6 rows with scikit-learn (about 30 s a call) and add the ψ 4096, 65536 fits")
    args = parser.parse_args()
    log = start(args)
    X = make_data()
    if args.sklearn_only:
        time_sklearn(X, args, log)
        return 0

    with tempfile.TemporaryDirectory(prefix="redflag-iforest-") as folder:
        data_path = Path(folder) / "X.f64"
        X.astype("<f8").tofile(data_path)
        ours = run_redflag(data_path, args, log)
    theirs = time_sklearn(X, args, log)
    log(f"load average {load_average()}")
    return report(table(ours, theirs, args), args,
                  f"{args.clock} time, 1 thread, 100 trees, d = {COLS}, standard normal data (numpy seed {SEED}); "
                  f"redflag: median of {args.repetitions} repetitions")


if __name__ == "__main__":
    sys.exit(main())
