-- The event log (DESIGN §2 and §7): one id space for every event, in
-- commit order with no gaps. The columns are SQLite's (schema/migrations
-- 001 and 004), so both backends read and write the same Event.
--
-- Ids never come from a sequence: a sequence hands out ids at INSERT, so a
-- transaction holding id 9 can commit after one holding id 10, and a reader
-- tailing with `id > cursor` that saw 10 skips 9 for ever. They come from
-- event_counter's one row, updated in the appending transaction
-- (schema/pg/event_log.cc): its row lock makes appends take ids one
-- transaction after another, in commit order.
CREATE TABLE events (
  id        bigint PRIMARY KEY,
  ts        bigint NOT NULL,
  type      text NOT NULL,
  room_id   bigint,
  target_id bigint,
  audience  text NOT NULL CHECK (audience IN ('room', 'all')),
  data      text NOT NULL
);
CREATE INDEX events_room ON events (room_id, id);
CREATE INDEX events_broadcast ON events (id) WHERE audience = 'all';
CREATE INDEX events_target ON events (target_id, id) WHERE target_id IS NOT NULL;

-- The last id handed out. One row: the key can only be true.
CREATE TABLE event_counter (
  one  boolean PRIMARY KEY DEFAULT true CHECK (one),
  last bigint NOT NULL CHECK (last >= 0)
);
INSERT INTO event_counter (one, last) VALUES (true, 0);
