-- The database ceiling of scenario (c), POST /api/v1/sessions/{id}/messages:
-- the SQL one such request minimally needs. Run by scripts/bench/run.sh with
-- pgbench -M prepared; :uid, :sid and :session are the seeded user, its login
-- session and its chat session (pgbench -D).
--
-- The login-session check of every authenticated request is answered from
-- the instance's cache (AUTH_CACHE_SIZE, domain::CallerCache) once a token
-- has been seen; it is not part of the ceiling.
--
-- 1. The access check: the session's owner (the chat service reads it before
--    posting, crates/store/src/chat.rs, session_owner).
SELECT user_id FROM chat_sessions WHERE id = :session;

-- 2. The post in one statement, as the store runs it
--    (crates/store/src/chat.rs, PgStore::POST_MESSAGE_SQL): the session bump
--    under its row lock, the insert, the webhook deliveries (none without an
--    endpoint that wants message.created: a scan of the tiny webhooks table),
--    the live-events notice, the message read back. Ids are
--    gen_random_uuid() (the server makes v7 ids).
WITH bumped AS (
  UPDATE chat_sessions SET message_seq = message_seq + 1, message_count = message_count + 1,
         updated_at = clock_timestamp(), last_message_at = clock_timestamp()
   WHERE id = :session
  RETURNING id, message_seq, last_message_at
), m AS (
  INSERT INTO messages (id, session_id, seq, sender_id, role, kind, content, media_id,
                        client_message_id, created_at, status)
  SELECT gen_random_uuid(), b.id, b.message_seq, :uid, 'user', 'text',
         'Benchmark message: is the price still 120 EUR per unit?', NULL, NULL, b.last_message_at,
         NULL
    FROM bumped b
  RETURNING id, session_id, seq, sender_id, role, kind, content, media_id, client_message_id, created_at,
            status, completed_at
), hooked AS (
  INSERT INTO webhook_deliveries (id, webhook_id, event_type, session_id, message_row, created_at)
  SELECT dealroom_uuid_v7(), w.id, 'message.created', m.session_id,
         json_build_object('message', to_json(m), 'media', to_json(md))::text, m.created_at
    FROM m CROSS JOIN webhooks w LEFT JOIN media md ON md.id = m.media_id
   WHERE w.enabled AND w.events && ARRAY['message.created', '*']
  RETURNING 1
)
SELECT m.id, m.seq, m.sender_id, m.role, m.kind, m.content, m.media_id, m.client_message_id,
       m.created_at, md.owner_id AS media_owner_id, md.mime_type AS media_mime_type,
       md.size_bytes AS media_size_bytes, md.file_name AS media_file_name,
       md.sha256 AS media_sha256, md.created_at AS media_created_at, m.status, m.completed_at,
       pg_notify('dealroom_events', m.session_id::text || ' ' || m.seq::text || ' m ' || m.id::text),
       CASE WHEN EXISTS (SELECT 1 FROM hooked) THEN pg_notify('dealroom_webhooks', '') END
  FROM m LEFT JOIN media md ON md.id = m.media_id;
