#!/usr/bin/env bash
# `BENCH_SCENARIOS=cluster make bench`: scenarios (b) and (c) through PgBouncer
# against one and two instances, beside one instance on the primary directly
# (statement cache on and off), on the topology of scripts/cluster.sh (a
# release build; started here, stopped at the end). Prints a table and
# writes target/bench/cluster-results.json. Knobs: BENCH_DURATION,
# BENCH_WARMUP, BENCH_CONNECTIONS, BENCH_THREADS, BENCH_TIMEOUT, BENCH_POOL,
# BENCH_MESSAGES, BENCH_BCRYPT_ROUNDS, BENCH_SKIP_BUILD (README "Benchmarks").
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
CARGO=${CARGO:-cargo}
out="$root/target/bench"
mkdir -p "$out"
command -v wrk >/dev/null || {
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >&2
}
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  "$CARGO" build --release --bin dealroom
fi
pool=${BENCH_POOL:-$((2 * $(nproc)))}
trap 'scripts/cluster.sh stop' EXIT
# The instances inherit these (as make bench sets them for its server).
export BENCH_SKIP_BUILD=1 DB_POOL_SIZE="$pool" WORKERS="${BENCH_WORKERS:-0}" \
  BCRYPT_ROUNDS="${BENCH_BCRYPT_ROUNDS:-10}" LOG_LEVEL=warn \
  RATE_LIMIT_MAX=1000000000 AUTH_RATE_LIMIT_MAX=1000000000 RATE_LIMIT_WINDOW=1000
CLUSTER_RELEASE=1 CLUSTER_SKIP_BUILD=1 scripts/cluster.sh start >&2
BENCH_CLUSTER_ENV=$(scripts/cluster.sh env-file) BENCH_BIN="$root/target/release/dealroom" \
BENCH_WRK="$(command -v wrk)" BENCH_OUT="$out" BENCH_POOL="$pool" \
  python3 scripts/bench/cluster.py
