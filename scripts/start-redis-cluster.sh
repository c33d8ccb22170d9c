#!/usr/bin/env bash
# Start (or repair) a local six-node Redis Cluster on 127.0.0.1:7000-7005: three primaries, three
# replicas. Idempotent: exits 0 at once when 127.0.0.1:7000 reports cluster_state:ok and every node
# answers. Nodes that are down are restarted with their own config and rejoin (a former primary comes
# back as a replica). Every wait is bounded; the servers run in the background (daemonized).
set -euo pipefail

host=127.0.0.1
ports=(7000 7001 7002 7003 7004 7005)
base=${OPUSCLIP_REDIS_CLUSTER_DIR:-/tmp/opusclip-redis-cluster}

ping_node() { redis-cli -h "$host" -p "$1" ping 2>/dev/null | grep -q PONG; }
cluster_ok() {
  redis-cli -h "$host" -p "$1" cluster info 2>/dev/null | grep -q 'cluster_state:ok' &&
    redis-cli -h "$host" -p "$1" cluster info 2>/dev/null | grep -q 'cluster_slots_ok:16384'
}
all_up() {
  for port in "${ports[@]}"; do ping_node "$port" || return 1; done
}
healthy() {
  all_up || return 1
  for port in "${ports[@]}"; do cluster_ok "$port" || return 1; done
}

if healthy; then exit 0; fi

start_node() { # port
  local port=$1 dir="$base/$1"
  mkdir -p "$dir"
  redis-server --port "$port" --bind "$host" --daemonize yes --cluster-enabled yes \
    --cluster-config-file "$dir/nodes.conf" --cluster-node-timeout 2000 \
    --cluster-replica-validity-factor 0 --save "" --appendonly no --dir "$dir" \
    --logfile "$dir/redis.log" --pidfile "$dir/redis.pid" >/dev/null
}

for port in "${ports[@]}"; do
  if ! ping_node "$port"; then start_node "$port"; fi
done
for _ in $(seq 1 50); do
  if all_up; then break; fi
  sleep 0.2
done
if ! all_up; then
  echo "start-redis-cluster: a node on $host:${ports[0]}-${ports[-1]} did not start (see $base/*/redis.log)" >&2
  exit 1
fi

# A fresh set of nodes (no slot assigned anywhere) is joined into a cluster; nodes that already belong
# to one just rejoin it from their nodes.conf.
assigned=$(redis-cli -h "$host" -p "${ports[0]}" cluster info | tr -d '\r' | sed -n 's/^cluster_slots_assigned://p')
if [ "${assigned:-0}" = "0" ]; then
  nodes=()
  for port in "${ports[@]}"; do nodes+=("$host:$port"); done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >/dev/null
fi

for _ in $(seq 1 150); do
  if healthy; then echo "start-redis-cluster: cluster_state:ok on $host:${ports[0]}-${ports[-1]}"; exit 0; fi
  sleep 0.2
done
echo "start-redis-cluster: the cluster on $host:${ports[0]}-${ports[-1]} did not reach cluster_state:ok within 30 s" >&2
exit 1
