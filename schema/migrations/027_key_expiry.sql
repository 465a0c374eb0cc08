-- 027: idempotency keys expire. Every send stores its key (the client's
-- client_id, or nginx's $request_id under a leading space: model.h,
-- IsReplayKey), and none was ever deleted: ~100 bytes a message, for ever.
-- parley-events now deletes a client's key 7 days after its send and a
-- replay key after an hour (schema/key_expiry.h), oldest first, through
-- these indexes. Two partial indexes, not one on created_ts: the replay
-- keys' hour would otherwise be a range that holds every client key of the
-- week, read again at each step. A key is in exactly one of them, so a
-- send pays one more B-tree insert, as with one index. The first byte is
-- the test: a client_id is printable ASCII without a space
-- (fcgi/validate.cc). IF NOT EXISTS: tests replay migrations.
CREATE INDEX IF NOT EXISTS idempotency_replay_age ON idempotency(created_ts) WHERE substr(client_id, 1, 1) = ' ';
CREATE INDEX IF NOT EXISTS idempotency_client_age ON idempotency(created_ts) WHERE substr(client_id, 1, 1) <> ' ';
