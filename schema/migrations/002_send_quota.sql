-- 002: per-user send quota (a token bucket), the authoritative send limit
-- behind nginx's per-session limit_req. Updated in the send transaction.
CREATE TABLE send_quota (
  user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  tokens     REAL NOT NULL,
  updated_ts INTEGER NOT NULL
);
