#!/usr/bin/env bash
# Sets up a Debian 12 machine for redflag and runs one of:
#   demo   build and run the demo: card-transaction monitoring (default)
#   test   build everything and run the whole test suite with ctest
#   bench  build the benchmarks with -O3 and run them
# Installs missing Debian packages first (idempotent, non-interactive).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

task="${1:-demo}"
jobs="${REDFLAG_JOBS:-$(nproc 2>/dev/null || echo 2)}"

packages=(g++ cmake make pkg-config git
          libeigen3-dev libxsimd-dev xtl-dev doctest-dev libcereal-dev libbenchmark-dev
          # The example pipelines' HTTP/WebSocket and JSON (never the library's headers).
          libboost-dev nlohmann-json3-dev)
# scikit-learn provides the reference values the parity tests compare against;
# headless Chromium renders the market example's HTML report in its test.
[ "$task" = test ] && packages+=(python3 python3-numpy python3-sklearn chromium python3-requests python3-urllib3 python3-colorama python3-yaml python3-patch-ng python3-fasteners python3-distro python3-jinja2 python3-dateutil)

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

case "$task" in
  demo)
    cmake --preset release >/dev/null
    cmake --build --preset release --target redflag_transactions -j "$jobs"
    ./build/release/examples/transactions/redflag_transactions
    ;;
  test)
    cmake --preset ci
    cmake --build --preset ci -j "$jobs"
    ctest --preset ci --output-on-failure -j "$jobs"
    # The concurrency tests again, under ThreadSanitizer.
    cmake --preset tsan >/dev/null
    cmake --build --preset tsan -j "$jobs"
    ctest --preset tsan -j "$jobs"
    ;;
  bench)
    cmake --preset bench
    cmake --build --preset bench -j "$jobs"
    for program in build/bench/benchmarks/bench_*; do
      "$program" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
    done
    ;;
  *)
    echo "usage: $0 [demo|test|bench]" >&2
    exit 2
    ;;
esac
