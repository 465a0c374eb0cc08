-- 017: a room's topic, as SQLite's 021 (which says why). Nullable without a
-- default: the ALTER rewrites no row and takes its lock for a moment, and
-- the previous binary, which names its columns, keeps working while the
-- pools of several hosts are upgraded one at a time.
ALTER TABLE rooms ADD COLUMN IF NOT EXISTS topic text;
