DROP TRIGGER media_note_gone ON media;
DROP FUNCTION media_note_gone();
DROP TABLE media_gone;
DROP INDEX media_created_at_idx;
DROP INDEX media_sha256_idx;

ALTER TABLE messages DROP CONSTRAINT messages_media_id_fkey;
ALTER TABLE messages ADD CONSTRAINT messages_media_id_fkey
    FOREIGN KEY (media_id) REFERENCES media (id) ON DELETE CASCADE;

-- Unowned uploads cannot go back under NOT NULL.
DELETE FROM media WHERE owner_id IS NULL;
ALTER TABLE media DROP CONSTRAINT media_owner_id_fkey;
ALTER TABLE media ADD CONSTRAINT media_owner_id_fkey
    FOREIGN KEY (owner_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE media ALTER COLUMN owner_id SET NOT NULL;

DELETE FROM media WHERE mime_type IN ('audio/mp4', 'video/webm', 'video/quicktime');
ALTER TABLE media DROP CONSTRAINT media_mime_type_check;
ALTER TABLE media ADD CONSTRAINT media_mime_type_check CHECK (mime_type IN (
    'image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf',
    'audio/mpeg', 'audio/ogg', 'video/mp4'));
