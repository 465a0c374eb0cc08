-- 020: each message's place among its author's messages in its room
-- (author_seq: 1, 2, 3, ... in id order, tombstones kept), so that an unread
-- count can leave out the messages of the people the reader blocks without
-- a walk.
--
-- Why. Since 016 a room's unread count is the room's last seq less the
-- first seq after the reader's marker, plus one, less the tombstones after
-- it. That counted the messages of someone I block, whose words the client
-- hides: a room where only they spoke showed unread until opened, and a
-- blocked spammer's thousand messages showed "999+". Now each person I
-- block takes off their own last author_seq less their first after my
-- marker, plus one: two lookups of the index below per person I block, in
-- a room with something unread. Their tombstones after the marker are
-- among the room's (walked already, capped) and are added back.
--
-- Store::InsertMessage gives a new message the author_seq after its
-- author's last one in the room (SQLite has one writer at a time).
ALTER TABLE messages ADD COLUMN author_seq INTEGER;
UPDATE messages SET author_seq = s.n
  FROM (SELECT id, row_number() OVER (PARTITION BY room_id, user_id ORDER BY id) AS n FROM messages) s
  WHERE messages.id = s.id;

-- An author's messages in a room in id order, with their places: the
-- lookups above and the insert's read the index alone.
CREATE INDEX messages_author ON messages(room_id, user_id, id, author_seq);
