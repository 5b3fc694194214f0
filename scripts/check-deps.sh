#!/usr/bin/env bash
# The dependency rule of DESIGN.md, executable: domain and the context crates
# never depend on diesel or actix-web (not even transitively).
set -euo pipefail
fail=0
for crate in domain auth accounts chat market; do
  for banned in diesel actix-web; do
    if cargo tree -q -e normal -p "$crate" -i "$banned" >/dev/null 2>&1; then
      echo "dependency rule broken: $crate depends on $banned:" >&2
      cargo tree -q -e normal -p "$crate" -i "$banned" >&2 || true
      fail=1
    fi
  done
done
[ $fail = 0 ] && echo "dependency rule holds: domain, auth, accounts, chat, market know neither diesel nor actix-web"
exit $fail
