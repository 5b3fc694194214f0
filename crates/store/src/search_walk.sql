-- Search, newest first, by a budgeted walk (ChatStore::search_matches): the
-- newest $10 messages in scope older than the bound ($5, $6), filtered by the
-- words. A common word fills the page after a few rows and the walk stops
-- there; a rare one exhausts the budget, and the caller then asks the exact
-- statement (search_exact.sql), which the GIN index serves.
-- $1 the text search configuration's oid, $2 the query text (web-search
-- syntax), $3 the owner, $4 the session (named by the scope, which replaces
-- `/* scope */ true`), $5 $6 the exclusive upper bound (createdAt, id),
-- $7 $8 the inclusive lower bound, $9 the most matches, $10 the row budget,
-- $11 whether to rank.
SELECT w.session_id, w.id, w.created_at,
       (CASE WHEN $11::bool THEN ts_rank_cd(w.search, q.query) ELSE 0 END)::float4 AS rank
FROM (
    SELECT m.session_id, m.id, m.created_at, m.search
    FROM messages m
    WHERE /* scope */ true
      AND (m.created_at, m.id) < ($5::timestamptz, $6::uuid)
    ORDER BY m.created_at DESC, m.id DESC
    LIMIT $10
) w
CROSS JOIN websearch_to_tsquery($1::oid::regconfig, $2) AS q (query)
WHERE w.search @@ q.query
  AND (w.created_at, w.id) >= ($7::timestamptz, $8::uuid)
ORDER BY w.created_at DESC, w.id DESC
LIMIT $9
