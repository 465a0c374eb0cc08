-- 022: look-alike names, as SQLite's 025 (which says why); the expressions
-- of UsernameSkeletonSql and RoomNameSkeletonSql (schema/store_rules.h).
-- A room's name is lower-cased under COLLATE "C", which folds A-Z only, as
-- rooms_name (migration 007) and SQLite's lower(): under the database's
-- locale lower() folds `É` too, which SQLite's does not.
DROP INDEX IF EXISTS users_skeleton;
CREATE INDEX IF NOT EXISTS users_skeleton ON users (
  replace(replace(replace(replace(replace(replace(replace(replace(lower(username), '.', ''), '_', ''), '-', ''), 'rn', 'm'), 'vv', 'w'), 'i', 'l'), '1', 'l'), '0', 'o'));
CREATE INDEX IF NOT EXISTS rooms_skeleton ON rooms (
  replace(replace(replace(replace(replace(replace(replace(replace(replace(lower(name COLLATE "C"), ' ', ''), '.', ''), '_', ''), '-', ''), 'rn', 'm'), 'vv', 'w'), 'i', 'l'), '1', 'l'), '0', 'o'))
  WHERE kind <> 'dm';
