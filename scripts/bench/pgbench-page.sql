-- The database ceiling of scenario (b), GET /api/v1/sessions/{id}/messages?limit=50:
-- the SQL one such request minimally needs, as the store runs it. Run by
-- scripts/bench/run.sh with pgbench -M prepared; :uid, :sid and :session are
-- the seeded user, its login session and its chat session (pgbench -D).

-- The login-session check of every authenticated request is answered from
-- the instance's cache (AUTH_CACHE_SIZE, domain::CallerCache) once a token
-- has been seen, so a steady stream of requests needs no query for it; it is
-- not part of the ceiling (before the cache, it was).

-- The page with its ownership check in one statement
--    (crates/store/src/chat.rs, PgStore::MESSAGE_PAGE_ASC_SQL): first page,
--    limit 50 + 1 to know whether there is a next one.
--    (A streaming reply's content so far is read by a second statement, only
--    for a page that holds one: not here.)
SELECT m.id, m.seq, m.sender_id, m.role, m.kind, m.content, m.media_id, m.client_message_id,
       m.created_at, md.owner_id AS media_owner_id, md.mime_type AS media_mime_type,
       md.size_bytes AS media_size_bytes, md.file_name AS media_file_name,
       md.sha256 AS media_sha256, md.created_at AS media_created_at, m.status, m.completed_at
  FROM chat_sessions s
  LEFT JOIN LATERAL (
       SELECT * FROM messages WHERE messages.session_id = s.id AND messages.seq > 0
        ORDER BY messages.seq ASC LIMIT 51
  ) m ON true
  LEFT JOIN media md ON md.id = m.media_id
 WHERE s.id = :session AND (:uid::uuid IS NULL OR s.user_id = :uid::uuid)
 ORDER BY m.seq ASC;
