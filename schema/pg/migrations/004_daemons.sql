-- 004: daemons that hold presence (issue 10 item 3: "a daemon that dies has
-- its connections expire within seconds"). Each parley-events daemon marks
-- itself alive every second (PgStore::KeepPresence); the presence rows of a
-- daemon not seen for a few seconds are dropped by whichever daemon notices
-- first, because its connections went with it.
CREATE TABLE daemons (
  name    text PRIMARY KEY,
  seen_ts bigint NOT NULL
);
