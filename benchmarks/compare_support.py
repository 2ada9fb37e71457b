"""What compare_iforest.py and compare_random_forest.py share: timing, running
a Google Benchmark program for its medians, the command line and the table."""

import json
import os

# One thread for numpy's BLAS as well: the comparison is one thread against one thread.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402

# Google Benchmark's time units in seconds.
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def clock(kind):
    return time.process_time if kind == "cpu" else time.perf_counter


def median_seconds(call, repeats, timer):
    times = []
    for _ in range(repeats):
        start = timer()
        call()
        times.append(timer() - start)
    return float(np.median(times))


def add_common_arguments(parser, default_bench):
    """--bench, --repetitions, --clock, --cpu, --sklearn-only and --check."""
    name = default_bench.name
    parser.add_argument("--bench", type=Path, default=default_bench,
                        help=f"the {name} program of a Release (bench preset) build [%(default)s]")
    parser.add_argument("--repetitions", type=int, default=5, help=f"{name} repetitions [%(default)s]")
    parser.add_argument("--clock", choices=("cpu", "real"), default="cpu",
                        help="CPU time of the process or wall time, for both programs [%(default)s]")
    parser.add_argument("--cpu", type=int, help="pin both programs to this CPU")
    parser.add_argument("--sklearn-only", action="store_true", help="time scikit-learn only")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is not met")


def start(args):
    """Pins the CPU, checks the benchmark program exists, prints the machine; returns the progress logger."""
    def log(message):
        # Progress goes to stderr so stdout is just the table, unless scikit-learn's figures are the output.
        print(message, file=sys.stdout if args.sklearn_only else sys.stderr, flush=True)

    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    if not args.sklearn_only and not args.bench.is_file():
        sys.exit(f"{args.bench} not found; build it with\n"
                 f"  cmake --preset bench && cmake --build --preset bench --target {args.bench.name}\n"
                 "or pass --bench PATH")
    log(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average "
        f"{load_average()}; scikit-learn {sklearn.__version__}, numpy {np.__version__}; {args.clock} time")
    return log


def load_average():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_benchmark(args, pattern, environment, log):
    """Runs args.bench on the cases matching `pattern` with `environment` added;
    returns ({run_name: {"seconds": median, counters...}}, the report's context)."""
    command = [str(args.bench), f"--benchmark_filter={pattern}", "--benchmark_format=json",
               f"--benchmark_repetitions={args.repetitions}", "--benchmark_report_aggregates_only=true"]
    log("running " + " ".join(command[:1] + command[2:]))
    result = subprocess.run(command, env=dict(os.environ, **environment), check=True, stdout=subprocess.PIPE,
                            text=True)
    report = json.loads(result.stdout)
    medians = {}
    for entry in report["benchmarks"]:
        if entry.get("aggregate_name") != "median":
            continue
        seconds = entry["cpu_time" if args.clock == "cpu" else "real_time"] * _UNIT_SECONDS[entry["time_unit"]]
        medians[entry["run_name"]] = dict(entry, seconds=seconds)
    return medians, report.get("context", {})


def require_case(medians, case, bench):
    if case not in medians:
        sys.exit(f"{bench} has no 1e6-row cases: it was built without NDEBUG or with sanitizers; "
                 "build it with the bench preset (cmake --preset bench)")


def format_seconds(seconds):
    for unit, factor in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= factor:
            return f"{seconds / factor:,.3g} {unit}"
    return f"{seconds / 1e-9:,.3g} ns"


def per_row_tree(seconds, rows, trees):
    return f"{seconds / (rows * trees) * 1e9:.3g} ns/row·tree"


def report(rows, args, title, reference=None):
    """Prints the title and the Markdown table of (case, redflag, reference,
    ratio, target, met) rows; returns the exit code. The reference column is
    scikit-learn's unless `reference` names it otherwise."""
    print(f"\n{title}")
    reference = reference or f"scikit-learn {sklearn.__version__}"
    header = ("case", "redflag (median)", f"{reference} (median)", "ratio", "target", "met")
    print("| " + " | ".join(header) + " |")
    print("|---|--:|--:|--:|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    missed = [row[0] for row in rows if row[5] == "**not met**"]
    if missed:
        print("\nnot met: " + "; ".join(missed))
    return 1 if args.check and missed else 0
