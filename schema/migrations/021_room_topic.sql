-- 021: a room's topic, one line its owner or a moderator sets with
-- PATCH /api/rooms/{id} (as they may rename it). NULL: none. Nullable and
-- without a default, so the ALTER rewrites no row and a binary that does
-- not know the column reads the table as before.
ALTER TABLE rooms ADD COLUMN topic TEXT;
