-- 008: as SQLite's migration 013: sessions past their absolute expiry are
-- swept, oldest first, through this index (PgStore::SweepSessions).
CREATE INDEX sessions_expiry ON sessions (expires_ts);
