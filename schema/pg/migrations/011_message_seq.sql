-- 011: each message's place in its room (seq: 1, 2, 3, ... in id order), as
-- SQLite's migration 016 (which says why): an unread count walked up to
-- 1,000 index entries of each room, so a room list of 1,000 busy rooms
-- read up to a million. Now the room's count of messages
-- (room_heads.message_seq) less the place of the first message after the
-- marker, plus one, less the tombstones after it (their own index, walked
-- to the cap of 1,000 at most).
--
-- A trigger gives each new message its place, so every insert (and a pool
-- of the previous binary, during an upgrade one host at a time) takes one.
-- The UPDATE of the room's head row waits for any other writer's lock on
-- it and then counts on from the row as committed. (A lookup of the room's
-- last message inside the insert statement would read that statement's
-- snapshot, older than the event counter's lock that the insert waits for.)
-- Order of locks: the counter row first (the insert's id needs it), then
-- the head row, as FinishBatch and CommitAppended take them. Nothing holds
-- a foreign key to room_heads (006), so the update takes no MultiXact.
ALTER TABLE messages ADD COLUMN seq bigint;
ALTER TABLE room_heads ADD COLUMN message_seq bigint NOT NULL DEFAULT 0;
UPDATE messages m SET seq = s.n
  FROM (SELECT id, row_number() OVER (PARTITION BY room_id ORDER BY id) AS n FROM messages) s
  WHERE m.id = s.id;
UPDATE room_heads h SET message_seq = s.n
  FROM (SELECT room_id, MAX(seq) AS n FROM messages GROUP BY room_id) s
  WHERE h.room_id = s.room_id;

-- SET search_path FROM CURRENT: the trigger finds this schema's room_heads
-- whatever the search path of the session that inserts a message.
CREATE FUNCTION messages_take_seq() RETURNS trigger LANGUAGE plpgsql
  SET search_path FROM CURRENT AS $$
BEGIN
  UPDATE room_heads SET message_seq = message_seq + 1 WHERE room_id = NEW.room_id
    RETURNING message_seq INTO NEW.seq;
  RETURN NEW;
END $$;
CREATE TRIGGER messages_seq BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION messages_take_seq();

-- The tombstones of a room in id order: the unread count takes off those
-- after the marker.
CREATE INDEX messages_deleted ON messages (room_id, id) WHERE deleted = 1;

-- Every sender's marker at or after their last message in each room, as a
-- send leaves it since the twenty-ninth session.
INSERT INTO read_markers (user_id, room_id, event_id)
  SELECT user_id, room_id, MAX(id) FROM messages GROUP BY user_id, room_id
  ON CONFLICT (user_id, room_id) DO UPDATE SET event_id = excluded.event_id
  WHERE excluded.event_id > read_markers.event_id;
