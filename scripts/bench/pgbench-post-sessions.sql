-- docs/scaling.md's NOTIFY measurement: scenario (c)'s transaction (see
-- pgbench-post.sql), each time into one of :sessions chat sessions picked at
-- random (so posts rarely wait for each other's row lock), with the live
-- event's pg_notify when :notify is 1. Seeded by scripts/bench/scaling.sh.
\set n random(1, :sessions)
BEGIN;
UPDATE chat_sessions
   SET message_seq = message_seq + 1, message_count = message_count + 1,
       updated_at = clock_timestamp(), last_message_at = clock_timestamp()
 WHERE id = ('00000000-0000-4000-8000-' || lpad(:n::text, 12, '0'))::uuid AND user_id = :uid
RETURNING id AS session, message_seq AS seq, last_message_at AS at
\gset
INSERT INTO messages (id, session_id, seq, sender_id, role, kind, content, created_at)
VALUES (gen_random_uuid(), :session::uuid, :seq, :uid, 'user', 'text',
        'Benchmark message: is the price still 120 EUR per unit?', :at::timestamptz);
SELECT CASE WHEN :notify = 1
            THEN pg_notify('dealroom_events', :session::text || ' ' || :seq::text || ' m x') END;
COMMIT;
