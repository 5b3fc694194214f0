-- Search, newest first (GET /messages/search, sort=recent, and the window of
-- sort=relevance) over every session: a budgeted walk of the newest messages,
-- filtered by the words, stops after a page of hits for a common word, and
-- never reads every match of it (the GIN index would). Built without
-- blocking writes (see 2026-11-26-000002_messages_search_idx).
CREATE INDEX CONCURRENTLY messages_time_idx ON messages (created_at DESC, id DESC)
