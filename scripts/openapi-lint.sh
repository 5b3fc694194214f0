#!/usr/bin/env bash
# Part of `make lint`: the OpenAPI document (the committed snapshot
# bin/server/openapi.json, which a unit test keeps equal to what the server
# serves) checked by the tools its users run:
#   - openapi-spec-validator (PyPI): the OpenAPI 3.1 schema and its rules;
#   - redocly lint (npm @redocly/cli), its recommended rules
#     (scripts/redocly.yaml), with no error and no warning (the few exceptions,
#     each explained, in scripts/.redocly.lint-ignore.yaml);
#   - openapi-python-client (PyPI) generates a client from it, failing on any
#     warning, and the generated package must import.
# The tools are pinned and installed on first use under target/ (lint-venv,
# lint-npm); a fresh machine needs only python3 (venv, pip) and npm.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
doc="${OPENAPI_DOC:-bin/server/openapi.json}"
venv="$root/target/lint-venv"
npm_dir="$root/target/lint-npm"

# Pinned versions: bump them on purpose, never by accident.
spec_validator="openapi-spec-validator==0.9.0"
python_client="openapi-python-client==0.29.1"
redocly="@redocly/cli@2.77.0"

pip_stamp="$venv/.installed"
pip_want="$spec_validator $python_client"
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$pip_stamp" 2>/dev/null)" != "$pip_want" ]; then
  echo "installing $pip_want into target/lint-venv ..." >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check $pip_want
  echo "$pip_want" >"$pip_stamp"
fi
npm_stamp="$npm_dir/.installed"
if [ ! -x "$npm_dir/node_modules/.bin/redocly" ] || [ "$(cat "$npm_stamp" 2>/dev/null)" != "$redocly" ]; then
  echo "installing $redocly into target/lint-npm ..." >&2
  mkdir -p "$npm_dir"
  [ -f "$npm_dir/package.json" ] || echo '{ "private": true }' >"$npm_dir/package.json"
  npm install --prefix "$npm_dir" --no-audit --no-fund --loglevel=error --save-exact "$redocly" >&2
  echo "$redocly" >"$npm_stamp"
fi

echo "== openapi-spec-validator $doc"
"$venv/bin/openapi-spec-validator" "$doc"

echo "== redocly lint $doc"
# Telemetry off: the check talks to no one.
REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true \
  "$npm_dir/node_modules/.bin/redocly" lint "$doc" --config scripts/redocly.yaml --max-problems 1000 2>&1 | tee target/redocly-lint.log
# Warnings do not fail redocly; they fail this check.
if grep -Eq "[0-9]+ (warning|error)s?\b" target/redocly-lint.log; then
  echo "redocly found problems (above)" >&2
  exit 1
fi

echo "== openapi-python-client generate"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
(cd "$out" && "$venv/bin/openapi-python-client" generate --path "$root/$doc" \
  --meta none --output-path client --config "$root/scripts/openapi-python-client.yaml" --fail-on-warning >/dev/null)
(cd "$out" && "$venv/bin/python" - <<'PY'
import importlib, pkgutil
import client
names = [m.name for m in pkgutil.walk_packages(client.__path__, "client.")]
for name in names:
    importlib.import_module(name)
print(f"the generated client's {len(names)} modules import")
# Each named schema is one class: a list's items are the named Message,
# ChatSession, User and SearchHit, not inline copies with classes of their
# own (`EnvelopePageMessageDataItemsItem`).
import client.models as models
for named in ("Message", "ChatSession", "User", "SearchHit"):
    assert isinstance(getattr(models, named, None), type), f"no {named} class"
copies = [n for n in dir(models) if n.endswith("ItemsItem")]
assert not copies, f"inline copies of named schemas: {copies}"
print("one class per named schema (Message, ChatSession, User, SearchHit)")
PY
)
