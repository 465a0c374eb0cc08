// PgStore: messages, Q&A answers, edits, deletes, history and read markers,
// with the behaviour of SQLite's schema/store_messages.cc.
//
// Design note. A message's id is the id of the event that created it (the
// API's message ids and cursors are event ids), so a send takes its id from
// the counter row first (the batch's next id, or kTakeOneId just before
// the statement that inserts the message and claims its client_id), and
// inserts its event last, once, with its final data. The insert goes out
// in one pipeline with the access query, ahead of the checks it would wait
// for (a refused send rolls it back with its savepoint): one round trip
// where there were five. The counter row is held from then to COMMIT, a few
// statements longer than an append made last; inside a group-commit batch
// it is held to the batch's COMMIT anyway. Every message event carries
// events.message_id, by which an edit or a delete rewrites the earlier ones
// (DESIGN section 4).
//
// In a batch, a send does not lock its member row again when an earlier
// send of the batch did (PgStore::batch_member_locks_): that lock is held
// to the batch's COMMIT already.
//
// Concurrency (several pools write at once, READ COMMITTED):
// - the sender's member row is locked FOR SHARE (LoadAccess with lock): a
//   kick or a leave that commits first leaves the send finding no member; one
//   that comes later waits for the send's COMMIT, so no message of a
//   non-member is ever stored;
// - a client_id is claimed by INSERT ... ON CONFLICT DO NOTHING on the
//   idempotency primary key: of two sends with one client_id, the second
//   waits for the first's COMMIT, inserts nothing, rolls back and answers
//   with the first's message;
// - an edit, a delete and an answer lock the message row FOR UPDATE, a
//   reaction FOR SHARE, so a delete cannot interleave with them;
// - a send locks the uploads it attaches FOR SHARE, before the counter row;
//   a delete locks the uploads of its message FOR UPDATE before it decides
//   which no live message carries (ReleaseAttachments), so an upload that a
//   send re-uses meanwhile is never dropped from under it.
#include <algorithm>

#include "schema/json.h"
#include "schema/mentions.h"
#include "schema/pg/event_log.h"
#include "schema/pg/key_range.h"
#include "schema/pg/store.h"
#include "schema/pg/store_details.h"
#include "schema/store_rules.h"

namespace parley::pg {

Result<std::unique_ptr<PgTx>> PgStore::BeginRead() { return PgTx::BeginSnapshot(conn_); }

Result<std::optional<Message>> PgStore::LoadMessage(int64_t id, const char* lock) {
  PARLEY_ASSIGN_OR_RETURN(PgResult r,
                          conn_.Exec(std::string(kMessageSelect) + "WHERE m.id = $1 " + lock, {id}));
  if (r.Rows() == 0) return std::optional<Message>();
  PARLEY_ASSIGN_OR_RETURN(Message m, ReadMessage(r, 0));
  std::vector<Message> one{std::move(m)};
  PARLEY_RETURN_IF_ERROR(AttachDetails(std::nullopt, one));
  return std::optional<Message>(std::move(one[0]));
}

Result<std::vector<Message>> PgStore::LoadMessages(const std::vector<int64_t>& ids) {
  if (ids.empty()) return std::vector<Message>();
  // One statement for the list, in the list's order.
  std::string list;
  for (int64_t id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
  PARLEY_ASSIGN_OR_RETURN(PgResult r,
                          conn_.Exec(std::string(kMessageSelect) +
                                         "JOIN unnest(string_to_array($1, ',')::bigint[]) WITH ORDINALITY l(id, n) "
                                         "ON l.id = m.id ORDER BY l.n",
                                     {list}));
  return ReadMessages(r);
}

PgConn::Stmt PgStore::LastMessagesQuery(const std::vector<int64_t>& room_ids) {
  std::string list;
  for (int64_t id : room_ids) list += (list.empty() ? "" : ",") + std::to_string(id);
  // Each room's newest message id through messages_room (key_range.h), and
  // the message by it, in room_ids' order: one statement.
  return {std::string(kMessageSelect) +
              "JOIN (SELECT x.id, l.n FROM unnest(string_to_array($1, ',')::bigint[]) WITH ORDINALITY l(room, n) "
              "CROSS JOIN LATERAL (SELECT id FROM messages WHERE " +
              KeyRange("room_id", "id", "l.room", "0", kMaxId) +
              " ORDER BY room_id DESC, id DESC LIMIT 1) x) l ON l.id = m.id ORDER BY l.n",
          {list}};
}

Status PgStore::StoreMentions(Message& m) {
  PARLEY_RETURN_IF_ERROR(conn_.Exec("DELETE FROM mentions WHERE message_id = $1", {m.id}).status());
  m.mentions.clear();
  if (m.deleted) return Status::Ok();
  for (const std::string& name : MentionNames(m.text)) {
    PARLEY_ASSIGN_OR_RETURN(
        PgResult r, conn_.Exec("SELECT u.id FROM users u JOIN members mb ON mb.user_id = u.id AND mb.room_id = $2 "
                               "WHERE lower(u.username) = lower($1)",
                               {name, m.room_id}));
    if (r.Rows() == 0) continue;
    PARLEY_ASSIGN_OR_RETURN(int64_t id, r.Int(0, 0));
    if (id == m.user.id || std::find(m.mentions.begin(), m.mentions.end(), id) != m.mentions.end()) continue;
    m.mentions.push_back(id);
  }
  std::sort(m.mentions.begin(), m.mentions.end());  // read back in id order
  for (int64_t id : m.mentions) {
    PARLEY_RETURN_IF_ERROR(conn_
                               .Exec("INSERT INTO mentions (message_id, user_id, room_id) VALUES ($1, $2, $3)",
                                     {m.id, id, m.room_id})
                               .status());
  }
  return Status::Ok();
}

Result<HistoryPage> PgStore::History(const User& me, int64_t room_id, std::optional<int64_t> before,
                                     std::optional<int64_t> after, int limit) {
  // One snapshot for the access check, the page and its details: a reaction
  // or an edit committed meanwhile cannot show on a page that lacks it. Two
  // round trips: the check with the page, then the details with the COMMIT.
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginRead());
  PARLEY_ASSIGN_OR_RETURN(HistoryPage page, ReadHistoryPage(me, room_id, before, after, limit));
  DetailReads details(page.messages, MessageDetailQueries(me.id));
  PARLEY_ASSIGN_OR_RETURN(std::vector<Result<PgResult>> rows, tx->CommitAfter(details.statements()));
  PARLEY_RETURN_IF_ERROR(details.Fill(rows));
  return page;
}

Result<HistoryPage> PgStore::ReadHistory(const User& me, int64_t room_id, std::optional<int64_t> before,
                                         std::optional<int64_t> after, int limit) {
  PARLEY_ASSIGN_OR_RETURN(HistoryPage page, ReadHistoryPage(me, room_id, before, after, limit));
  PARLEY_RETURN_IF_ERROR(AttachDetails(me.id, page.messages));
  return page;
}

Result<HistoryPage> PgStore::ReadHistoryPage(const User& me, int64_t room_id, std::optional<int64_t> before,
                                             std::optional<int64_t> after, int limit) {
  // One row more than asked tells whether there is more in that direction.
  // The page is read with the access check, ahead of its verdict: a reader
  // refused gets the refusal, and the rows read with it are dropped.
  // The room's rows in (after, before), through messages_room (key_range.h).
  static const std::string kPage =
      std::string(kMessageSelect) + "WHERE " + KeyRange("m.room_id", "m.id", "$1", "$2", "$3") + " ORDER BY ";
  static const std::string kOldestFirst = kPage + "m.room_id, m.id LIMIT $4";
  static const std::string kNewestFirst = kPage + "m.room_id DESC, m.id DESC LIMIT $4";
  PgConn::Stmt query{after ? kOldestFirst : kNewestFirst,
                     {room_id, after ? IdAfter(*after) : 0, before ? IdBefore(*before) : INT64_MAX, limit + 1}};
  PARLEY_ASSIGN_OR_RETURN(PgResult r, ReadAsMember(me.id, room_id, std::move(query)));
  HistoryPage page;
  page.messages.reserve(r.Rows());
  for (int i = 0; i < r.Rows(); ++i) {
    PARLEY_ASSIGN_OR_RETURN(Message m, ReadMessage(r, i));
    page.messages.push_back(std::move(m));
  }
  if (static_cast<int>(page.messages.size()) > limit) {
    page.has_more = true;
    page.messages.pop_back();
  }
  if (!after) std::reverse(page.messages.begin(), page.messages.end());
  return page;
}

Result<std::optional<Message>> PgStore::FindByClientId(int64_t user_id, const std::optional<std::string>& client_id) {
  if (!client_id) return std::optional<Message>();
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec("SELECT message_id FROM idempotency WHERE user_id = $1 "
                                                 "AND client_id = $2",
                                                 {user_id, *client_id}));
  if (r.Rows() == 0) return std::optional<Message>();
  PARLEY_ASSIGN_OR_RETURN(int64_t id, r.Int(0, 0));
  return LoadMessage(id);
}

namespace {

std::string DeleteKeysSql(Storage::KeyKind kind) {
  return std::string("WITH d AS (DELETE FROM idempotency WHERE ctid = ANY (ARRAY(SELECT ctid FROM idempotency WHERE ") +
         KeyKindSql(kind) +
         " AND created_ts >= $1 AND created_ts < $2 ORDER BY created_ts LIMIT $3)) RETURNING created_ts) "
         "SELECT count(*), COALESCE(MAX(created_ts), 0) FROM d";
}

}  // namespace

Result<Storage::KeysDeleted> PgStore::DeleteExpiredKeys(KeyKind kind, int64_t from_ms, int64_t before_ms,
                                                       int64_t max_rows) {
  // As on SQLite: the oldest keys of the kind from from_ms, by its partial
  // index (migration 024). The rows go by their ctids as an array (= ANY),
  // each a probe of the heap (a TID scan): `(user_id, client_id) IN
  // (window)` may be planned as a join over the whole table, as events'
  // `id IN (window)` was (store_events.cc, DeleteOldEvents). A ctid stays
  // the row's for the statement: nothing updates these rows, and no vacuum
  // frees a row the statement's snapshot still sees.
  static const std::string kDelete[2] = {DeleteKeysSql(KeyKind::kClient), DeleteKeysSql(KeyKind::kReplay)};
  PARLEY_ASSIGN_OR_RETURN(PgResult r, conn_.Exec(kDelete[kind == KeyKind::kReplay ? 1 : 0],
                                                 {from_ms, before_ms, max_rows}));
  KeysDeleted out;
  PARLEY_ASSIGN_OR_RETURN(out.count, r.Int(0, 0));
  PARLEY_ASSIGN_OR_RETURN(out.last_ms, r.Int(0, 1));
  return out;
}

std::vector<PgConn::Stmt> PgStore::InsertQuery(const Message& m, const char* kind_in_qa) {
  // Takes the id (the batch's next one, or the counter row's with its lock,
  // kTakeOneId: the lock of AppendEvents, held to COMMIT), inserts the
  // message under it and claims the client_id. The kind is the room's:
  // kind_in_qa in a Q&A room, else m.kind. Nothing is inserted for a room
  // that does not exist. The sender's read marker moves with the write's
  // COMMIT (CommitAppended).
  //
  // Its places (migrations 011, 016, 018) count on from the room's newest
  // message and the author's newest there. Messages are never removed, only
  // made tombstones, so the newest has the room's count. The lookups see
  // every message committed before: the counter row is held when the insert
  // starts (by this batch, or by kTakeOneId just before), and every message
  // insert holds it to its COMMIT.
  static const std::string kPlaces =
      LastPlaceInRoom("$1") +
      " + 1, COALESCE((SELECT x.author_seq FROM messages x WHERE (x.room_id, x.user_id) = ($1::bigint, $2::bigint) "
      "ORDER BY x.room_id DESC, x.user_id DESC, x.id DESC LIMIT 1), 0) + 1";
  const std::optional<int64_t> id = NextBatchId(conn_);
  std::vector<PgParam> params{m.room_id, m.user.id,   kind_in_qa, m.kind, m.text, m.reply_to,
                              m.ts,      m.client_id, ToString(RoomKind::kQa)};
  if (id) params.push_back(*id);
  std::vector<PgConn::Stmt> out;
  if (!id) out.push_back({kTakeOneId, {}});
  out.push_back({std::string("WITH ") + (id ? "ids AS (SELECT $10::bigint AS last)" : kTakenId) +
                     ", m AS (INSERT INTO messages (id, room_id, user_id, kind, text, reply_to, ts, client_id, seq, "
                     "author_seq) SELECT last, r.id, $2::bigint, CASE WHEN r.kind = $9 THEN $3::text ELSE $4::text "
                     "END, $5::text, $6::bigint, $7::bigint, $8::text, " +
                     kPlaces +
                     " FROM ids, rooms r WHERE r.id = $1 RETURNING id, kind), "
                     "i AS (INSERT INTO idempotency (user_id, client_id, message_id, created_ts) "
                     "SELECT $2::bigint, $8::text, id, $7::bigint FROM m WHERE $8::text IS NOT NULL "
                     "ON CONFLICT DO NOTHING RETURNING 1) "
                     "SELECT id, kind, (SELECT count(*) FROM i) FROM m",
                 std::move(params)});
  return out;
}

namespace {

Result<PgResult> InsertedOf(std::vector<Result<PgResult>>& rows, size_t first, size_t count) {
  // The first failure among InsertQuery's statements is the cause; those
  // after it only say that the transaction had failed.
  for (size_t i = first; i + 1 < first + count; ++i) PARLEY_RETURN_IF_ERROR(rows[i].status());
  return std::move(rows[first + count - 1]);
}

}  // namespace

Status PgStore::FinishInsert(Message& m, Event& ev, const PgResult& inserted, bool* duplicate) {
  *duplicate = false;
  if (inserted.Rows() != 1) return Status::Internal("the message was not inserted (its room is gone?)");
  PARLEY_ASSIGN_OR_RETURN(m.id, inserted.Int(0, 0));
  TookId(conn_, m.id);
  m.kind = inserted.Text(0, 1);
  PARLEY_ASSIGN_OR_RETURN(int64_t claimed, inserted.Int(0, 2));
  if (m.client_id && claimed == 0) {
    *duplicate = true;
    return Status::Ok();
  }
  // A new message has no mentions to clear (StoreMentions deletes first).
  if (!MentionNames(m.text).empty()) PARLEY_RETURN_IF_ERROR(StoreMentions(m));
  PARLEY_RETURN_IF_ERROR(InsertAttachments(m.id, m.attachments));
  ev = MakeEvent(m.kind.c_str(), m.room_id, std::nullopt, Audience::kRoom, ToJson(m));
  ev.id = m.id;
  // Nothing is read back: it rides with the write's next statement, or
  // the batch's (PgConn::Defer). It fails only with the server.
  return conn_.Defer("INSERT INTO events (id, ts, type, room_id, target_id, audience, data, message_id) "
                     "VALUES ($1, $2, $3, $4, NULL, $5, $6, $1)",
                     {ev.id, ev.ts, ev.type, m.room_id, ToString(ev.audience), ev.data});
}

Status PgStore::InsertMessage(PgTx& /*tx: the write's, whose COMMIT ends the counter lock*/, Message& m, Event& ev,
                              bool* duplicate) {
  // After the client_id lookup: a retried send costs no token.
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(m.user.id, WriteClass::kSend));
  m.ts = NowMs();
  const std::vector<PgConn::Stmt> insert = InsertQuery(m, m.kind.c_str());
  PARLEY_ASSIGN_OR_RETURN(std::vector<Result<PgResult>> rows, conn_.ExecTogether(insert));
  PARLEY_ASSIGN_OR_RETURN(PgResult inserted, InsertedOf(rows, 0, insert.size()));
  return FinishInsert(m, ev, inserted, duplicate);
}

Status PgStore::CommitMessageEvent(PgTx& tx, Event& e, int64_t message_id) {
  PARLEY_RETURN_IF_ERROR(AppendEvents(tx, std::span<Event>(&e, 1)));
  PARLEY_RETURN_IF_ERROR(
      conn_.Exec("UPDATE events SET message_id = $2 WHERE id = $1", {e.id, message_id}).status());
  return CommitAppended(tx, {e});
}

Result<SendResult> PgStore::Send(const User& me, int64_t room_id, const std::string& text,
                                 const std::optional<std::string>& client_id, std::optional<int64_t> reply_to,
                                 const std::vector<int64_t>& attachments) {
  auto answer_seen = [&](Message seen) -> Result<SendResult> {
    if (seen.room_id != room_id || seen.kind == "answer") return ClientIdReused();
    return SendResult{std::move(seen), false};
  };
  {
    // Not BeginWrite: a send reads no read marker, and leaves the ones
    // its batch moved for its end.
    PARLEY_ASSIGN_OR_RETURN(auto tx, PgTx::Begin(conn_));
    // A member row that an earlier send of this batch locked is locked
    // still (to the batch's COMMIT): no second lock, no MultiXact.
    const std::pair<int64_t, int64_t> member{room_id, me.id};
    const bool locked = conn_.in_batch() && batch_member_locks_.count(member) > 0;
    Message m;
    m.kind = "message";
    m.room_id = room_id;
    m.user = me;
    m.text = text;
    m.reply_to = reply_to;
    m.client_id = client_id;
    m.ts = NowMs();
    // One round trip: the access query (the member row locked first, as
    // every write locks it before the counter row), then the message
    // inserted ahead of the checks. A send that they refuse returns an
    // error, and its transaction or savepoint rolls back with the insert.
    // With a quota, the sender's bucket is read (locked) in it too, last:
    // after the counter row, where a send always took it.
    const std::string* cid = client_id ? &*client_id : nullptr;
    // A first answer to a DM request counts (AnswerQueries): the request
    // cleared first of all, with a cap after the sender's row, and before
    // the member row's FOR SHARE and the counter row. Cleared after the
    // counter row, the UPDATE waited for a reaction of the same person in
    // the DM, which held the member row FOR SHARE and waited for the
    // counter row: a deadlock (the fiftieth session's audit: 44 in 215).
    // Without the cap (PARLEY_LIMITS=off) nothing is counted, and neither
    // statement is sent: a send's pipeline is as it was before them; a
    // first answer then clears the flag after its checks (AnswerRequest),
    // a round trip of its own, once per request.
    const bool cap = limits_.memberships_per_user > 0;
    std::vector<PgConn::Stmt> statements;
    if (cap) statements = AnswerQueries(me.id, room_id);
    const size_t access = statements.size();
    statements.push_back(AccessQuery(me.id, room_id, !locked, cid));
    // The uploads it attaches, locked FOR SHARE next (OwnUploads then reads
    // them), in id order as a delete that releases them locks them
    // (ReleaseAttachments): before the counter row, which that delete
    // takes after them. Taken after the counter row, a send waited for an
    // upload that a delete held while the delete waited for the counter
    // row that the send held: a deadlock, answered 503. (A send inside a
    // batch holds the counter row already, from the batch's BEGIN.)
    if (!attachments.empty()) {
      statements.push_back({"SELECT 1 FROM uploads WHERE id = ANY($1::bigint[]) AND user_id = $2 "
                            "ORDER BY id FOR SHARE",
                            {ArrayOf(attachments), me.id}});
    }
    const size_t first_insert = statements.size();
    for (PgConn::Stmt& st : InsertQuery(m, "question")) statements.push_back(std::move(st));
    const size_t inserts = statements.size() - first_insert;
    const bool quota = !limits_.rate(WriteClass::kSend).unlimited();
    if (quota) statements.push_back(BucketQuery(me.id, WriteClass::kSend));
    PARLEY_ASSIGN_OR_RETURN(std::vector<Result<PgResult>> rows, conn_.ExecTogether(statements));
    int64_t answered = 0;
    if (cap) {
      PARLEY_RETURN_IF_ERROR(rows[0].status());
      PARLEY_ASSIGN_OR_RETURN(PgResult cleared, std::move(rows[1]));
      answered = cleared.Affected();
    }
    PARLEY_ASSIGN_OR_RETURN(PgResult access_rows, std::move(rows[access]));
    PARLEY_ASSIGN_OR_RETURN(Access a, ReadAccess(access_rows, true, cid != nullptr));
    if (!attachments.empty()) PARLEY_RETURN_IF_ERROR(rows[access + 1].status());
    PARLEY_ASSIGN_OR_RETURN(PgResult inserted, InsertedOf(rows, first_insert, inserts));
    if (a.seen) {
      PARLEY_ASSIGN_OR_RETURN(std::optional<Message> seen, LoadMessage(*a.seen));
      if (seen) return answer_seen(std::move(*seen));
    }
    PARLEY_RETURN_IF_ERROR(CheckMaySpeak(me, a));
    if (a.room.kind == RoomKind::kQa && *a.role == Role::kProfessor) {
      return Status::Forbidden("professors_cannot_ask", "professors answer questions; they do not ask them");
    }
    if (reply_to) {
      // Any message of this room, deleted ones included; one of another
      // room would leak across rooms.
      PARLEY_ASSIGN_OR_RETURN(std::optional<Message> original, LoadMessage(*reply_to));
      if (!original || original->room_id != room_id) {
        return Status::Invalid("invalid_reply", "reply_to must name a message of the same room");
      }
    }
    PARLEY_RETURN_IF_ERROR(CountAnswer(me, answered));
    if (!cap && a.room.request) PARLEY_RETURN_IF_ERROR(AnswerRequest(room_id, me));
    // After the client_id lookup: a retried send costs no token.
    PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kSend, quota ? &rows.back() : nullptr));
    PARLEY_ASSIGN_OR_RETURN(m.attachments, OwnUploads(me, attachments));
    Event ev;
    bool duplicate = false;
    PARLEY_RETURN_IF_ERROR(FinishInsert(m, ev, inserted, &duplicate));
    if (!duplicate) {
      PARLEY_RETURN_IF_ERROR(CommitAppended(*tx, {ev}, &m));
      if (conn_.in_batch()) batch_member_locks_.insert(member);
      return SendResult{std::move(m), true};
    }
  }  // a duplicate rolls back here, then reads the send that won
  PARLEY_ASSIGN_OR_RETURN(std::optional<Message> seen, FindByClientId(me.id, client_id));
  if (!seen) return Status::Unavailable("a send with that client_id was in flight; try again");
  return answer_seen(std::move(*seen));
}

Result<SendResult> PgStore::Answer(const User& me, int64_t question_id, const std::string& text,
                                   const std::optional<std::string>& client_id) {
  auto answer_seen = [&](Message seen) -> Result<SendResult> {
    if (!IsAnswerRetry(seen, question_id)) return ClientIdReused();
    return SendResult{std::move(seen), false};
  };
  {
    PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
    // The question's row locked: of many professors racing, one finds it
    // unanswered; the others wait for its COMMIT and then see the answer.
    PARLEY_ASSIGN_OR_RETURN(std::optional<Message> q, LoadMessage(question_id, "FOR UPDATE OF m"));
    if (!q) return Status::NotFound("message_not_found", "no such message");
    // The professor's member row, as every write that relies on a
    // membership locks it; in a room with answers_per_professor (set when
    // the room is made, never changed) FOR UPDATE from the start, for the
    // count below: its statement locks the row only in such a room, and the
    // access query's FOR SHARE then asks for no more than it holds. Not FOR
    // SHARE and later FOR UPDATE: two answers of one professor on two pools
    // both took the share lock, and each then waited for the other's to
    // upgrade, a deadlock that answered one 503. One round trip for both.
    PARLEY_ASSIGN_OR_RETURN(
        std::vector<Result<PgResult>> rows,
        conn_.ExecTogether({{"SELECT 1 FROM members m WHERE m.room_id = $1 AND m.user_id = $2 AND EXISTS ("
                             "SELECT 1 FROM rooms r WHERE r.id = $1 AND r.answers_per_professor IS NOT NULL) "
                             "FOR UPDATE OF m",
                             {q->room_id, me.id}},
                            AccessQuery(me.id, q->room_id, true, nullptr)}));
    PARLEY_RETURN_IF_ERROR(rows[0].status());
    PARLEY_ASSIGN_OR_RETURN(PgResult access_rows, std::move(rows[1]));
    auto access = ReadAccess(access_rows, true, false);
    if (!access.ok()) return HideRoom(access.status());
    PARLEY_ASSIGN_OR_RETURN(std::optional<Message> seen, FindByClientId(me.id, client_id));
    if (seen) return answer_seen(std::move(*seen));
    if (q->kind != "question") return Status::Invalid("not_a_question", "only questions can be answered");
    if (*access->role != Role::kProfessor) return Status::Forbidden("not_professor", "only professors answer questions");
    PARLEY_RETURN_IF_ERROR(CheckNotMuted(access->muted_until));
    if (q->deleted) return Status::Conflict("message_deleted", "that question was deleted");
    if (q->answer_id) {
      // The join above read the answers row as it was before this statement
      // waited for the question's lock; a delete of that answer (Delete takes
      // the question's lock too, before the row goes) may have reopened the
      // question meanwhile. Asked again under the lock, on this path only.
      PARLEY_ASSIGN_OR_RETURN(PgResult a, conn_.Exec("SELECT 1 FROM answers WHERE question_id = $1", {question_id}));
      if (a.Rows() > 0) return AlreadyAnswered();
    }
    if (access->room.answers_per_professor) {
      // The professor's member row is held FOR UPDATE (above): two answers
      // to two questions by one professor on two pools cannot both pass
      // the count; the second counts once the first has committed.
      PARLEY_ASSIGN_OR_RETURN(PgResult c, conn_.Exec("SELECT COUNT(*) FROM answers WHERE room_id = $1 "
                                                     "AND professor_id = $2",
                                                     {q->room_id, me.id}));
      PARLEY_ASSIGN_OR_RETURN(int64_t given, c.Int(0, 0));
      if (given >= *access->room.answers_per_professor) {
        return Status::Conflict("answer_limit_reached", "you have answered as many questions as this room allows");
      }
    }
    Message m;
    m.room_id = q->room_id;
    m.user = me;
    m.kind = "answer";
    m.text = text;
    m.reply_to = question_id;
    m.client_id = client_id;
    Event ev;
    bool duplicate = false;
    PARLEY_RETURN_IF_ERROR(InsertMessage(*tx, m, ev, &duplicate));
    if (!duplicate) {
      PARLEY_ASSIGN_OR_RETURN(PgResult a, conn_.Exec("INSERT INTO answers (question_id, answer_id, professor_id, room_id) "
                                                     "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                                                     {question_id, m.id, me.id, q->room_id}));
      if (a.Affected() == 0) return AlreadyAnswered();
      PARLEY_RETURN_IF_ERROR(CommitAppended(*tx, {ev}, &m));
      return SendResult{std::move(m), true};
    }
  }
  PARLEY_ASSIGN_OR_RETURN(std::optional<Message> seen, FindByClientId(me.id, client_id));
  if (!seen) return Status::Unavailable("an answer with that client_id was in flight; try again");
  return answer_seen(std::move(*seen));
}

Result<Message> PgStore::LoadOwnMessage(const User& me, int64_t message_id, Access* access) {
  PARLEY_ASSIGN_OR_RETURN(std::optional<Message> m, LoadMessage(message_id, "FOR UPDATE OF m"));
  if (!m) return Status::NotFound("message_not_found", "no such message");
  auto a = LoadAccess(me.id, m->room_id, true, true);
  if (!a.ok()) return HideRoom(a.status());
  if (m->user.id != me.id) return Status::Forbidden("not_author", "only the author can change a message");
  if (access) *access = std::move(*a);
  return std::move(*m);
}

// As Store::CheckMaySpeak (schema/store_messages.cc, which says why). A
// write reads `a` in its transaction with the member row locked FOR SHARE
// (LoadAccess with lock), so a mute racing it waits for its COMMIT or is seen.
Status PgStore::CheckMaySpeak(const User& me, const Access& a) {
  PARLEY_RETURN_IF_ERROR(CheckNotMuted(a.muted_until));
  if (a.room.kind == RoomKind::kDm) return CheckDmNotBlocked(me, a.room.id);
  return Status::Ok();
}

Result<Message> PgStore::Edit(const User& me, int64_t message_id, const std::string& text) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kEdit));
  Access a;
  PARLEY_ASSIGN_OR_RETURN(Message m, LoadOwnMessage(me, message_id, &a));
  if (m.deleted) return Status::Conflict("message_deleted", "that message was deleted");
  // New text, and new mentions, reach the room live like a send's.
  PARLEY_RETURN_IF_ERROR(CheckMaySpeak(me, a));
  PARLEY_RETURN_IF_ERROR(
      conn_.Exec("UPDATE messages SET text = $1, edited_ts = $2 WHERE id = $3", {text, NowMs(), message_id}).status());
  m.text = text;
  m.edited = true;
  PARLEY_RETURN_IF_ERROR(StoreMentions(m));
  const std::string data = ToJson(m);
  PARLEY_RETURN_IF_ERROR(RewriteMessageEvents(m.id, data));
  Event e = MakeEvent("edit", m.room_id, std::nullopt, Audience::kRoom, data);
  PARLEY_RETURN_IF_ERROR(CommitMessageEvent(*tx, e, m.id));
  return m;
}

Status PgStore::Delete(const User& me, int64_t message_id) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kDelete));
  PARLEY_ASSIGN_OR_RETURN(std::optional<Message> found, LoadMessage(message_id, "FOR UPDATE OF m"));
  if (!found) return Status::NotFound("message_not_found", "no such message");
  Message m = std::move(*found);
  const bool answer = m.kind == "answer" && m.reply_to;
  if (answer) {
    // An answer's question row next, before any other lock: Answer takes it
    // first and holds it to COMMIT, so a delete that reopens the question
    // (below) and an answer to it run one after the other, and neither
    // holds a lock the other waits for while it waits (the bucket is of
    // another class, the answer row no answer locks).
    PARLEY_RETURN_IF_ERROR(conn_.Exec("SELECT 1 FROM messages WHERE id = $1 FOR UPDATE", {*m.reply_to}).status());
  }
  auto access = LoadAccess(me.id, m.room_id, true, true);
  if (!access.ok()) return HideRoom(access.status());
  if (m.user.id != me.id) {
    // The room's owner or a moderator removes anyone's message, except the
    // owner's or another moderator's (the rule of every moderation action).
    const bool owner = access->room.owner && access->room.owner->id == me.id;
    if (!owner && !access->moderator) return Status::Forbidden("not_author", "only the author can change a message");
    auto target = LoadAccess(m.user.id, m.room_id, false);
    const bool protected_author =
        (access->room.owner && access->room.owner->id == m.user.id) || (target.ok() && target->moderator);
    if (!owner && protected_author) {
      return Status::Forbidden("target_protected",
                               "a moderator cannot remove the owner's or another moderator's message");
    }
    m.deleted_by = me;
  }
  if (m.deleted) return Status::Ok();  // deleting twice is not an error
  // A tombstone: the id stays in history so cursors and replies still point
  // somewhere, but the text is gone from the database.
  PARLEY_RETURN_IF_ERROR(conn_
                             .Exec("UPDATE messages SET text = '', deleted = 1, deleted_by = $2 WHERE id = $1",
                                   {message_id, m.deleted_by ? std::optional<int64_t>(m.deleted_by->id) : std::nullopt})
                             .status());
  m.text.clear();
  m.deleted = true;
  PARLEY_RETURN_IF_ERROR(StoreMentions(m));
  PARLEY_RETURN_IF_ERROR(ReleaseAttachments(message_id));
  m.attachments.clear();
  // A tombstone keeps no reactions; clients drop them on the delete event.
  PARLEY_RETURN_IF_ERROR(conn_.Exec("DELETE FROM reactions WHERE message_id = $1", {message_id}).status());
  if (answer) {
    // A deleted answer reopens its question, as on SQLite: only this
    // answer's row goes (a later winner stays), and the tombstone in the
    // delete event keeps kind and reply_to.
    PARLEY_RETURN_IF_ERROR(conn_
                               .Exec("DELETE FROM answers WHERE question_id = $1 AND answer_id = $2",
                                     {*m.reply_to, message_id})
                               .status());
  }
  const std::string data = ToJson(m);
  PARLEY_RETURN_IF_ERROR(RewriteMessageEvents(m.id, data));
  Event e = MakeEvent("delete", m.room_id, std::nullopt, Audience::kRoom, data);
  return CommitMessageEvent(*tx, e, m.id);
}

// The earlier events of a message are rewritten, not left for readers to
// patch: parley-events replays rows as they are stored. Its earlier edit
// events go, as on SQLite (Store::RewriteMessageEvents says why): the n-th
// edit of one message rewrote n events, 160-190 ms an edit after 1,100.
Status PgStore::RewriteMessageEvents(int64_t message_id, const std::string& data) {
  PARLEY_RETURN_IF_ERROR(
      conn_.Exec("DELETE FROM events WHERE message_id = $1 AND type = 'edit'", {message_id}).status());
  return conn_.Exec("UPDATE events SET data = $1 WHERE message_id = $2", {data, message_id}).status();
}

Status PgStore::MarkRead(const User& me, int64_t room_id, int64_t event_id, std::optional<int64_t>* moved_to) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  // One round trip for the bucket, the access check and the marker, which
  // goes in ahead of the check's verdict: a refusal rolls it back with the
  // transaction. (The quota is still judged first, then the access.)
  std::vector<PgConn::Stmt> statements;
  const bool quota = !limits_.rate(WriteClass::kRead).unlimited();
  if (quota) statements.push_back(BucketQuery(me.id, WriteClass::kRead));
  statements.push_back(AccessQuery(me.id, room_id, false, nullptr));
  // Only for a room that exists: a foreign key failure would abort
  // the transaction before the bucket (maybe still to be made) and the
  // access verdict are read. Never past the log's head (Head), read in the
  // same statement: a marker beyond it would stay there and count every
  // later message read.
  statements.push_back({std::string("INSERT INTO read_markers (user_id, room_id, event_id) "
                                    "SELECT $1, id, LEAST($3::bigint, (SELECT last FROM event_counter)) "
                                    "FROM rooms WHERE id = $2 ") +
                            kMoveReadMarker + " RETURNING event_id",
                        {me.id, room_id, event_id}});
  PARLEY_ASSIGN_OR_RETURN(std::vector<Result<PgResult>> rows, conn_.ExecTogether(statements));
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kRead, quota ? &rows[0] : nullptr));
  PARLEY_ASSIGN_OR_RETURN(PgResult access, std::move(rows[quota ? 1 : 0]));
  PARLEY_RETURN_IF_ERROR(ReadAccess(access, true, false).status());
  PARLEY_ASSIGN_OR_RETURN(PgResult r, std::move(rows.back()));
  if (moved_to) {
    *moved_to = std::nullopt;
    if (r.Rows() > 0) {
      PARLEY_ASSIGN_OR_RETURN(*moved_to, r.Int(0, 0));
    }
  }
  return tx->Commit();
}

// Typing's check: the access query reads the member row, with its mute; a
// DM adds the block lookup, as a send does.
Status PgStore::CheckMayType(const User& me, int64_t room_id) {
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadAccess(me.id, room_id, true));
  return CheckMaySpeak(me, a);
}

}  // namespace parley::pg
