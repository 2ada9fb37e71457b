# Sourced by the scripts that run the card-transaction example's cluster
# modes against real NATS servers (tests/examples/transactions/cluster.sh,
# benchmarks/cluster_rate.sh): free ports on 127.0.0.1, the servers'
# configuration, and stopping every process started, by its PID.
#
# The caller sets NATS_SERVER (the nats-server to run), WORK (a directory for
# configurations, logs and stores), nodes (how many servers), cluster_name,
# and records each process it starts in pids[name].

# Every process started, by name: its PID.
declare -A pids=()
declare -a client_port http_port route_port
used_ports=" "

# Stops the named processes: SIGCONT (a paused worker must run to stop) and
# SIGTERM, then SIGKILL whatever still runs after 10 s.
stop_group() {
  local name alive
  for name in "$@"; do
    kill -CONT "${pids[$name]}" 2> /dev/null
    kill -TERM "${pids[$name]}" 2> /dev/null
  done
  for _ in $(seq 1 50); do
    alive=0
    for name in "$@"; do
      kill -0 "${pids[$name]}" 2> /dev/null && alive=1
    done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for name in "$@"; do
    kill -KILL "${pids[$name]}" 2> /dev/null
    wait "${pids[$name]}" 2> /dev/null
    unset "pids[$name]"
  done
}

# The workers, the trainer and the publishers first (a worker releases its
# partitions on SIGTERM, which needs the servers), then the servers n1, n2...
stop_all() {
  local name clients=() servers=()
  for name in "${!pids[@]}"; do
    case "$name" in n[0-9]) servers+=("$name") ;; *) clients+=("$name") ;; esac
  done
  [ ${#clients[@]} -gt 0 ] && stop_group "${clients[@]}"
  [ ${#servers[@]} -gt 0 ] && stop_group "${servers[@]}"
}

# A free 127.0.0.1 port (nothing accepts a connection there now), never
# one handed out before.
free_port() {
  local port
  for _ in $(seq 1 500); do
    port=$((20000 + RANDOM % 40000))
    case "$used_ports" in *" $port "*) continue ;; esac
    if ! (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
      used_ports="$used_ports$port "
      echo "$port"
      return 0
    fi
  done
  return 1
}

# Client, monitoring and route ports for servers 1 to $nodes.
assign_ports() {
  local i
  for i in $(seq 1 "$nodes"); do
    client_port[$i]=$(free_port) || return 1
    http_port[$i]=$(free_port) || return 1
    route_port[$i]=$(free_port) || return 1
  done
}

# Writes server i's configuration, its store in STORE/n<i>, to $WORK/n<i>.conf.
write_config() {
  local i=$1 store=$2 routes="" j
  {
    echo "server_name: n$i"
    echo "listen: 127.0.0.1:${client_port[$i]}"
    echo "http: 127.0.0.1:${http_port[$i]}"
    echo "jetstream { store_dir: \"$store/n$i\", max_memory_store: 256MB, max_file_store: 4GB }"
    if [ "$nodes" -gt 1 ]; then
      for j in $(seq 1 "$nodes"); do
        [ "$j" = "$i" ] && continue
        routes="$routes${routes:+, }nats-route://127.0.0.1:${route_port[$j]}"
      done
      echo "cluster { name: $cluster_name, listen: 127.0.0.1:${route_port[$i]}, routes: [$routes] }"
    fi
  } > "$WORK/n$i.conf"
}

start_server() {
  local i=$1
  "$NATS_SERVER" -c "$WORK/n$i.conf" >> "$WORK/n$i.log" 2>&1 &
  pids[n$i]=$!
}

# Waits until server i reports healthy (30 s at most); fails otherwise.
wait_healthy() {
  local i=$1
  for _ in $(seq 1 150); do
    curl -sf "http://127.0.0.1:${http_port[$i]}/healthz" > /dev/null 2>&1 && return 0
    sleep 0.2
  done
  return 1
}

# The servers' client URLs, comma-separated.
server_urls() {
  local i urls=""
  for i in $(seq 1 "$nodes"); do urls="$urls${urls:+,}nats://127.0.0.1:${client_port[$i]}"; done
  echo "$urls"
}
