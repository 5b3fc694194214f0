-- The hits of a page of search matches (ChatStore::search_messages), in the
-- page's order: each message with its session's title and a snippet, made
-- for these rows only, and only for the rows that start within the page's
-- byte cap ($5: the text's bytes and 1 KiB for the rest of each row, never
-- more than the service's own count, which cuts the page exactly; a row that
-- starts exactly at the cap is kept, so that the service's cut is always
-- seen): a page of 200 long messages makes the 8 snippets it can carry, not
-- 200. $1 the configuration's oid, $2 the query
-- text, $3 the sessions and $4 the ids of the matches, in order.
-- ts_headline would drop what its parser takes for HTML tags: '<' goes in as
-- U+E002 and comes back in Rust, and the hits are marked with U+E000 and
-- U+E001 (removed from the text first), which Rust turns into [[ and ]].
WITH page AS (
    SELECT p.ord, m.id, m.session_id, m.seq, m.sender_id, m.role, m.kind, m.content,
           m.media_id, m.client_message_id, m.created_at, m.status, m.completed_at,
           coalesce(octet_length(m.content), 0) + 1024 AS weight,
           sum(coalesce(octet_length(m.content), 0) + 1024) OVER (ORDER BY p.ord) AS upto
    FROM unnest($3::uuid[], $4::uuid[]) WITH ORDINALITY AS p (session_id, id, ord)
    JOIN messages m ON m.session_id = p.session_id AND m.id = p.id
)
SELECT s.title AS session_title,
       m.id, m.session_id, m.seq, m.sender_id, m.role, m.kind, m.content, m.media_id,
       m.client_message_id, m.created_at,
       md.owner_id AS media_owner_id, md.mime_type AS media_mime_type,
       md.size_bytes AS media_size_bytes, md.file_name AS media_file_name,
       md.sha256 AS media_sha256, md.created_at AS media_created_at,
       m.status, m.completed_at,
       -- A short message whole; of a long one, up to two parts around hits.
       ts_headline($1::oid::regconfig, translate(m.content, U&'<\E000\E001\E002', U&'\E002'), q.query,
           CASE WHEN char_length(m.content) <= 200 THEN 'MaxWords=35, MinWords=15, '
                ELSE 'MaxFragments=2, MaxWords=20, MinWords=8, FragmentDelimiter=" … ", ' END
           || U&'StartSel=\E000, StopSel=\E001') AS snippet
FROM page m
JOIN chat_sessions s ON s.id = m.session_id
LEFT JOIN media md ON md.id = m.media_id
CROSS JOIN websearch_to_tsquery($1::oid::regconfig, $2) AS q (query)
WHERE m.upto - m.weight <= $5::int8
ORDER BY m.ord
