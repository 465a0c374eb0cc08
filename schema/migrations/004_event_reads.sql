-- 004: reading the event log by what a user may see, and scrubbing text
-- that was edited or deleted out of older events (issue 8, items 5 and 6).

-- The events of one message (message, question, answer, edit, delete), so
-- an edit or a delete can rewrite every earlier event of that message to
-- the current object in the same transaction (DESIGN section 4: a replay
-- never carries deleted or overwritten text).
ALTER TABLE events ADD COLUMN message_id INTEGER;
UPDATE events SET message_id = json_extract(data, '$.id')
  WHERE type IN ('message', 'question', 'answer', 'edit', 'delete')
    AND json_valid(data) AND json_type(data, '$.id') = 'integer';
CREATE INDEX events_message ON events(message_id) WHERE message_id IS NOT NULL;

-- A poll or resume reads, per source, only the rows that user may see
-- (schema/store_events.cc): the rooms they are in (events_room, from 001),
-- the broadcast events, and the events addressed to them.
CREATE INDEX events_broadcast ON events(id) WHERE audience = 'all';
CREATE INDEX events_target ON events(target_id, id) WHERE target_id IS NOT NULL;

-- Text that was deleted or edited before this migration leaves the older
-- events now, as later edits and deletes take it out as they happen.
UPDATE events SET data = json_set(data, '$.text', '', '$.deleted', json('true'))
  WHERE message_id IN (SELECT id FROM messages WHERE deleted = 1);
UPDATE events SET data = json_set(data, '$.text',
                                  (SELECT text FROM messages WHERE messages.id = events.message_id),
                                  '$.edited', json('true'))
  WHERE message_id IN (SELECT id FROM messages WHERE deleted = 0 AND edited_ts IS NOT NULL);
