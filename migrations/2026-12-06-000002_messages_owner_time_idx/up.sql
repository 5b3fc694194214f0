-- The same walk over one owner's messages (a user's search, or one session's,
-- when they hold many messages).
CREATE INDEX CONCURRENTLY messages_owner_time_idx ON messages (owner_id, created_at DESC, id DESC)
