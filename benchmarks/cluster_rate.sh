#!/usr/bin/env bash
# Throughput of the card-transaction example's cluster modes against
# JetStream's own rate, on this machine (docs/scale-out.md, "Throughput"):
#
#   benchmarks/cluster_rate.sh EXE REPLICAS "WORKER COUNTS" [TRANSACTIONS] [DAYS]
#   e.g. benchmarks/cluster_rate.sh build/release/examples/transactions/redflag_transactions 3 "1 2 4" 100000 5
#
# For each worker count, on fresh servers (REPLICAS of them, on free
# 127.0.0.1 ports, temporary store directories): generates TRANSACTIONS
# transactions (default 100,000; 4,000 users over DAYS days, default 5: the
# model is retrained once a day, and every retraining holds the whole
# pipeline at its swap point for as long as the training takes, as in the
# single process), publishes them, then
#   - broker-rate: reads every partition as a worker does (batches of 256)
#     and publishes one verdict-sized message per input and one
#     observation-sized message per batch, with message ids, doing nothing
#     else: the rate JetStream itself allows with these settings;
#   - the trainer and N workers on the same input: the rate at which
#     verdicts are stored, first to last (VERDICT stream timestamps), and
#     the verdicts compared with the single process's.
# Prints one line per measurement. Every process is stopped by its PID.
set -u
EXE="${1:?redflag_transactions}"
REPLICAS="${2:?replicas (1 or 3)}"
COUNTS="${3:?worker counts, e.g. \"1 2 4\"}"
TRANSACTIONS="${4:-100000}"
DAYS="${5:-5}"
WORK="$(mktemp -d /tmp/redflag-cluster-rate.XXXXXX)"

NATS_SERVER="$(command -v nats-server)"
# pids, stop_all, free ports, server configurations.
# shellcheck source=../examples/transactions/cluster_processes.sh
source "$(dirname "${BASH_SOURCE[0]}")/../examples/transactions/cluster_processes.sh"
trap 'stop_all; rm -rf "$WORK"' EXIT INT TERM
nodes=$REPLICAS
cluster_name=rate

start_cluster() {  # fresh servers, stores in $WORK/<run>; sets $servers
  local run=$1 i
  assign_ports || { echo "no free port" >&2; exit 1; }
  for i in $(seq 1 "$nodes"); do
    write_config "$i" "$WORK/$run"
    start_server "$i"
  done
  servers=$(server_urls)
  for i in $(seq 1 "$nodes"); do wait_healthy "$i"; done
  for _ in $(seq 1 30); do
    timeout 20 "$EXE" setup --servers "$servers" --replicas "$REPLICAS" > /dev/null 2>&1 && return 0
    sleep 1
  done
  echo "setup failed" >&2
  exit 1
}

"$EXE" generate --users 4000 --transactions "$TRANSACTIONS" --days "$DAYS" --out "$WORK/input.jsonl"
# The single process on the same input, for reference: its verdicts are
# what every run's must equal.
echo "single process: $("$EXE" run "$WORK/input.jsonl" --out "$WORK/reference.jsonl" | grep Throughput)"

start_cluster broker
timeout 600 "$EXE" publish "$WORK/input.jsonl" --servers "$servers" --replicas "$REPLICAS" > /dev/null
echo "R$REPLICAS $(timeout 600 "$EXE" broker-rate --servers "$servers" --replicas "$REPLICAS" --batch 256)"
stop_all

for n in $COUNTS; do
  start_cluster "w$n"
  timeout 600 "$EXE" publish "$WORK/input.jsonl" --servers "$servers" --replicas "$REPLICAS" > /dev/null
  "$EXE" trainer --servers "$servers" --status-seconds 0 --exit-when-idle 5 2> "$WORK/w$n-trainer.err" &
  pids[trainer]=$!
  for i in $(seq 1 "$n"); do
    "$EXE" worker --servers "$servers" --id "w$i" --status-seconds 0 --exit-when-idle 5 2> "$WORK/w$n-w$i.err" &
    pids[w$i]=$!
  done
  line=$(timeout 900 "$EXE" collect --servers "$servers" --expect "$TRANSACTIONS" --timeout 800 \
    --compare "$WORK/reference.jsonl" 2>&1 | tr '\n' ' ')
  echo "R$REPLICAS $n worker(s): $line"
  stop_all
done
