-- `make bench`, search scenario: the messages of the sessions seeded by
-- search-seed.sql, part :part of :parts (bench.py runs the parts side by side):
-- :messages / :sessions per session, 4 to 24 words each; ids are time-ordered
-- like the server's UUID v7 ones. Each word is drawn by its rank: floor(n^u)
-- for a uniform u has the density ~ 1/r of Zipf's law.
\set ON_ERROR_STOP on
SET synchronous_commit = off;
SET work_mem = '256MB';
INSERT INTO messages (id, session_id, owner_id, seq, sender_id, role, kind, content, created_at)
SELECT (lpad(to_hex(floor(extract(epoch FROM m.at) * 1000)::bigint), 12, '0') || '7000'
          || '8' || lpad(to_hex(m.n), 15, '0'))::uuid,
       m.session_id, m.owner_id, m.k, :'sender'::uuid, 'user', 'text', m.content, m.at
FROM (
  SELECT w.n, w.session_id, w.owner_id, w.k,
         string_agg(v.word, ' ') AS content,
         now() - interval '30 days' + (w.n || ' seconds')::interval AS at
  FROM (
    SELECT s.id AS session_id, s.user_id AS owner_id, k, (s.g - 1) * (:messages / :sessions) + k AS n,
           floor(power((SELECT count(*) FROM bench_vocab), random()))::int AS r
    FROM bench_sessions s, generate_series(1, :messages / :sessions) AS k,
         generate_series(1, 4 + (k * 7 + s.g) % 21) AS pos
    WHERE s.g % :parts = :part
  ) w JOIN bench_vocab v ON v.rank = w.r
  GROUP BY w.n, w.session_id, w.owner_id, w.k
) m;
