-- `make bench`, search scenario: seeds :messages messages over :sessions chat
-- sessions of :users users, with text drawn from a vocabulary whose word
-- frequencies follow Zipf's law (the word of rank r has probability ~ 1/r), as
-- in natural language. The benchmark's user (:'user_id') owns
-- :user_sessions of the sessions, its big user (:'big_id') the next
-- :big_sessions; the rest belong to generated users.
-- Run with psql -v user_id=... -v big_id=... -v big_sessions=... -v users=... -v sessions=... -v messages=...
-- -v user_sessions=...; then search-seed-messages.sql (in parallel parts) and
-- the index (see scripts/bench/bench.py).
\set ON_ERROR_STOP on
SET synchronous_commit = off;

-- The vocabulary: common English words of a purchase chat first (stop words
-- among them, as in real text), then generated words for the long tail.
-- (A table of the benchmark database, not a temporary one: the benchmark
-- picks its rare and common words from it.)
DROP TABLE IF EXISTS bench_vocab;
CREATE UNLOGGED TABLE bench_vocab (rank int PRIMARY KEY, word text NOT NULL);
INSERT INTO bench_vocab
SELECT ordinality, w FROM unnest(string_to_array(
  'the to i and a you is it for of in we that this can be on have with price '
  'will what are my do not your if so at order delivery but how shipping me '
  'please there would just about any get from all unit our they week need '
  'send quote offer much when product size color more cost payment invoice '
  'discount quantity stock available model warranty return sample total '
  'bike laptop phone chair table lamp camera shoes jacket watch speaker '
  'battery charger cable screen keyboard mouse desk sofa mattress helmet '
  'tires wheels frame pedals saddle brakes gears chain lights lock pump '
  'bottle bag backpack tent stove kettle blender toaster fridge oven washer '
  'dryer vacuum printer router monitor tablet headphones earbuds microphone '
  'tripod lens drone console controller game ticket hotel flight rental '
  'insurance repair service install setup refund exchange cancel confirm '
  'tracking courier parcel package invoice receipt tax customs duty euro '
  'dollar pound cheap expensive budget premium quality brand new used '
  'refurbished original genuine fake broken damaged scratched perfect '
  'great good bad fine okay thanks thank hello hi yes no maybe tomorrow '
  'today yesterday monday friday weekend morning evening asap urgent',
  ' ')) WITH ORDINALITY AS t(w, ordinality);
-- The tail: pronounceable made-up words (two to four syllables), unique.
INSERT INTO bench_vocab
SELECT (SELECT max(rank) FROM bench_vocab) + row_number() OVER (ORDER BY md5(w)), w
FROM (
  SELECT DISTINCT ON (w) w FROM (
    SELECT (array['ka','lo','mi','ne','ru','sa','ti','vo','ze','da','fe','gu','ho','ji','pa','qui','ro','su','te','wa'])[1 + (g * 7) % 20]
        || (array['ban','cor','dil','fen','gar','hum','lix','mon','nep','orb','pex','quin','ral','sot','tav','ulm','vex','wyn','yor','zat'])[1 + (g / 20) % 20]
        || (array['','a','o','en','is','um','ar','el','ix','on'])[1 + (g / 400) % 10]
        || (array['','ri','sa','to','vu'])[1 + (g / 4000) % 5] AS w
    FROM generate_series(0, 19999) g
  ) s ORDER BY w
) u;
ANALYZE bench_vocab;

-- Users: the benchmark's own, and generated ones.
INSERT INTO users (id, email, name, password_hash)
SELECT gen_random_uuid(), 'seed' || g || '@example.com', 'Seed user ' || g,
       '$2b$04$invalidinvalidinvalidinvalidinvalidinvalidinvalidinva'
FROM generate_series(1, :users - 1) g;

-- Sessions: :user_sessions for the benchmark's user, the rest spread over the others.
CREATE TEMP TABLE seed_users AS
SELECT id, (row_number() OVER (ORDER BY id) - 1)::int AS i
FROM users WHERE email LIKE 'seed%@example.com';
DROP TABLE IF EXISTS bench_sessions;
CREATE UNLOGGED TABLE bench_sessions AS
SELECT gen_random_uuid() AS id,
       CASE WHEN g <= :user_sessions THEN :'user_id'::uuid
            WHEN g <= :user_sessions + :big_sessions THEN :'big_id'::uuid
            ELSE u.id END AS user_id, g
FROM generate_series(1, :sessions) g LEFT JOIN seed_users u ON u.i = g % (:users - 1);
INSERT INTO chat_sessions (id, user_id, title, message_count, message_seq, created_at, updated_at, last_message_at)
SELECT s.id, s.user_id,
       initcap((SELECT word FROM bench_vocab WHERE rank = 80 + s.g % 150)) || ' '
         || (SELECT word FROM bench_vocab WHERE rank = 20 + (s.g * 13) % 60) || ' #' || s.g,
       :messages / :sessions, :messages / :sessions,
       now() - interval '30 days', now() - (s.g || ' seconds')::interval, now()
FROM bench_sessions s;

ANALYZE bench_sessions;
-- The messages go in without the search index, which is built after them,
-- and with their owner set by the seed instead of by the trigger (enabled again
-- after them).
DROP INDEX IF EXISTS messages_search_idx;
DROP INDEX IF EXISTS messages_time_idx;
DROP INDEX IF EXISTS messages_owner_time_idx;
ALTER TABLE messages DISABLE TRIGGER messages_set_owner;
