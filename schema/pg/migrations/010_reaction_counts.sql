-- 010: each message's reactions counted per emoji, in a row of their own,
-- as SQLite's migration 015 (which says why): a read of a message took all
-- its reactions' rows, and each reaction added counted them again for its
-- bounds (18,002 rows of reactions for a page and a reaction, 3,000 people
-- reacting with two emoji, PgStorePlansTest). Now a row per emoji (at most
-- 50) and a lookup of the reader's own: 2.
--
-- A trigger keeps the counts, so every way a reaction goes (removed, its
-- message's tombstone, a cascade from its user or message, retention) and
-- a pool of the previous binary, which writes reactions only, keep them
-- true. Adds to one message are serialised by its row lock (React locks it
-- FOR NO KEY UPDATE), so its count rows are written by one at a time.
CREATE TABLE reaction_counts (
  message_id bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  emoji      text NOT NULL,
  n          bigint NOT NULL,
  first_ts   bigint NOT NULL,
  PRIMARY KEY (message_id, emoji)
);
INSERT INTO reaction_counts (message_id, emoji, n, first_ts)
  SELECT message_id, emoji, COUNT(*), MIN(ts) FROM reactions GROUP BY message_id, emoji;

-- SET search_path FROM CURRENT: the trigger finds this schema's table
-- whatever the search path of the session that writes a reaction.
CREATE FUNCTION reaction_counts_follow() RETURNS trigger LANGUAGE plpgsql
  SET search_path FROM CURRENT AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO reaction_counts (message_id, emoji, n, first_ts) VALUES (NEW.message_id, NEW.emoji, 1, NEW.ts)
      ON CONFLICT (message_id, emoji) DO UPDATE SET n = reaction_counts.n + 1;
  ELSE
    UPDATE reaction_counts SET n = n - 1 WHERE message_id = OLD.message_id AND emoji = OLD.emoji;
    DELETE FROM reaction_counts WHERE message_id = OLD.message_id AND emoji = OLD.emoji AND n <= 0;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER reactions_count AFTER INSERT OR DELETE ON reactions FOR EACH ROW
  EXECUTE FUNCTION reaction_counts_follow();
