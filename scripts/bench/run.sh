#!/usr/bin/env bash
# `make bench`: builds the release binary, starts the local PostgreSQL
# (scripts/pg.sh) with a fresh database, starts `dealroom serve` on a free port
# (LOG_LEVEL=warn, rate limits out of the way), then runs scripts/bench/bench.py,
# which seeds, drives the server with wrk, measures pgbench ceilings and prints
# the table (also written to target/bench/results.json). Installs wrk (Debian
# package) if it is missing. Knobs, all optional: see README "Benchmarks".
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

CARGO=${CARGO:-cargo}
duration=${BENCH_DURATION:-10}
warmup=${BENCH_WARMUP:-3}
connections=${BENCH_CONNECTIONS:-64}
threads=${BENCH_THREADS:-$(nproc)}
timeout=${BENCH_TIMEOUT:-10}
pg_duration=${BENCH_PG_DURATION:-$duration}
# Twice the cores: the database shares this machine, and on 2 cores a pool of 16
# gives the same throughput as 4 but a p99 ten times longer (README, Benchmarks).
pool=${BENCH_POOL:-$((2 * $(nproc)))}
workers=${BENCH_WORKERS:-0}
messages=${BENCH_MESSAGES:-1000}
bcrypt_rounds=${BENCH_BCRYPT_ROUNDS:-10}
media_max=${BENCH_MEDIA_MAX_BYTES:-10485760}
db=${BENCH_DB:-dealroom_bench}
scenarios=${BENCH_SCENARIOS:-core,media,events,search}
out="$root/target/bench"

# The cluster scenario runs on a topology of its own (scripts/bench/cluster.sh).
if [ "${BENCH_SCENARIOS:-}" = cluster ]; then
  exec scripts/bench/cluster.sh
fi

say() { echo "==> $*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

for knob in duration warmup connections threads timeout pg_duration pool workers messages bcrypt_rounds media_max; do
  [[ ${!knob} =~ ^[0-9]+$ ]] || die "$knob must be a whole number, not '${!knob}'"
done
((duration > 0 && connections > 0 && threads > 0 && pool > 0 && pg_duration > 0)) \
  || die "BENCH_DURATION, BENCH_CONNECTIONS, BENCH_THREADS, BENCH_POOL and BENCH_PG_DURATION must be positive"
[[ $db =~ ^[a-z_][a-z0-9_]*$ ]] || die "BENCH_DB must be a plain lower-case identifier"
# The scenarios bench.py knows (each may add its name here).
known_scenarios="a b c d e core scale media events search offers streams webhooks"
for scenario in ${scenarios//,/ }; do
  [[ " $known_scenarios " == *" $scenario "* ]] \
    || die "BENCH_SCENARIOS must be a comma-separated list of: $known_scenarios (not $scenario)"
done
command -v python3 >/dev/null || die "python3 is required"

# Runs a command as root: directly, or through sudo.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

ensure_wrk() {
  command -v wrk >/dev/null && return
  say "wrk not found; installing it (apt-get install wrk)"
  command -v apt-get >/dev/null || die "wrk is missing and there is no apt-get: install wrk yourself"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >&2; then
    as_root apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >&2
  fi
  command -v wrk >/dev/null || die "could not install wrk"
}

# pgbench from the same installation as the server scripts/pg.sh runs.
find_pgbench() {
  local p
  p=$(printf '%s\n' /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -n 1)
  [ -x "$p" ] && { echo "$p"; return; }
  command -v pgbench || die "pgbench not found (it comes with the PostgreSQL server package)"
}

ensure_wrk
mkdir -p "$out"
rm -f "$out"/wrk-*.txt "$out"/pgbench-*.txt "$out"/results.json "$out"/upload-*
rm -rf "$out/media"

if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  say "building the release binary ($CARGO build --release --bin dealroom)"
  "$CARGO" build --release --bin dealroom
fi
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  say "building the live-events client and the bcrypt bound ($CARGO build --release -p sse-bench -p bcrypt-bound)"
  "$CARGO" build --release -p sse-bench -p bcrypt-bound
fi
bin="${CARGO_TARGET_DIR:-$root/target}/release/dealroom"
sse="${CARGO_TARGET_DIR:-$root/target}/release/sse-bench"
[ -x "$sse" ] || sse=""
bcrypt_bound="${CARGO_TARGET_DIR:-$root/target}/release/bcrypt-bound"
[ -x "$bcrypt_bound" ] || bcrypt_bound=""
[ -x "$bin" ] || die "no binary at $bin (unset BENCH_SKIP_BUILD to build it)"

say "starting PostgreSQL (scripts/pg.sh) and creating a fresh database $db"
# Stopped again at the end if this run started it.
pg_started=0
scripts/pg.sh status || pg_started=1
scripts/pg.sh start >/dev/null
db_url=$(scripts/pg.sh createdb "$db" 2>/dev/null | tail -n 1)
pgbench=$(find_pgbench)

port=${BENCH_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}

server_pid=""
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    say "stopping the server (pid $server_pid)"
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  elif [ -n "$server_pid" ]; then
    local server_status=0
    wait "$server_pid" 2>/dev/null || server_status=$?
    if ((server_status > 128)); then
      echo "bench: the server had been killed by signal $((server_status - 128))" >&2
    else
      echo "bench: the server had exited with status $server_status" >&2
    fi
  fi
  if [ "${BENCH_KEEP_DB:-0}" != 1 ]; then
    scripts/pg.sh dropdb "$db" >/dev/null 2>&1 || true
  fi
  if [ "$pg_started" = 1 ]; then
    say "stopping the PostgreSQL cluster this run started"
    scripts/pg.sh stop
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "starting dealroom serve on 127.0.0.1:$port (log: target/bench/server.log)"
# A clean environment: only what the benchmark means to set. Logging at warn,
# but for the few lines of startup and shutdown (none per request), so that
# the log says why the server stopped if it stops during the run.
env -i PATH="$PATH" HOME="${HOME:-/}" \
  APP_ENV=development HOST=127.0.0.1 PORT="$port" DATABASE_URL="$db_url" \
  LOG_LEVEL="warn,server::cli=info,server::app=info" DB_POOL_SIZE="$pool" WORKERS="$workers" BCRYPT_ROUNDS="$bcrypt_rounds" \
  RATE_LIMIT_MAX=1000000000 AUTH_RATE_LIMIT_MAX=1000000000 RATE_LIMIT_WINDOW=1000 \
  SHUTDOWN_GRACE=2s MEDIA_DIR="$out/media" MEDIA_MAX_BYTES="$media_max" \
  WEBHOOK_ALLOW_HTTP=true WEBHOOK_ALLOW_PRIVATE=true WEBHOOK_RETRY_SCALE="${BENCH_WEBHOOK_RETRY_SCALE:-1}" \
  "$bin" serve >"$out/server.log" 2>&1 &
server_pid=$!

# The live-events client holds a thousand connections.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
start=$SECONDS
BENCH_BASE_URL="http://127.0.0.1:$port" BENCH_SERVER_PID="$server_pid" \
BENCH_DATABASE_URL="$db_url" BENCH_PG_DATA="$(scripts/pg.sh data-dir)" BENCH_OUT="$out" BENCH_SERVER_LOG="$out/server.log" \
BENCH_WRK="$(command -v wrk)" BENCH_PGBENCH="$pgbench" \
BENCH_DURATION="$duration" BENCH_WARMUP="$warmup" BENCH_CONNECTIONS="$connections" \
BENCH_THREADS="$threads" BENCH_TIMEOUT="$timeout" BENCH_PG_DURATION="$pg_duration" \
BENCH_POOL="$pool" BENCH_MESSAGES="$messages" BENCH_BCRYPT_ROUNDS="$bcrypt_rounds" \
BENCH_WORKERS="$workers" BENCH_SSE="$sse" BENCH_BCRYPT_BOUND="$bcrypt_bound" BENCH_SCENARIOS="$scenarios" \
BENCH_MEDIA_DIR="$out/media" BENCH_MEDIA_MAX_BYTES="$media_max" \
  python3 scripts/bench/bench.py
echo "benchmark took $((SECONDS - start)) s (build and database setup aside)"
