#!/usr/bin/env bash
# `make fuzz-api`: property-based tests of the running API against its own
# OpenAPI document with schemathesis (a pinned version from PyPI, installed
# into target/fuzz-venv on first use). It checks that no request gets a 5xx,
# that responses match the documented schemas, status codes and content types,
# and that the document's constraints are the ones the server enforces.
#
# A fresh database on the checkout's local cluster, a debug server on a free
# port. Every authenticated operation runs with a token that
# scripts/schemathesis_hooks.py logs in for again whenever the last one
# stopped working (logout, logout-all and password changes are fuzzed too,
# and the admin deletes users), with a new account when the old one is gone;
# the admin routes get an admin's token (and sometimes a user's).
# The run fails if an authenticated operation only ever got 401/403. At the
# end it stops the server, drops the database and stops the cluster if it
# started it.
# Knobs: FUZZ_EXAMPLES (per operation, default 50), FUZZ_SEED (default 1),
# FUZZ_PORT (default: a free one), FUZZ_KEEP_DB=1 (keep dealroom_fuzz).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
examples="${FUZZ_EXAMPLES:-50}"
seed="${FUZZ_SEED:-1}"
venv="$root/target/fuzz-venv"
# Pinned: a run is repeatable only with the same schemathesis.
schemathesis="schemathesis==4.32.5"

if [ ! -x "$venv/bin/st" ] || [ "$(cat "$venv/.installed" 2>/dev/null)" != "$schemathesis" ]; then
  echo "installing $schemathesis into target/fuzz-venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "$schemathesis"
  echo "$schemathesis" >"$venv/.installed"
fi
cargo build -q --bin dealroom

server=""
pg_started=0
cleanup() {
  local status=$?
  trap - EXIT
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  [ "${FUZZ_KEEP_DB:-0}" = 1 ] || scripts/pg.sh dropdb dealroom_fuzz >/dev/null 2>&1 || true
  [ "$pg_started" = 0 ] || scripts/pg.sh stop
  exit "$status"
}
trap cleanup EXIT
scripts/pg.sh status || pg_started=1
scripts/pg.sh start >/dev/null
url=$(scripts/pg.sh createdb dealroom_fuzz | tail -n 1)

port="${FUZZ_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
log="$root/target/fuzz-api.log"
export DATABASE_URL="$url" APP_ENV=development BCRYPT_ROUNDS=4
PORT="$port" LOG_LEVEL="${FUZZ_LOG_LEVEL:-warn}" RATE_LIMIT_MAX=1000000000 AUTH_RATE_LIMIT_MAX=1000000000 \
  target/debug/dealroom serve >"$log" 2>&1 &
server=$!

base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  curl -fsS "$base/ready" >/dev/null 2>&1 && break
  sleep 0.1
done

# The hooks make the user and the admin (and new ones when the run has
# deleted or deactivated them).
export FUZZ_BASE_URL="$base" FUZZ_DEALROOM_BIN="$root/target/debug/dealroom"

status=0
PYTHONPATH="$root/scripts" SCHEMATHESIS_HOOKS=schemathesis_hooks \
  "$venv/bin/st" --config-file scripts/schemathesis.toml run "$base/api/v1/openapi.json" \
  --max-examples "$examples" --seed "$seed" --generation-database none --workers 2 || status=$?
if grep -q "panicked" "$log"; then
  echo "the server panicked; see target/fuzz-api.log" >&2
  status=1
fi
exit "$status"
