-- 023: a DM opened by someone else is a request until its person answers,
-- as SQLite's 026 (which says why). An integer, as members.moderator.
ALTER TABLE members ADD COLUMN IF NOT EXISTS request integer NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS members_requests ON members (user_id, joined_ts, room_id) WHERE request = 1;
