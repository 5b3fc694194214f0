-- make bench's EXPLAIN of the hot statements, as every pool connection runs
-- them: prepared, with plan_cache_mode = force_generic_plan (crates/store/src/
-- pool.rs), so each plan shown is the generic plan the connection keeps for
-- good. Run by scripts/bench/bench.py after seeding at scale; :uid, :sid and
-- :session are the measured user, login session and chat session. The
-- statements are the store's (crates/store/src/auth.rs, chat.rs); the post is
-- rolled back.
SET plan_cache_mode = force_generic_plan;

\echo '== the login-session check (AuthStore::actor)'
PREPARE actor(uuid, uuid) AS
SELECT users.role, login_sessions.expires_at
  FROM login_sessions INNER JOIN users ON login_sessions.user_id = users.id
 WHERE login_sessions.id = $1 AND login_sessions.user_id = $2
   AND login_sessions.revoked_at IS NULL AND login_sessions.expires_at > now()
   AND users.is_active
 LIMIT 1;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE actor(:'sid', :'uid');

\echo '== the first page of 50 (PgStore::MESSAGE_PAGE_ASC_SQL)'
PREPARE page(uuid, uuid, bigint, bigint) AS
SELECT m.id, m.seq, m.sender_id, m.role, m.kind, m.content, m.media_id, m.client_message_id,
       m.created_at, md.owner_id AS media_owner_id, md.mime_type AS media_mime_type,
       md.size_bytes AS media_size_bytes, md.file_name AS media_file_name,
       md.sha256 AS media_sha256, md.created_at AS media_created_at
  FROM chat_sessions s
  LEFT JOIN LATERAL (
       SELECT * FROM messages WHERE messages.session_id = s.id AND messages.seq > $3
        ORDER BY messages.seq ASC LIMIT $4
  ) m ON true
  LEFT JOIN media md ON md.id = m.media_id
 WHERE s.id = $1 AND ($2::uuid IS NULL OR s.user_id = $2::uuid)
 ORDER BY m.seq ASC;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE page(:'session', :'uid', 0, 51);

\echo '== the post: the bump under the row lock (PgStore::BUMP_SESSION_SQL), rolled back'
BEGIN;
PREPARE bump(uuid) AS
UPDATE chat_sessions SET message_seq = message_seq + 1, message_count = message_count + 1,
       updated_at = clock_timestamp(), last_message_at = clock_timestamp()
 WHERE id = $1
RETURNING message_seq, last_message_at AS at;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE bump(:'session');
ROLLBACK;
