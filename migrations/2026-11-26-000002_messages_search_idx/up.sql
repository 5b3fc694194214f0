-- Message search: the session and the words of each message in one GIN index
-- (btree_gin for the session column). A search over all sessions uses the
-- words alone; one over a user's sessions, or one session, intersects each
-- session's entries with the words' in the index, and reads only the matching
-- rows.
--
-- Built without blocking writes: CONCURRENTLY cannot run in a transaction, so
-- this migration runs outside one (metadata.toml) and holds this one statement.
-- If the build fails half-way it leaves an INVALID index behind: drop it
-- (DROP INDEX CONCURRENTLY messages_search_idx) and migrate again.
--
-- A small pending list (256 kB instead of 4 MB): inserts go to the list and
-- are merged into the index when it is full, so no insert pays for merging a
-- large list at once.
CREATE INDEX CONCURRENTLY messages_search_idx ON messages USING gin (session_id, search)
    WITH (fastupdate = on, gin_pending_list_limit = 256)
