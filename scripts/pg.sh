#!/usr/bin/env bash
# A local, disposable PostgreSQL cluster for this checkout, used by `make run`,
# `make lint`, `make bench` and `make fuzz-api`.
# Usage: scripts/pg.sh start|stop|status|url [DB]|createdb NAME|dropdb NAME|data-dir|destroy
#
# Where it lives: under .data/ in the checkout; as root, whom initdb refuses,
# the cluster runs as the `postgres` user, who may not be able to enter the
# checkout (a clone under a private home, say), so it lives in
# /var/lib/postgresql/dealroom/<checkout name>-<hash of its path> instead
# (DEALROOM_PG_DIR overrides either). It listens on a Unix socket in that
# directory and on no TCP port, so the clusters of two checkouts never collide.
# Installs the PostgreSQL server package first if it is missing (Debian).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd -P)

# One directory per checkout, named after it.
state_dir() {
  if [ -n "${DEALROOM_PG_DIR:-}" ]; then
    echo "$DEALROOM_PG_DIR"
  elif [ "$(id -u)" = 0 ]; then
    local name hash
    name=$(basename "$root" | tr -c 'A-Za-z0-9._\n-' '_' | cut -c 1-40)
    hash=$(printf '%s' "$root" | sha256sum | cut -c 1-10)
    echo "/var/lib/postgresql/dealroom/$name-$hash"
  else
    echo "$root/.data"
  fi
}
state=$(state_dir)
data="$state/pg"
sock="$state/sock"
log="$state/pg.log"
# Names the socket file (.s.PGSQL.<port>) in the checkout's own directory; no
# TCP port is opened.
port="${DEALROOM_PG_PORT:-54329}"

bindir() {
  local d
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  return 1
}

ensure_server() {
  bindir >/dev/null && return
  echo "PostgreSQL server not found; installing it (apt-get install postgresql)..." >&2
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
  bindir >/dev/null || { echo "could not install PostgreSQL" >&2; exit 1; }
}

# initdb and postgres refuse to run as root: run them as the postgres user then.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

url() { echo "postgres://postgres@localhost:$port/${1:-dealroom}?host=$sock"; }

psql_() { psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres "$@"; }

running() {
  local bin
  bin=$(bindir 2>/dev/null) && [ -f "$data/PG_VERSION" ] &&
    as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

# The directory, owned by whoever runs the cluster, reachable by the postgres
# user through every parent.
make_state() {
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    mkdir -p "$state"
    chown postgres "$state"
    chmod 755 "$state"
    if ! runuser -u postgres -- test -w "$state"; then
      echo "the postgres user cannot write to $state (set DEALROOM_PG_DIR to a directory it can reach)" >&2
      exit 1
    fi
    [ "$state" = "$root/.data" ] || echo "$root" >"$state/checkout"
  else
    mkdir -p "$state"
  fi
  mkdir -p "$sock"
  [ "$(id -u)" = 0 ] && chown postgres "$sock"
  return 0
}

start() {
  ensure_server
  local bin; bin=$(bindir)
  make_state
  if [ ! -f "$data/PG_VERSION" ]; then
    as_owner "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! running; then
    if ! as_owner "$bin/pg_ctl" -D "$data" -l "$log" -w -t 30 \
      -o "-p $port -k $sock -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null; then
      echo "PostgreSQL did not start; the end of $log:" >&2
      tail -n 5 "$log" >&2
      exit 1
    fi
  fi
  psql_ -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'dealroom'" | grep -q 1 \
    || psql_ -d postgres -c "CREATE DATABASE dealroom"
}

stop() {
  local bin d
  bin=$(bindir 2>/dev/null) || return 0
  # .data/pg too: where an earlier version of this script kept root's cluster.
  for d in "$data" "$root/.data/pg"; do
    [ -f "$d/postmaster.pid" ] && as_owner "$bin/pg_ctl" -D "$d" -m fast stop >/dev/null 2>&1
  done
  return 0
}

case "${1:-}" in
  start) start; url ;;
  stop) stop ;;
  status) running ;;
  ensure-server) ensure_server ;;
  url) url "${2:-dealroom}" ;;
  data-dir) echo "$data" ;;
  createdb) psql_ -d postgres -c "DROP DATABASE IF EXISTS \"$2\" WITH (FORCE)" -c "CREATE DATABASE \"$2\""; url "$2" ;;
  dropdb) psql_ -d postgres -c "DROP DATABASE IF EXISTS \"$2\" WITH (FORCE)" ;;
  destroy) stop; rm -rf "$state" ;;
  *) echo "usage: $0 start|stop|status|ensure-server|url [DB]|createdb NAME|dropdb NAME|data-dir|destroy" >&2; exit 2 ;;
esac
