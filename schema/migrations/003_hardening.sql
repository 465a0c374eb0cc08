-- 003: hardening (issue 8). One token bucket per user and class of write
-- (schema/store_quota.cc), replacing 002's send-only bucket; updated inside
-- the write transaction it guards.
DROP TABLE send_quota;
CREATE TABLE write_quota (
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  class      TEXT NOT NULL,
  tokens     REAL NOT NULL,
  updated_ts INTEGER NOT NULL,
  PRIMARY KEY (user_id, class)
) WITHOUT ROWID;

-- The cap on rooms per owner counts through this index.
CREATE INDEX rooms_owner ON rooms(owner_id);
