#!/usr/bin/env bash
# Starts a streaming replica of the local PostgreSQL (127.0.0.1:5432) on 127.0.0.1:5433, for the read
# replica tests and the `scale` benchmark. Idempotent: when 5433 already answers and is in recovery, it
# does nothing. Otherwise it lets 127.0.0.1 make replication connections to the primary (a pg_hba line,
# then a reload, never a restart), copies the primary with pg_basebackup (-R writes the standby settings)
# into $REPLICA_DIR and starts it in the background as the `postgres` user. Every wait is bounded.
set -euo pipefail

PRIMARY_PORT=${PG_PRIMARY_PORT:-5432}
REPLICA_PORT=${PG_REPLICA_PORT:-5433}
REPLICA_DIR=${PG_REPLICA_DIR:-/var/lib/opusclip-pg-replica}
REPLICA_LOG=${PG_REPLICA_LOG:-/var/log/opusclip-pg-replica.log}

in_recovery() {
  [ "$(psql -h 127.0.0.1 -p "$REPLICA_PORT" -U postgres -d postgres -XAtqc 'SELECT pg_is_in_recovery()' 2>/dev/null)" = t ]
}

if in_recovery; then
  echo "pg-replica: 127.0.0.1:$REPLICA_PORT is up and in recovery"
  exit 0
fi
if pg_isready -h 127.0.0.1 -p "$REPLICA_PORT" >/dev/null 2>&1; then
  echo "pg-replica: 127.0.0.1:$REPLICA_PORT answers but is not a replica; leaving it alone" >&2
  exit 1
fi

psql_primary() { psql -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -d postgres -XAtqc "$1"; }
major=$(psql_primary 'SHOW server_version_num' | cut -c1-2)
bin=/usr/lib/postgresql/$major/bin
[ -x "$bin/pg_ctl" ] || { echo "pg-replica: no $bin/pg_ctl" >&2; exit 1; }

# The primary must accept replication connections from 127.0.0.1 (wal_level replica and max_wal_senders
# 10 are PostgreSQL 15's defaults; checked, not changed).
[ "$(psql_primary 'SHOW wal_level')" != minimal ] || { echo "pg-replica: wal_level=minimal on the primary" >&2; exit 1; }
[ "$(psql_primary 'SHOW max_wal_senders')" -gt 0 ] || { echo "pg-replica: max_wal_senders=0 on the primary" >&2; exit 1; }
hba=$(psql_primary 'SHOW hba_file')
if ! grep -Eq '^[[:space:]]*host[[:space:]]+replication[[:space:]]+(all|postgres)[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
  echo "pg-replica: allowing replication connections from 127.0.0.1 in $hba"
  printf '# opusclip: a streaming replica on 127.0.0.1:%s (scripts/start-pg-replica.sh)\nhost replication all 127.0.0.1/32 trust\n' \
    "$REPLICA_PORT" >>"$hba"
  psql_primary 'SELECT pg_reload_conf()' >/dev/null
  sleep 1
fi

# A data directory from an earlier run is reused when it is a standby's; otherwise made afresh.
if [ ! -f "$REPLICA_DIR/standby.signal" ]; then
  rm -rf "$REPLICA_DIR"
  mkdir -p "$REPLICA_DIR"
  chown postgres:postgres "$REPLICA_DIR"
  chmod 700 "$REPLICA_DIR"
  echo "pg-replica: pg_basebackup of 127.0.0.1:$PRIMARY_PORT into $REPLICA_DIR"
  runuser -u postgres -- timeout 300 "$bin/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres \
    -D "$REPLICA_DIR" -R -X stream -c fast
  # Debian keeps the primary's configuration files outside its data directory: the replica gets its own.
  cat >"$REPLICA_DIR/postgresql.conf" <<CONF
# A streaming replica of 127.0.0.1:$PRIMARY_PORT (scripts/start-pg-replica.sh)
listen_addresses = '127.0.0.1'
port = $REPLICA_PORT
unix_socket_directories = '/tmp'
shared_buffers = 32MB
hot_standby = on
hot_standby_feedback = on
datestyle = 'iso, mdy'
timezone = 'Etc/UTC'
lc_messages = 'C.UTF-8'
CONF
  cat >"$REPLICA_DIR/pg_hba.conf" <<CONF
local all all trust
host all all 127.0.0.1/32 trust
host replication all 127.0.0.1/32 trust
CONF
  chown postgres:postgres "$REPLICA_DIR/postgresql.conf" "$REPLICA_DIR/pg_hba.conf"
fi
touch "$REPLICA_LOG"
chown postgres:postgres "$REPLICA_LOG"
# A stale pid file from a killed server would stop pg_ctl.
if [ -f "$REPLICA_DIR/postmaster.pid" ] && ! runuser -u postgres -- "$bin/pg_ctl" -D "$REPLICA_DIR" status >/dev/null 2>&1; then
  rm -f "$REPLICA_DIR/postmaster.pid"
fi
runuser -u postgres -- "$bin/pg_ctl" -D "$REPLICA_DIR" -l "$REPLICA_LOG" -w -t 60 \
  -o "-p $REPLICA_PORT -k /tmp" start >/dev/null

for _ in $(seq 1 60); do
  if in_recovery; then
    echo "pg-replica: 127.0.0.1:$REPLICA_PORT is up and in recovery"
    exit 0
  fi
  sleep 1
done
echo "pg-replica: 127.0.0.1:$REPLICA_PORT did not come up; see $REPLICA_LOG" >&2
exit 1
