-- 021: usernames that pass for another's, as SQLite's 024 (which says why);
-- the same expression as UsernameSkeletonSql (schema/store_rules.h) had;
-- migration 022 makes the index again on today's.
CREATE INDEX IF NOT EXISTS users_skeleton ON users (
  replace(replace(replace(replace(replace(lower(username), 'rn', 'm'), 'vv', 'w'), 'i', 'l'), '1', 'l'), '0', 'o'));
