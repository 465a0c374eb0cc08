// What PgStore's message files share (store_messages.cc,
// store_message_details.cc, store_reactions.cc, store_search.cc,
// store_uploads.cc): the message row's columns, reading one, reading an
// upload, and the read of a list's detail rows (mentions, reactions,
// attachments), by the runs of nearby ids of SQLite's MessageIndex: a dense
// run (a busy room's page) as one range, a sparse one (a quiet room's page
// among others' messages) by its listed ids (= ANY of an array, an index
// probe an id), so no run reads the rows of many unlisted messages; all of
// them sent in one pipeline.
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

// One kind of detail row of a list of messages, in two forms: by_range
// runs with $1 and $2 bound to a run's first and last id and $3 to `more`,
// by_ids with $1 bound to its listed ids (a bigint[]) and $2 to `more`
// (when set); fill(message, rows, row) takes each row whose column 0 is a
// listed message's id.
struct DetailQuery {
  std::string by_range;
  std::string by_ids;
  std::optional<int64_t> more;
  std::function<Status(Message&, const PgResult&, int)> fill;
};

// Both forms of a query from its text: sql(key_test, more) with key_test
// the test of the message id column ("BETWEEN $1 AND $2" or
// "= ANY($1::bigint[])") and more the parameter of `more` ($3 or $2).
DetailQuery MakeDetailQuery(const std::function<std::string(const char* key_test, const char* more)>& sql,
                            std::optional<int64_t> more,
                            std::function<Status(Message&, const PgResult&, int)> fill);

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
  std::vector<PgConn::Stmt> statements_;  // query by query, run by run
};

// Mentions, reactions when there is a reader (ReactionsQuery), attachments.
std::vector<DetailQuery> MessageDetailQueries(std::optional<int64_t> reader_id);
DetailQuery ReactionsQuery(int64_t reader_id);

}  // namespace parley::pg
