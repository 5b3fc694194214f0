-- Chat sessions, uploaded media and the messages exchanged in a session.

CREATE TABLE chat_sessions (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title           text NOT NULL
                    CONSTRAINT chat_sessions_title_check CHECK (char_length(title) BETWEEN 1 AND 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    last_message_at timestamptz,
    -- Live messages in the session.
    message_count   integer NOT NULL DEFAULT 0
                    CONSTRAINT chat_sessions_message_count_check CHECK (message_count >= 0),
    -- The last sequence number handed to a message; never goes down. Posting takes the
    -- session row's lock to bump it, so sequence order is commit order within a session.
    message_seq     bigint NOT NULL DEFAULT 0
                    CONSTRAINT chat_sessions_message_seq_check CHECK (message_seq >= 0),
    -- Sellers in the session, kept under the cap by a conditional update on this row.
    seller_count    integer NOT NULL DEFAULT 0
                    CONSTRAINT chat_sessions_seller_count_check CHECK (seller_count >= 0)
);

-- A user's sessions, most recent activity first (GET /sessions).
CREATE INDEX chat_sessions_user_recent_idx ON chat_sessions (user_id, updated_at DESC, id DESC);

CREATE TABLE media (
    id         uuid PRIMARY KEY,
    owner_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    mime_type  text NOT NULL
               CONSTRAINT media_mime_type_check CHECK (mime_type IN (
                   'image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf',
                   'audio/mpeg', 'audio/ogg', 'video/mp4')),
    size_bytes bigint NOT NULL CONSTRAINT media_size_bytes_check CHECK (size_bytes >= 0),
    file_name  text CONSTRAINT media_file_name_check CHECK (char_length(file_name) BETWEEN 1 AND 255),
    sha256     text NOT NULL CONSTRAINT media_sha256_check CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX media_owner_id_idx ON media (owner_id);

CREATE TABLE messages (
    id                uuid PRIMARY KEY,
    session_id        uuid NOT NULL REFERENCES chat_sessions (id) ON DELETE CASCADE,
    -- Position in the session: strictly increasing, the key of message pages.
    seq               bigint NOT NULL CONSTRAINT messages_seq_check CHECK (seq > 0),
    -- The sender does not own the message (the session's owner does): when a sender's
    -- account is deleted, their messages in other people's sessions stay, unattributed.
    sender_id         uuid REFERENCES users (id) ON DELETE SET NULL,
    role              text NOT NULL
                      CONSTRAINT messages_role_check CHECK (role IN ('user', 'assistant', 'system')),
    kind              text NOT NULL
                      CONSTRAINT messages_kind_check CHECK (kind IN ('text', 'media')),
    content           text
                      CONSTRAINT messages_content_check CHECK (char_length(content) BETWEEN 1 AND 32000),
    media_id          uuid REFERENCES media (id) ON DELETE CASCADE,
    client_message_id text
                      CONSTRAINT messages_client_message_id_check
                      CHECK (char_length(client_message_id) BETWEEN 1 AND 100),
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT messages_kind_fields_check CHECK (
        (kind = 'text' AND content IS NOT NULL AND media_id IS NULL)
        OR (kind = 'media' AND media_id IS NOT NULL)
    )
);

-- Message pages in either order, and the seq's uniqueness within a session.
CREATE UNIQUE INDEX messages_session_seq_key ON messages (session_id, seq);
-- Idempotent posts: one message per client id in a session.
CREATE UNIQUE INDEX messages_session_client_message_id_key
    ON messages (session_id, client_message_id) WHERE client_message_id IS NOT NULL;
CREATE INDEX messages_sender_id_idx ON messages (sender_id) WHERE sender_id IS NOT NULL;
CREATE INDEX messages_media_id_idx ON messages (media_id) WHERE media_id IS NOT NULL;
