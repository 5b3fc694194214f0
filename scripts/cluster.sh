#!/usr/bin/env bash
# A local multi-instance topology on loopback (`make cluster`, `make cluster-stop`,
# `make test-cluster`): a PostgreSQL primary, a streaming replica of it
# (pg_basebackup -R), PgBouncer in transaction mode in front of the primary,
# and two `dealroom serve` instances on PgBouncer (DB_STATEMENT_CACHE=off),
# the replica (DATABASE_REPLICA_URL) and the primary itself for session-level
# work (DATABASE_DIRECT_URL), sharing one MEDIA_DIR.
#
# Usage: scripts/cluster.sh start|stop|status|env
#        scripts/cluster.sh replica-stop|replica-start|pgbouncer-stop|pgbouncer-start
#
# Everything lives in one directory per checkout: .data/cluster, or, as root
# (PostgreSQL and PgBouncer then run as the `postgres` user, who may not be
# able to enter the checkout), /var/lib/postgresql/dealroom/<checkout>-<hash>-cluster;
# DEALROOM_CLUSTER_DIR chooses another. Ports are free ones picked at start and
# written, with the URLs, to <dir>/env (`scripts/cluster.sh env` prints it).
# Installs Debian's postgresql and pgbouncer packages if they are missing.
# CLUSTER_RELEASE=1 serves a release build (default: the debug build);
# CLUSTER_SKIP_BUILD=1 uses the binary already built.
# The instances inherit the caller's environment (RATE_LIMIT_MAX, LOG_LEVEL, ...)
# except what the topology sets.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd -P)
CARGO=${CARGO:-cargo}

state_dir() {
  if [ -n "${DEALROOM_CLUSTER_DIR:-}" ]; then
    echo "$DEALROOM_CLUSTER_DIR"
  elif [ "$(id -u)" = 0 ]; then
    local name hash
    name=$(basename "$root" | tr -c 'A-Za-z0-9._\n-' '_' | cut -c 1-40)
    hash=$(printf '%s' "$root" | sha256sum | cut -c 1-10)
    echo "/var/lib/postgresql/dealroom/$name-$hash-cluster"
  else
    echo "$root/.data/cluster"
  fi
}
state=$(state_dir)
envfile="$state/env"

as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

apt_install() {
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing $* (apt-get)..." >&2
  $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >&2
}

ensure_tools() {
  "$root/scripts/pg.sh" ensure-server
  if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
    apt_install pgbouncer
    # The package starts a service of its own on port 6432 where systemd
    # runs; this topology runs its own.
    if [ -d /run/systemd/system ]; then
      local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
      $sudo systemctl disable --now pgbouncer >/dev/null 2>&1 || true
    fi
  fi
}

pgbouncer_bin() { command -v pgbouncer 2>/dev/null || echo /usr/sbin/pgbouncer; }

bindir() {
  local d
  d=$(pg_config --bindir 2>/dev/null || true)
  [ -x "$d/initdb" ] && [ -x "$d/pg_basebackup" ] && { echo "$d"; return; }
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  return 1
}

free_ports() {
  python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

make_state() {
  mkdir -p "$state"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    mkdir -p "$(dirname "$state")"
    chown postgres "$state"
    chmod 755 "$state"
    runuser -u postgres -- test -w "$state" || {
      echo "the postgres user cannot write to $state (set DEALROOM_CLUSTER_DIR)" >&2; exit 1; }
  fi
  mkdir -p "$state/sock" "$state/media" "$state/log"
  [ "$(id -u)" = 0 ] && chown postgres "$state/sock" "$state/log"
  return 0
}

load_env() {
  [ -f "$envfile" ] || { echo "no cluster in $state (make cluster)" >&2; exit 1; }
  # shellcheck disable=SC1090
  . "$envfile"
}

pg_start() { # data dir, port
  local bin; bin=$(bindir)
  as_owner "$bin/pg_ctl" -D "$1" -l "$state/log/$(basename "$1").log" -w -t 60 \
    -o "-p $2 -k $state/sock -c listen_addresses=127.0.0.1 -c max_connections=200 -c hot_standby_feedback=on" \
    start >/dev/null
}

pg_stop() { # data dir
  local bin; bin=$(bindir 2>/dev/null) || return 0
  [ -f "$1/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$1" -m fast -w stop >/dev/null 2>&1
  return 0
}

pgbouncer_start() {
  load_env
  as_owner "$(pgbouncer_bin)" -d -q "$state/pgbouncer.ini"
  for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $PGBOUNCER_PORT), 0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "PgBouncer did not start; see $state/log/pgbouncer.log" >&2
  exit 1
}

pgbouncer_stop() {
  local pid
  pid=$(cat "$state/pgbouncer.pid" 2>/dev/null) || return 0
  # SIGTERM: immediate shutdown, every client and server connection dropped.
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

wait_ready() { # url, log
  for _ in $(seq 1 300); do
    curl -fsS "$1/ready" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "$1 did not become ready; the end of $2:" >&2
  tail -n 20 "$2" >&2
  exit 1
}

instance_start() { # name, port
  load_env
  local bin="$root/target/debug/dealroom"
  [ "${CLUSTER_RELEASE:-}" = 1 ] && bin="$root/target/release/dealroom"
  local log="$state/instance-$1.log"
  APP_ENV=${APP_ENV:-development} \
  HOST=127.0.0.1 PORT="$2" \
  DATABASE_URL="$DATABASE_URL" DB_STATEMENT_CACHE=off \
  DATABASE_DIRECT_URL="$DATABASE_DIRECT_URL" \
  DATABASE_REPLICA_URL="$DATABASE_REPLICA_URL" \
  MEDIA_STORAGE=disk MEDIA_DIR="$state/media" \
    nohup "$bin" serve >"$log" 2>&1 &
  echo $! >"$state/instance-$1.pid"
  wait_ready "http://127.0.0.1:$2" "$log"
}

instance_stop() { # name
  local pid
  pid=$(cat "$state/instance-$1.pid" 2>/dev/null) || return 0
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$state/instance-$1.pid"
}

start() {
  ensure_tools
  if [ "${CLUSTER_SKIP_BUILD:-}" = 1 ]; then
    :
  elif [ "${CLUSTER_RELEASE:-}" = 1 ]; then
    (cd "$root" && $CARGO build --release --bin dealroom)
  else
    (cd "$root" && $CARGO build --bin dealroom)
  fi
  stop
  rm -rf "$state"
  make_state
  local bin; bin=$(bindir)
  read -r pg_port replica_port bouncer_port a_port b_port <<<"$(free_ports 5)"

  as_owner "$bin/initdb" -D "$state/primary" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  # Disposable data: no fsync (in the file, so that ALTER SYSTEM can turn it
  # back on for a measurement; the replica's copy says the same).
  printf 'fsync = off\nfull_page_writes = off\n' | as_owner tee -a "$state/primary/postgresql.conf" >/dev/null
  pg_start "$state/primary" "$pg_port"
  psql -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c "CREATE DATABASE dealroom"
  as_owner "$bin/pg_basebackup" -h 127.0.0.1 -p "$pg_port" -U postgres -D "$state/replica" -R -X stream -c fast
  pg_start "$state/replica" "$replica_port"

  cat >"$state/userlist.txt" <<EOF
"postgres" ""
EOF
  cat >"$state/pgbouncer.ini" <<EOF
[databases]
dealroom = host=127.0.0.1 port=$pg_port dbname=dealroom
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
unix_socket_dir =
auth_type = trust
auth_file = $state/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 20
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = $state/log/pgbouncer.log
pidfile = $state/pgbouncer.pid
EOF
  [ "$(id -u)" = 0 ] && chown postgres "$state/pgbouncer.ini" "$state/userlist.txt"

  cat >"$envfile" <<EOF
CLUSTER_DIR=$state
PRIMARY_PORT=$pg_port
REPLICA_PORT=$replica_port
PGBOUNCER_PORT=$bouncer_port
DATABASE_URL=postgres://postgres@127.0.0.1:$bouncer_port/dealroom
DATABASE_DIRECT_URL=postgres://postgres@127.0.0.1:$pg_port/dealroom
DATABASE_REPLICA_URL=postgres://postgres@127.0.0.1:$replica_port/dealroom?connect_timeout=2
INSTANCE_A=http://127.0.0.1:$a_port
INSTANCE_B=http://127.0.0.1:$b_port
EOF
  pgbouncer_start
  # One after the other: the first applies the migrations.
  instance_start a "$a_port"
  instance_start b "$b_port"
  cat <<EOF
primary     postgres://postgres@127.0.0.1:$pg_port/dealroom
replica     postgres://postgres@127.0.0.1:$replica_port/dealroom  (streaming from the primary)
pgbouncer   postgres://postgres@127.0.0.1:$bouncer_port/dealroom  (pool_mode = transaction)
instance A  http://127.0.0.1:$a_port
instance B  http://127.0.0.1:$b_port
state, logs $state  (URLs: scripts/cluster.sh env; stop: make cluster-stop)
EOF
}

stop() {
  instance_stop a
  instance_stop b
  pgbouncer_stop
  pg_stop "$state/replica"
  pg_stop "$state/primary"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status)
    load_env
    for u in "$INSTANCE_A" "$INSTANCE_B"; do printf '%s ' "$u"; curl -fsS "$u/ready" || echo unready; echo; done ;;
  env) cat "$envfile" ;;
  env-file) echo "$envfile" ;;
  replica-stop) pg_stop "$state/replica" ;;
  replica-start) load_env; pg_start "$state/replica" "$REPLICA_PORT" ;;
  pgbouncer-stop) pgbouncer_stop ;;
  pgbouncer-start) pgbouncer_start ;;
  *) echo "usage: $0 start|stop|status|env|replica-stop|replica-start|pgbouncer-stop|pgbouncer-start" >&2; exit 2 ;;
esac
