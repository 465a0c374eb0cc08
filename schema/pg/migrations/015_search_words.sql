-- 015: a word inside a host name, an e-mail address, a path or a date is a
-- word of its own, as SQLite's FTS5 (unicode61: runs of letters and
-- digits) reads it. PostgreSQL's default parser made "example.com",
-- "ann@host.org", "example.com/docs" and "/srv/logs" one token each (host,
-- email, url, file) without their parts, and "2026-12-06" the numbers
-- 2026, -12 and -06: a search for "example", "host", "logs" or "12" found
-- those messages on SQLite and not here.
--
-- parley_search_words maps ASCII punctuation to a space before the parser
-- sees the text; the message column and the query terms
-- (schema/pg/store_search.cc) both go through it, so a term as typed
-- ("example.com") is still found, as the phrase of its words, as FTS5
-- reads its quoted string. translate is immutable and knows no locale.
-- Snippets are made from these words too and given the text's punctuation
-- back (schema/pg/store_search.cc, SnippetAsWritten).
--
-- The stored column is computed again for every message (a table rewrite
-- under the migration's lock, as 005's: minutes for millions of messages);
-- the index keeps 009's pending list limit. It may run again over itself
-- (the store tests migrate again from an older version: OR REPLACE).
CREATE OR REPLACE FUNCTION parley_search_words(t text) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  RETURN translate(t, '!"#$%&''()*+,-./:;<=>?@[\]^_`{|}~', repeat(' ', 32));

DROP INDEX IF EXISTS messages_search;
ALTER TABLE messages DROP COLUMN IF EXISTS search;
ALTER TABLE messages ADD COLUMN search tsvector
  GENERATED ALWAYS AS (to_tsvector('parley_search', parley_search_words(text))) STORED;
CREATE INDEX messages_search ON messages USING gin (search) WITH (gin_pending_list_limit = 256);
