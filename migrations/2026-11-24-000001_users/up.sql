-- Accounts and the login sessions that access and refresh tokens belong to.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL
                  CONSTRAINT users_email_check
                  CHECK (email = lower(btrim(email)) AND char_length(email) BETWEEN 3 AND 254),
    name          text NOT NULL
                  CONSTRAINT users_name_check CHECK (char_length(name) BETWEEN 1 AND 100),
    password_hash text NOT NULL,
    role          text NOT NULL DEFAULT 'user'
                  CONSTRAINT users_role_check CHECK (role IN ('user', 'agent', 'admin')),
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);

-- Emails are unique case-insensitively (they are stored lower-cased as well).
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
-- Admin listing filtered by role, newest first.
CREATE INDEX users_role_id_idx ON users (role, id DESC);

CREATE TABLE login_sessions (
    id                 uuid PRIMARY KEY,
    user_id            uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 of the current refresh token; the token itself is never stored.
    refresh_token_hash bytea NOT NULL
                       CONSTRAINT login_sessions_refresh_token_hash_check
                       CHECK (octet_length(refresh_token_hash) = 32),
    -- How many times the refresh token was rotated; older generations are reuse.
    refresh_generation integer NOT NULL DEFAULT 0
                       CONSTRAINT login_sessions_refresh_generation_check
                       CHECK (refresh_generation >= 0),
    device_name        text
                       CONSTRAINT login_sessions_device_name_check
                       CHECK (char_length(device_name) <= 100),
    user_agent         text
                       CONSTRAINT login_sessions_user_agent_check
                       CHECK (char_length(user_agent) <= 512),
    ip_address         text
                       CONSTRAINT login_sessions_ip_address_check
                       CHECK (char_length(ip_address) <= 64),
    created_at         timestamptz NOT NULL DEFAULT now(),
    last_used_at       timestamptz NOT NULL DEFAULT now(),
    expires_at         timestamptz NOT NULL,
    revoked_at         timestamptz,
    CONSTRAINT login_sessions_expiry_check CHECK (expires_at > created_at)
);

CREATE UNIQUE INDEX login_sessions_refresh_token_hash_key ON login_sessions (refresh_token_hash);
-- A user's active login sessions, newest first (GET /auth/sessions, logout-all).
CREATE INDEX login_sessions_user_active_idx ON login_sessions (user_id, created_at DESC)
    WHERE revoked_at IS NULL;
-- Cascading deletes from users.
CREATE INDEX login_sessions_user_id_idx ON login_sessions (user_id);
