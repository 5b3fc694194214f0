-- Search, newest first, exactly (ChatStore::search_messages): the matches in
-- scope through the GIN index (messages_search_idx: the owner and the words),
-- at most $11 of them, kept apart by MATERIALIZED so that the planner never
-- ANDs the GIN scan with a time index; then the bounds and the order outside
-- it. Binds as in search_walk.sql without the budget ($10 is whether to rank),
-- and $11 the most matches to read: with fewer than that, `found` is every
-- match and the page is exact; a large scope asks with a small $11 first, to
-- answer a rare word without walking (see search.rs).
-- Always one row at least: `found` counts what was read, and a page without
-- matches is one row of NULLs.
WITH found AS MATERIALIZED (
    SELECT m.session_id, m.id, m.created_at
    FROM messages m
    CROSS JOIN websearch_to_tsquery($1::oid::regconfig, $2) AS q (query)
    WHERE m.search @@ q.query AND /* scope */ true
    LIMIT $11
), page AS (
    SELECT * FROM found
    WHERE (created_at, id) < ($5::timestamptz, $6::uuid)
      AND (created_at, id) >= ($7::timestamptz, $8::uuid)
    ORDER BY created_at DESC, id DESC
    LIMIT $9
)
SELECT p.session_id, p.id, p.created_at,
       (CASE WHEN $10::bool THEN ts_rank_cd(m.search, q.query) ELSE 0 END)::float4 AS rank,
       (SELECT count(*) FROM found) AS found
FROM (SELECT 1) AS one
LEFT JOIN (
    page p
    -- By the session too: a message is found by its session and id wherever
    -- messages are partitioned or distributed by session (docs/scaling.md).
    JOIN messages m ON m.session_id = p.session_id AND m.id = p.id
    CROSS JOIN websearch_to_tsquery($1::oid::regconfig, $2) AS q (query)
) ON true
ORDER BY p.created_at DESC, p.id DESC
