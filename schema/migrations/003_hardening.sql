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

-- Login throttling (schema/store_login.cc), replacing 001's per-name table:
-- failed logins per (account, client address), and per address alone
-- (account ''). An attempt is counted before its password is checked and
-- uncounted when it succeeds; a row past its limit is blocked until
-- blocked_until, a wait that doubles with every further failure. An account
-- itself is never locked for everyone: another address has its own row.
DROP TABLE login_failures;
CREATE TABLE login_throttle (
  account       TEXT NOT NULL COLLATE NOCASE,
  address       TEXT NOT NULL,
  failures      INTEGER NOT NULL,
  last_ts       INTEGER NOT NULL,
  blocked_until INTEGER NOT NULL,
  PRIMARY KEY (account, address)
) WITHOUT ROWID;
CREATE INDEX login_throttle_age ON login_throttle(last_ts);
