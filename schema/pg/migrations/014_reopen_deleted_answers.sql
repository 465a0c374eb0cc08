-- 014: the questions whose answer was deleted are open again, as SQLite's
-- migration 019 (which says why): PgStore::Delete now removes the answers
-- row of a deleted answer; this removes those of answers deleted before.
DELETE FROM answers WHERE answer_id IN (SELECT id FROM messages WHERE deleted = 1);
