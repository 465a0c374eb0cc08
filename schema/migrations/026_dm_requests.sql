-- 026: a DM opened by someone else is a request until its person answers.
-- Opening a DM added its other person at once, and counted against their
-- 1,000 memberships: 1,000 accounts (ten addresses' registrations) opening
-- one each filled someone's memberships, as invitations did before 023, and
-- then no one else could reach them. Now the other person's row is a
-- request (request = 1): it counts against a cap of its own (1,000 too; a
-- new one past that drops the oldest request, whose person leaves it), not
-- against their memberships, until they send in the DM or open it
-- themselves (POST /api/dm), which makes it a membership like any other.
-- Rows made before stay memberships.
ALTER TABLE members ADD COLUMN request INTEGER NOT NULL DEFAULT 0;
-- A user's requests, oldest first: the count and the drop at the cap.
CREATE INDEX IF NOT EXISTS members_requests ON members(user_id, joined_ts, room_id) WHERE request = 1;
