#!/usr/bin/env bash
# The dependency rule of DESIGN.md, executable: domain and the context crates
# never depend on diesel or actix-web (not even transitively).
set -euo pipefail
fail=0
for crate in domain auth accounts chat market media webhooks; do
  for banned in diesel actix-web; do
    # `-i` succeeds with an empty tree when the package is only in the crate's
    # dev-dependencies (testkit brings diesel to the tests): only a printed
    # tree is a normal dependency.
    tree=$(cargo tree -q -e normal -p "$crate" -i "$banned" 2>/dev/null || true)
    if [ -n "$tree" ]; then
      echo "dependency rule broken: $crate depends on $banned:" >&2
      echo "$tree" >&2
      fail=1
    fi
  done
done
[ $fail = 0 ] && echo "dependency rule holds: domain, auth, accounts, chat, market, media, webhooks know neither diesel nor actix-web"
exit $fail
