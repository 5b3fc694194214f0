DROP TABLE message_parts;
DROP TABLE message_deltas;
DROP TABLE message_streams;
ALTER TABLE messages
    DROP CONSTRAINT messages_kind_fields_check,
    ADD CONSTRAINT messages_kind_fields_check CHECK (
        (kind = 'text' AND content IS NOT NULL AND media_id IS NULL)
        OR (kind = 'media' AND media_id IS NOT NULL)
    ),
    DROP CONSTRAINT messages_stream_fields_check,
    DROP COLUMN completed_at,
    DROP COLUMN status;
