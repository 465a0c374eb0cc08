-- 003: the uploads' lifecycle, SQLite's migration 010 (see its note): uploads
-- never attached to a message wait in upload_pending until CollectUploads
-- expires them; an upload whose row is gone and whose file is still to be
-- removed waits in upload_trash. Both small tables keep each collection
-- step bounded, never a scan of uploads.
--
-- Unlike SQLite's 010 there is nothing to sort: no PostgreSQL database has
-- uploads from before this migration (PgStore::CreateUpload came with it).

CREATE TABLE upload_pending (
  upload_id  bigint PRIMARY KEY REFERENCES uploads (id) ON DELETE CASCADE,
  created_ts bigint NOT NULL
);
CREATE INDEX upload_pending_ts ON upload_pending (created_ts);

CREATE TABLE upload_trash (
  upload_id bigint PRIMARY KEY
);
