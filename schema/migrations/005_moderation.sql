-- 005: running a community (issue 11, DESIGN section 3.1): room moderators,
-- mutes and bans, blocks between users, site admins and deactivated
-- accounts. Every change to these is written with its event in one
-- transaction (schema/store_moderation.cc).

-- A moderator mutes, kicks and bans in one room; only the owner makes one.
-- muted_until: ms since the epoch; a member's sends are refused before it.
ALTER TABLE members ADD COLUMN moderator INTEGER NOT NULL DEFAULT 0;
ALTER TABLE members ADD COLUMN muted_until INTEGER;

-- A ban is kept apart from members, as Matrix keeps it in the membership
-- state: it outlives the membership it ended, and Join/Invite/AddMember
-- look it up by its key.
CREATE TABLE bans (
  room_id   INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  reason    TEXT NOT NULL DEFAULT '',
  banned_by INTEGER REFERENCES users(id),
  ts        INTEGER NOT NULL,
  PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;

-- blocker no longer hears from blocked in direct conversations.
CREATE TABLE blocks (
  blocker_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  blocked_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  ts         INTEGER NOT NULL,
  PRIMARY KEY (blocker_id, blocked_id)
) WITHOUT ROWID;
CREATE INDEX blocks_blocked ON blocks(blocked_id, blocker_id);

ALTER TABLE users ADD COLUMN admin INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN deactivated INTEGER NOT NULL DEFAULT 0;

-- A moderator's delete names who removed the message (a user id; no
-- REFERENCES clause, which would keep the column from ever being dropped).
ALTER TABLE messages ADD COLUMN deleted_by INTEGER;
