-- GET /sessions?q=: a case-insensitive substring of the title among one
-- user's sessions. Trigrams of the title and the owner in one GIN index, so
-- that the scan finds only that user's matching sessions. Built without
-- blocking writes (see messages_search_idx). No pending list: sessions are
-- created and renamed far less often than messages are posted, and entries
-- waiting in a pending list make the planner shy of the index.
CREATE INDEX CONCURRENTLY chat_sessions_title_trgm_idx
    ON chat_sessions USING gin (user_id, title gin_trgm_ops) WITH (fastupdate = off)
