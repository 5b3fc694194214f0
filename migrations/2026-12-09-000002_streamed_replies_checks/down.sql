-- Back to the NOT VALID constraints of the previous migration.
ALTER TABLE messages
    DROP CONSTRAINT messages_stream_fields_check,
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
