#!/usr/bin/env bash
# docs/scaling.md's database figures, on the running `make cluster` (about a
# minute; nothing else should run meanwhile): pgbench (2 threads,
# SCALING_DURATION s each, default 10) on
#   - scenario (b)'s SQL (pgbench-page.sql): prepared once per connection
#     (-M prepared, DB_STATEMENT_CACHE=on) against sent unprepared each time
#     (-M extended, =off: what Diesel does then), on the primary and through
#     PgBouncer; SCALING_CLIENTS (default 4, a pool of twice the cores) clients;
#   - posts into one of 64 sessions (pgbench-post-sessions.sql) with and
#     without the live event's pg_notify, SCALING_POST_CLIENTS (default 8)
#     clients, as the cluster runs (fsync and synchronous_commit off) and with
#     durable commits (both on, for these two runs only).
# Seeds its own rows (one user, a login session, 64 chat sessions, 1000
# messages in the first) in the cluster's database; prints the tps.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck disable=SC1090
. "$("$root/scripts/cluster.sh" env-file)"
duration=${SCALING_DURATION:-10}
clients=${SCALING_CLIENTS:-4}
post_clients=${SCALING_POST_CLIENTS:-8}
pgbench=$(printf '%s\n' /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -n 1)
direct="host=127.0.0.1 port=$PRIMARY_PORT user=postgres dbname=dealroom"
bouncer="host=127.0.0.1 port=$PGBOUNCER_PORT user=postgres dbname=dealroom"
uid=00000000-0000-4000-8000-0000000000aa
sid=00000000-0000-4000-8000-0000000000bb
session=00000000-0000-4000-8000-000000000001
psql -X -q -v ON_ERROR_STOP=1 "$direct" <<SQL
DELETE FROM users WHERE id = '$uid';
INSERT INTO users (id, email, name, password_hash) VALUES ('$uid', 'scaling@example.com', 'Scaling', 'x');
INSERT INTO login_sessions (id, user_id, refresh_token_hash, expires_at)
VALUES ('$sid', '$uid', sha256('scaling'), now() + interval '1 day');
INSERT INTO chat_sessions (id, user_id, title)
SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid, '$uid', 'Scaling ' || n
  FROM generate_series(1, 64) n;
UPDATE chat_sessions SET message_seq = 1000, message_count = 1000 WHERE id = '$session';
INSERT INTO messages (id, session_id, seq, sender_id, role, kind, content)
SELECT gen_random_uuid(), '$session', n, '$uid', 'user', 'text', 'Seed message ' || n
  FROM generate_series(1, 1000) n;
VACUUM ANALYZE;
SQL
run() { # label, connection, mode, clients, script, extra -D...
  local label=$1 conn=$2 mode=$3 n=$4 script=$5; shift 5
  local tps
  tps=$("$pgbench" -n -M "$mode" -c "$n" -j 2 -T "$duration" -f "$root/scripts/bench/$script" \
    -D uid="$uid" -D sid="$sid" -D session="$session" "$@" "$conn" 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  printf '%-58s %10.0f tps\n' "$label" "$tps"
}
echo "pgbench, 2 threads, ${duration} s each; load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
run "(b) SQL, primary, prepared (cache on), $clients clients" "$direct" prepared "$clients" pgbench-page.sql
run "(b) SQL, primary, unprepared (cache off), $clients clients" "$direct" extended "$clients" pgbench-page.sql
run "(b) SQL, PgBouncer, unprepared (cache off), $clients clients" "$bouncer" extended "$clients" pgbench-page.sql
run "(c) SQL, primary, prepared, 64 sessions, $post_clients clients" "$direct" prepared "$post_clients" pgbench-post-sessions.sql -D sessions=64 -D notify=0
run "(c) SQL + pg_notify, primary, prepared, 64 sessions" "$direct" prepared "$post_clients" pgbench-post-sessions.sql -D sessions=64 -D notify=1
run "(c) SQL, PgBouncer, unprepared, 64 sessions" "$bouncer" extended "$post_clients" pgbench-post-sessions.sql -D sessions=64 -D notify=0
run "(c) SQL + pg_notify, PgBouncer, unprepared, 64 sessions" "$bouncer" extended "$post_clients" pgbench-post-sessions.sql -D sessions=64 -D notify=1
# The same two with durable commits (the cluster runs with fsync and
# synchronous_commit off, like make db): NOTIFY's lock is held through the
# commit's WAL flush.
psql -X -q "$direct" -c "ALTER SYSTEM SET fsync = on" -c "ALTER SYSTEM SET synchronous_commit = on" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
run "(c) SQL, primary, durable commits, 64 sessions" "$direct" prepared "$post_clients" pgbench-post-sessions.sql -D sessions=64 -D notify=0
run "(c) SQL + pg_notify, primary, durable commits, 64 sessions" "$direct" prepared "$post_clients" pgbench-post-sessions.sql -D sessions=64 -D notify=1
psql -X -q "$direct" -c "ALTER SYSTEM RESET fsync" -c "ALTER SYSTEM RESET synchronous_commit" -c "SELECT pg_reload_conf()" >/dev/null
psql -X -q "$direct" -c "DELETE FROM users WHERE id = '$uid'"
