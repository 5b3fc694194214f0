-- Message search: the owner and the words of each message in one GIN index
-- (btree_gin for the owner's column). A search over every session uses the
-- words' entries alone; a user's search intersects their owner entry with the
-- words' inside the index and reads only the matching rows; one session's
-- search reads that session's messages (messages_session_seq_key).
--
-- Built without blocking writes: CONCURRENTLY cannot run in a transaction, so
-- this migration runs outside one (metadata.toml) and holds this one statement.
-- If the build fails half-way it leaves an INVALID index behind: drop it
-- (DROP INDEX CONCURRENTLY messages_search_idx) and migrate again.
--
-- A small pending list (256 kB instead of 4 MB): inserts go to the list and
-- are merged into the index when it is full, so no insert pays for merging a
-- large list at once.
CREATE INDEX CONCURRENTLY messages_search_idx ON messages USING gin (owner_id, search)
    WITH (fastupdate = on, gin_pending_list_limit = 256)
