-- 013: no read marker beyond the log's head, as SQLite's migration 018
-- (which says why): PgStore::MarkRead now moves a marker at most to the
-- head (event_counter's last id, PgStore::Head); this brings the markers
-- set beyond it before that back to the head, where the next message
-- passes them again.
--
-- The counter row is locked first, as every append takes it before it
-- moves its sender's marker: sends in flight (of pools still running the
-- previous binary, too) commit before the head is read, and none begins
-- until this commits. Unlocked, a send committing during the update could
-- have its marker, on its own new message, clamped to the head read
-- before it. Appends wait for one scan of read_markers.
SELECT last FROM event_counter FOR UPDATE;
UPDATE read_markers SET event_id = (SELECT last FROM event_counter)
  WHERE event_id > (SELECT last FROM event_counter);
