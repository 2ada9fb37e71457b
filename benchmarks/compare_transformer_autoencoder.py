#!/usr/bin/python3
"""redflag's TransformerAutoencoder network against the same network in PyTorch, in one run.

Both sides run the same architecture and sizes: windows of 60 positions x 5
features, Linear(5 -> 64) embedding plus the sinusoidal positional encoding,
3 encoder and 3 decoder blocks (post-norm self-attention with 8 heads and a
ReLU feed-forward network of width 128, each with residual and LayerNorm),
Linear(64 -> 5) output, float32, mean squared reconstruction error:

  * redflag: bench_transformer_autoencoder (benchmarks/transformer_autoencoder_benchmark.cpp),
    cases score<float>/threads:T (one batch of 256 windows) and
    train_epoch<float>/threads:T (4,000 windows in shuffled batches of 32,
    an Adam step with gradient-norm clipping 1.0 per batch);
  * PyTorch: nn.TransformerEncoderLayer(d_model=64, nhead=8,
    dim_feedforward=128, dropout=0.0, batch_first=True, norm_first=False),
    three for the encoder and three for the decoder, between the same
    embedding, positional encoding and output; scoring in eval mode under
    torch.inference_mode() (PyTorch's fused inference path), training with
    torch.optim.Adam(lr=1e-3) and clip_grad_norm_(1.0) on the MSE;
    torch.set_num_threads(T).

For each thread count the two take turns for --rounds rounds (redflag, then
PyTorch, a few seconds apart, so both see the same load of a shared
machine), and the medians of the rounds are compared. Time is CPU time of the
process with one thread (steadier under load; both sides run on the calling
thread) and wall time with more; --clock overrides. The process and the
benchmark program are pinned to --cpus (the first T of them for T threads).

Targets: scoring >= 3x PyTorch's windows per second at batch 256; training
>= 2x (an epoch of 4,000 windows at batch 32 in half the time).

    cmake --preset bench -DREDFLAG_NATIVE=ON && cmake --build --preset bench --target bench_transformer_autoencoder
    /usr/bin/python3 benchmarks/compare_transformer_autoencoder.py [--bench PATH] [--threads 1 2] [--rounds 5]

Needs PyTorch (Debian: python3-torch); prints the BLAS library PyTorch has
loaded (Debian's torch uses the libblas.so.3 alternative, e.g. OpenBLAS).
"""
import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

# After torch, so the thread limits compare_support sets for numpy do not reach torch's BLAS.
from compare_support import report  # noqa: E402

WINDOW = 60
FEATURES = 5
D_MODEL = 64
HEADS = 8
LAYERS = 3
FFN = 128
TRAIN_WINDOWS = 4000
TRAIN_BATCH = 32
SCORE_BATCH = 256
SEED = 2024
TARGETS = {"score": 3.0, "train_epoch": 2.0}
DEFAULT_BENCH = (Path(__file__).resolve().parent.parent / "build" / "bench" / "benchmarks" /
                 "bench_transformer_autoencoder")
_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def positional_encoding():
    table = np.zeros((WINDOW, D_MODEL))
    for pos in range(WINDOW):
        for col in range(D_MODEL):
            angle = pos / 10000.0 ** ((col - col % 2) / D_MODEL)
            table[pos, col] = math.sin(angle) if col % 2 == 0 else math.cos(angle)
    return torch.tensor(table, dtype=torch.float32)


class Autoencoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = nn.Linear(FEATURES, D_MODEL)
        self.register_buffer("positions", positional_encoding())

        def block():
            return nn.TransformerEncoderLayer(d_model=D_MODEL, nhead=HEADS, dim_feedforward=FFN, dropout=0.0,
                                              batch_first=True, norm_first=False)

        self.encoder = nn.ModuleList(block() for _ in range(LAYERS))
        self.decoder = nn.ModuleList(block() for _ in range(LAYERS))
        self.output = nn.Linear(D_MODEL, FEATURES)

    def forward(self, x):
        h = self.embedding(x) + self.positions
        for layer in (*self.encoder, *self.decoder):
            h = layer(h)
        return self.output(h)


def make_windows(count):
    """Sines of random phase and speed per feature plus noise (the values do not affect the timing)."""
    rng = np.random.default_rng(SEED)
    t = np.arange(WINDOW)[None, :, None]
    phase = rng.uniform(0, 2 * np.pi, (count, 1, FEATURES))
    speed = rng.uniform(0.1, 0.5, (count, 1, FEATURES))
    x = np.sin(phase + speed * t) + 0.1 * rng.standard_normal((count, WINDOW, FEATURES))
    return torch.tensor(x, dtype=torch.float32)


def timer(clock):
    return time.process_time if clock == "cpu" else time.perf_counter


def torch_score(model, windows, clock):
    """Seconds for the per-window MSE of one batch of SCORE_BATCH windows: the median of 5 calls after a warm-up."""
    model.eval()
    batch = windows[:SCORE_BATCH]
    now = timer(clock)
    times = []
    with torch.inference_mode():
        for repeat in range(6):
            start = now()
            errors = ((model(batch) - batch) ** 2).mean(dim=(1, 2))
            float(errors.sum())
            if repeat > 0:
                times.append(now() - start)
    return float(np.median(times))


def torch_train_epoch(model, optimizer, windows, epoch, clock):
    """Seconds for one epoch over TRAIN_WINDOWS windows in shuffled batches of TRAIN_BATCH."""
    model.train()
    generator = torch.Generator().manual_seed(epoch)
    now = timer(clock)
    start = now()
    order = torch.randperm(TRAIN_WINDOWS, generator=generator)
    for begin in range(0, TRAIN_WINDOWS, TRAIN_BATCH):
        batch = windows[order[begin:begin + TRAIN_BATCH]]
        optimizer.zero_grad(set_to_none=True)
        loss = ((model(batch) - batch) ** 2).mean()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
    return now() - start


def run_redflag(bench, threads, clock, simd=None):
    """Seconds per case (score, train_epoch) from one run of the benchmark program (REDFLAG_SIMD=simd if given)."""
    command = [str(bench), f"--benchmark_filter=^(score|train_epoch)<float>/threads:{threads}/real_time$",
               "--benchmark_format=json"]
    env = dict(os.environ)
    if simd:
        env["REDFLAG_SIMD"] = simd
    result = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, env=env)
    seconds = {}
    for entry in json.loads(result.stdout)["benchmarks"]:
        case = entry["name"].split("<")[0]
        seconds[case] = entry["cpu_time" if clock == "cpu" else "real_time"] * _UNIT_SECONDS[entry["time_unit"]]
    if set(seconds) != {"score", "train_epoch"}:
        sys.exit(f"{bench} lacks the score and train_epoch cases for {threads} threads")
    return seconds


def blas_in_use():
    """The BLAS library loaded into this process (after a matrix product) and the system alternative."""
    torch.ones(64, 64) @ torch.ones(64, 64)
    with open("/proc/self/maps") as maps:
        loaded = sorted({line.split()[-1] for line in maps if "blas" in line.lower() and "/" in line})
    try:
        display = subprocess.run(["update-alternatives", "--display", "libblas.so.3-x86_64-linux-gnu"],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
        current = next((line.split("points to")[-1].strip() for line in display.splitlines()
                        if "currently points to" in line), "unknown")
    except FileNotFoundError:
        current = "unknown (no update-alternatives)"
    return loaded, current


def load_average():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def label_case(label, case):
    return "scoring, batch 256" if case == "score" else "training epoch, batch 32"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bench", type=Path, default=DEFAULT_BENCH,
                        help="bench_transformer_autoencoder of a Release (bench preset) build [%(default)s]")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="thread counts [%(default)s]")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per thread count [%(default)s]")
    parser.add_argument("--cpus", type=int, nargs="+", default=sorted(os.sched_getaffinity(0)),
                        help="CPUs to pin to; T threads use the first T [all CPUs of this process]")
    parser.add_argument("--clock", choices=("auto", "cpu", "real"), default="auto",
                        help="auto: CPU time with 1 thread, wall time with more [%(default)s]")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is not met")
    parser.add_argument("--variant", action="append", default=[], metavar="LABEL=PATH[@SIMD]",
                        help="also run another benchmark program (e.g. an older build, or -march=native) in every "
                             "round, with REDFLAG_SIMD=SIMD when given (scalar, avx2, avx512); reported as extra rows")
    args = parser.parse_args()
    variants = []
    for text in args.variant:
        label, _, rest = text.partition("=")
        path, _, simd = rest.partition("@")
        if not label or not Path(path).is_file():
            sys.exit(f"--variant {text}: expected LABEL=PATH[@SIMD] with an existing PATH")
        variants.append((label, Path(path), simd or None))
    if not args.bench.is_file():
        sys.exit(f"{args.bench} not found; build it with\n  cmake --preset bench -DREDFLAG_NATIVE=ON && "
                 "cmake --build --preset bench --target bench_transformer_autoencoder\nor pass --bench PATH")

    def log(message):
        print(message, file=sys.stderr, flush=True)

    loaded, alternative = blas_in_use()
    if max(args.threads) > 1 and os.getloadavg()[0] > 1:
        # PyTorch's OpenMP threads spin at every barrier; with another process
        # on one of the CPUs, a multi-threaded epoch can take many times longer.
        log(f"warning: load average {load_average()}; multi-threaded times need otherwise idle CPUs")
    log(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load average {load_average()}; "
        f"PyTorch {torch.__version__}; BLAS loaded by PyTorch: {', '.join(loaded) or 'none found'}; "
        f"libblas.so.3 alternative: {alternative}")
    torch.manual_seed(SEED)
    windows = make_windows(TRAIN_WINDOWS)
    rows = []
    for threads in args.threads:
        if threads > len(args.cpus):
            sys.exit(f"{threads} threads need {threads} CPUs in --cpus, got {args.cpus}")
        cpus = set(args.cpus[:threads])
        os.sched_setaffinity(0, cpus)  # the benchmark program inherits it
        clock = args.clock if args.clock != "auto" else ("cpu" if threads == 1 else "real")
        torch.set_num_threads(threads)
        model = Autoencoder()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        ours = {"score": [], "train_epoch": []}
        theirs = {"score": [], "train_epoch": []}
        others = {label: {"score": [], "train_epoch": []} for label, _, _ in variants}
        for round_ in range(args.rounds):
            for case, seconds in run_redflag(args.bench, threads, clock).items():
                ours[case].append(seconds)
            for label, path, simd in variants:
                for case, seconds in run_redflag(path, threads, clock, simd).items():
                    others[label][case].append(seconds)
                log(f"  {label}: score {others[label]['score'][-1] * 1e3:.1f} ms, "
                    f"epoch {others[label]['train_epoch'][-1]:.2f} s")
            theirs["score"].append(torch_score(model, windows, clock))
            theirs["train_epoch"].append(torch_train_epoch(model, optimizer, windows, round_, clock))
            log(f"{threads} thread(s), CPUs {sorted(cpus)}, round {round_ + 1}: "
                f"score redflag {ours['score'][-1] * 1e3:.1f} ms, PyTorch {theirs['score'][-1] * 1e3:.1f} ms; "
                f"epoch redflag {ours['train_epoch'][-1]:.2f} s, PyTorch {theirs['train_epoch'][-1]:.2f} s; "
                f"load average {load_average()}")
        for case, windows_per_call, label in (("score", SCORE_BATCH, "scoring, batch 256"),
                                              ("train_epoch", TRAIN_WINDOWS, "training epoch, batch 32")):
            mine = windows_per_call / float(np.median(ours[case]))
            reference = windows_per_call / float(np.median(theirs[case]))
            ratio = mine / reference
            rows.append((f"{label}, {threads} thread{'s' if threads > 1 else ''} ({clock} time)",
                         f"{mine:,.0f} windows/s", f"{reference:,.0f} windows/s", f"{ratio:.2f}×",
                         f"≥ {TARGETS[case]:.0f}×", "met" if ratio >= TARGETS[case] else "**not met**"))
            log("| " + " | ".join(rows[-1]) + " |")  # kept even if a later thread count is interrupted
            for label, _, _ in variants:
                theirs_ratio = windows_per_call / float(np.median(others[label][case])) / reference
                rows.append((f"{label}: {label_case(label, case)}, {threads} thread{'s' if threads > 1 else ''} "
                             f"({clock} time)",
                             f"{windows_per_call / float(np.median(others[label][case])):,.0f} windows/s",
                             f"{reference:,.0f} windows/s", f"{theirs_ratio:.2f}×", "", ""))
                log("| " + " | ".join(rows[-1]) + " |")
    log(f"load average {load_average()}")

    title = (f"float32, window {WINDOW} x {FEATURES} features, d_model {D_MODEL}, {HEADS} heads, {LAYERS} + {LAYERS} "
             f"post-norm blocks, ffn {FFN}; medians of {args.rounds} rounds taking turns; PyTorch {torch.__version__} "
             f"with {', '.join(Path(path).parent.name + '/' + Path(path).name for path in loaded) or 'its own BLAS'}")
    return report(rows, args, title, reference=f"PyTorch {torch.__version__}")

if __name__ == "__main__":
    sys.exit(main())
