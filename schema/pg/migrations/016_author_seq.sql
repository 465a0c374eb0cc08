-- 016: each message's place among its author's messages in its room
-- (author_seq: 1, 2, 3, ... in id order, tombstones kept), as SQLite's
-- migration 020 (which says why): an unread count leaves out the messages
-- of the people the reader blocks, two index lookups per person blocked.
--
-- The seq trigger of 011 takes it too, after the room's head row: that
-- UPDATE waits for any other writer's lock on the row, and in a plpgsql
-- function each statement takes a new snapshot, so the lookup of the
-- author's last message that follows sees every message of the room
-- committed before it. It may run again over itself (OR REPLACE, IF NOT
-- EXISTS; the backfill finds every place right).
ALTER TABLE messages ADD COLUMN IF NOT EXISTS author_seq bigint;
-- Only the rows whose place is not already right: each row updated is
-- written again whole (a new version of the row, and entries in its
-- indexes), so a run over itself writes nothing.
UPDATE messages m SET author_seq = s.n
  FROM (SELECT id, row_number() OVER (PARTITION BY room_id, user_id ORDER BY id) AS n FROM messages) s
  WHERE m.id = s.id AND m.author_seq IS DISTINCT FROM s.n;

-- An author's messages in a room in id order, with their places: the
-- lookups above and the trigger's read the index alone.
CREATE INDEX IF NOT EXISTS messages_author ON messages (room_id, user_id, id, author_seq);

CREATE OR REPLACE FUNCTION messages_take_seq() RETURNS trigger LANGUAGE plpgsql
  SET search_path FROM CURRENT AS $$
BEGIN
  UPDATE room_heads SET message_seq = message_seq + 1 WHERE room_id = NEW.room_id
    RETURNING message_seq INTO NEW.seq;
  SELECT m.author_seq + 1 INTO NEW.author_seq FROM messages m
    WHERE (m.room_id, m.user_id) = (NEW.room_id, NEW.user_id) ORDER BY m.id DESC LIMIT 1;
  NEW.author_seq := COALESCE(NEW.author_seq, 1);
  RETURN NEW;
END $$;
