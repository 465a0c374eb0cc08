-- 010: the uploads' lifecycle (issue 12, item 2 leftovers). An upload never
-- attached to a message is removed after a while (configurable, a day), and
-- one whose messages were all deleted is removed at the delete: its row goes
-- in the delete's transaction (no one can fetch or attach it again, and the
-- uploader's quota is given back at once), its file a little later. Both
-- kinds are found through these two small tables, never by scanning uploads,
-- so parley-events' periodic step (events/upload_sweep.cc) is bounded.
-- IF NOT EXISTS and OR IGNORE: tests replay migrations (see 007).

-- Uploads not (yet) attached to any message, oldest first by created_ts.
CREATE TABLE IF NOT EXISTS upload_pending (
  upload_id  INTEGER PRIMARY KEY REFERENCES uploads(id) ON DELETE CASCADE,
  created_ts INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS upload_pending_ts ON upload_pending(created_ts);

-- Uploads whose row is gone and whose file is still to be removed.
CREATE TABLE IF NOT EXISTS upload_trash (
  upload_id INTEGER PRIMARY KEY
);

INSERT OR IGNORE INTO upload_pending(upload_id, created_ts)
  SELECT u.id, u.created_ts FROM uploads u
  WHERE NOT EXISTS (SELECT 1 FROM message_attachments a WHERE a.upload_id = u.id);

-- Uploads carried only by deleted messages before this migration.
INSERT OR IGNORE INTO upload_trash(upload_id)
  SELECT u.id FROM uploads u
  WHERE EXISTS (SELECT 1 FROM message_attachments a WHERE a.upload_id = u.id)
    AND NOT EXISTS (SELECT 1 FROM message_attachments a JOIN messages m ON m.id = a.message_id
                    WHERE a.upload_id = u.id AND m.deleted = 0);
DELETE FROM uploads WHERE id IN (SELECT upload_id FROM upload_trash);
