DROP EXTENSION IF EXISTS btree_gin;
DROP EXTENSION IF EXISTS pg_trgm;
DROP TRIGGER messages_set_owner ON messages;
DROP FUNCTION messages_set_owner();
ALTER TABLE messages DROP COLUMN owner_id;
ALTER TABLE messages DROP COLUMN search;
