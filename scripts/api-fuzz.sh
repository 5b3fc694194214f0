#!/usr/bin/env bash
# `make fuzz-api`: property-based tests of the running API against its own
# OpenAPI document with schemathesis (from PyPI, installed into target/fuzz-venv
# on first use). It checks that no request gets a 5xx, that responses match the
# documented schemas, status codes and content types, and that the document's
# constraints are the ones the server enforces. A fresh database each run.
# Knobs: FUZZ_EXAMPLES (per operation, default 50), FUZZ_PORT (default 3911).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
examples="${FUZZ_EXAMPLES:-50}"
port="${FUZZ_PORT:-3911}"
venv="$root/target/fuzz-venv"

if [ ! -x "$venv/bin/st" ]; then
  echo "installing schemathesis into target/fuzz-venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q schemathesis
fi

scripts/pg.sh start >/dev/null
url=$(scripts/pg.sh createdb dealroom_fuzz | tail -n 1)
cargo build -q --bin dealroom

log="$root/target/fuzz-api.log"
DATABASE_URL="$url" PORT="$port" APP_ENV=development LOG_LEVEL=warn BCRYPT_ROUNDS=4 \
  RATE_LIMIT_MAX=1000000000 AUTH_RATE_LIMIT_MAX=1000000000 \
  target/debug/dealroom serve >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true' EXIT

base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  curl -fsS "$base/health" >/dev/null 2>&1 && break
  sleep 0.1
done

token=$(curl -fsS -X POST "$base/api/v1/auth/register" -H 'content-type: application/json' \
  -d '{"email":"fuzz@example.com","password":"fuzz-password-1","name":"Fuzz"}' |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["data"]["tokens"]["accessToken"])')

status=0
"$venv/bin/st" --config-file scripts/schemathesis.toml run "$base/api/v1/openapi.json" \
  -H "Authorization: Bearer $token" \
  --max-examples "$examples" --workers 2 || status=$?
if grep -q "panicked" "$log"; then
  echo "the server panicked; see target/fuzz-api.log" >&2
  status=1
fi
exit "$status"
