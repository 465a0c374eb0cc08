-- 007: room names are one name whatever the case of their ASCII letters,
-- and only of those, as SQLite's COLLATE NOCASE makes them (its
-- migration 001). Migration 002's index on lower(name) folded whatever the
-- database's LC_CTYPE folds: in a database of a UTF-8 locale (initdb's
-- default) "Salle É" and "Salle é" were one name on PostgreSQL and two on
-- SQLite. lower() under COLLATE "C" folds A-Z only, in every database.
-- The new index is never stricter than the old one, so no existing pair of
-- rooms can break it; the previous binary's CreateRoom (ON CONFLICT DO
-- NOTHING, no target) works with it as before.
DROP INDEX rooms_name;
CREATE UNIQUE INDEX rooms_name ON rooms (lower(name COLLATE "C")) WHERE kind <> 'dm';
