-- The database ceiling of scenario (c), POST /api/v1/sessions/{id}/messages:
-- the SQL one such request minimally needs. Run by scripts/bench/run.sh with
-- pgbench -M prepared; :uid, :sid and :session are the seeded user, its login
-- session and its chat session (pgbench -D).
--
-- Minimal, so not quite what the server runs: the ownership check is folded
-- into the bump's WHERE (the server reads the owner in a statement of its
-- own first), and the insert returns nothing (the server takes the new row
-- back from its INSERT … RETURNING). Ids are gen_random_uuid() (the server
-- makes v7 ids).

-- The login-session check of every authenticated request is answered from
-- the instance's cache (AUTH_CACHE_SIZE, domain::CallerCache) once a token
-- has been seen, so a steady stream of requests needs no query for it; it is
-- not part of the ceiling (before the cache, it was).

-- The post: bump the session under its row lock for the next seq, insert
--    (crates/store/src/chat.rs, PgStore::BUMP_SESSION_SQL and append()).
BEGIN;
UPDATE chat_sessions
   SET message_seq = message_seq + 1, message_count = message_count + 1,
       updated_at = clock_timestamp(), last_message_at = clock_timestamp()
 WHERE id = :session AND user_id = :uid
RETURNING message_seq AS seq, last_message_at AS at
\gset
INSERT INTO messages (id, session_id, seq, sender_id, role, kind, content, media_id,
                      client_message_id, created_at)
VALUES (gen_random_uuid(), :session, :seq, :uid, 'user', 'text',
        'Benchmark message: is the price still 120 EUR per unit?', NULL, NULL, :at);
COMMIT;
