#!/usr/bin/env bash
# What one delta of a streamed reply costs the database as the reply grows
# (contract 3.12; docs/architecture.md, "Streamed replies"): a reply of
# 32,000 characters written in 8-character deltas, 4,000 of them, one after
# the other, in two ways, with pgbench (-c 1, each delta its own transaction,
# as the server runs them):
#
#   rewrite: the message's own row rewritten per delta
#            (UPDATE messages SET content = content || delta), the naive way;
#   deltas:  what the server does (crates/store/src/chat.rs, PgStore::DELTA_SQL
#            and DELTA_ANSWER_SQL, copied below): the stream's small row
#            updated, the delta logged, the text added to a tail that becomes
#            a part every 512 characters, and the content so far read back.
#
# Prints, for each: the mean latency of the first and the last 400 deltas,
# the whole reply's time, and the WAL it wrote. Needs psql and pgbench.
#
# Usage: scripts/bench/stream-cost.sh [DATABASE_URL of a migrated database]
# Without one: a fresh database in this checkout's local PostgreSQL
# (scripts/pg.sh), migrated with the dealroom binary (built if missing).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
CARGO=${CARGO:-cargo}
deltas=4000

url=${1:-}
if [ -z "$url" ]; then
  scripts/pg.sh start >/dev/null
  url=$(scripts/pg.sh createdb dealroom_stream_cost | tail -n 1)
  bin=target/release/dealroom
  [ -x "$bin" ] || bin=target/debug/dealroom
  [ -x "$bin" ] || { "$CARGO" build --bin dealroom >&2; bin=target/debug/dealroom; }
  DATABASE_URL=$url "$bin" migrate >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PGOPTIONS="-c client_min_messages=warning"
q() { psql "$url" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

user=01900000-0000-7000-8000-0000000000a1
session=01900000-0000-7000-8000-0000000000a2
rewrite=01900000-0000-7000-8000-0000000000a3
streamed=01900000-0000-7000-8000-0000000000a4
q <<SQL
DELETE FROM users WHERE id = '$user';
INSERT INTO users (id, email, name, password_hash, role)
  VALUES ('$user', 'stream-cost@example.com', 'Cost', 'x', 'agent');
INSERT INTO chat_sessions (id, user_id, title) VALUES ('$session', '$user', 'Cost');
INSERT INTO messages (id, session_id, seq, sender_id, role, kind, content)
  VALUES ('$rewrite', '$session', 1, '$user', 'assistant', 'text', 'x');
INSERT INTO messages (id, session_id, seq, sender_id, role, kind, status)
  VALUES ('$streamed', '$session', 2, '$user', 'assistant', 'text', 'streaming');
INSERT INTO message_streams (message_id, session_id, sender_id) VALUES ('$streamed', '$session', '$user');
DROP SEQUENCE IF EXISTS stream_cost_seq;
CREATE SEQUENCE stream_cost_seq;
SQL

# Eight characters a delta: a seven-digit word and a space.
cat >"$work/rewrite.sql" <<SQL
\set w random(1000000, 9999999)
UPDATE messages SET content = content || :w::text || ' ' WHERE id = '$rewrite' RETURNING content;
SQL
cat >"$work/deltas.sql" <<SQL
\set w random(1000000, 9999999)
SELECT nextval('stream_cost_seq') AS seq \gset
WITH s AS (
  UPDATE message_streams SET last_seq = :seq, length = length + 8, touched_at = clock_timestamp(),
    tail = CASE WHEN char_length(tail) + 8 >= 512 THEN '' ELSE tail || (:w::text || ' ') END,
    flushed = CASE WHEN char_length(tail) + 8 >= 512 THEN tail || (:w::text || ' ') END
  WHERE message_id = '$streamed' AND sender_id = '$user' AND last_seq = :seq - 1
    AND completed_pos IS NULL AND length + 8 <= 32000
  RETURNING message_id, session_id, tail, flushed
), d AS (
  INSERT INTO message_deltas (message_id, seq, text) SELECT message_id, :seq, :w::text || ' ' FROM s
), p AS (
  INSERT INTO message_parts (message_id, upto_seq, text) SELECT message_id, :seq, flushed FROM s
  WHERE flushed IS NOT NULL
)
SELECT s.tail, pg_notify('dealroom_events', s.session_id::text || ' ' || :seq::text || ' D '
  || s.message_id::text || ' ' || :w::text || ' ') AS notified FROM s \gset
SELECT coalesce((SELECT string_agg(p.text, '' ORDER BY p.upto_seq) FROM message_parts p
                  WHERE p.message_id = m.id AND p.upto_seq <= :seq), '') || :tail AS content
  FROM messages m WHERE m.id = '$streamed';
SQL

measure() {
  local name=$1 script=$2 n=$3 before after
  before=$(q -c "SELECT pg_current_wal_lsn()")
  (cd "$work" && pgbench -n -M extended -c 1 -t "$n" -f "$script" -l --log-prefix="log-$name" "$url" >/dev/null)
  after=$(q -c "SELECT pg_current_wal_lsn()")
  local wal
  wal=$(q -c "SELECT pg_wal_lsn_diff('$after', '$before')")
  awk -v name="$name" -v wal="$wal" '
    { t[NR] = $3 }
    END {
      for (i = 1; i <= 400; i++) first += t[i]
      for (i = NR - 399; i <= NR; i++) last += t[i]
      for (i = 1; i <= NR; i++) all += t[i]
      printf "%-8s %6d deltas  first 400: %7.0f us  last 400: %7.0f us  last/first: %5.1fx  whole reply: %6.2f s  WAL: %8.1f MB\n",
        name, NR, first / 400, last / 400, last / first, all / 1e6, wal / 1e6
    }' "$work/log-$name".*
}

echo "A reply of 32,000 characters in 8-character deltas (pgbench -c 1, one transaction per delta):"
measure rewrite rewrite.sql $((deltas - 1))
measure deltas deltas.sql "$deltas"
echo "content stored: rewrite $(q -c "SELECT char_length(content) FROM messages WHERE id = '$rewrite'") characters," \
  "deltas $(q -c "SELECT length FROM message_streams WHERE message_id = '$streamed'") characters" \
  "in $(q -c "SELECT count(*) FROM message_parts WHERE message_id = '$streamed'") parts"
q -c "DELETE FROM users WHERE id = '$user'; DROP SEQUENCE stream_cost_seq"
