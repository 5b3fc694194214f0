-- Checks the constraints the previous migration added NOT VALID against the
-- rows that were there. VALIDATE takes a SHARE UPDATE EXCLUSIVE lock: reads
-- and writes of `messages` go on during its scan.
ALTER TABLE messages VALIDATE CONSTRAINT messages_stream_fields_check;
ALTER TABLE messages VALIDATE CONSTRAINT messages_kind_fields_check;
