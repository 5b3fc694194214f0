#!/usr/bin/env bash
# Stops the cluster testkit started for this run (see crates/testkit).
dir="${TESTKIT_DIR:-${TMPDIR:-/tmp}/dealroom-testkit-$(id -u)}"
[ -f "$dir/data/PG_VERSION" ] || exit 0
bin=$(pg_config --bindir 2>/dev/null)
[ -x "$bin/pg_ctl" ] || bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ "$(id -u)" = 0 ]; then
  runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
else
  "$bin/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
fi
