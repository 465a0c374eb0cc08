-- 025: look-alike names, a second step after 024. A username that differs
-- from another by `.`, `_` or `-` alone (`a.lice`, `al_ice`) passes for it
-- too: users_skeleton is made again on an expression that drops them first
-- (schema/store_rules.h's UsernameSkeletonSql writes the same; SQLite uses
-- an expression index only for the same expression). Room names get a
-- skeleton of their own (RoomNameSkeletonSql): lower(), which folds ASCII
-- only here, as rooms_name's NOCASE does; the space a separator too. A new
-- or renamed room whose skeleton another non-DM room has is refused.
-- Neither index is unique: names made before may share a skeleton.
-- IF EXISTS, IF NOT EXISTS: tests set the version back and migrate again.
DROP INDEX IF EXISTS users_skeleton;
CREATE INDEX IF NOT EXISTS users_skeleton ON users (
  replace(replace(replace(replace(replace(replace(replace(replace(lower(username), '.', ''), '_', ''), '-', ''), 'rn', 'm'), 'vv', 'w'), 'i', 'l'), '1', 'l'), '0', 'o'));
CREATE INDEX IF NOT EXISTS rooms_skeleton ON rooms (
  replace(replace(replace(replace(replace(replace(replace(replace(replace(lower(name), ' ', ''), '.', ''), '_', ''), '-', ''), 'rn', 'm'), 'vv', 'w'), 'i', 'l'), '1', 'l'), '0', 'o'))
  WHERE kind <> 'dm';
