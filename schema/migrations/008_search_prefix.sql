-- 008: prefix search from its own index (issue 12's benchmark).
--
-- Without a prefix index FTS5 answers "w123*" by reading and merging the
-- doclist of every term that starts with it (w123, w1230 … w1239: 17,000
-- rows in tools/bench/conversations' data) before it can yield the newest
-- match; a prefix index keeps one doclist per prefix of 2, 3 and 4
-- characters, so such a query reads one list, newest first, as a word does
-- (in the sqlite3 shell on that data: 20 ms to 1 ms median per query).
-- Longer prefixes match few terms and do not need it. The index grows by
-- 63 MB for 1,000,000 messages of 8 words (the file: 153 to 216 MB).
--
-- The table is rebuilt with the same name, columns and content, so the
-- triggers of migration 006, which write into it by name, go on keeping it
-- current in the transaction that sends, edits or deletes.
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5(
  text, content = 'messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2',
  prefix = '2 3 4');
INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
