// PgStore: a list of messages completed with its details (mentions,
// attachments and, for a reader, reactions): one query per kind and run of
// nearby ids, in one round trip whatever the list's length (store_details.h).
#include "schema/pg/store.h"
#include "schema/pg/store_details.h"
#include "schema/store_rules.h"

namespace parley::pg {

Result<Message> ReadMessage(const PgResult& r, int row) {
  Message m;
  PARLEY_ASSIGN_OR_RETURN(m.id, r.Int(row, 0));
  PARLEY_ASSIGN_OR_RETURN(m.room_id, r.Int(row, 1));
  PARLEY_ASSIGN_OR_RETURN(int64_t user_id, r.Int(row, 2));
  m.user = User{user_id, r.Text(row, 3)};
  m.kind = r.Text(row, 4);
  m.text = r.Text(row, 5);
  m.reply_to = r.OptionalInt(row, 6);
  PARLEY_ASSIGN_OR_RETURN(m.ts, r.Int(row, 7));
  if (!r.IsNull(row, 8)) m.client_id = r.Text(row, 8);
  m.edited = !r.IsNull(row, 9);
  PARLEY_ASSIGN_OR_RETURN(int64_t deleted, r.Int(row, 10));
  m.deleted = deleted != 0;
  m.answer_id = r.OptionalInt(row, 11);
  if (!r.IsNull(row, 12)) {
    PARLEY_ASSIGN_OR_RETURN(int64_t by, r.Int(row, 12));
    m.deleted_by = User{by, r.Text(row, 13)};
  }
  return m;
}

Result<std::vector<Message>> ReadMessages(const PgResult& r) {
  std::vector<Message> out;
  out.reserve(r.Rows());
  for (int i = 0; i < r.Rows(); ++i) {
    PARLEY_ASSIGN_OR_RETURN(Message m, ReadMessage(r, i));
    out.push_back(std::move(m));
  }
  return out;
}

Result<Upload> ReadUpload(const PgResult& r, int row, int first) {
  Upload u;
  PARLEY_ASSIGN_OR_RETURN(u.id, r.Int(row, first));
  PARLEY_ASSIGN_OR_RETURN(u.user_id, r.Int(row, first + 1));
  u.name = r.Text(row, first + 2);
  u.mime = r.Text(row, first + 3);
  PARLEY_ASSIGN_OR_RETURN(u.size, r.Int(row, first + 4));
  u.width = r.OptionalInt(row, first + 5);
  u.height = r.OptionalInt(row, first + 6);
  return u;
}

namespace {

// A run whose span is at most this many ids for each listed one is read
// as a range: the unlisted messages inside it are at most 3 for each
// listed one, and their rows with them. A sparser run is read by its ids,
// which for a dense run costs an index probe an id instead of one range
// (75-125 µs more of PostgreSQL's CPU for a 50-message page,
// tools/bench/api).
constexpr int64_t kDenseSpan = 4;

}  // namespace

DetailQuery MakeDetailQuery(const std::function<std::string(const char* key_test, const char* more)>& sql,
                            std::optional<int64_t> more,
                            std::function<Status(Message&, const PgResult&, int)> fill) {
  return {sql("BETWEEN $1 AND $2", "$3"), sql("= ANY($1::bigint[])", "$2"), more, std::move(fill)};
}

DetailReads::DetailReads(std::vector<Message>& messages, std::vector<DetailQuery> queries)
    : index_(messages), queries_(std::move(queries)) {
  for (const DetailQuery& q : queries_) {
    for (const MessageIndex::Range& range : index_.ranges()) {
      const std::vector<int64_t> ids = index_.IdsIn(range);
      PgConn::Stmt st;
      if (range.hi - range.lo + 1 <= kDenseSpan * static_cast<int64_t>(ids.size())) {
        st = PgConn::Stmt{q.by_range, {range.lo, range.hi}};
      } else {
        std::string listed = "{";
        for (int64_t id : ids) listed.append(listed.size() > 1 ? "," : "").append(std::to_string(id));
        st = PgConn::Stmt{q.by_ids, {listed + "}"}};
      }
      if (q.more) st.params.emplace_back(*q.more);
      statements_.push_back(std::move(st));
    }
  }
}

Status DetailReads::Fill(const std::vector<Result<PgResult>>& results) const {
  if (results.size() != statements_.size()) return Status::Internal("detail reads: a result is missing");
  auto result = results.begin();
  for (const DetailQuery& q : queries_) {
    for (size_t range = 0; range < index_.ranges().size(); ++range, ++result) {
      PARLEY_RETURN_IF_ERROR(result->status());
      const PgResult& r = **result;
      for (int i = 0; i < r.Rows(); ++i) {
        PARLEY_ASSIGN_OR_RETURN(int64_t id, r.Int(i, 0));
        if (Message* m = index_.Find(id)) PARLEY_RETURN_IF_ERROR(q.fill(*m, r, i));
      }
    }
  }
  return Status::Ok();
}

std::vector<DetailQuery> MessageDetailQueries(std::optional<int64_t> reader_id) {
  std::vector<DetailQuery> queries;
  // Stored in user id order (StoreMentions), and read back in it.
  queries.push_back(MakeDetailQuery(
      [](const char* key_test, const char*) {
        return std::string("SELECT message_id, user_id FROM mentions WHERE message_id ") + key_test +
               " ORDER BY message_id, user_id";
      },
      std::nullopt, [](Message& m, const PgResult& r, int row) -> Status {
        PARLEY_ASSIGN_OR_RETURN(int64_t id, r.Int(row, 1));
        m.mentions.push_back(id);
        return Status::Ok();
      }));
  if (reader_id) queries.push_back(ReactionsQuery(*reader_id));
  queries.push_back(MakeDetailQuery(
      [](const char* key_test, const char*) {
        return std::string("SELECT a.message_id, ") + kUploadColumns +
               " FROM message_attachments a JOIN uploads u ON u.id = a.upload_id WHERE a.message_id " + key_test +
               " ORDER BY a.message_id, a.position";
      },
      std::nullopt, [](Message& m, const PgResult& r, int row) -> Status {
        if (m.deleted) return Status::Ok();
        PARLEY_ASSIGN_OR_RETURN(Upload u, ReadUpload(r, row, 1));
        m.attachments.push_back(std::move(u));
        return Status::Ok();
      }));
  return queries;
}

Status PgStore::Attach(std::vector<Message>& messages, std::vector<DetailQuery> queries) {
  DetailReads reads(messages, std::move(queries));
  if (reads.statements().empty()) return Status::Ok();
  PARLEY_ASSIGN_OR_RETURN(std::vector<Result<PgResult>> results, conn_.ExecTogether(reads.statements()));
  return reads.Fill(results);
}

Status PgStore::AttachDetails(std::optional<int64_t> reader_id, std::vector<Message>& messages) {
  return Attach(messages, MessageDetailQueries(reader_id));
}

// The uploads named by ids, all owned by me, in that order. Locked FOR
// SHARE to COMMIT: a collection running meanwhile skips them (SKIP LOCKED,
// store_uploads.cc) rather than removing what this send attaches, and a
// delete that would release one waits for this COMMIT and then sees the
// attachment (ReleaseAttachments). Send has locked them already, before
// the counter row: this reads them, and asks for no lock it does not hold.
Result<std::vector<Upload>> PgStore::OwnUploads(const User& me, const std::vector<int64_t>& ids) {
  std::vector<Upload> out;
  for (int64_t id : ids) {
    PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec(std::string("SELECT ") + kUploadColumns +
                                                       " FROM uploads u WHERE u.id = $1 AND u.user_id = $2 FOR SHARE",
                                                   {id, me.id}));
    if (r.Rows() == 0) return Status::Invalid("invalid_attachment", "attachments must name uploads of your own");
    PARLEY_ASSIGN_OR_RETURN(Upload u, ReadUpload(r, 0, 0));
    out.push_back(std::move(u));
  }
  return out;
}

Status PgStore::InsertAttachments(int64_t message_id, const std::vector<Upload>& attachments) {
  for (size_t i = 0; i < attachments.size(); ++i) {
    PARLEY_RETURN_IF_ERROR(conn_
                               .Exec("INSERT INTO message_attachments (message_id, position, upload_id) "
                                     "VALUES ($1, $2, $3)",
                                     {message_id, static_cast<int64_t>(i), attachments[i].id})
                               .status());
    PARLEY_RETURN_IF_ERROR(
        conn_.Exec("DELETE FROM upload_pending WHERE upload_id = $1", {attachments[i].id}).status());
  }
  return Status::Ok();
}

// In a delete's transaction, after the tombstone is written: the uploads of
// that message that no live message carries any more lose their row (404
// to everyone at once) and their id goes to upload_trash for CollectUploads.
//
// Lock, then decide. A send that attaches one of them (Send) holds its
// uploads row FOR SHARE from before its attachment row is written until
// its COMMIT. Deciding first, on a snapshot where that row is not yet
// committed, picked the upload as unused, and the DELETE that then waited
// for the send went ahead once it committed: the cascade took the send's
// attachment row, a message answered 201 with a file that was gone. So the
// message's uploads are locked FOR UPDATE first, a statement of its own,
// in id order (two deletes of messages that share uploads take them in one
// order); that waits for every send attaching one of them, and no later
// send can attach one until this COMMIT. The decision is the next
// statement, whose READ COMMITTED snapshot is taken after those waits and
// sees what they committed. Both go in one round trip.
Status PgStore::ReleaseAttachments(int64_t message_id) {
  // The message is a tombstone already, so "a live message carries it" is
  // "some other message does".
  PARLEY_ASSIGN_OR_RETURN(
      std::vector<Result<PgResult>> rows,
      conn_.ExecTogether(
          {{"SELECT u.id FROM uploads u WHERE u.id IN (SELECT a.upload_id FROM message_attachments a "
            "WHERE a.message_id = $1) ORDER BY u.id FOR UPDATE",
            {message_id}},
           {"SELECT a.upload_id FROM message_attachments a WHERE a.message_id = $1 AND NOT EXISTS ("
            "SELECT 1 FROM message_attachments b JOIN messages m ON m.id = b.message_id "
            "WHERE b.upload_id = a.upload_id AND m.deleted = 0)",
            {message_id}}}));
  PARLEY_RETURN_IF_ERROR(rows[0].status());
  PARLEY_ASSIGN_OR_RETURN(PgResult r, std::move(rows[1]));
  std::vector<int64_t> ids;
  for (int i = 0; i < r.Rows(); ++i) {
    PARLEY_ASSIGN_OR_RETURN(int64_t id, r.Int(i, 0));
    ids.push_back(id);
  }
  return DropUploads(ids);  // rows out, files queued (store_uploads.cc)
}

}  // namespace parley::pg
