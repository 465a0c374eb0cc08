-- 017: a mute outlives the membership it was set on (DESIGN section 3.1:
-- "a muted member's sends get 403 muted"). The mute lived only in its
-- members row (005), which a leave, a kick or a ban deletes: a muted member
-- unmuted themselves by leaving and joining again.
--
-- Where a members row with a mute still running is deleted
-- (Store::RemoveMember), the mute is kept here; where a members row is
-- inserted (Store::AddMember: join, invite, DM, `general`), a kept mute is
-- taken back into it, if it still runs, and its row deleted. So a row is
-- here only while its user is out of the room, and the send path's mute
-- check still reads the members row alone. An expired row is useless: each
-- write of one deletes the room's expired rows (the key's range of that
-- room), and a return deletes the user's. At most one row per room and
-- user, gone with either (ON DELETE CASCADE). IF NOT EXISTS: tests replay
-- migrations (013).
CREATE TABLE IF NOT EXISTS kept_mutes (
  room_id     INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  muted_until INTEGER NOT NULL,
  PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
-- For the cascade of a user's deletion (the key leads with the room).
CREATE INDEX IF NOT EXISTS kept_mutes_user ON kept_mutes(user_id);
