-- 023: invitations wait for the invitee's consent. An invitation used to
-- add its invitee at once, so 99 fresh accounts could fill one person's
-- 1,000 memberships in seconds (they could then join nothing, and no one
-- could open a DM with them). A row here is a pending invitation: the
-- invitee's POST /api/rooms/{id}/join takes it (the membership then counts),
-- DELETE /api/me/invitations/{id} declines it, a moderator withdraws it, and
-- a ban or the invitee's block of the inviter drops it. At most 1,000 per
-- invitee (schema/invitations.h): a new one past that drops the oldest.
-- IF NOT EXISTS: tests set the version back and migrate again.
-- Nothing to carry over: every invitation made before was a membership.
CREATE TABLE IF NOT EXISTS invitations (
  room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  by_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
  ts INTEGER NOT NULL,
  PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
-- An invitee's list, newest first, and the block's drop by inviter.
CREATE INDEX IF NOT EXISTS invitations_user ON invitations(user_id, ts, room_id);
