-- 024: usernames that pass for another's. Usernames are ASCII letters,
-- digits, _ . and -, unique ignoring case, but `aIice` (a capital I) read
-- as alice, `a1ice` nearly, and `rnary` as mary. A new username whose
-- skeleton (this expression; schema/store_rules.h's UsernameSkeletonSql
-- writes the same, and SQLite uses the index only for the same expression)
-- is another's is refused. Not unique: names made before may share one.
-- Migration 025 makes the index again on the expression of today's
-- UsernameSkeletonSql, which also drops `.`, `_` and `-`.
-- IF NOT EXISTS: tests set the version back and migrate again.
CREATE INDEX IF NOT EXISTS users_skeleton ON users (
  replace(replace(replace(replace(replace(lower(username), 'rn', 'm'), 'vv', 'w'), 'i', 'l'), '1', 'l'), '0', 'o'));
