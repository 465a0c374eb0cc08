-- 020: invitations wait for the invitee's consent, as SQLite's 023 (which
-- says why). A row is a pending invitation; at most 1,000 per invitee.
CREATE TABLE IF NOT EXISTS invitations (
  room_id BIGINT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  by_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
  ts BIGINT NOT NULL,
  PRIMARY KEY (room_id, user_id)
);
CREATE INDEX IF NOT EXISTS invitations_user ON invitations (user_id, ts, room_id);
