-- Webhooks (contract 3.11): the endpoints an admin registers, and the outbox
-- of deliveries to them. A delivery row is written in the transaction (or the
-- statement) of the change it reports, so a rolled-back write delivers
-- nothing and a committed one is never lost.

-- A time-ordered (version 7) UUID, for the rows the database writes itself
-- (the deliveries of a message post, whose statement makes them): the first
-- 48 bits are the Unix time in milliseconds, then the version (0111), then
-- random bits and the variant of gen_random_uuid().
CREATE FUNCTION dealroom_uuid_v7() RETURNS uuid LANGUAGE sql VOLATILE AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

CREATE TABLE webhooks (
    id uuid PRIMARY KEY,
    url text NOT NULL CONSTRAINT webhooks_url_check CHECK (char_length(url) BETWEEN 1 AND 2048),
    -- Event types, or '{*}'.
    events text[] NOT NULL CONSTRAINT webhooks_events_check CHECK (cardinality(events) >= 1),
    description text CONSTRAINT webhooks_description_check CHECK (char_length(description) BETWEEN 1 AND 500),
    enabled boolean NOT NULL DEFAULT true,
    -- whsec_ + base64 of 32 bytes; the HMAC key is the decoded bytes. The
    -- dispatcher needs the key itself, so it is stored as it is.
    secret text NOT NULL,
    -- The secret before the last rotation, which signs beside the new one
    -- until previous_secret_until.
    previous_secret text,
    previous_secret_until timestamptz,
    -- Since when every attempt to this endpoint has failed (NULL: the last
    -- one succeeded); WEBHOOK_DISABLE_AFTER past it disables the endpoint.
    failing_since timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_deliveries (
    id uuid PRIMARY KEY,
    -- The order deliveries were written in: within a chat session, commit
    -- order (every write that reports an event holds the session's row lock).
    position bigint GENERATED ALWAYS AS IDENTITY,
    webhook_id uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_type text NOT NULL,
    -- No foreign key: session.deleted outlives its session.
    session_id uuid,
    -- The body's data (JSON) as the change committed it, or, for a message
    -- post (one statement), the message's row as JSON, turned into a Message
    -- when claimed.
    data text,
    message_row text,
    status text NOT NULL DEFAULT 'pending'
        CONSTRAINT webhook_deliveries_status_check CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    last_status_code integer,
    last_error text,
    -- When it is due: at once, then after each failure its retry's time;
    -- while an attempt is in flight, the end of that attempt's lease (when
    -- another dispatcher may take it over); NULL once it ended.
    next_attempt_at timestamptz DEFAULT now(),
    -- Who holds the attempt in flight.
    lease_token uuid,
    -- When the event happened (the body's timestamp).
    created_at timestamptz NOT NULL DEFAULT now(),
    delivered_at timestamptz,
    ended_at timestamptz,
    CONSTRAINT webhook_deliveries_body_check CHECK (num_nonnulls(data, message_row) = 1)
);

-- Claims: the pending deliveries by when they are due.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
-- Order: is an earlier delivery of the same (endpoint, session) still pending?
CREATE INDEX webhook_deliveries_order_idx ON webhook_deliveries (webhook_id, session_id, position)
    WHERE status = 'pending';
-- GET /webhooks/{id}/deliveries, newest first, with and without ?status=.
CREATE INDEX webhook_deliveries_list_idx ON webhook_deliveries (webhook_id, position);
CREATE INDEX webhook_deliveries_status_list_idx ON webhook_deliveries (webhook_id, status, position);
-- WEBHOOK_RETENTION: the ended ones, by when they ended.
CREATE INDEX webhook_deliveries_ended_idx ON webhook_deliveries (ended_at)
    WHERE ended_at IS NOT NULL;
