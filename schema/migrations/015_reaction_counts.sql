-- 015: each message's reactions counted per emoji, in a row of their own.
--
-- Why. A message's reactions were counted from their rows at every read: a
-- history page, a room list's last message, a search result or a
-- reaction's answer grouped every reaction of the message, and every
-- reaction added counted them all again for its bounds (kEmojiPerMessage,
-- kReactionsPerPerson). An announcement that 3,000 people reacted to with
-- two emoji cost each reader's page and each new reaction 6,000 rows
-- (270,722 VM steps, StoreConversationsTest). Now a read takes a row per
-- emoji (at most 50) and looks up the reader's own reaction to each (717
-- steps).
--
-- The counts follow the reactions through triggers, so that every way a
-- reaction goes (removed, its message's tombstone, its user or message
-- deleted by a cascade, retention) keeps them true. first_ts is when the
-- emoji was first used on the message: the order reactions are shown in.
--
-- It runs again whole on a database that has it (as tests that rewind
-- user_version do): the counts are made afresh from the reactions.
DROP TRIGGER IF EXISTS reactions_count_insert;
DROP TRIGGER IF EXISTS reactions_count_delete;
DROP TABLE IF EXISTS reaction_counts;
CREATE TABLE reaction_counts (
  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  emoji      TEXT NOT NULL,
  n          INTEGER NOT NULL,
  first_ts   INTEGER NOT NULL,
  PRIMARY KEY (message_id, emoji)
) WITHOUT ROWID;
INSERT INTO reaction_counts(message_id, emoji, n, first_ts)
  SELECT message_id, emoji, COUNT(*), MIN(ts) FROM reactions GROUP BY message_id, emoji;

CREATE TRIGGER reactions_count_insert AFTER INSERT ON reactions BEGIN
  INSERT INTO reaction_counts(message_id, emoji, n, first_ts) VALUES (new.message_id, new.emoji, 1, new.ts)
    ON CONFLICT(message_id, emoji) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER reactions_count_delete AFTER DELETE ON reactions BEGIN
  UPDATE reaction_counts SET n = n - 1 WHERE message_id = old.message_id AND emoji = old.emoji;
  DELETE FROM reaction_counts WHERE message_id = old.message_id AND emoji = old.emoji AND n <= 0;
END;
