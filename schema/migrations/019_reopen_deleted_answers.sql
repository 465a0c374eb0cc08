-- 019: the questions whose answer was deleted are open again.
--
-- Why. Deleting an answer left its answers row, so its question stayed
-- answered for ever (409 already_answered to every professor) and the
-- tombstone counted against answers_per_professor. Store::Delete now removes
-- the row of a deleted answer; this removes those of answers deleted before.
-- It runs again harmlessly: no deleted answer keeps a row afterwards.
DELETE FROM answers WHERE answer_id IN (SELECT id FROM messages WHERE deleted = 1);
