-- 022: usernames that differ from another by `.`, `_` or `-` alone pass
-- for it too, as SQLite's 025 (which says why); the expression of
-- UsernameSkeletonSql (schema/store_rules.h).
DROP INDEX IF EXISTS users_skeleton;
CREATE INDEX IF NOT EXISTS users_skeleton ON users (
  replace(replace(replace(replace(replace(replace(replace(replace(lower(username), '.', ''), '_', ''), '-', ''), 'rn', 'm'), 'vv', 'w'), 'i', 'l'), '1', 'l'), '0', 'o'));
