// PgStore: uploads on PostgreSQL, with the rules of SQLite's
// schema/store_uploads.cc (its design note: random ids, who may read, the
// lifecycle through upload_pending and upload_trash, migration 003 here).
//
// Design note, what differs with several pools:
// - The quota (the sum of a user's upload sizes) is read with the user's
//   row locked FOR NO KEY UPDATE until COMMIT, so two uploads of one user
//   on two pools cannot both fit in the room one leaves; the lock does not
//   conflict with the key-share locks that inserts referencing the user
//   take, so nothing else of theirs waits.
// - CollectUploads takes its expired uploads with their upload_pending and
//   uploads rows locked FOR UPDATE SKIP LOCKED: a send that is attaching
//   one (its uploads row locked by the send) is skipped, not waited for,
//   and a send that comes after finds the row gone (invalid_attachment).
// - Files are removed outside any transaction, between the two bounded
//   phases; two daemons collecting at once may both remove one file, which
//   the remover treats as done (events/upload_sweep.cc: ENOENT is fine).
#include <string>

#include "schema/crypto.h"
#include "schema/pg/store.h"
#include "schema/pg/store_details.h"
#include "schema/store_rules.h"
#include "schema/upload_gc.h"

namespace parley::pg {
Result<Upload> PgStore::CreateUpload(const User& me, Upload u, const std::function<Status(int64_t id)>& place) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kUpload));
  if (limits_.upload_quota_bytes > 0) {
    PARLEY_RETURN_IF_ERROR(conn_.Exec("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", {me.id}).status());
    // Each file at least a block, as on SQLite (kUploadMinChargeBytes).
    PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec("SELECT COALESCE(SUM(GREATEST(size, $2)), 0) FROM uploads "
                                                   "WHERE user_id = $1",
                                                   {me.id, kUploadMinChargeBytes}));
    PARLEY_ASSIGN_OR_RETURN(int64_t used, r.Int(0, 0));
    if (used + UploadCharge(u.size) > limits_.upload_quota_bytes) {
      return Status(Code::kTooLarge, "quota_exceeded",
                    "your uploads would take more than " + std::to_string(limits_.upload_quota_bytes >> 20) +
                        " MiB; " + std::to_string(used >> 20) + " MiB are used");
    }
  }
  u.user_id = me.id;
  const int64_t now = NowMs();
  // A collision among 2^52 ids is all but impossible; one more draw covers it.
  for (int attempt = 0; attempt < 2 && u.id == 0; ++attempt) {
    const int64_t id = RandomUploadId();
    PARLEY_ASSIGN_OR_RETURN(
        PgResult r, conn_.Exec("INSERT INTO uploads (id, user_id, name, mime, size, width, height, created_ts) "
                               "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                               {id, me.id, u.name, u.mime, u.size, u.width, u.height, now}));
    if (r.Affected() == 1) u.id = id;
  }
  if (u.id == 0) return Status::Internal("no free upload id");
  PARLEY_RETURN_IF_ERROR(
      conn_.Exec("INSERT INTO upload_pending (upload_id, created_ts) VALUES ($1, $2)", {u.id, now}).status());
  PARLEY_RETURN_IF_ERROR(place(u.id));
  PARLEY_RETURN_IF_ERROR(tx->Commit());
  return u;
}

Result<Upload> PgStore::ReadableUpload(const User& me, int64_t upload_id) {
  PARLEY_ASSIGN_OR_RETURN(
      PgResult r, conn_.Exec(std::string("SELECT ") + kUploadColumns +
                                 " FROM uploads u WHERE u.id = $1 AND (u.user_id = $2 OR EXISTS ("
                                 "SELECT 1 FROM message_attachments a JOIN messages m ON m.id = a.message_id "
                                 "JOIN members mb ON mb.room_id = m.room_id AND mb.user_id = $2 "
                                 "WHERE a.upload_id = $1 AND m.deleted = 0))",
                             {upload_id, me.id}));
  if (r.Rows() == 0) return Status::NotFound("upload_not_found", "no such upload");
  return ReadUpload(r, 0, 0);
}

// The row goes, its file is queued: see the design note.
Status PgStore::DropUploads(const std::vector<int64_t>& ids) {
  if (ids.empty()) return Status::Ok();
  const std::string array = ArrayOf(ids);
  PARLEY_RETURN_IF_ERROR(conn_
                             .Exec("INSERT INTO upload_trash (upload_id) SELECT unnest($1::bigint[]) "
                                   "ON CONFLICT DO NOTHING",
                                   {array})
                             .status());
  // Cascades to upload_pending and message_attachments.
  return conn_.Exec("DELETE FROM uploads WHERE id = ANY($1::bigint[])", {array}).status();
}

Result<int64_t> PgStore::CollectUploads(int64_t keep_ms, int limit, const std::function<Status(int64_t id)>& remove) {
  const int64_t cutoff = NowMs() - keep_ms;
  // Looked at first without a transaction, which most steps then never open.
  PARLEY_ASSIGN_OR_RETURN(PgResult any, conn_.Exec("SELECT 1 FROM upload_pending WHERE created_ts < $1 LIMIT 1",
                                                   {cutoff}));
  if (any.Rows() > 0) {
    PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
    PARLEY_ASSIGN_OR_RETURN(
        PgResult r, conn_.Exec("SELECT p.upload_id FROM upload_pending p JOIN uploads u ON u.id = p.upload_id "
                               "WHERE p.created_ts < $1 ORDER BY p.created_ts LIMIT $2 FOR UPDATE SKIP LOCKED",
                               {cutoff, limit}));
    PARLEY_ASSIGN_OR_RETURN(std::vector<int64_t> expired, r.Ints());
    PARLEY_RETURN_IF_ERROR(DropUploads(expired));
    PARLEY_RETURN_IF_ERROR(tx->Commit());
  }
  PARLEY_ASSIGN_OR_RETURN(PgResult t,
                          conn_.Exec("SELECT upload_id FROM upload_trash ORDER BY upload_id LIMIT $1", {limit}));
  PARLEY_ASSIGN_OR_RETURN(std::vector<int64_t> trashed, t.Ints());
  if (trashed.empty()) return 0;
  // A file that will not go (an I/O error) stays queued for the next step;
  // the others are done.
  FileRemoval files = RemoveFiles(trashed, remove);
  if (!files.removed.empty()) {
    PARLEY_RETURN_IF_ERROR(conn_
                               .Exec("DELETE FROM upload_trash WHERE upload_id = ANY($1::bigint[])",
                                     {ArrayOf(files.removed)})
                               .status());
  }
  PARLEY_RETURN_IF_ERROR(files.failed);
  return static_cast<int64_t>(files.removed.size());
}

// ON CONFLICT: pools starting at once on several hosts all read the mark
// the first one made.
Result<std::string> PgStore::UploadsMark(bool create) {
  if (create) {
    PARLEY_RETURN_IF_ERROR(conn_.Exec("INSERT INTO meta (key, value) VALUES ('uploads_mark', $1) "
                                      "ON CONFLICT DO NOTHING",
                                      {NewToken()})
                               .status());
  }
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec("SELECT value FROM meta WHERE key = 'uploads_mark'"));
  if (r.Rows() == 0) return std::string();
  return r.Text(0, 0);
}

Result<std::vector<int64_t>> PgStore::UploadsWithoutRows(const std::vector<int64_t>& ids) {
  if (ids.empty()) return std::vector<int64_t>{};
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec("SELECT id FROM unnest($1::bigint[]) AS t(id) "
                                                 "WHERE NOT EXISTS (SELECT 1 FROM uploads u WHERE u.id = t.id)",
                                                 {ArrayOf(ids)}));
  return r.Ints();
}

}  // namespace parley::pg
