-- Streamed replies (contract 3.12): a message that an agent writes delta by
-- delta, then completes (or that times out, incomplete).
--
-- A message not streamed keeps `status` and `completed_at` NULL: it reads as
-- `complete`, completed at its `createdAt`, and its rows, the post and the
-- page of messages cost what they did. While a message streams its
-- `content` stays NULL (so search finds it only once complete, and the row
-- is never rewritten per delta): what it says so far is in `message_parts`
-- and the stream's `tail`, and is written into `content` once, on
-- completion (docs/architecture.md, "Streamed replies").

ALTER TABLE messages
    ADD COLUMN status text
        CONSTRAINT messages_status_check CHECK (status IN ('streaming', 'complete', 'incomplete')),
    ADD COLUMN completed_at timestamptz;

-- A streamed message is a text message; a complete or incomplete one has its
-- completion time, a streaming one neither that nor `content` yet. A text
-- message has its content, unless it was streamed (a stream that ended with
-- nothing keeps it NULL: it reads as ""). NOT VALID here: every existing row
-- meets these (their `status` is NULL), and checking them would hold this
-- migration's lock on `messages` for a scan of the table; the next migration
-- validates them under a lock that lets reads and writes go on.
ALTER TABLE messages
    ADD CONSTRAINT messages_stream_fields_check CHECK (
        CASE
            WHEN status IS NULL THEN completed_at IS NULL
            WHEN status = 'streaming' THEN completed_at IS NULL AND content IS NULL AND kind = 'text'
            ELSE completed_at IS NOT NULL AND kind = 'text'
        END
    ) NOT VALID,
    DROP CONSTRAINT messages_kind_fields_check,
    ADD CONSTRAINT messages_kind_fields_check CHECK (
        (kind = 'text' AND media_id IS NULL AND (content IS NOT NULL OR status IS NOT NULL))
        OR (kind = 'media' AND media_id IS NOT NULL)
    ) NOT VALID;

-- One row per streamed message, from its creation on (kept once it ends: a
-- live stream that resumes finds the ones that ended since it left). Written
-- by every delta, and small: its columns are indexed by none of the indexes
-- below, so each delta's update stays on its page (a HOT update) and
-- touches no index.
CREATE TABLE message_streams (
    message_id    uuid PRIMARY KEY REFERENCES messages (id) ON DELETE CASCADE,
    session_id    uuid NOT NULL,
    -- Only the sender appends and completes.
    sender_id     uuid NOT NULL,
    -- The last delta applied (0: none yet).
    last_seq      integer NOT NULL DEFAULT 0
                  CONSTRAINT message_streams_last_seq_check CHECK (last_seq >= 0),
    -- The content's length so far, in characters.
    length        integer NOT NULL DEFAULT 0
                  CONSTRAINT message_streams_length_check CHECK (length BETWEEN 0 AND 32000),
    -- The text of the deltas since the last part (under 512 characters), and,
    -- on the row version of a delta that filled it, the part it became.
    tail          text NOT NULL DEFAULT '',
    flushed       text,
    -- When it was created or last given a delta (STREAM_IDLE_TIMEOUT).
    touched_at    timestamptz NOT NULL DEFAULT now(),
    -- The session's event position when it ended; NULL while streaming.
    completed_pos bigint
) WITH (fillfactor = 50);

-- A live stream that resumes: what streams now, and what ended since.
CREATE INDEX message_streams_session_idx ON message_streams (session_id, completed_pos);
-- The streams still open (the idle check, and a new live stream's snapshots).
CREATE INDEX message_streams_open_idx ON message_streams (session_id) WHERE completed_pos IS NULL;

-- Every delta applied, as sent: a retried delta is compared with it, and an
-- instance reads one whose text was too long for its NOTIFY. Gone once the
-- message ends.
CREATE TABLE message_deltas (
    message_id uuid NOT NULL REFERENCES message_streams (message_id) ON DELETE CASCADE,
    seq        integer NOT NULL CONSTRAINT message_deltas_seq_check CHECK (seq > 0),
    text       text NOT NULL
               CONSTRAINT message_deltas_text_check CHECK (char_length(text) BETWEEN 1 AND 4000),
    PRIMARY KEY (message_id, seq)
);

-- The content so far, in parts of at least 512 characters (the first is the
-- content the message was created with), each the text of the deltas up to
-- `upto_seq`: a read of the content so far reads a few dozen rows, not one
-- per delta. Gone once the message ends.
CREATE TABLE message_parts (
    message_id uuid NOT NULL REFERENCES message_streams (message_id) ON DELETE CASCADE,
    upto_seq   integer NOT NULL CONSTRAINT message_parts_upto_seq_check CHECK (upto_seq >= 0),
    text       text NOT NULL,
    PRIMARY KEY (message_id, upto_seq)
);
