-- 006: each room's newest event id (the room list's order) moves out of
-- the rooms row into a row of its own, room_heads.
--
-- Why. Every message insert checks its foreign key to rooms, and that check
-- locks the room's row FOR KEY SHARE in the send's subtransaction (its
-- savepoint in a group-commit batch). A batch then updated the same row's
-- last_event_id before its COMMIT: a row locked by one (sub)transaction and
-- updated by another gets a MultiXact as its xmax, and so does the new
-- version, which carries the lock on. Every later look at the room's row
-- (a send's access check, its insert, the next foreign key check) had to
-- read that MultiXact's members. Nothing holds a foreign key to room_heads,
-- so its updates stay plain. Measured (tools/bench/cluster sends, one
-- pool): leaving the update out entirely cut PostgreSQL's CPU per send by
-- about 14 %.
--
-- A trigger makes the head row with the room, whoever inserts it, so every
-- room has one (the room queries join it).
--
-- The previous binary keeps working while the pools of a deployment are
-- upgraded one host at a time: rooms.last_event_id stays (this binary
-- neither reads nor writes it), and an update of it, which only a pool of
-- schema 5 makes, is carried to room_heads by a trigger, so the room list
-- misses none of that pool's sends. A later migration may drop the column
-- and its trigger once no binary of schema 5 is left.
CREATE TABLE room_heads (
  room_id       bigint PRIMARY KEY REFERENCES rooms (id) ON DELETE CASCADE,
  last_event_id bigint NOT NULL DEFAULT 0
);
INSERT INTO room_heads (room_id, last_event_id) SELECT id, last_event_id FROM rooms;
CREATE INDEX room_heads_activity ON room_heads (last_event_id, room_id);
DROP INDEX rooms_activity;

-- SET search_path FROM CURRENT: the trigger finds this schema's room_heads
-- whatever the search path of the session that inserts a room.
CREATE FUNCTION room_heads_insert() RETURNS trigger LANGUAGE plpgsql
  SET search_path FROM CURRENT AS $$
BEGIN
  INSERT INTO room_heads (room_id) VALUES (NEW.id);
  RETURN NULL;
END $$;
CREATE TRIGGER rooms_head AFTER INSERT ON rooms FOR EACH ROW EXECUTE FUNCTION room_heads_insert();

CREATE FUNCTION room_heads_follow() RETURNS trigger LANGUAGE plpgsql
  SET search_path FROM CURRENT AS $$
BEGIN
  UPDATE room_heads SET last_event_id = GREATEST(last_event_id, NEW.last_event_id) WHERE room_id = NEW.id;
  RETURN NULL;
END $$;
CREATE TRIGGER rooms_head_follow AFTER UPDATE OF last_event_id ON rooms FOR EACH ROW
  WHEN (NEW.last_event_id > OLD.last_event_id) EXECUTE FUNCTION room_heads_follow();
