#!/usr/bin/env bash
# Sets up a Debian 12 machine for redflag and runs one of:
#   demo   build and run the demo: card-transaction monitoring (default)
#   test   build everything and run the whole test suite with ctest
#   bench  build the benchmarks with -O3 and run them
#   fuzz [SECONDS]  build the libFuzzer targets (clang) and run each for SECONDS (default 600)
# Installs missing Debian packages first (idempotent, non-interactive).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

task="${1:-demo}"
jobs="${REDFLAG_JOBS:-$(nproc 2>/dev/null || echo 2)}"

packages=(g++ cmake make pkg-config git
          libeigen3-dev doctest-dev libcereal-dev libbenchmark-dev
          # The examples' command lines (CLI11), the pipelines' HTTP/WebSocket and JSON
          # (never the library's headers).
          libcli11-dev libboost-dev nlohmann-json3-dev libsimdjson-dev)
# scikit-learn provides the reference values the parity tests compare against;
# headless Chromium renders the market example's HTML report in its test;
# clang-format checks the code's format (tests/format); NATS (the server and
# its C client, with curl for the servers' health checks) runs the
# card-transaction example's cluster tests;
# Conan's Python modules run the Conan recipe's test; clang, with its runtime
# libraries, builds the fuzz targets and the benchmarks.
[ "$task" = test ] && packages+=(python3 python3-numpy python3-sklearn chromium clang-format python3-requests
                                 python3-urllib3 python3-colorama python3-yaml python3-patch-ng python3-fasteners
                                 python3-distro python3-jinja2 python3-dateutil nats-server libnats-dev curl)
[ "$task" = test ] || [ "$task" = fuzz ] && packages+=(clang libclang-rt-14-dev)
# The aarch64 step cross-compiles the unit tests and runs them under qemu.
[ "$task" = test ] && packages+=(g++-aarch64-linux-gnu qemu-user)

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "redflag: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# One configuration: configure, build, run its tests; each phase's wall time
# is printed, so every CI log shows where the budget (docs/contributing.md) goes.
run_preset() {
  local preset="$1"
  shift
  local start=$SECONDS
  cmake --preset "$preset" "$@" >/dev/null
  cmake --build --preset "$preset" -j "$jobs"
  local built=$SECONDS
  ctest --preset "$preset" -j "$jobs"
  echo "redflag: $preset: build $((built - start)) s, tests $((SECONDS - built)) s"
}

case "$task" in
  demo)
    cmake --preset release >/dev/null
    cmake --build --preset release --target redflag_transactions -j "$jobs"
    ./build/release/examples/transactions/redflag_transactions
    ;;
  test)
    run_preset ci          # everything under AddressSanitizer; forest and nn once more per SIMD path
    run_preset tsan        # the concurrency tests again, under ThreadSanitizer
    run_preset aarch64     # the unit tests of eight areas cross-compiled for aarch64, run under qemu
    run_preset clang       # clang as C++23, unoptimised: every fuzz target for 6 s from its corpus; the benchmarks
    echo "redflag: test command: $SECONDS s"
    ;;
  fuzz)
    run_preset fuzz -DREDFLAG_FUZZ_SECONDS="${2:-600}"
    ;;
  bench)
    cmake --preset bench
    cmake --build --preset bench -j "$jobs"
    for program in build/bench/benchmarks/bench_*; do
      "$program" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
    done
    ;;
  *)
    echo "usage: $0 [demo|test|bench|fuzz [SECONDS]]" >&2
    exit 2
    ;;
esac
