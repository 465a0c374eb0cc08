-- 024: idempotency keys expire, through these indexes, as SQLite's 027
-- (which says why two partial indexes).
CREATE INDEX IF NOT EXISTS idempotency_replay_age ON idempotency (created_ts) WHERE substr(client_id, 1, 1) = ' ';
CREATE INDEX IF NOT EXISTS idempotency_client_age ON idempotency (created_ts) WHERE substr(client_id, 1, 1) <> ' ';
