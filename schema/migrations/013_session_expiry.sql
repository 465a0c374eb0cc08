-- 013: sessions past their absolute expiry are swept, oldest first, through
-- this index (Storage::SweepSessions, run by parley-events once a minute in
-- bounded steps). A login removes its own account's unusable sessions
-- (schema/store.cc, CreateSession), but an account that never logs in
-- again kept its own forever. IF NOT EXISTS: tests replay migrations.
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions(expires_ts);
