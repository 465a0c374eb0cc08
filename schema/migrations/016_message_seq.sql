-- 016: each message's place in its room (seq: 1, 2, 3, ... in id order), so
-- that an unread count costs two index lookups instead of a walk.
--
-- Why. A room's unread count walked its messages from the reader's marker
-- and stopped at its cap (1,000). A reader in 1,000 busy rooms who never
-- marks them read (a bot, a script, anyone back from a holiday) made every
-- GET /api/rooms walk up to a million index entries: 90 ms of parley-fcgi
-- CPU each, 30 a second allowed per session (tools/bench/conversations,
-- PARLEY_BENCH_AWAY=1000000). Now the messages after the marker are the
-- room's last seq minus the first seq after the marker, plus one; the
-- tombstones after it (rare: a walk of their own index, capped) are taken
-- off. The reader's own messages are never after the marker: a message
-- moves its sender's marker to it (since the twenty-ninth session), and
-- the markers of messages sent before that are moved below.
--
-- Store::InsertMessage gives a new message the seq after its room's last
-- one (SQLite has one writer at a time). Messages are never removed one by
-- one (a delete leaves a tombstone), only with their room.
ALTER TABLE messages ADD COLUMN seq INTEGER;
UPDATE messages SET seq = s.n
  FROM (SELECT id, row_number() OVER (PARTITION BY room_id ORDER BY id) AS n FROM messages) s
  WHERE messages.id = s.id;

-- The tombstones of a room in id order: the unread count takes off those
-- after the marker (and walks the live messages as before if there are
-- 1,000 of them, its cap).
CREATE INDEX messages_deleted ON messages(room_id, id) WHERE deleted = 1;

-- Every sender's marker at or after their last message in each room, as a
-- send leaves it now.
INSERT INTO read_markers(user_id, room_id, event_id)
  SELECT user_id, room_id, MAX(id) FROM messages WHERE true GROUP BY user_id, room_id
  ON CONFLICT(user_id, room_id) DO UPDATE SET event_id = excluded.event_id
  WHERE excluded.event_id > read_markers.event_id;
