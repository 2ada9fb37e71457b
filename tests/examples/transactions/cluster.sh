#!/usr/bin/env bash
# The card-transaction example's cluster modes against real NATS servers on
# 127.0.0.1 (free ports, temporary store directories):
#
#   cluster.sh failover  EXE DATA WORK [NATS_SERVER]
#       A 3-node JetStream cluster, every stream with 3 replicas. The bundled
#       stream is published at a steady rate while 3 workers and the trainer
#       run; meanwhile a worker is killed (SIGKILL) and a new one started,
#       the input stream's leader server is killed and restarted, the
#       trainer is killed and another started, and a worker is paused
#       (SIGSTOP) past its lease and resumed (SIGCONT). The verdicts, read in
#       input order, must be the single process's to the byte:
#         cluster failover: 4000 transactions, lost 0, duplicated 0, different 0
#
#   cluster.sh bad_input EXE DATA WORK [NATS_SERVER]
#       One server (1 replica). The bundled stream with a line of bad JSON, one
#       with an unknown currency and one with a field missing: each goes to the
#       dead letters with its reason and sequence while its partition goes on.
#       A model manifest that does not load is refused and logged. After the
#       worker stops, its partition's newest checkpoint is corrupted: the next
#       worker refuses it and restores the previous one. The verdicts still
#       equal the single process's on the same lines.
#
# Prints "SKIPPED: <reason>" and exits 77 without nats-server, curl or a
# build with the cluster modes. Every process it starts is stopped by its PID
# when it exits, whatever the outcome (trap).
set -u

case_name="${1:?case}"
EXE="${2:?redflag_transactions}"
DATA="${3:?data}"
WORK="${4:?work directory}"
NATS_SERVER="${5:-$(command -v nats-server || true)}"

if [ -z "$NATS_SERVER" ] || [ ! -x "$NATS_SERVER" ]; then
  echo "SKIPPED: no nats-server (apt install nats-server)"
  exit 77
fi
if ! command -v curl > /dev/null; then
  echo "SKIPPED: no curl (apt install curl)"
  exit 77
fi
if "$EXE" setup --partitions 0 2>&1 | grep -q "not available"; then
  echo "SKIPPED: redflag_transactions was built without the cluster modes (apt install libnats-dev)"
  exit 77
fi

start_time=$SECONDS
say() { echo "[cluster $case_name $((SECONDS - start_time))s] $*"; }
fail() {
  say "FAILED: $*"
  exit 1
}

rm -rf "$WORK"
mkdir -p "$WORK"

# pids, stop_all, free ports, server configurations.
# shellcheck source=../../../examples/transactions/cluster_processes.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../../examples/transactions/cluster_processes.sh"
trap stop_all EXIT INT TERM

nodes=3
[ "$case_name" = bad_input ] && nodes=1
cluster_name=redflag
assign_ports || fail "no free port"
for i in $(seq 1 "$nodes"); do
  write_config "$i" "$WORK/store"
  start_server "$i"
done
servers=$(server_urls)
for i in $(seq 1 "$nodes"); do
  wait_healthy "$i" || fail "server n$i not healthy after 30 s (see $WORK/n$i.log)"
done
say "$nodes NATS server(s) up: $servers"

replicas=$nodes
lease=5
# The streams, once the cluster has a JetStream meta leader.
for attempt in $(seq 1 30); do
  timeout 20 "$EXE" setup --servers "$servers" --replicas "$replicas" --duplicates 600 > "$WORK/setup.log" 2>&1 && break
  [ "$attempt" = 30 ] && fail "setup: $(cat "$WORK/setup.log")"
  sleep 1
done

start_worker() {
  local name=$1
  "$EXE" worker --servers "$servers" --id "$name" --lease "$lease" --status-seconds 2 --checkpoint-every 300 \
    --checkpoint-seconds 2 >> "$WORK/$name.out" 2>> "$WORK/$name.err" &
  pids[$name]=$!
}
start_trainer() {
  local name=${1:-trainer}
  "$EXE" trainer --servers "$servers" --id "$name" --lease "$lease" --status-seconds 2 \
    >> "$WORK/$name.out" 2>> "$WORK/$name.err" &
  pids[$name]=$!
}
stop_process() {  # SIGTERM, then SIGKILL after 20 s
  local name=$1 pid="${pids[$1]}"
  kill -TERM "$pid" 2> /dev/null
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.2
  done
  kill -KILL "$pid" 2> /dev/null
  wait "$pid" 2> /dev/null
  unset "pids[$name]"
}
collect() {  # label, timeout
  timeout $(($2 + 30)) "$EXE" collect --servers "$servers" --out "$WORK/verdicts.jsonl" \
    --compare "$WORK/reference.jsonl" --timeout "$2" --label "$1" 2> "$WORK/collect.err"
}

if [ "$case_name" = failover ]; then
  "$EXE" run "$DATA" --out "$WORK/reference.jsonl" > "$WORK/reference.txt" || fail "the single process failed"
  start_trainer
  for w in w1 w2 w3; do start_worker "$w"; done
  # 4,000 transactions at 150 a second: about 27 s of input, each one stored
  # before the next, so the stream's order is the file's through the kills.
  timeout 150 "$EXE" publish "$DATA" --servers "$servers" --rate 150 > "$WORK/publish.out" 2> "$WORK/publish.err" &
  pids[publish]=$!
  say "3 workers, the trainer and the publisher started (lease ${lease} s)"

  sleep 6
  kill -KILL "${pids[w1]}"
  wait "${pids[w1]}" 2> /dev/null
  unset "pids[w1]"
  say "SIGKILL worker w1"
  start_worker w4
  say "worker w4 started in its place"

  sleep 4
  leader=$(timeout 10 "$EXE" stream-info --servers "$servers" --stream TX | sed -n 's/.*"leader":"\(n[0-9]\)".*/\1/p')
  [ -n "$leader" ] || fail "no leader for the input stream"
  kill -KILL "${pids[$leader]}"
  wait "${pids[$leader]}" 2> /dev/null
  say "SIGKILL server $leader, the input stream's leader"
  sleep 3
  start_server "${leader#n}"
  wait_healthy "${leader#n}" || fail "server $leader not healthy after 30 s (see $WORK/$leader.log)"
  say "server $leader restarted"

  kill -KILL "${pids[trainer]}"
  wait "${pids[trainer]}" 2> /dev/null
  unset "pids[trainer]"
  start_trainer trainer2
  say "SIGKILL the trainer; trainer2 started in its place"

  sleep 3
  kill -STOP "${pids[w2]}"
  say "SIGSTOP worker w2 for $((lease + 6)) s (lease $lease s)"
  sleep $((lease + 6))
  before_cont=$(wc -l < "$WORK/w2.err")
  kill -CONT "${pids[w2]}"
  say "SIGCONT worker w2"

  wait "${pids[publish]}" || fail "publish: $(cat "$WORK/publish.err")"
  unset "pids[publish]"
  say "$(cat "$WORK/publish.out")"
  summary=$(collect "cluster failover" 90)
  status=$?
  echo "$summary"
  say "$(cat "$WORK/collect.err")"
  [ -n "$summary" ] || fail "collect printed nothing: $(cat "$WORK/collect.err")"
  # What w2 logged once resumed: it found its partitions taken over (by its
  # fenced renewals) before it published anything for them.
  tail -n +"$((before_cont + 1))" "$WORK/w2.err" > "$WORK/w2-after-cont.err"
  taken=$(grep -c "dropped: its lease was taken over" "$WORK/w2-after-cont.err")
  [ "$taken" -gt 0 ] || fail "worker w2 did not report losing its leases after the pause"
  say "w2 after SIGCONT: $taken partition(s) found taken over by its fenced renewals, its lease lapsed for scoring"
  grep -q "lease claimed" "$WORK/trainer2.err" ||
    fail "trainer2 did not take the killed trainer's lease: $(tail -n 5 "$WORK/trainer2.err")"
  say "$(grep -m1 "lease claimed" "$WORK/trainer2.err")"
  [ "$status" = 0 ] || fail "the verdicts differ from the single process's (see $WORK)"
  say "passed"
  exit 0
fi

if [ "$case_name" = bad_input ]; then
  # Three bad lines among the good ones: bad JSON (line 11), an unknown
  # currency (line 502), a field missing (line 1503).
  awk 'NR == 10 { print; print "{\"transaction_id\": \"bad-json\", \"user_id\": "; next }
       NR == 500 { print; print "{\"transaction_id\":\"t-xxx\",\"user_id\":\"u000001\",\"amount\":10.0,\"currency\":\"XXX\",\"timestamp_ms\":1700100000000,\"utc_offset_minutes\":0,\"merchant\":\"m1\",\"merchant_category\":5411,\"city\":\"c1\",\"country\":\"AX\"}"; next }
       NR == 1500 { print; print "{\"transaction_id\":\"t-missing\",\"user_id\":\"u000002\",\"amount\":10.0,\"currency\":\"USD\",\"utc_offset_minutes\":0,\"merchant\":\"m1\",\"merchant_category\":5411,\"city\":\"c1\",\"country\":\"AX\"}"; next }
       { print }' "$DATA" > "$WORK/input.jsonl"
  "$EXE" run "$WORK/input.jsonl" --out "$WORK/reference.jsonl" > "$WORK/reference.txt" 2> "$WORK/reference.err"
  [ "$(grep -c "line skipped" "$WORK/reference.err")" = 3 ] || fail "the single process did not refuse 3 lines"
  timeout 60 "$EXE" publish "$WORK/input.jsonl" --servers "$servers" > "$WORK/publish.out" 2> "$WORK/publish.err" ||
    fail "publish: $(cat "$WORK/publish.err")"
  total=$(grep -c . "$WORK/input.jsonl")
  timeout 20 "$EXE" inject bad-model --apply-from 100 --servers "$servers" > "$WORK/inject-model.out" ||
    fail "inject bad-model"
  start_trainer
  start_worker w1
  summary=$(collect "cluster bad input (first run)" 60)
  status=$?
  say "$summary"
  [ "$status" = 0 ] || fail "first run: $summary $(cat "$WORK/collect.err")"
  dead=$(sed -n 's/.* \([0-9]*\) dead letters.*/\1/p' "$WORK/collect.err")
  [ "$dead" = 3 ] || fail "expected 3 dead letters, collect says: $(cat "$WORK/collect.err")"
  for reason in "invalid JSON" "currency" "missing field 'timestamp_ms'"; do
    grep -q "to the dead letters: .*$reason" "$WORK/w1.err" || fail "no dead letter for: $reason"
  done
  grep -q "model manifest refused" "$WORK/w1.err" || fail "the bad model manifest was not refused"
  say "3 inputs in the dead letters with their reasons; the bad model refused: $(grep -m1 "model manifest refused" "$WORK/w1.err")"

  # A corrupted checkpoint: released by w1, corrupted, refused by the next worker.
  stop_process w1
  partition=3
  timeout 20 "$EXE" inject corrupt-checkpoint --partition "$partition" --servers "$servers" > "$WORK/inject-checkpoint.out" ||
    fail "inject corrupt-checkpoint: $(cat "$WORK/inject-checkpoint.out")"
  say "$(cat "$WORK/inject-checkpoint.out")"
  start_worker w1b
  for _ in $(seq 1 100); do
    grep -q "partition $partition restored" "$WORK/w1b.err" 2> /dev/null && break
    sleep 0.2
  done
  grep -q "partition $partition: checkpoint at sequence [0-9]* refused: .*checksum" "$WORK/w1b.err" ||
    fail "the corrupted checkpoint was not refused: $(grep "partition $partition" "$WORK/w1b.err")"
  say "$(grep -m1 "partition $partition: checkpoint at sequence" "$WORK/w1b.err")"
  say "$(grep -m1 "partition $partition restored" "$WORK/w1b.err")"
  summary=$(collect "cluster bad input" 60)
  status=$?
  echo "$summary"
  [ "$status" = 0 ] || fail "after the corrupted checkpoint: $(cat "$WORK/collect.err")"
  say "passed ($total lines, 3 refused)"
  exit 0
fi

fail "unknown case $case_name"
