// What PgStore's message files share (store_messages.cc,
// store_message_details.cc, store_reactions.cc, store_search.cc,
// store_uploads.cc): the message row's columns, reading one, reading an
// upload, and the per-range read of a list's detail rows (mentions,
// reactions, attachments), as SQLite's MessageIndex does
// (schema/message_index.h: one query per run of nearby ids).
#pragma once

#include <optional>
#include <string>

#include "schema/message_index.h"
#include "schema/model.h"
#include "schema/pg/conn.h"

namespace parley::pg {

inline constexpr const char* kMessageSelect =
    "SELECT m.id, m.room_id, m.user_id, u.username, m.kind, m.text, m.reply_to, m.ts, m.client_id, "
    "m.edited_ts, m.deleted, a.answer_id, m.deleted_by, du.username "
    "FROM messages m JOIN users u ON u.id = m.user_id "
    "LEFT JOIN answers a ON a.question_id = m.id LEFT JOIN users du ON du.id = m.deleted_by ";

// The row-th row of a kMessageSelect query.
Result<Message> ReadMessage(const PgResult& r, int row);
// The upload in the row-th row, its kUploadColumns (schema/store_rules.h)
// from column `first` on.
Result<Upload> ReadUpload(const PgResult& r, int row, int first);

// Runs sql once per range of index, $1 and $2 bound to its first and last
// id and $3 to `more` when set, and calls fill(message, rows, row) for each
// row whose column 0 is a listed message's id (rows of unlisted messages
// inside a range are skipped).
template <typename Fill>
Status ForEachDetailRow(PgConn& conn, const MessageIndex& index, const std::string& sql,
                        std::optional<int64_t> more, Fill fill) {
  for (const MessageIndex::Range& range : index.ranges()) {
    PARLEY_ASSIGN_OR_RETURN(PgResult r, more ? conn.Exec(sql, {range.lo, range.hi, *more})
                                             : conn.Exec(sql, {range.lo, range.hi}));
    for (int i = 0; i < r.Rows(); ++i) {
      PARLEY_ASSIGN_OR_RETURN(int64_t id, r.Int(i, 0));
      if (Message* m = index.Find(id)) PARLEY_RETURN_IF_ERROR(fill(*m, r, i));
    }
  }
  return Status::Ok();
}

}  // namespace parley::pg
