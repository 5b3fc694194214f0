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

-- Trigram operator classes (substring matching of titles), and B-tree
-- operator classes for GIN (the owner and the title in one index).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;
