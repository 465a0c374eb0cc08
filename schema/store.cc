// Store: accounts, sessions and the event log primitives.
#include "schema/store.h"

#include <chrono>

#include "schema/json.h"
#include "schema/moderation.h"
#include "schema/store_rules.h"
#include "schema/write_batch.h"

namespace parley {

int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

Result<std::unique_ptr<Batch>> Store::BeginBatch() {
  PARLEY_ASSIGN_OR_RETURN(std::unique_ptr<WriteBatch> batch, WriteBatch::Begin(db_));
  return std::unique_ptr<Batch>(std::move(batch));
}

Result<std::string> Store::Epoch() {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("SELECT value FROM meta WHERE key='epoch'"));
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Status::Internal("the database has no epoch");
  return s.Text(0);
}

Result<int64_t> Store::Head() {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("SELECT COALESCE(MAX(id), 0) FROM events"));
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.Int(0) : 0;
}

Result<int64_t> Store::NextEventId() {
  if (pending_head_ > 0) return pending_head_ + 1;
  // AUTOINCREMENT never reuses an id: the next one is above both the
  // recorded sequence and the largest live id. Only the writer holding
  // BEGIN IMMEDIATE calls this, so nobody can take the id before we do.
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name='events'), 0),"
      "           COALESCE((SELECT MAX(id) FROM events), 0)) + 1"));
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return Status::Internal("no next event id");
  return s.Int(0);
}

Result<int64_t> Store::AppendEvent(int64_t id, const char* type, std::optional<int64_t> room_id,
                                   std::optional<int64_t> target_id, Audience audience,
                                   const std::string& data, std::optional<int64_t> message_id) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "INSERT INTO events(id, ts, type, room_id, target_id, audience, data, message_id) VALUES (?,?,?,?,?,?,?,?)"));
  s.Bind(1, id).Bind(2, NowMs()).Bind(3, type).Bind(4, room_id).Bind(5, target_id).Bind(6, ToString(audience)).Bind(7, data);
  s.Bind(8, message_id);
  PARLEY_RETURN_IF_ERROR(s.Exec());
  if (room_id) {
    // The room list's order (migration 006), kept in the event's transaction.
    PARLEY_ASSIGN_OR_RETURN(Statement r, db_.Prepare("UPDATE rooms SET last_event_id = ?1 WHERE id = ?2"));
    r.Bind(1, id).Bind(2, *room_id);
    PARLEY_RETURN_IF_ERROR(r.Exec());
  }
  pending_head_ = id;
  return id;
}

Result<int64_t> Store::AppendEvent(const char* type, std::optional<int64_t> room_id,
                                   std::optional<int64_t> target_id, Audience audience,
                                   const std::string& data, std::optional<int64_t> message_id) {
  PARLEY_ASSIGN_OR_RETURN(int64_t id, NextEventId());
  return AppendEvent(id, type, room_id, target_id, audience, data, message_id);
}

Result<std::unique_ptr<Transaction>> Store::BeginWrite() {
  pending_head_ = 0;  // a transaction that failed earlier may have left it set
  return Transaction::Begin(db_, Transaction::Mode::kWrite);
}

Status Store::CommitWrite(Transaction& tx) {
  Status st = tx.Commit();
  if (st.ok() && pending_head_ > 0) notify_head_ = pending_head_;
  pending_head_ = 0;
  return st;
}

Result<User> Store::CreateUser(const std::string& username, const std::string& pw_hash) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  User user;
  {
    // A name another's passes for (store_rules.h); the same name in another
    // case is the insert's conflict below.
    static const std::string kLookalike = "SELECT username FROM users WHERE " + UsernameSkeletonSql("username") +
                                          " = " + UsernameSkeletonSql("?1") + " AND lower(username) <> lower(?1) LIMIT 1";
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(kLookalike));
    s.Bind(1, username);
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (row) return UsernameLooksTaken(s.Text(0));
  }
  {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "INSERT INTO users(username, pw_hash, created_ts) VALUES (?,?,?) ON CONFLICT DO NOTHING"));
    s.Bind(1, username).Bind(2, pw_hash).Bind(3, NowMs());
    PARLEY_RETURN_IF_ERROR(s.Exec());
    if (s.Changes() == 0) return Status::Conflict("username_taken", "that username is taken");
    user = User{db_.LastInsertId(), username};
  }
  PARLEY_ASSIGN_OR_RETURN(int64_t ignored,
                          AppendEvent("user", std::nullopt, user.id, Audience::kAll, Wrap("user", user)));
  (void)ignored;
  // Every new user lands in `general`, so a first visit is a conversation.
  PARLEY_ASSIGN_OR_RETURN(Statement g, db_.Prepare(
      "SELECT id FROM rooms WHERE name='general' AND kind='public'"));
  PARLEY_ASSIGN_OR_RETURN(bool has_general, g.Step());
  if (has_general) {
    int64_t general = g.Int(0);
    PARLEY_RETURN_IF_ERROR(AddMember(general, user, Role::kMember, MemberAction::kJoined));
  }
  PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
  return user;
}

Result<std::optional<UserCredentials>> Store::FindCredentials(const std::string& username) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "SELECT id, username, pw_hash, deactivated FROM users WHERE username = ?"));
  s.Bind(1, username);
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<UserCredentials>();
  return std::optional<UserCredentials>(UserCredentials{User{s.Int(0), s.Text(1)}, s.Text(2), s.Int(3) != 0});
}

Result<std::optional<User>> Store::FindUser(const std::string& username) {
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("SELECT id, username FROM users WHERE username = ?"));
  s.Bind(1, username);
  PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<User>();
  return std::optional<User>(User{s.Int(0), s.Text(1)});
}

Result<std::vector<User>> Store::SearchUsers(const std::string& prefix, int limit) {
  // The admins' listing (store_moderation.cc) without the account flags.
  PARLEY_ASSIGN_OR_RETURN(std::vector<AccountInfo> accounts, AdminListUsers(prefix, limit));
  std::vector<User> out;
  out.reserve(accounts.size());
  for (AccountInfo& a : accounts) out.push_back(std::move(a.user));
  return out;
}

Status Store::CreateSession(int64_t user_id, const std::string& token_hash,
                            const std::optional<std::string>& checked_pw_hash) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  {
    // Under the write lock, which a deactivation or a password change takes too.
    PARLEY_ASSIGN_OR_RETURN(Statement who, db_.Prepare("SELECT deactivated, pw_hash FROM users WHERE id = ?"));
    who.Bind(1, user_id);
    PARLEY_ASSIGN_OR_RETURN(bool row, who.Step());
    PARLEY_RETURN_IF_ERROR(CheckSessionFor(row, row && who.Int(0) != 0, row ? who.Text(1) : "", checked_pw_hash));
  }
  int64_t now = NowMs();
  {
    // The account's sessions that can no longer be used (Limits::sessions_per_user).
    PARLEY_ASSIGN_OR_RETURN(Statement gone, db_.Prepare(
        "DELETE FROM sessions WHERE user_id = ?1 AND (expires_ts <= ?2 OR last_seen_ts <= ?3)"));
    gone.Bind(1, user_id).Bind(2, now).Bind(3, now - limits_.session_idle_ms);
    PARLEY_RETURN_IF_ERROR(gone.Exec());
  }
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "INSERT INTO sessions(user_id, token_hash, created_ts, last_seen_ts, expires_ts) VALUES (?,?,?,?,?)"));
  s.Bind(1, user_id).BindBlob(2, token_hash).Bind(3, now).Bind(4, now).Bind(5, now + limits_.session_absolute_ms);
  PARLEY_RETURN_IF_ERROR(s.Exec());
  // Past the cap, the ones used least recently (the new one is the newest).
  PARLEY_ASSIGN_OR_RETURN(Statement cap, db_.Prepare(
      "DELETE FROM sessions WHERE user_id = ?1 AND id NOT IN (SELECT id FROM sessions WHERE user_id = ?1 "
      "ORDER BY last_seen_ts DESC, id DESC LIMIT ?2)"));
  cap.Bind(1, user_id).Bind(2, static_cast<int64_t>(limits_.sessions_per_user));
  PARLEY_RETURN_IF_ERROR(cap.Exec());
  return CommitWrite(*tx);
}

Result<int64_t> Store::SweepSessions(int64_t limit) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_ts <= ? ORDER BY expires_ts LIMIT ?)"));
  s.Bind(1, NowMs()).Bind(2, limit);
  PARLEY_RETURN_IF_ERROR(s.Exec());
  const int64_t n = s.Changes();
  PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
  return n;
}

Result<std::optional<User>> Store::SessionUser(const std::string& token_hash) {
  int64_t now = NowMs();
  int64_t session_id = 0, last_seen = 0;
  User user;
  {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "SELECT s.id, s.last_seen_ts, s.expires_ts, u.id, u.username FROM sessions s "
        "JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?"));
    s.BindBlob(1, token_hash);
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) return std::optional<User>();
    session_id = s.Int(0);
    last_seen = s.Int(1);
    if (s.Int(2) <= now || last_seen + limits_.session_idle_ms <= now) return std::optional<User>();
    user = User{s.Int(3), s.Text(4)};
  }
  // The idle clock moves at most once an hour, so reads stay reads.
  if (now - last_seen > 3600 * 1000) {
    PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
    PARLEY_ASSIGN_OR_RETURN(Statement u, db_.Prepare("UPDATE sessions SET last_seen_ts = ? WHERE id = ?"));
    u.Bind(1, now).Bind(2, session_id);
    PARLEY_RETURN_IF_ERROR(u.Exec());
    PARLEY_RETURN_IF_ERROR(CommitWrite(*tx));
  }
  return std::optional<User>(user);
}

Status Store::RevokeSession(const std::string& token_hash) {
  PARLEY_ASSIGN_OR_RETURN(auto tx, BeginWrite());
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare("DELETE FROM sessions WHERE token_hash = ?"));
  s.BindBlob(1, token_hash);
  PARLEY_RETURN_IF_ERROR(s.Exec());
  return CommitWrite(*tx);
}

}  // namespace parley
