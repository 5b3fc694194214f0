-- Full-text search of messages (GET /messages/search) and title search of chat
-- sessions (GET /sessions?q=).
--
-- `search` is each message's text-search document, kept by PostgreSQL. Its
-- configuration is fixed here: 'english', the default of SEARCH_LANGUAGE (the
-- server refuses to start when the two differ). Changing the language is a new
-- migration that redefines this column (README, "Search"). Stored, not computed
-- per query: ranking a match reads the stored document instead of parsing the
-- message again. Adding a stored generated column rewrites the table once.
ALTER TABLE messages
    ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('english'::regconfig, content)) STORED;

-- The owner of the message's session, copied onto the message, so that one
-- index entry names all of a user's messages: a user's search intersects it
-- with the words' entries inside the search index. Set by the trigger below
-- on insert (a chat session never changes owner), so no code writes it.
ALTER TABLE messages ADD COLUMN owner_id uuid;
UPDATE messages m SET owner_id = s.user_id FROM chat_sessions s WHERE s.id = m.session_id;
ALTER TABLE messages ALTER COLUMN owner_id SET NOT NULL;

CREATE FUNCTION messages_set_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.owner_id := (SELECT user_id FROM chat_sessions WHERE id = NEW.session_id);
    RETURN NEW;
END
$$;

CREATE TRIGGER messages_set_owner BEFORE INSERT OR UPDATE OF session_id ON messages
    FOR EACH ROW EXECUTE FUNCTION messages_set_owner();

-- Trigram operator classes (substring matching of titles), and B-tree
-- operator classes for GIN (an owner and words, or an owner and a title, in
-- one index).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;
