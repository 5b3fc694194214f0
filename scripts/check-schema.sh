#!/usr/bin/env bash
# Schema drift: migrate a scratch database, print its schema with diesel_cli,
# and diff it with the committed crates/store/src/schema.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v diesel >/dev/null 2>&1; then
  echo "installing diesel_cli (postgres only)..." >&2
  cargo install diesel_cli --no-default-features --features postgres --locked >&2
fi
# Stop the local cluster again at the end if this check started it.
if ! scripts/pg.sh status; then
  trap 'scripts/pg.sh stop' EXIT
fi
scripts/pg.sh start >/dev/null
url=$(scripts/pg.sh createdb dealroom_schema_check | tail -n 1)
# From a directory without diesel.toml: run there, `diesel migration run`
# would first rewrite schema.rs from the database (diesel.toml's
# print_schema.file), and the diff below could never fail.
root=$(pwd)
(cd "${TMPDIR:-/tmp}" && diesel migration run --database-url "$url" --migration-dir "$root/migrations" >/dev/null)
if diff -u crates/store/src/schema.rs <(diesel print-schema --database-url "$url"); then
  echo "schema.rs matches the migrations"
else
  echo "schema.rs is out of date: run diesel print-schema (see diesel.toml)" >&2
  exit 1
fi
scripts/pg.sh dropdb dealroom_schema_check >/dev/null
