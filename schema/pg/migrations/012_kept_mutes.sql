-- 012: a mute outlives the membership it was set on, as SQLite's migration
-- 017 (which says why and how): where a members row with a mute still
-- running is deleted (PgStore::RemoveMember) the mute is kept here, and
-- where a members row is inserted (PgStore::AddMember) it is taken back.
-- At most one row per room and user, gone with either.
CREATE TABLE kept_mutes (
  room_id     bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
  user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  muted_until bigint NOT NULL,
  PRIMARY KEY (room_id, user_id)
);
-- For the cascade of a user's deletion (the key leads with the room).
CREATE INDEX kept_mutes_user ON kept_mutes (user_id);
