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

declare -A pids=()
# The workers and the trainer first (SIGTERM: a worker releases its
# partitions, which needs the servers), then the servers; SIGKILL what is
# still running after 10 s.
stop_group() {
  local name alive
  for name in "$@"; do kill -TERM "${pids[$name]}" 2> /dev/null; done
  for _ in $(seq 1 50); do
    alive=0
    for name in "$@"; do kill -0 "${pids[$name]}" 2> /dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for name in "$@"; do
    kill -KILL "${pids[$name]}" 2> /dev/null
    wait "${pids[$name]}" 2> /dev/null
    unset "pids[$name]"
  done
}
stop_all() {
  local name clients=() servers=()
  for name in "${!pids[@]}"; do
    case "$name" in n[0-9]) servers+=("$name") ;; *) clients+=("$name") ;; esac
  done
  [ ${#clients[@]} -gt 0 ] && stop_group "${clients[@]}"
  [ ${#servers[@]} -gt 0 ] && stop_group "${servers[@]}"
}
trap 'stop_all; rm -rf "$WORK"' EXIT INT TERM

used=" "
free_port() {
  local port
  for _ in $(seq 1 500); do
    port=$((20000 + RANDOM % 40000))
    case "$used" in *" $port "*) continue ;; esac
    if ! (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
      used="$used$port "
      echo "$port"
      return 0
    fi
  done
  return 1
}

start_cluster() {  # fresh servers; sets $servers
  local run=$1 i j routes
  declare -ga cport hport rport
  for i in $(seq 1 "$REPLICAS"); do
    cport[$i]=$(free_port)
    hport[$i]=$(free_port)
    rport[$i]=$(free_port)
  done
  servers=""
  for i in $(seq 1 "$REPLICAS"); do
    {
      echo "server_name: n$i"
      echo "listen: 127.0.0.1:${cport[$i]}"
      echo "http: 127.0.0.1:${hport[$i]}"
      echo "jetstream { store_dir: \"$WORK/$run/n$i\", max_memory_store: 256MB, max_file_store: 4GB }"
      if [ "$REPLICAS" -gt 1 ]; then
        routes=""
        for j in $(seq 1 "$REPLICAS"); do
          [ "$j" = "$i" ] || routes="$routes${routes:+, }nats-route://127.0.0.1:${rport[$j]}"
        done
        echo "cluster { name: rate, listen: 127.0.0.1:${rport[$i]}, routes: [$routes] }"
      fi
    } > "$WORK/$run-n$i.conf"
    nats-server -c "$WORK/$run-n$i.conf" > "$WORK/$run-n$i.log" 2>&1 &
    pids[n$i]=$!
    servers="$servers${servers:+,}nats://127.0.0.1:${cport[$i]}"
  done
  for i in $(seq 1 "$REPLICAS"); do
    for _ in $(seq 1 150); do
      curl -sf "http://127.0.0.1:${hport[$i]}/healthz" > /dev/null 2>&1 && break
      sleep 0.2
    done
  done
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
