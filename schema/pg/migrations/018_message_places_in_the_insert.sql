-- 018: a message's places (seq, in its room; author_seq, among its author's
-- there) are given by the insert itself (schema/pg/store_messages.cc,
-- InsertQuery), no longer by the trigger of 011 and 016 on every insert.
--
-- Why. The trigger cost each send a plpgsql call, an UPDATE of the room's
-- head row (a new row version, and a foreign key check of it each time an
-- earlier write of the same batch had updated the row) and a lookup: about
-- 70 µs of the server's CPU on a send of ~450 (tools/bench/cluster sends,
-- one pool, with and without it). The insert now counts on from the room's
-- newest message and the author's newest there, two index lookups, and the
-- head row's message_seq is moved once a batch, with its last_event_id.
--
-- The trigger stays for inserts that bring no place: those of a pool of
-- the previous binary while a deployment is upgraded one host at a time.
-- Both count on from what is committed, under the event counter's lock,
-- which every message insert holds to its COMMIT; and this binary keeps
-- room_heads.message_seq, which the trigger and the previous binary's
-- unread counts read, at the room's count when it commits. A WHEN clause is
-- tested without calling the function. It may run again over itself.
DROP TRIGGER IF EXISTS messages_seq ON messages;
CREATE TRIGGER messages_seq BEFORE INSERT ON messages FOR EACH ROW
  WHEN (NEW.seq IS NULL) EXECUTE FUNCTION messages_take_seq();
