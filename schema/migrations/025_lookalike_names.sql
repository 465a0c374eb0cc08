-- 025: usernames that differ from another by `.`, `_` or `-` alone
-- (`a.lice`, `al_ice`) pass for it too: users_skeleton is made again on an
-- expression that drops them first (schema/store_rules.h's
-- UsernameSkeletonSql writes the same; SQLite uses an expression index only
-- for the same expression). Not unique: names made before may share one.
-- IF EXISTS, IF NOT EXISTS: tests set the version back and migrate again.
DROP INDEX IF EXISTS users_skeleton;
CREATE INDEX IF NOT EXISTS users_skeleton ON users (
  replace(replace(replace(replace(replace(replace(replace(replace(lower(username), '.', ''), '_', ''), '-', ''), 'rn', 'm'), 'vv', 'w'), 'i', 'l'), '1', 'l'), '0', 'o'));
