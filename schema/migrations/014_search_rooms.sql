-- 014: the search index knows each message's room, so a search can read the
-- reader's own rooms first (schema/store_search.cc).
--
-- Why. A search reads the newest SearchQuery::scan matches of every room,
-- then keeps the reader's (the bound of the twenty-fifth session). A reader
-- of one quiet room searching a word the rest of the site repeats got
-- empty pages: 100 of them before their own messages, at a million
-- messages (tools/bench/searchwalk). Walking the reader's messages and
-- asking FTS5 about each costs 0.1-0.35 ms a message (97-356 ms for 1,000
-- in the sqlite3 shell), so the room must be in the index itself: a second
-- column, matched as `room_id : ("12" OR "40")` beside `text : (…)`, which
-- FTS5 answers by stepping through both doclists together.
--
-- Cost, in process (Python's sqlite3, 300,000 messages of 8 words in 1,000
-- rooms, commits of 256 as Parley indexes them): 6.9 µs of CPU a message to
-- index against 5.7, the file 57 MB against 51 MB (the room's token and
-- its prefixes of 2, 3 and 4 digits, which the table's prefix option gives
-- every column). The rebuild here reads every message once, as 008's did:
-- 3.1 s for a million messages of three words (the sqlite3 module), once,
-- at the first start of the new binaries.
--
-- The table keeps its name; FTS5's configuration (011's merge settings)
-- lives in its own rows and goes with it, so it is set again. Every message
-- is indexed by the rebuild, so none is waiting any more.
DROP TABLE messages_fts;
CREATE VIRTUAL TABLE messages_fts USING fts5(
  text, room_id, content = 'messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2',
  prefix = '2 3 4');
INSERT INTO messages_fts(messages_fts, rank) VALUES ('automerge', 0);
INSERT INTO messages_fts(messages_fts, rank) VALUES ('crisismerge', 64);
INSERT INTO messages_fts(messages_fts, rank) VALUES ('usermerge', 16);
INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');
DELETE FROM messages_fts_pending;

-- 009's triggers, with the room: an external-content 'delete' must be given
-- exactly the values that were indexed. A message never changes room.
DROP TRIGGER messages_fts_update;
DROP TRIGGER messages_fts_delete;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages
WHEN NOT EXISTS (SELECT 1 FROM messages_fts_pending WHERE id = old.id) BEGIN
  INSERT INTO messages_fts(messages_fts, rowid, text, room_id) VALUES ('delete', old.id, old.text, old.room_id);
  INSERT INTO messages_fts(rowid, text, room_id) VALUES (new.id, new.text, new.room_id);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
  INSERT INTO messages_fts(messages_fts, rowid, text, room_id)
    SELECT 'delete', old.id, old.text, old.room_id WHERE NOT EXISTS (SELECT 1 FROM messages_fts_pending WHERE id = old.id);
  DELETE FROM messages_fts_pending WHERE id = old.id;
END;
