#!/usr/bin/env bash
# `make abuse`: hostile and departing clients against a release build on
# loopback (issue 18's five scenarios and issue 23's three), each against a
# fresh `dealroom serve` at the default settings on a fresh database of the
# local cluster (scripts/pg.sh). Not part of
# `make test`: it takes a few minutes. Prints one figure table; the details and
# the server logs go to target/abuse/. Bounded: every scenario has a fixed
# count of connections and a time limit, and only 127.0.0.1 is ever a target.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
CARGO=${CARGO:-cargo}
db=${ABUSE_DB:-dealroom_abuse}
out="$root/target/abuse"
say() { echo "==> $*" >&2; }
command -v python3 >/dev/null || { echo "abuse: python3 is required" >&2; exit 1; }

if [ "${ABUSE_SKIP_BUILD:-0}" != 1 ]; then
  say "building the release binary ($CARGO build --release --bin dealroom)"
  "$CARGO" build --release --bin dealroom
fi
bin="${CARGO_TARGET_DIR:-$root/target}/release/dealroom"
[ -x "$bin" ] || { echo "abuse: no binary at $bin" >&2; exit 1; }

mkdir -p "$out"
say "starting PostgreSQL (scripts/pg.sh)"
scripts/pg.sh start >/dev/null
cleanup() { scripts/pg.sh dropdb "$db" >/dev/null 2>&1 || true; }
trap cleanup EXIT

ABUSE_BIN="$bin" ABUSE_OUT="$out" ABUSE_DB="$db" ABUSE_PG="$root/scripts/pg.sh" \
  python3 scripts/abuse/abuse.py
