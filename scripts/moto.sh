#!/usr/bin/env bash
# The local S3-compatible server the tests run the S3 adapter against: moto's
# server mode from PyPI, installed once into a venv under target/ (pinned).
#   scripts/moto.sh ensure   install it if missing; prints the moto_server path
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv="${CARGO_TARGET_DIR:-$root/target}/moto-venv"
version=5.2.5

case "${1:-ensure}" in
  ensure)
    if [ ! -x "$venv/bin/moto_server" ] || ! grep -qx "$version" "$venv/.moto-version" 2>/dev/null; then
      command -v python3 >/dev/null || { echo "moto.sh: python3 is required" >&2; exit 1; }
      echo "==> installing moto[server]==$version into $venv (once)" >&2
      rm -rf "$venv"
      python3 -m venv "$venv" >&2
      "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$version" >&2
      echo "$version" >"$venv/.moto-version"
    fi
    echo "$venv/bin/moto_server"
    ;;
  *) echo "usage: scripts/moto.sh ensure" >&2; exit 2 ;;
esac
