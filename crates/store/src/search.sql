-- Full-text search of messages: one page of hits, best first (ChatStore::search_messages).
-- $1 the text search configuration's oid (an oid, not a name: the cast from a
-- name is not immutable, so a query could not be folded into a constant),
-- $2 the query text (web-search syntax), $3 the owner, $4 the session (both
-- named by the scope, which replaces `/* scope */ true`: nothing for every
-- session, `m.owner_id = $3::uuid` for a user's, the session and optionally
-- its owner for one session), $5 $6 $7 the key the page continues after:
-- rank, createdAt, id (rank +Infinity for the first page), $8 the row limit.
-- One statement per scope, so that its plan does not depend on the words
-- (messages_search_idx holds the owner and the words: a user's search
-- intersects the two inside it) and a generic plan is planned once.
-- Each hit is ranked once: OFFSET 0 keeps the inner query from being merged
-- into the outer one, which would compute ts_rank_cd twice per hit (for the
-- key's comparison and for the order; 10% of a common word's time).
WITH hits AS (
    SELECT r.session_id, r.id, r.rank, r.created_at
    FROM (
        SELECT m.session_id, m.id, ts_rank_cd(m.search, q.query) AS rank, m.created_at
        FROM websearch_to_tsquery($1::oid::regconfig, $2) AS q (query)
        JOIN messages m ON m.search @@ q.query
        WHERE /* scope */ true
        OFFSET 0
    ) r
    WHERE (r.rank, r.created_at, r.id) < ($5::float4, $6::timestamptz, $7::uuid)
    ORDER BY r.rank DESC, r.created_at DESC, r.id DESC
    LIMIT $8
)
-- The snippets, for the rows of the page only. ts_headline would drop what its
-- parser takes for HTML tags: '<' goes in as U+E002 and comes back in Rust,
-- and the hits are marked with U+E000 and U+E001 (removed from the text first),
-- which Rust turns into [[ and ]].
SELECT h.rank, s.title AS session_title,
       m.id, m.session_id, m.seq, m.sender_id, m.role, m.kind, m.content, m.media_id,
       m.client_message_id, m.created_at,
       md.owner_id AS media_owner_id, md.mime_type AS media_mime_type,
       md.size_bytes AS media_size_bytes, md.file_name AS media_file_name,
       md.sha256 AS media_sha256, md.created_at AS media_created_at,
       -- A short message whole; of a long one, up to two parts around hits.
       ts_headline($1::oid::regconfig, translate(m.content, U&'<\E000\E001\E002', U&'\E002'), q.query,
           CASE WHEN char_length(m.content) <= 200 THEN 'MaxWords=35, MinWords=15, '
                ELSE 'MaxFragments=2, MaxWords=20, MinWords=8, FragmentDelimiter=" … ", ' END
           || U&'StartSel=\E000, StopSel=\E001') AS snippet
FROM hits h
-- By the session too: a message is found by its session and id wherever
-- messages are partitioned or distributed by session (docs/scaling.md).
JOIN messages m ON m.session_id = h.session_id AND m.id = h.id
JOIN chat_sessions s ON s.id = m.session_id
LEFT JOIN media md ON md.id = m.media_id
CROSS JOIN websearch_to_tsquery($1::oid::regconfig, $2) AS q (query)
ORDER BY h.rank DESC, h.created_at DESC, h.id DESC
