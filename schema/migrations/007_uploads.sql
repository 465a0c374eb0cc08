-- 007: attachments (issue 12, item 2). The bytes live in files under the
-- uploads directory, named by the upload's id; these rows say whose they
-- are, what they are (decided by the worker from magic bytes) and which
-- messages carry them, which is what the access check reads. IF NOT
-- EXISTS: tests rewind user_version to replay an older migration, and
-- the migrations after it then run again.
CREATE TABLE IF NOT EXISTS uploads (
  id         INTEGER PRIMARY KEY,  -- random below 2^53 (store_uploads.cc)
  user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name       TEXT NOT NULL,
  mime       TEXT NOT NULL,
  size       INTEGER NOT NULL CHECK (size > 0),
  width      INTEGER,
  height     INTEGER,
  created_ts INTEGER NOT NULL
);
-- The per-user quota sums sizes through this index alone.
CREATE INDEX IF NOT EXISTS uploads_user ON uploads(user_id, size);

CREATE TABLE IF NOT EXISTS message_attachments (
  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  position   INTEGER NOT NULL,
  upload_id  INTEGER NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
  PRIMARY KEY (message_id, position)
) WITHOUT ROWID;
-- Who may fetch an upload: the rooms of the messages that carry it.
CREATE INDEX IF NOT EXISTS message_attachments_upload ON message_attachments(upload_id, message_id);
