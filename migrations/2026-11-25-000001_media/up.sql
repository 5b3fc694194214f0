-- Media uploads (contract §3.5): every allowed type, uploads that outlive their
-- uploader's account, and the list of stored objects to check once rows go.

ALTER TABLE media DROP CONSTRAINT media_mime_type_check;
ALTER TABLE media ADD CONSTRAINT media_mime_type_check CHECK (mime_type IN (
    'image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf',
    'audio/mpeg', 'audio/ogg', 'audio/mp4', 'video/mp4', 'video/webm', 'video/quicktime'));

-- Deleting a user deletes the uploads only they referenced (in the same
-- transaction, in store); an upload that messages in other people's sessions
-- carry stays with those messages, unowned, like the messages' sender_id.
ALTER TABLE media ALTER COLUMN owner_id DROP NOT NULL;
ALTER TABLE media DROP CONSTRAINT media_owner_id_fkey;
ALTER TABLE media ADD CONSTRAINT media_owner_id_fkey
    FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE SET NULL;

-- A medium is never deleted under a message that carries it: that used to
-- delete the message without lowering its session's message_count.
ALTER TABLE messages DROP CONSTRAINT messages_media_id_fkey;
ALTER TABLE messages ADD CONSTRAINT messages_media_id_fkey
    FOREIGN KEY (media_id) REFERENCES media (id) ON DELETE RESTRICT;

-- Rows sharing a stored object (uploads of the same bytes), and the orphan scan.
CREATE INDEX media_sha256_idx ON media (sha256);
CREATE INDEX media_created_at_idx ON media (created_at);

-- Hashes whose rows were deleted, however (orphan collection, a deleted chat
-- session or user): the collector deletes each object once no row refers to it.
CREATE TABLE media_gone (
    sha256  text PRIMARY KEY,
    gone_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION media_note_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO media_gone (sha256) VALUES (OLD.sha256) ON CONFLICT (sha256) DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER media_note_gone AFTER DELETE ON media
    FOR EACH ROW EXECUTE FUNCTION media_note_gone();
