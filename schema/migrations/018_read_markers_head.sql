-- 018: no read marker beyond the log's head.
--
-- Why. POST /api/rooms/{id}/read took any event id up to 2^53 and a marker
-- only moves forward, so one set beyond the head stayed there: the room
-- counted nothing unread for that member for ever, and the member list,
-- its receipt and "Read by" said every later message read. Store::MarkRead
-- now moves a marker at most to the head (MAX(id) of events, Store::Head;
-- retention never removes the newest event); this brings the markers set
-- before it back to the head, where the next message passes them again.
-- It runs again harmlessly: no marker is beyond the head afterwards.
UPDATE read_markers SET event_id = (SELECT COALESCE(MAX(id), 0) FROM events)
  WHERE event_id > (SELECT COALESCE(MAX(id), 0) FROM events);
