#!/usr/bin/env bash
# `make test-newcomer`: the path of someone who has just cloned the repository,
# for the local database. Clones this repository's HEAD into two private
# directories (mode 700, like a home directory) under a temporary one, and, when
# run as root, a third owned by an unprivileged user (`nobody`); runs `make db`
# in all of them at once; checks that each serves its own cluster (its own data
# directory, a Unix socket only, no TCP port); runs `make db-stop` in each and
# checks that they stopped. Removes everything it made, clusters included.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/dealroom-newcomer.XXXXXX")
chmod 755 "$tmp"
clones=()
owners=()

# Runs a command in a clone as the clone's owner.
in_clone() {
  local i=$1; shift
  if [ "${owners[$i]}" = "$(id -un)" ]; then
    (cd "${clones[$i]}" && "$@")
  else
    (cd "${clones[$i]}" && runuser -u "${owners[$i]}" -- "$@")
  fi
}

cleanup() {
  local i
  for i in "${!clones[@]}"; do
    in_clone "$i" scripts/pg.sh destroy >/dev/null 2>&1 || true
  done
  rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
  echo "test-newcomer: FAIL: $*" >&2
  exit 1
}

clone() {
  local name=$1 owner=$2 dir="$tmp/$1"
  mkdir -m 700 "$dir"
  # The same name for every clone: the clusters must still be told apart.
  git clone -q "$root" "$dir/dealroom"
  [ "$owner" = "$(id -un)" ] || chown -R "$owner" "$dir"
  clones+=("$dir/dealroom")
  owners+=("$owner")
}

clone one "$(id -un)"
clone two "$(id -un)"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
  clone unprivileged nobody
fi
echo "test-newcomer: ${#clones[@]} clones of HEAD in private directories under $tmp"

# `make db` everywhere at once.
pids=()
for i in "${!clones[@]}"; do
  in_clone "$i" env -u DATABASE_URL make -s db >"$tmp/db-$i.out" 2>&1 &
  pids+=($!)
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || { cat "$tmp/db-$i.out" >&2; fail "make db in ${clones[$i]} (as ${owners[$i]})"; }
done

declare -A seen=()
for i in "${!clones[@]}"; do
  url=$(tail -n 1 "$tmp/db-$i.out")
  row=$(in_clone "$i" psql -X -A -t -F ' ' "$url" \
    -c "SELECT current_setting('data_directory'), current_setting('listen_addresses') = ''") ||
    fail "clone $i does not answer at $url"
  read -r datadir socket_only <<<"$row"
  [ "$socket_only" = t ] || fail "clone $i listens on TCP ($row)"
  [ -z "${seen[$datadir]:-}" ] || fail "clones $i and ${seen[$datadir]} share $datadir"
  seen[$datadir]=$i
  echo "test-newcomer: clone $i (as ${owners[$i]}) serves $datadir on its own socket"
done

for i in "${!clones[@]}"; do
  in_clone "$i" make -s db-stop || fail "make db-stop in clone $i"
  if in_clone "$i" scripts/pg.sh status; then
    fail "clone $i's cluster still runs after make db-stop"
  fi
done
echo "test-newcomer: ok (make db in ${#clones[@]} private clones at once, each its own cluster, all stopped)"
