// Store: messages, Q&A answers, edits, deletes, history and read markers.
#include "schema/store.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "schema/json.h"
#include "schema/mentions.h"
#include "schema/message_index.h"
#include "schema/store_rules.h"

namespace parley {
namespace {

constexpr const char* kMessageSelect =
    "SELECT m.id, m.room_id, m.user_id, u.username, m.kind, m.text, m.reply_to, m.ts, m.client_id, "
    "m.edited_ts, m.deleted, a.answer_id, m.deleted_by, du.username "
    "FROM messages m JOIN users u ON u.id = m.user_id "
    "LEFT JOIN answers a ON a.question_id = m.id LEFT JOIN users du ON du.id = m.deleted_by ";

// Into a Message made in place (a page's vector): a history page moved
// each of its messages once more otherwise.
void ReadMessage(const Statement& s, Message& m) {
  m.id = s.Int(0);
  m.room_id = s.Int(1);
  m.user = User{s.Int(2), s.Text(3)};
  m.kind = s.Text(4);
  m.text = s.Text(5);
  if (!s.IsNull(6)) m.reply_to = s.Int(6);
  m.ts = s.Int(7);
  if (!s.IsNull(8)) m.client_id = s.Text(8);
  m.edited = !s.IsNull(9);
  m.deleted = s.Int(10) != 0;
  if (!s.IsNull(11)) m.answer_id = s.Int(11);
  if (!s.IsNull(12)) m.deleted_by = User{s.Int(12), s.Text(13)};
}

}  // namespace

Result<std::optional<Message>> Store::LoadMessage(int64_t id) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(std::string(kMessageSelect) + "WHERE m.id = ?"));
  s.Bind(1, id);
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<Message>();
  std::vector<Message> one(1);
  ReadMessage(s, one[0]);
  s.Reset();
  PARLEY_RETURN_IF_ERROR(AttachDetails(std::nullopt, one));
  return std::optional<Message>(std::move(one[0]));
}

Result<std::vector<Message>> Store::LoadMessages(const std::vector<int64_t>& ids, int64_t reader_id) {
  std::vector<Message> out;
  {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(std::string(kMessageSelect) + "WHERE m.id = ?"));
    for (int64_t id : ids) {
      s.Bind(1, id);
      PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
      if (row) ReadMessage(s, out.emplace_back());
      s.Reset();
    }
  }
  PARLEY_RETURN_IF_ERROR(AttachDetails(reader_id, out));
  return out;
}

Result<std::vector<Message>> Store::LastMessages(const std::vector<int64_t>& room_ids, int64_t user_id) {
  std::vector<int64_t> ids;
  {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("SELECT MAX(id) FROM messages WHERE room_id = ?"));
    for (int64_t room_id : room_ids) {
      s.Bind(1, room_id);
      PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
      if (row && !s.IsNull(0)) ids.push_back(s.Int(0));
      s.Reset();
    }
  }
  // One LoadMessages for the whole list: the rooms of a page are the most
  // recently active, so their last messages' ids lie close together and
  // share a range or a few (message_index.h), where a call per room cost
  // three detail queries per room.
  return LoadMessages(ids, user_id);
}

Status Store::AttachDetails(std::optional<int64_t> reader_id, std::vector<Message>& messages) {
  const MessageIndex index(messages);
  if (index.empty()) return Status::Ok();
  PARLEY_RETURN_IF_ERROR(LoadMentions(index));
  if (reader_id) PARLEY_RETURN_IF_ERROR(LoadReactions(*reader_id, index));
  return LoadAttachments(index);
}

// Stored in user id order (StoreMentions), and read back in it.
Status Store::LoadMentions(const MessageIndex& index) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT message_id, user_id FROM mentions WHERE message_id BETWEEN ?1 AND ?2 ORDER BY message_id, user_id"));
  return index.ForEachRow(s, [](Message& m, const Statement& row) { m.mentions.push_back(row.Int(1)); });
}

Status Store::StoreMentions(Message& m, bool replace) {
  if (replace) {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("DELETE FROM mentions WHERE message_id = ?"));
    s.Bind(1, m.id);
    PARLEY_RETURN_IF_ERROR(s.Exec());
  }
  m.mentions.clear();
  if (m.deleted) return Status::Ok();
  for (const std::string& name : MentionNames(m.text)) {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "SELECT u.id FROM users u JOIN members mb ON mb.user_id = u.id AND mb.room_id = ?2 "
        "WHERE u.username = ?1"));
    s.Bind(1, name).Bind(2, m.room_id);
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) continue;
    int64_t id = s.Int(0);
    if (id == m.user.id || std::find(m.mentions.begin(), m.mentions.end(), id) != m.mentions.end()) continue;
    m.mentions.push_back(id);
  }
  // Stored in id order: ReadMessage reads them back through the primary key.
  std::sort(m.mentions.begin(), m.mentions.end());
  for (int64_t id : m.mentions) {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "INSERT INTO mentions(message_id, user_id, room_id) VALUES (?,?,?)"));
    s.Bind(1, m.id).Bind(2, id).Bind(3, m.room_id);
    PARLEY_RETURN_IF_ERROR(s.Exec());
  }
  return Status::Ok();
}

Result<HistoryPage> Store::History(const User& me, int64_t room_id, std::optional<int64_t> before,
                                   std::optional<int64_t> after, int limit) {
  // One snapshot for the access check, the page, its reactions and its
  // attachments: one WAL read lock instead of four, and a reaction or an
  // edit committed meanwhile cannot show on a page that lacks it.
  PARLEY_ASSIGN_OR_RETURN(auto tx, Transaction::Begin(db_, Transaction::Mode::kRead));
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadAccess(me.id, room_id, true));
  (void)a;
  HistoryPage page;
  page.messages.reserve(static_cast<size_t>(limit) + 1);
  // One row more than asked tells whether there is more in that direction.
  if (after) {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(std::string(kMessageSelect) +
        "WHERE m.room_id = ?1 AND m.id > ?2 AND m.id < ?3 ORDER BY m.id ASC LIMIT ?4"));
    s.Bind(1, room_id).Bind(2, *after).Bind(3, before.value_or(INT64_MAX)).Bind(4, limit + 1);
    for (;;) {
      PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      ReadMessage(s, page.messages.emplace_back());
    }
  } else {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(std::string(kMessageSelect) +
        "WHERE m.room_id = ?1 AND m.id < ?2 ORDER BY m.id DESC LIMIT ?3"));
    s.Bind(1, room_id).Bind(2, before.value_or(INT64_MAX)).Bind(3, limit + 1);
    for (;;) {
      PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      ReadMessage(s, page.messages.emplace_back());
    }
  }
  if (static_cast<int>(page.messages.size()) > limit) {
    page.has_more = true;
    page.messages.pop_back();
  }
  if (!after) std::reverse(page.messages.begin(), page.messages.end());
  PARLEY_RETURN_IF_ERROR(AttachDetails(me.id, page.messages));
  PARLEY_RETURN_IF_ERROR(tx->Commit());
  return page;
}

Result<std::optional<Message>> Store::FindByClientId(int64_t user_id, const std::optional<std::string>& client_id) {
  if (!client_id) return std::optional<Message>();
  int64_t id = 0;
  {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "SELECT message_id FROM idempotency WHERE user_id = ? AND client_id = ?"));
    s.Bind(1, user_id).Bind(2, *client_id);
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::optional<Message>();
    id = s.Int(0);
  }
  return LoadMessage(id);
}

Result<Storage::KeysDeleted> Store::DeleteExpiredKeys(KeyKind kind, int64_t from_ms, int64_t before_ms,
                                                     int64_t max_rows) {
  // The window walks the kind's partial index (migration 027) from from_ms,
  // a covering read (a WITHOUT ROWID table's index holds its primary key);
  // then each of its keys is deleted by the primary key, in the same
  // transaction. Not one `DELETE … WHERE (user_id, client_id) IN (window)`:
  // SQLite (3.40) searches the primary key for a row value IN by user_id
  // alone, so each delete read every key of the users in its window (a bot
  // holds a key per message it ever sent).
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_ASSIGN_OR_RETURN(Statement window, db_.Prepare(
      std::string("SELECT user_id, client_id, created_ts FROM idempotency WHERE ") + KeyKindSql(kind) +
      " AND created_ts >= ?1 AND created_ts < ?2 ORDER BY created_ts LIMIT ?3"));
  window.Bind(1, from_ms).Bind(2, before_ms).Bind(3, max_rows);
  // Read whole before the deletes: SQLite leaves undefined what a pending
  // read of a table sees of the same connection's changes to it.
  std::vector<std::pair<int64_t, std::string>> keys;
  KeysDeleted out;
  for (;;) {
    PARLEY_ASSIGN_OR_RETURN(bool row, window.Step());
    if (!row) break;
    keys.emplace_back(window.Int(0), window.Text(1));
    out.last_ms = window.Int(2);  // in ascending order
  }
  window.Reset();
  PARLEY_ASSIGN_OR_RETURN(Statement del, db_.Prepare("DELETE FROM idempotency WHERE user_id = ? AND client_id = ?"));
  for (const auto& [user_id, client_id] : keys) {
    del.Bind(1, user_id).Bind(2, client_id);
    PARLEY_RETURN_IF_ERROR(del.Exec());
    out.count += del.Changes();
    del.Reset();
  }
  PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
  return out;
}

Result<Message> Store::InsertMessage(const User& me, int64_t room_id, const char* kind, const std::string& text,
                                     std::optional<int64_t> reply_to, const std::optional<std::string>& client_id,
                                     std::vector<Upload> attachments) {
  // After the client_id lookup: a retried send costs no token.
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kSend));
  Message m;
  PARLEY_ASSIGN_OR_RETURN(m.id, NextEventId());
  m.room_id = room_id;
  m.user = me;
  m.kind = kind;
  m.text = text;
  m.reply_to = reply_to;
  m.ts = NowMs();
  m.client_id = client_id;
  m.attachments = std::move(attachments);
  {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "INSERT INTO messages(id, room_id, user_id, kind, text, reply_to, ts, client_id, seq, author_seq) "
        // Its place in the room (migration 016) and among its author's
        // messages there (020): one writer at a time.
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
        "COALESCE((SELECT seq FROM messages WHERE room_id = ?2 ORDER BY id DESC LIMIT 1), 0) + 1, "
        "COALESCE((SELECT author_seq FROM messages WHERE room_id = ?2 AND user_id = ?3 ORDER BY id DESC LIMIT 1), 0) + 1)"));
    s.Bind(1, m.id).Bind(2, room_id).Bind(3, me.id).Bind(4, kind).Bind(5, text).Bind(6, reply_to)
        .Bind(7, m.ts).Bind(8, client_id);
    PARLEY_RETURN_IF_ERROR(s.Exec());
  }
  // After the message row (the mentions reference it), before the event that carries them.
  PARLEY_RETURN_IF_ERROR(StoreMentions(m, false));
  PARLEY_ASSIGN_OR_RETURN(int64_t ev, AppendEvent(m.id, kind, room_id, std::nullopt, Audience::kRoom, ToJson(m), m.id));
  (void)ev;
  if (client_id) {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "INSERT INTO idempotency(user_id, client_id, message_id, created_ts) VALUES (?,?,?,?)"));
    s.Bind(1, me.id).Bind(2, *client_id).Bind(3, m.id).Bind(4, m.ts);
    PARLEY_RETURN_IF_ERROR(s.Exec());
  }
  PARLEY_RETURN_IF_ERROR(InsertAttachments(m.id, m.attachments));
  // Who writes in a room has read it up to there (Matrix servers treat a
  // user's own event so, MSC4005). It also keeps the unread count's walk
  // from the marker (store_rooms.cc) off the reader's own messages: a bot
  // that sent thousands without marking read had its every view read them.
  // No receipt goes out for it: the message event itself says as much.
  PARLEY_RETURN_IF_ERROR(MoveReadMarker(me.id, room_id, m.id, nullptr));
  return m;
}

Result<SendResult> Store::Send(const User& me, int64_t room_id, const std::string& text,
                               const std::optional<std::string>& client_id, std::optional<int64_t> reply_to,
                               const std::vector<int64_t>& attachments) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadAccess(me.id, room_id, true));
  PARLEY_ASSIGN_OR_RETURN(std::optional<Message> seen, FindByClientId(me.id, client_id));
  if (seen) {
    if (seen->room_id != room_id || seen->kind == "answer") return ClientIdReused();
    return SendResult{std::move(*seen), false};
  }
  PARLEY_RETURN_IF_ERROR(CheckMaySpeak(me, a));
  if (a.request) PARLEY_RETURN_IF_ERROR(AnswerRequest(room_id, me));
  const char* kind = "message";
  if (a.room.kind == RoomKind::kQa) {
    if (*a.role == Role::kProfessor) {
      return Status::Forbidden("professors_cannot_ask", "professors answer questions; they do not ask them");
    }
    kind = "question";
  }
  if (reply_to) {
    // Any message of this room, deleted ones included (the reply still
    // points somewhere); one of another room would leak across rooms.
    PARLEY_ASSIGN_OR_RETURN(std::optional<Message> original, LoadMessage(*reply_to));
    if (!original || original->room_id != room_id) {
      return Status::Invalid("invalid_reply", "reply_to must name a message of the same room");
    }
  }
  PARLEY_ASSIGN_OR_RETURN(std::vector<Upload> files, OwnUploads(me, attachments));
  PARLEY_ASSIGN_OR_RETURN(Message m, InsertMessage(me, room_id, kind, text, reply_to, client_id, std::move(files)));
  PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
  return SendResult{std::move(m), true};
}

Result<SendResult> Store::Answer(const User& me, int64_t question_id, const std::string& text,
                                 const std::optional<std::string>& client_id) {
  // The whole check-then-insert runs under BEGIN IMMEDIATE: SQLite admits one
  // writer at a time, so of many professors racing, exactly one finds the
  // question unanswered. The answers primary key backs this up. A deleted
  // answer has no answers row (Delete, in the same single writer), so its
  // question is open again and it no longer counts against the limit.
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_ASSIGN_OR_RETURN(std::optional<Message> q, LoadMessage(question_id));
  if (!q) return Status::NotFound("message_not_found", "no such message");
  auto access = LoadAccess(me.id, q->room_id, true);
  if (!access.ok()) return HideRoom(access.status());
  PARLEY_ASSIGN_OR_RETURN(std::optional<Message> seen, FindByClientId(me.id, client_id));
  if (seen) {
    if (!IsAnswerRetry(*seen, question_id)) return ClientIdReused();
    return SendResult{std::move(*seen), false};
  }
  if (q->kind != "question") return Status::Invalid("not_a_question", "only questions can be answered");
  if (*access->role != Role::kProfessor) return Status::Forbidden("not_professor", "only professors answer questions");
  PARLEY_RETURN_IF_ERROR(CheckNotMuted(access->muted_until));
  if (q->deleted) return Status::Conflict("message_deleted", "that question was deleted");
  if (q->answer_id) return AlreadyAnswered();
  if (access->room.answers_per_professor) {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "SELECT COUNT(*) FROM answers WHERE room_id = ? AND professor_id = ?"));
    s.Bind(1, q->room_id).Bind(2, me.id);
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (row && s.Int(0) >= *access->room.answers_per_professor) {
      return Status::Conflict("answer_limit_reached", "you have answered as many questions as this room allows");
    }
  }
  PARLEY_ASSIGN_OR_RETURN(Message m, InsertMessage(me, q->room_id, "answer", text, question_id, client_id));
  {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "INSERT INTO answers(question_id, answer_id, professor_id, room_id) VALUES (?,?,?,?)"));
    s.Bind(1, question_id).Bind(2, m.id).Bind(3, me.id).Bind(4, q->room_id);
    Status st = s.Exec();
    if (st.code() == Code::kConflict) return AlreadyAnswered();
    PARLEY_RETURN_IF_ERROR(st);
  }
  PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
  return SendResult{std::move(m), true};
}

Result<Message> Store::LoadOwnMessage(const User& me, int64_t message_id, Access* access) {
  PARLEY_ASSIGN_OR_RETURN(std::optional<Message> m, LoadMessage(message_id));
  if (!m) return Status::NotFound("message_not_found", "no such message");
  auto a = LoadAccess(me.id, m->room_id, true);
  if (!a.ok()) return HideRoom(a.status());
  if (m->user.id != me.id) return Status::Forbidden("not_author", "only the author can change a message");
  if (access) *access = std::move(*a);
  return std::move(*m);
}

// Checked inside the write's transaction, as every moderation rule is
// (store_moderation.cc): a write racing a mute or a block is either before
// its event in the log or refused. Taking words back (a delete, removing
// one's own reaction) is not speaking, and stays allowed.
Status Store::CheckMaySpeak(const User& me, const Access& a) {
  PARLEY_RETURN_IF_ERROR(CheckNotMuted(a.muted_until));
  if (a.room.kind == RoomKind::kDm) return CheckDmNotBlocked(me, a.room.id);
  return Status::Ok();
}

Result<Message> Store::Edit(const User& me, int64_t message_id, const std::string& text) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kEdit));
  Access a;
  PARLEY_ASSIGN_OR_RETURN(Message m, LoadOwnMessage(me, message_id, &a));
  if (m.deleted) return Status::Conflict("message_deleted", "that message was deleted");
  // New text, and new mentions, reach the room live like a send's.
  PARLEY_RETURN_IF_ERROR(CheckMaySpeak(me, a));
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("UPDATE messages SET text = ?, edited_ts = ? WHERE id = ?"));
  s.Bind(1, text).Bind(2, NowMs()).Bind(3, message_id);
  PARLEY_RETURN_IF_ERROR(s.Exec());
  m.text = text;
  m.edited = true;
  PARLEY_RETURN_IF_ERROR(StoreMentions(m));
  const std::string data = ToJson(m);
  PARLEY_RETURN_IF_ERROR(RewriteMessageEvents(m.id, data));
  PARLEY_ASSIGN_OR_RETURN(int64_t ev, AppendEvent("edit", m.room_id, std::nullopt, Audience::kRoom, data, m.id));
  (void)ev;
  PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
  return m;
}

Status Store::Delete(const User& me, int64_t message_id) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kDelete));
  PARLEY_ASSIGN_OR_RETURN(std::optional<Message> found, LoadMessage(message_id));
  if (!found) return Status::NotFound("message_not_found", "no such message");
  Message m = std::move(*found);
  auto access = LoadAccess(me.id, m.room_id, true);
  if (!access.ok()) return HideRoom(access.status());
  if (m.user.id != me.id) {
    // The room's owner or a moderator removes anyone's message, except the
    // owner's or another moderator's (the rule of every moderation action).
    const bool owner = access->room.owner && access->room.owner->id == me.id;
    if (!owner && !access->moderator) return Status::Forbidden("not_author", "only the author can change a message");
    auto target = LoadAccess(m.user.id, m.room_id, false);
    const bool protected_author = (access->room.owner && access->room.owner->id == m.user.id) ||
                                  (target.ok() && target->moderator);
    if (!owner && protected_author) {
      return Status::Forbidden("target_protected", "a moderator cannot remove the owner's or another moderator's message");
    }
    m.deleted_by = me;
  }
  if (m.deleted) return Status::Ok();  // deleting twice is not an error
  // A tombstone: the id stays in history so cursors and replies still point
  // somewhere, but the text is gone from the database.
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "UPDATE messages SET text = '', deleted = 1, deleted_by = ?2 WHERE id = ?1"));
  s.Bind(1, message_id).Bind(2, m.deleted_by ? std::optional<int64_t>(m.deleted_by->id) : std::nullopt);
  PARLEY_RETURN_IF_ERROR(s.Exec());
  m.text.clear();
  m.deleted = true;
  PARLEY_RETURN_IF_ERROR(StoreMentions(m));
  PARLEY_RETURN_IF_ERROR(ReleaseAttachments(message_id));
  m.attachments.clear();  // and ReadableUpload no longer lets the room read them
  {
    // A tombstone keeps no reactions; clients drop them on the delete event.
    PARLEY_ASSIGN_OR_RETURN(Statement r, db_.Prepare("DELETE FROM reactions WHERE message_id = ?"));
    r.Bind(1, message_id);
    PARLEY_RETURN_IF_ERROR(r.Exec());
  }
  if (m.kind == "answer" && m.reply_to) {
    // A deleted answer reopens its question: its answers row goes, so
    // history shows the question without answer_id, a professor may answer
    // it again and this answer no longer counts against
    // answers_per_professor. Only this answer's row: a later winner stays.
    // The delete event (the tombstone keeps kind and reply_to) tells clients
    // which question reopened.
    PARLEY_ASSIGN_OR_RETURN(Statement a, db_.Prepare("DELETE FROM answers WHERE question_id = ? AND answer_id = ?"));
    a.Bind(1, *m.reply_to).Bind(2, message_id);
    PARLEY_RETURN_IF_ERROR(a.Exec());
  }
  const std::string data = ToJson(m);
  PARLEY_RETURN_IF_ERROR(RewriteMessageEvents(m.id, data));
  PARLEY_ASSIGN_OR_RETURN(int64_t ev, AppendEvent("delete", m.room_id, std::nullopt, Audience::kRoom, data, m.id));
  (void)ev;
  return CommitWrite(*tx);
}

// The earlier events of a message are rewritten, not left for readers to
// patch: parley-events replays rows as they are stored, and SQLite with
// secure_delete (schema/db.cc) zeroes the old bytes, so the text is gone
// from the file too. Its earlier edit events go: rewritten, each would say
// what the send event now says, and the edit or delete appended next says
// it again for whoever read the send. So a message has at most its send and
// one edit in the log, and each edit costs the same. When every edit was
// kept and rewritten, the n-th edit rewrote n events: one user editing one
// message at the allowed 2 a second held SQLite's write lock for 46-119 ms
// an edit after 1,500 edits, and another user's send waited 116 ms.
// What goes is no event a reader misses: one who read an edit that goes
// has the text it said from it or from a later event; one who did not
// reads the send (rewritten) and the last event.
Status Store::RewriteMessageEvents(int64_t message_id, const std::string& data) {
  PARLEY_ASSIGN_OR_RETURN(Statement d, db_.Prepare("DELETE FROM events WHERE message_id = ?1 AND type = 'edit'"));
  d.Bind(1, message_id);
  PARLEY_RETURN_IF_ERROR(d.Exec());
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("UPDATE events SET data = ?1 WHERE message_id = ?2"));
  s.Bind(1, data).Bind(2, message_id);
  return s.Exec();
}

Status Store::MarkRead(const User& me, int64_t room_id, int64_t event_id, std::optional<int64_t>* moved_to) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_RETURN_IF_ERROR(ConsumeWriteToken(me.id, WriteClass::kRead));
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadAccess(me.id, room_id, true));
  (void)a;
  // Never past the head, read in this transaction: a marker only moves
  // forward, so one beyond it would stay there and count every later
  // message read. The head is as far as anyone can have read.
  PARLEY_ASSIGN_OR_RETURN(int64_t head, Head());
  const int64_t to = std::min(event_id, head);
  bool moved = false;
  PARLEY_RETURN_IF_ERROR(MoveReadMarker(me.id, room_id, to, &moved));
  if (moved_to) *moved_to = moved ? std::optional<int64_t>(to) : std::nullopt;
  return CommitWrite(*tx);
}

Status Store::MoveReadMarker(int64_t user_id, int64_t room_id, int64_t event_id, bool* moved) {
  // Only forward: an old tab cannot unread what a newer one read.
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "INSERT INTO read_markers(user_id, room_id, event_id) VALUES (?1, ?2, ?3) "
      "ON CONFLICT(user_id, room_id) DO UPDATE SET event_id = excluded.event_id "
      "WHERE excluded.event_id > event_id"));
  s.Bind(1, user_id).Bind(2, room_id).Bind(3, event_id);
  PARLEY_RETURN_IF_ERROR(s.Exec());
  if (moved) *moved = s.Changes() > 0;
  return Status::Ok();
}

// Typing's check: LoadAccess reads the member row, with its mute; a DM
// adds the block lookup, as a send does.
Status Store::CheckMayType(const User& me, int64_t room_id) {
  PARLEY_ASSIGN_OR_RETURN(Access a, LoadAccess(me.id, room_id, true));
  return CheckMaySpeak(me, a);
}

}  // namespace parley
