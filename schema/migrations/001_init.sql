-- 001: the first schema. Applied once, inside one transaction, by
-- schema/migrate.cc; PRAGMA user_version records the last applied number.

-- One row, created once: the database epoch travels with every stream and
-- poll so a client can tell a restored or recreated database.
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
  id         INTEGER PRIMARY KEY,
  username   TEXT NOT NULL UNIQUE COLLATE NOCASE,
  pw_hash    TEXT NOT NULL,
  created_ts INTEGER NOT NULL
);

-- Only a hash (BLAKE2b-256, schema/crypto.cc) of a session token is
-- stored; the token itself is shown to the client once.
CREATE TABLE sessions (
  id           INTEGER PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  token_hash   BLOB NOT NULL UNIQUE,
  created_ts   INTEGER NOT NULL,
  last_seen_ts INTEGER NOT NULL,
  expires_ts   INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

-- Failed logins per account name (known or not), for throttling.
CREATE TABLE login_failures (
  username     TEXT PRIMARY KEY COLLATE NOCASE,
  failures     INTEGER NOT NULL,
  window_start INTEGER NOT NULL
) WITHOUT ROWID;

-- kind: public | private | qa | dm. dm_key is "lowid:highid" for direct
-- conversations so that there is exactly one per pair of users.
CREATE TABLE rooms (
  id                    INTEGER PRIMARY KEY,
  name                  TEXT NOT NULL,
  kind                  TEXT NOT NULL CHECK (kind IN ('public','private','qa','dm')),
  owner_id              INTEGER REFERENCES users(id),
  dm_key                TEXT UNIQUE,
  answers_per_professor INTEGER,
  created_ts            INTEGER NOT NULL
);
CREATE UNIQUE INDEX rooms_name ON rooms(name COLLATE NOCASE) WHERE kind <> 'dm';

-- role: member (ordinary rooms), student | professor (Q&A rooms).
CREATE TABLE members (
  room_id   INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  user_id   INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role      TEXT NOT NULL CHECK (role IN ('member','student','professor')),
  joined_ts INTEGER NOT NULL,
  PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
CREATE INDEX members_user ON members(user_id, room_id);

-- The append-only event log (DESIGN section 2). Its id is the one cursor of
-- every API. audience: 'room' = members of room_id (plus target_id),
-- 'all' = every signed-in user.
CREATE TABLE events (
  id        INTEGER PRIMARY KEY AUTOINCREMENT,
  ts        INTEGER NOT NULL,
  type      TEXT NOT NULL,
  room_id   INTEGER,
  target_id INTEGER,
  audience  TEXT NOT NULL CHECK (audience IN ('room','all')),
  data      TEXT NOT NULL
);
CREATE INDEX events_room ON events(room_id, id);

-- A message's id is the id of the event that created it.
CREATE TABLE messages (
  id        INTEGER PRIMARY KEY,
  room_id   INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  user_id   INTEGER NOT NULL REFERENCES users(id),
  kind      TEXT NOT NULL CHECK (kind IN ('message','question','answer')),
  text      TEXT NOT NULL,
  reply_to  INTEGER,
  ts        INTEGER NOT NULL,
  client_id TEXT,
  edited_ts INTEGER,
  deleted   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_room ON messages(room_id, id);

-- One answer per question: the primary key makes a second answer impossible
-- even if the application check were wrong.
CREATE TABLE answers (
  question_id  INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
  answer_id    INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  professor_id INTEGER NOT NULL REFERENCES users(id),
  room_id      INTEGER NOT NULL
);
CREATE INDEX answers_professor ON answers(room_id, professor_id);

-- A send retried with the same client_id returns the stored message.
CREATE TABLE idempotency (
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  client_id  TEXT NOT NULL,
  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  created_ts INTEGER NOT NULL,
  PRIMARY KEY (user_id, client_id)
) WITHOUT ROWID;

CREATE TABLE read_markers (
  user_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  room_id  INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  event_id INTEGER NOT NULL,
  PRIMARY KEY (user_id, room_id)
) WITHOUT ROWID;

-- Maintained by parley-events (who has a live connection); read by the
-- members API for "online".
CREATE TABLE presence (
  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  since   INTEGER NOT NULL
);

INSERT INTO meta(key, value) VALUES ('epoch', lower(hex(randomblob(8))));
INSERT INTO rooms(id, name, kind, owner_id, created_ts)
  VALUES (1, 'general', 'public', NULL, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));
