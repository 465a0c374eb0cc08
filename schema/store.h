// Store: every read and write of Parley's data, over one SQLite connection.
//
// Design note. Each write runs inside BEGIN IMMEDIATE and appends its event
// rows in the same transaction (DESIGN section 2), so the event log and the
// tables it describes can never disagree. SQLite has one writer at a time,
// so event ids become visible in increasing order with no holes that fill
// in later; a message's id is the id of the event that created it.
// Membership is checked inside the same transaction as the action it
// guards, so a user who has just left a room cannot slip one more message
// in. After a commit that appended events, TakeNotifyHead() returns the new
// head so the caller can wake the events daemon.
//
// Threading: one Store per Db, used by one thread. This header is the narrow
// storage interface that a second backend (DESIGN section 7) would implement.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "schema/db.h"
#include "schema/model.h"

namespace parley {

struct Limits {
  int64_t session_idle_ms = 30LL * 24 * 3600 * 1000;      // 30 days without use
  int64_t session_absolute_ms = 90LL * 24 * 3600 * 1000;  // 90 days at most
  int login_failures = 5;                                  // per account ...
  int64_t login_window_ms = 15LL * 60 * 1000;              // ... in this window
  // Sends (messages and answers) per user: a token bucket. 0 turns it off
  // (PARLEY_LIMITS=off, for benchmarks).
  double sends_per_second = 5;
  double send_burst = 30;
};

struct UserCredentials {
  User user;
  std::string pw_hash;
};

struct HistoryPage {
  std::vector<Message> messages;  // oldest first
  bool has_more = false;
};

struct Session {
  int64_t id = 0;
  User user;
};

struct SendResult {
  Message message;
  bool created = false;  // false: the client_id was seen before; stored copy
};

int64_t NowMs();

class Store {
 public:
  explicit Store(Db& db, Limits limits = {}) : db_(db), limits_(limits) {}

  Db& db() { return db_; }
  Result<std::string> Epoch();
  Result<int64_t> Head();
  // The head after the last committed write that appended events, once; 0 if none.
  int64_t TakeNotifyHead() {
    int64_t h = notify_head_;
    notify_head_ = 0;
    return h;
  }

  // Accounts and sessions (store.cc).
  Result<User> CreateUser(const std::string& username, const std::string& pw_hash);
  Result<std::optional<UserCredentials>> FindCredentials(const std::string& username);
  Result<std::optional<User>> FindUser(const std::string& username);
  Result<std::vector<User>> SearchUsers(const std::string& prefix, int limit);
  Status CreateSession(int64_t user_id, const std::string& token_hash);
  // The user a token hash belongs to, if the session is live; refreshes its idle clock.
  Result<std::optional<User>> SessionUser(const std::string& token_hash);
  Status RevokeSession(const std::string& token_hash);
  // Login throttling per account name: kThrottled while locked.
  Status CheckLoginAllowed(const std::string& username);
  Status RecordLoginFailure(const std::string& username);
  Status ClearLoginFailures(const std::string& username);

  // Rooms and membership (store_rooms.cc).
  Result<std::vector<Room>> ListRooms(const User& me);
  Result<Room> CreateRoom(const User& me, const std::string& name, const std::string& kind,
                          std::optional<int64_t> answers_per_professor);
  Result<Room> GetRoom(const User& me, int64_t room_id);
  Result<Room> Join(const User& me, int64_t room_id);
  Status Leave(const User& me, int64_t room_id);
  // Returns the member and whether it was newly added.
  Result<std::pair<Member, bool>> Invite(const User& me, int64_t room_id, const std::string& username);
  Result<std::vector<Member>> Members(const User& me, int64_t room_id);
  Result<Member> SetRole(const User& me, int64_t room_id, const std::string& username,
                         const std::string& role);
  // Returns the room and whether it was created now.
  Result<std::pair<Room, bool>> GetOrCreateDm(const User& me, const std::string& username);
  // Set a role without the owner check (parleyctl).
  Status AdminSetRole(int64_t room_id, const std::string& username, const std::string& role);
  // Membership check only, for ephemeral actions such as typing.
  Status CheckMember(const User& me, int64_t room_id);

  // Messages (store_messages.cc).
  Result<HistoryPage> History(const User& me, int64_t room_id, std::optional<int64_t> before,
                              std::optional<int64_t> after, int limit);
  Result<SendResult> Send(const User& me, int64_t room_id, const std::string& text,
                          const std::optional<std::string>& client_id);
  Result<SendResult> Answer(const User& me, int64_t question_id, const std::string& text,
                            const std::optional<std::string>& client_id);
  Result<Message> Edit(const User& me, int64_t message_id, const std::string& text);
  Status Delete(const User& me, int64_t message_id);
  Status MarkRead(const User& me, int64_t room_id, int64_t event_id);

  // The event log, for readers such as parley-events (store_events.cc).
  Result<std::vector<Event>> EventsAfter(int64_t after_id, int limit);
  // Events in (after, upto] that user may see: broadcast, addressed to
  // them, or in a room they are a member of now.
  Result<std::vector<Event>> EventsForUser(int64_t user_id, int64_t after, int64_t upto, int limit);
  // The oldest event still in the log (0 if empty): cursors below it - 1
  // cannot be replayed without a gap.
  Result<int64_t> OldestEventId();
  Result<std::vector<int64_t>> RoomIdsOf(int64_t user_id);
  // A live session for a token hash, without touching its idle clock.
  Result<std::optional<Session>> FindSession(const std::string& token_hash);
  Result<bool> SessionAlive(int64_t session_id);
  // PRAGMA data_version: changes whenever another connection commits.
  Result<int64_t> DataVersion();
  // Presence rows, written by parley-events only.
  Status SetOnline(int64_t user_id, bool online);
  Status ClearPresence();
  // Retention: deletes events older than keep_ms, except the newest
  // keep_per_room of each room and the newest event overall (the head).
  Result<int64_t> PruneEvents(int64_t keep_ms, int64_t keep_per_room);

 private:
  // The membership row of a user in a room, checked against the room's kind.
  struct Access {
    Room room;                      // without the per-user counters
    std::optional<std::string> role;  // set when a member
  };
  // kNotFound for unknown rooms and for private/dm rooms the user is not in
  // (their existence is not revealed); kForbidden not_a_member otherwise.
  Result<Access> LoadAccess(int64_t user_id, int64_t room_id, bool require_member);
  Result<Room> LoadRoomView(const User& me, int64_t room_id);
  Result<std::optional<Message>> LoadMessage(int64_t id);
  // The author's own message in a room the author can still see.
  Result<Message> LoadOwnMessage(const User& me, int64_t message_id);
  // Takes one token from the user's send bucket, or kThrottled.
  Status ConsumeSendToken(int64_t user_id);
  Result<std::optional<Message>> FindByClientId(int64_t user_id, const std::optional<std::string>& client_id);
  Result<Message> InsertMessage(const User& me, int64_t room_id, const char* kind, const std::string& text,
                                std::optional<int64_t> reply_to, const std::optional<std::string>& client_id);
  Result<Member> LoadMember(int64_t room_id, int64_t user_id);
  Result<int64_t> NextEventId();
  // Appends an event inside the current write transaction; returns its id.
  // message_id tags the events of one message (RewriteMessageEvents).
  Result<int64_t> AppendEvent(int64_t id, const char* type, std::optional<int64_t> room_id,
                              std::optional<int64_t> target_id, const char* audience,
                              const std::string& data, std::optional<int64_t> message_id = std::nullopt);
  Result<int64_t> AppendEvent(const char* type, std::optional<int64_t> room_id,
                              std::optional<int64_t> target_id, const char* audience,
                              const std::string& data, std::optional<int64_t> message_id = std::nullopt);
  // Inside an edit's or a delete's write transaction: every event of the
  // message so far now carries `data`, its current object (DESIGN section 4).
  Status RewriteMessageEvents(int64_t message_id, const std::string& data);
  Status AppendMemberEvent(int64_t room_id, const User& user, const std::string& role,
                           const char* action);
  // Sets a member's role; with owner set, only that room's owner may.
  Status ChangeRole(const User* owner, int64_t room_id, const std::string& username, const std::string& role);
  Status AddMember(int64_t room_id, const User& user, const std::string& role, const char* action);
  Result<std::unique_ptr<Transaction>> BeginWrite();
  Status CommitWrite(Transaction& tx);

  Db& db_;
  Limits limits_;
  int64_t pending_head_ = 0;  // highest event id appended in the open transaction
  int64_t notify_head_ = 0;
};

}  // namespace parley
