// Store: uploads and message attachments.
//
// Design note. An upload is a row here and a file in the uploads directory
// named by the row's id; the worker (fcgi/handlers_uploads.cc) moves nginx's
// spooled file there inside CreateUpload's write transaction, so a committed
// row always has its file. The id is random (52 bits from libsodium) rather
// than sequential so that ids do not reveal how many files others upload;
// access is still checked on every download: the uploader, and the members
// of any room where a live (not deleted) message carries it. Everyone else
// gets the same 404 as for an id that does not exist.
//
// Lifecycle (migration 010). An upload starts in upload_pending; attaching
// it takes it out. A pending one older than a day (parley-events'
// --upload-keep) loses its row in CollectUploads. When a message is deleted,
// each of its uploads that no live message carries any more loses its row in
// the delete's transaction (ReleaseAttachments), so it is gone for everyone,
// its uploader included, at once. Either way its id goes to upload_trash,
// and CollectUploads removes the file later, a bounded number per step: the
// row goes first, so a file is never reachable once its removal is decided,
// and a crash between the two leaves only a trash row to retry.
#include <algorithm>
#include <string>

#include "schema/crypto.h"
#include "schema/message_index.h"
#include "schema/per_user_limit.h"
#include "schema/store.h"
#include "schema/store_rules.h"
#include "schema/upload_gc.h"

namespace parley {
namespace {

Upload ReadUpload(const Statement& s, int first) {
  Upload u;
  u.id = s.Int(first);
  u.user_id = s.Int(first + 1);
  u.name = s.Text(first + 2);
  u.mime = s.Text(first + 3);
  u.size = s.Int(first + 4);
  if (!s.IsNull(first + 5)) u.width = s.Int(first + 5);
  if (!s.IsNull(first + 6)) u.height = s.Int(first + 6);
  return u;
}


Status UploadNotFound() { return Status::NotFound("upload_not_found", "no such upload"); }

// Every row's first column.
Result<std::vector<int64_t>> ReadIds(Statement& s) {
  std::vector<int64_t> ids;
  for (;;) {
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return ids;
    ids.push_back(s.Int(0));
  }
}

}  // namespace

Result<Upload> Store::CreateUpload(const User& me, Upload u, const std::function<Status(int64_t id)>& place) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kUpload));
  if (limits_.upload_quota_bytes > 0) {
    // Each file at least a block (kUploadMinChargeBytes): the quota bounds
    // the disk a user takes, not the bytes they sent.
    const std::string sql = "SELECT COALESCE(SUM(MAX(size, " + std::to_string(kUploadMinChargeBytes) +
                            ")), 0) FROM uploads WHERE user_id = ?";
    PARLEY_ASSIGN_OR_RETURN(int64_t used, UsedByUser(db_, sql.c_str(), me.id));
    if (used + UploadCharge(u.size) > limits_.upload_quota_bytes) {
      return Status(Code::kTooLarge, "quota_exceeded",
                    "your uploads would take more than " + std::to_string(limits_.upload_quota_bytes >> 20) +
                        " MiB; " + std::to_string(used >> 20) + " MiB are used");
    }
  }
  u.user_id = me.id;
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "INSERT INTO uploads(id, user_id, name, mime, size, width, height, created_ts) VALUES (?,?,?,?,?,?,?,?) "
      "ON CONFLICT DO NOTHING"));
  // A collision among 2^52 ids is all but impossible; one more draw covers it.
  for (int attempt = 0; attempt < 2 && u.id == 0; ++attempt) {
    int64_t id = RandomUploadId();
    s.Bind(1, id).Bind(2, me.id).Bind(3, u.name).Bind(4, u.mime).Bind(5, u.size).Bind(6, u.width)
        .Bind(7, u.height).Bind(8, NowMs());
    PARLEY_RETURN_IF_ERROR(s.Exec());
    if (s.Changes() == 1) u.id = id;
    s.Reset();
  }
  if (u.id == 0) return Status::Internal("no free upload id");
  {
    PARLEY_ASSIGN_OR_RETURN(Statement p, db_.Prepare(
        "INSERT INTO upload_pending(upload_id, created_ts) SELECT id, created_ts FROM uploads WHERE id = ?"));
    p.Bind(1, u.id);
    PARLEY_RETURN_IF_ERROR(p.Exec());
  }
  PARLEY_RETURN_IF_ERROR(place(u.id));
  PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
  return u;
}

Result<Upload> Store::ReadableUpload(const User& me, int64_t upload_id) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(std::string("SELECT ") + kUploadColumns +
      " FROM uploads u WHERE u.id = ?1 AND (u.user_id = ?2 OR EXISTS ("
      "SELECT 1 FROM message_attachments a JOIN messages m ON m.id = a.message_id "
      "JOIN members mb ON mb.room_id = m.room_id AND mb.user_id = ?2 "
      "WHERE a.upload_id = ?1 AND m.deleted = 0))"));
  s.Bind(1, upload_id).Bind(2, me.id);
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return UploadNotFound();
  return ReadUpload(s, 0);
}

Result<std::vector<Upload>> Store::OwnUploads(const User& me, const std::vector<int64_t>& ids) {
  std::vector<Upload> out;
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(std::string("SELECT ") + kUploadColumns +
                                                   " FROM uploads u WHERE u.id = ? AND u.user_id = ?"));
  for (int64_t id : ids) {
    s.Bind(1, id).Bind(2, me.id);
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) {
      return Status::Invalid("invalid_attachment", "attachments must name uploads of your own");
    }
    out.push_back(ReadUpload(s, 0));
    s.Reset();
  }
  return out;
}

Status Store::InsertAttachments(int64_t message_id, const std::vector<Upload>& attachments) {
  if (attachments.empty()) return Status::Ok();
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "INSERT INTO message_attachments(message_id, position, upload_id) VALUES (?,?,?)"));
  for (size_t i = 0; i < attachments.size(); ++i) {
    s.Bind(1, message_id).Bind(2, static_cast<int64_t>(i)).Bind(3, attachments[i].id);
    PARLEY_RETURN_IF_ERROR(s.Exec());
    s.Reset();
  }
  PARLEY_ASSIGN_OR_RETURN(Statement p, db_.Prepare("DELETE FROM upload_pending WHERE upload_id = ?"));
  for (const Upload& u : attachments) {
    p.Bind(1, u.id);
    PARLEY_RETURN_IF_ERROR(p.Exec());
    p.Reset();
  }
  return Status::Ok();
}

// The row goes, its file is queued: see the design note.
Status Store::DropUploads(const std::vector<int64_t>& ids) {
  PARLEY_ASSIGN_OR_RETURN(Statement trash, db_.Prepare(
      "INSERT INTO upload_trash(upload_id) VALUES (?) ON CONFLICT DO NOTHING"));
  PARLEY_ASSIGN_OR_RETURN(Statement drop, db_.Prepare("DELETE FROM uploads WHERE id = ?"));
  for (int64_t id : ids) {
    trash.Bind(1, id);
    PARLEY_RETURN_IF_ERROR(trash.Exec());
    trash.Reset();
    drop.Bind(1, id);  // cascades to upload_pending and message_attachments
    PARLEY_RETURN_IF_ERROR(drop.Exec());
    drop.Reset();
  }
  return Status::Ok();
}

Status Store::ReleaseAttachments(int64_t message_id) {
  // The message is a tombstone already, so "a live message carries it" is
  // "some other message does".
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT a.upload_id FROM message_attachments a WHERE a.message_id = ?1 AND NOT EXISTS ("
      "SELECT 1 FROM message_attachments b JOIN messages m ON m.id = b.message_id "
      "WHERE b.upload_id = a.upload_id AND m.deleted = 0)"));
  s.Bind(1, message_id);
  PARLEY_ASSIGN_OR_RETURN(std::vector<int64_t> unused, ReadIds(s));
  return DropUploads(unused);
}

Result<int64_t> Store::CollectUploads(int64_t keep_ms, int limit, const std::function<Status(int64_t id)>& remove) {
  auto expired = [&]() -> Result<std::vector<int64_t>> {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "SELECT upload_id FROM upload_pending WHERE created_ts < ? ORDER BY created_ts LIMIT ?"));
    s.Bind(1, NowMs() - keep_ms).Bind(2, limit);
    return ReadIds(s);
  };
  // Looked at first without the write lock, which most steps then never take.
  PARLEY_ASSIGN_OR_RETURN(std::vector<int64_t> candidates, expired());
  if (!candidates.empty()) {
    PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
    PARLEY_ASSIGN_OR_RETURN(candidates, expired());  // a send may have attached one meanwhile
    PARLEY_RETURN_IF_ERROR(DropUploads(candidates));
    PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
  }
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("SELECT upload_id FROM upload_trash ORDER BY upload_id LIMIT ?"));
  s.Bind(1, limit);
  PARLEY_ASSIGN_OR_RETURN(std::vector<int64_t> trashed, ReadIds(s));
  s.Reset();
  if (trashed.empty()) return 0;
  // A file that will not go (an I/O error) stays queued for the next step;
  // the others are done.
  FileRemoval files = RemoveFiles(trashed, remove);
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_ASSIGN_OR_RETURN(Statement d, db_.Prepare("DELETE FROM upload_trash WHERE upload_id = ?"));
  for (int64_t id : files.removed) {
    d.Bind(1, id);
    PARLEY_RETURN_IF_ERROR(d.Exec());
    d.Reset();
  }
  PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
  PARLEY_RETURN_IF_ERROR(files.failed);
  return static_cast<int64_t>(files.removed.size());
}

// Made inside a write transaction, so two pools starting at once read the
// same mark.
Result<std::string> Store::UploadsMark(bool create) {
  auto read = [&]() -> Result<std::string> {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("SELECT value FROM meta WHERE key = 'uploads_mark'"));
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    return row ? s.Text(0) : std::string();
  };
  PARLEY_ASSIGN_OR_RETURN(std::string mark, read());
  if (!mark.empty() || !create) return mark;
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "INSERT INTO meta(key, value) VALUES ('uploads_mark', ?) ON CONFLICT DO NOTHING"));
  s.Bind(1, NewToken());
  PARLEY_RETURN_IF_ERROR(s.Exec());
  PARLEY_ASSIGN_OR_RETURN(mark, read());
  PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
  return mark;
}

Result<std::vector<int64_t>> Store::UploadsWithoutRows(const std::vector<int64_t>& ids) {
  std::vector<int64_t> missing;
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("SELECT 1 FROM uploads WHERE id = ?"));
  for (int64_t id : ids) {
    s.Bind(1, id);
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) missing.push_back(id);
    s.Reset();
  }
  return missing;
}

// Only messages with attachments have rows at all; a tombstone keeps none.
Status Store::LoadAttachments(const MessageIndex& index) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(std::string("SELECT a.message_id, ") + kUploadColumns +
      " FROM message_attachments a JOIN uploads u ON u.id = a.upload_id "
      "WHERE a.message_id BETWEEN ?1 AND ?2 ORDER BY a.message_id, a.position"));
  return index.ForEachRow(s, [](Message& m, const Statement& row) {
    if (!m.deleted) m.attachments.push_back(ReadUpload(row, 1));
  });
}

}  // namespace parley
