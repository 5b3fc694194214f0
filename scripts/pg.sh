#!/usr/bin/env bash
# A local, disposable PostgreSQL cluster under .data/ for `make run`, `make lint`
# and `make bench`. Usage: scripts/pg.sh start|stop|url|createdb NAME|dropdb NAME
# Installs the PostgreSQL server package first if it is missing (Debian).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
data="$root/.data/pg"
sock="$root/.data/sock"
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
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

url() { echo "postgres://postgres@localhost:$port/${1:-dealroom}?host=$sock"; }

psql_() { psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres "$@"; }

start() {
  ensure_server
  local bin; bin=$(bindir)
  mkdir -p "$root/.data" "$sock"
  [ "$(id -u)" = 0 ] && chown postgres "$root/.data" "$sock" && chmod 755 "$root/.data"
  if [ ! -f "$data/PG_VERSION" ]; then
    as_owner "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    if ! as_owner "$bin/pg_ctl" -D "$data" -l "$root/.data/pg.log" -w -t 30 \
      -o "-p $port -k $sock -c listen_addresses=localhost -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null; then
      echo "PostgreSQL did not start; the end of .data/pg.log:" >&2
      tail -n 5 "$root/.data/pg.log" >&2
      echo "(port $port taken by another checkout's cluster? set DEALROOM_PG_PORT)" >&2
      exit 1
    fi
  fi
  psql_ -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'dealroom'" | grep -q 1 \
    || psql_ -d postgres -c "CREATE DATABASE dealroom"
}

case "${1:-}" in
  start) start; url ;;
  ensure-server) ensure_server ;;
  stop) bin=$(bindir) && [ -f "$data/PG_VERSION" ] && as_owner "$bin/pg_ctl" -D "$data" -m fast stop >/dev/null || true ;;
  url) url "${2:-dealroom}" ;;
  createdb) psql_ -d postgres -c "DROP DATABASE IF EXISTS \"$2\" WITH (FORCE)" -c "CREATE DATABASE \"$2\""; url "$2" ;;
  dropdb) psql_ -d postgres -c "DROP DATABASE IF EXISTS \"$2\" WITH (FORCE)" ;;
  *) echo "usage: $0 start|stop|ensure-server|url|createdb NAME|dropdb NAME" >&2; exit 2 ;;
esac
