// What PgStore's message files share (store_messages.cc,
// store_message_details.cc, store_reactions.cc, store_search.cc,
// store_uploads.cc): the message row's columns, reading one, reading an
// upload, and the read of a list's detail rows (mentions, reactions,
// attachments): one query per kind for the listed ids (= ANY of an array,
// an index probe an id: the rows of the listed messages and no others),
// all of them sent in one pipeline.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "schema/message_index.h"
#include "schema/model.h"
#include "schema/pg/conn.h"

namespace parley::pg {

inline constexpr const char* kMessageSelect =
    "SELECT m.id, m.room_id, m.user_id, u.username, m.kind, m.text, m.reply_to, m.ts, m.client_id, "
    "m.edited_ts, m.deleted, a.answer_id, m.deleted_by, du.username "
    "FROM messages m JOIN users u ON u.id = m.user_id "
    "LEFT JOIN answers a ON a.question_id = m.id LEFT JOIN users du ON du.id = m.deleted_by ";

// The end of an insert into read_markers: the marker only moves forward
// (an old tab cannot unread what a newer one read).
inline constexpr const char* kMoveReadMarker =
    "ON CONFLICT (user_id, room_id) DO UPDATE SET event_id = excluded.event_id "
    "WHERE excluded.event_id > read_markers.event_id";

// The row-th row of a kMessageSelect query.
Result<Message> ReadMessage(const PgResult& r, int row);
// Every row of r.
Result<std::vector<Message>> ReadMessages(const PgResult& r);
// The upload in the row-th row, its kUploadColumns (schema/store_rules.h)
// from column `first` on.
Result<Upload> ReadUpload(const PgResult& r, int row, int first);

// One kind of detail row of a list of messages: `sql` runs once, $1 bound
// to the listed ids (a bigint[]) and $2 to `more` when set, and
// fill(message, rows, row) takes each row by its column 0, a listed
// message's id.
struct DetailQuery {
  std::string sql;
  std::optional<int64_t> more;
  std::function<Status(Message&, const PgResult&, int)> fill;
};

// Every kind and every range of a list's details as statements for one
// pipeline: the caller sends them (PgConn::ExecTogether, or PgTx::CommitAfter
// as a read transaction's last round trip), then Fill() puts the rows into
// the messages. One round trip for the details of a page, where each kind
// of each range was one.
class DetailReads {
 public:
  // `messages` must outlive this and keep its size.
  DetailReads(std::vector<Message>& messages, std::vector<DetailQuery> queries);
  const std::vector<PgConn::Stmt>& statements() const { return statements_; }
  // results: those of statements(), in order.
  Status Fill(const std::vector<Result<PgResult>>& results) const;

 private:
  MessageIndex index_;
  std::vector<DetailQuery> queries_;
  std::vector<PgConn::Stmt> statements_;  // one a query
};

// Mentions, reactions when there is a reader (ReactionsQuery), attachments.
std::vector<DetailQuery> MessageDetailQueries(std::optional<int64_t> reader_id);
DetailQuery ReactionsQuery(int64_t reader_id);

}  // namespace parley::pg
