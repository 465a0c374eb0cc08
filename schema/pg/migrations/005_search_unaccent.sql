-- 005: search folds accents, as SQLite's FTS5 does (unicode61
-- remove_diacritics 2): "cafe" finds "Café", "ECOLE" finds "école".
-- Migration 002's 'simple' configuration kept every diacritic, and in a
-- database whose LC_CTYPE is C it did not lower-case "É" either.
--
-- The configuration parley_search is 'simple' with the unaccent dictionary
-- in front of it for the token types that can hold letters beyond ASCII:
-- unaccent rewrites a word ("CAFÉ" to "CAFE", "Straße" to "Strasse"), then
-- 'simple' lower-cases it. ASCII words map as before.
--
-- unaccent is a contrib extension that ships with the server (Debian's
-- postgresql package, every managed service), and a trusted one: a role
-- with CREATE on the database may create it without being a superuser. A
-- database that has it already (in whatever schema) keeps it; otherwise it
-- is made in a schema of its own, parley_ext, shared by every deployment
-- of the database: not in the schema being migrated, which a DROP SCHEMA
-- ... CASCADE of that one deployment would take away with the other
-- deployments' search configurations and columns. The configuration names
-- the dictionary by its schema, found in the catalog, so the search path
-- of a later connection does not matter.
--
-- What still differs from FTS5, both rare in chat: unaccent also splits
-- ligatures ("æ" is "ae", "ß" is "ss"), which FTS5 keeps as letters; and
-- letters beyond Latin ("Ω", "Д") are lower-cased only where the
-- database's LC_CTYPE is a UTF-8 locale (initdb's default, en_US.UTF-8 or
-- C.UTF-8), not in a database of LC_CTYPE C.
--
-- The stored column is computed again for every message (a table rewrite,
-- under the migration's lock: minutes for millions of messages).
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'unaccent') THEN
    CREATE SCHEMA IF NOT EXISTS parley_ext;
    CREATE EXTENSION unaccent SCHEMA parley_ext;
  END IF;
END $$;

CREATE TEXT SEARCH CONFIGURATION parley_search (COPY = pg_catalog.simple);

DO $$
DECLARE
  dictionary_schema text;
BEGIN
  SELECT n.nspname INTO STRICT dictionary_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'unaccent';
  EXECUTE format('ALTER TEXT SEARCH CONFIGURATION parley_search '
                 'ALTER MAPPING FOR word, numword, hword, numhword, hword_part, hword_numpart '
                 'WITH %I.unaccent, pg_catalog.simple', dictionary_schema);
END $$;

DROP INDEX messages_search;
ALTER TABLE messages DROP COLUMN search;
ALTER TABLE messages ADD COLUMN search tsvector
  GENERATED ALWAYS AS (to_tsvector('parley_search', text)) STORED;
CREATE INDEX messages_search ON messages USING gin (search);
