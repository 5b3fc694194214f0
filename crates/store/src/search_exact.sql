-- Search, newest first, exactly (ChatStore::search_matches): every match in
-- scope through the GIN index (messages_search_idx: the owner and the words),
-- kept apart by MATERIALIZED so that the planner never ANDs the GIN scan with
-- a time index, then the bounds and the order outside it. Binds as in
-- search_walk.sql, without the budget ($10 is whether to rank).
WITH found AS MATERIALIZED (
    SELECT m.session_id, m.id, m.created_at
    FROM messages m
    CROSS JOIN websearch_to_tsquery($1::oid::regconfig, $2) AS q (query)
    WHERE m.search @@ q.query AND /* scope */ true
)
SELECT f.session_id, f.id, f.created_at,
       (CASE WHEN $10::bool THEN ts_rank_cd(m.search, q.query) ELSE 0 END)::float4 AS rank
FROM (
    SELECT * FROM found
    WHERE (created_at, id) < ($5::timestamptz, $6::uuid)
      AND (created_at, id) >= ($7::timestamptz, $8::uuid)
    ORDER BY created_at DESC, id DESC
    LIMIT $9
) f
-- By the session too: a message is found by its session and id wherever
-- messages are partitioned or distributed by session (docs/scaling.md).
JOIN messages m ON m.session_id = f.session_id AND m.id = f.id
CROSS JOIN websearch_to_tsquery($1::oid::regconfig, $2) AS q (query)
ORDER BY f.created_at DESC, f.id DESC
