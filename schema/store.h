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

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schema/db.h"
#include "schema/model.h"
#include "schema/token_bucket.h"

namespace parley {

class MessageIndex;  // schema/message_index.h

// The classes of writes that each have a token bucket per user (item 4 of
// the hardening issue). kTyping's bucket lives in the worker's memory, the
// others in write_quota (store_quota.cc).
enum class WriteClass { kSend, kEdit, kDelete, kJoin, kLeave, kCreateRoom, kInvite, kDm, kTyping, kRead, kModerate, kReact, kUpload };
constexpr size_t kWriteClasses = 13;
// "send", "edit", ...: the write_quota.class column and the PARLEY_WRITE_RATES names.
const char* ToString(WriteClass c);
std::optional<WriteClass> ParseWriteClass(std::string_view s);

// 429 throttled for that class, with Retry-After in whole seconds.
Status WriteThrottled(WriteClass c, int64_t retry_after_ms);

struct Limits {
  int64_t session_idle_ms = 30LL * 24 * 3600 * 1000;      // 30 days without use
  int64_t session_absolute_ms = 90LL * 24 * 3600 * 1000;  // 90 days at most
  // Login throttling (store_login.cc): failures allowed per account and
  // client address, and per address over all accounts, before each further
  // failure waits login_backoff_ms, doubling up to login_backoff_max_ms.
  // Failures are forgotten after login_window_ms without any.
  int login_failures = 5;
  int login_address_failures = 100;
  int64_t login_backoff_ms = 15 * 1000;
  int64_t login_backoff_max_ms = 15LL * 60 * 1000;
  int64_t login_window_ms = 15LL * 60 * 1000;
  // Per user and WriteClass, indexed by it: a sustained rate and a burst.
  // The bursts let a person work in spurts (a conversation, joining a few
  // rooms); the rates stay far below what a script would need to flood.
  std::array<Rate, kWriteClasses> write_rates = {{
      {5, 30},        // send: messages and answers
      {2, 30},        // edit
      {2, 30},        // delete
      {1, 30},        // join
      {1, 30},        // leave
      {1.0 / 60, 10},  // create_room: one a minute after the first ten
      {1, 30},        // invite
      {0.5, 20},      // dm
      {1, 10},        // typing: the web client sends one every 3 s while typing
      {5, 60},        // read: one per room switch and per new message seen
      {2, 30},        // moderate: mutes, kicks, bans, moderators, blocks, admin actions
      {2, 30},        // react: reactions added and removed
      {0.5, 20},      // upload: a handful of photos at once, then one per 2 s
  }};
  // Rooms a user may own (public, private and Q&A); 0 = no cap.
  int64_t rooms_per_user = 50;
  // Uploads (store_uploads.cc): one file at most upload_max_bytes (nginx
  // enforces the same PARLEY_UPLOAD_MAX first), all of a user's files
  // together at most upload_quota_bytes (0 = no quota).
  int64_t upload_max_bytes = 25LL << 20;
  int64_t upload_quota_bytes = 1LL << 30;

  const Rate& rate(WriteClass c) const { return write_rates[static_cast<size_t>(c)]; }
  Rate& rate(WriteClass c) { return write_rates[static_cast<size_t>(c)]; }
  // PARLEY_LIMITS=off (benchmarks): every bucket and the room cap off.
  void WritesOff() {
    for (Rate& r : write_rates) r = Rate{};
    rooms_per_user = 0;
  }
};

struct UserCredentials {
  User user;
  std::string pw_hash;
  bool deactivated = false;  // login answers 403 account_deactivated after the password check
};

// A change to one member (PUT /api/rooms/{id}/members/{username}); unset
// fields stay as they are. mute: set to change the mute (nullopt inside: lift it).
struct MemberUpdate {
  std::optional<Role> role;
  std::optional<bool> moderator;
  std::optional<std::optional<int64_t>> mute;
};

struct Ban {
  User user;
  std::string reason;
  std::optional<User> by;
  int64_t ts = 0;
};

// A user as an admin sees it.
struct AccountInfo {
  User user;
  bool admin = false;
  bool deactivated = false;
};

struct HistoryPage {
  std::vector<Message> messages;  // oldest first
  bool has_more = false;
};

struct Session {
  int64_t id = 0;
  User user;
};

// A position in the room list (most recent activity first): the room's
// last_event_id, then its id for rooms with equal activity (no events yet).
struct RoomCursor {
  int64_t last_event_id = 0;
  int64_t room_id = 0;
};

struct RoomListQuery {
  int limit = 50;                    // rooms per page
  std::optional<RoomCursor> before;  // the page after this position
  std::optional<int64_t> changed_since;  // only rooms with events after this id, plus `left`
  int latest = 0;  // > 0: each room's latest page of history, this many messages (with=latest)
};

struct RoomListPage {
  std::vector<Room> rooms;         // most recent activity first
  std::optional<RoomCursor> next;  // set when there are more
  std::vector<int64_t> left;       // changed_since: rooms I left (or was removed from) since
  std::vector<HistoryPage> latest; // with q.latest: one per room, in the same order, read in the same transaction
};

struct SearchQuery {
  std::string match;                  // an FTS5 MATCH expression built by the caller from quoted terms
  std::optional<int64_t> room_id;
  std::optional<int64_t> from_user;
  std::optional<int64_t> before;      // message ids below this
  int limit = 20;
};

struct SearchHit {
  Message message;
  std::string snippet;  // the match marked with \u0002 ... \u0003
};

struct SearchPage {
  std::vector<SearchHit> results;  // newest first
  bool has_more = false;
};

// A reaction added or removed, and whether anything changed.
struct ReactionResult {
  Message message;  // with reactions as the reader sees them now
  bool changed = false;
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
  const Limits& limits() const { return limits_; }
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
  // Login throttling (store_login.cc). BeginLogin counts an attempt on
  // (username, address) and on address before the password is checked, in
  // one write transaction, and refuses it (kThrottled, with the wait) while
  // either is blocked: parallel guesses get no extra tries. A success is
  // then reported with LoginSucceeded, which clears that pair's count.
  Status BeginLogin(const std::string& username, const std::string& address);
  Status LoginSucceeded(const std::string& username, const std::string& address);

  // Rooms and membership (store_rooms.cc).
  Result<std::vector<Room>> ListRooms(const User& me);
  Result<Room> CreateRoom(const User& me, const std::string& name, RoomKind kind,
                          std::optional<int64_t> answers_per_professor);
  Result<Room> GetRoom(const User& me, int64_t room_id);
  Result<Room> Join(const User& me, int64_t room_id);
  Status Leave(const User& me, int64_t room_id);
  // Returns the member and whether it was newly added.
  Result<std::pair<Member, bool>> Invite(const User& me, int64_t room_id, const std::string& username);
  Result<std::vector<Member>> Members(const User& me, int64_t room_id);
  Result<Member> SetRole(const User& me, int64_t room_id, const std::string& username, Role role);
  // Returns the room and whether it was created now.
  Result<std::pair<Room, bool>> GetOrCreateDm(const User& me, const std::string& username);
  // Set a role without the owner check (parleyctl).
  Status AdminSetRole(int64_t room_id, const std::string& username, Role role);
  // Membership check only, for ephemeral actions such as typing.
  Status CheckMember(const User& me, int64_t room_id);

  // Conversations (issue 12). Room list and directory (store_rooms.cc):
  // pages walk my memberships by rooms.last_event_id; at most the limit.
  Result<RoomListPage> ListRoomsPage(const User& me, const RoomListQuery& q);
  // Public and Q&A rooms I am not in, whose name starts with prefix (any case).
  Result<std::vector<Room>> Directory(const User& me, const std::string& prefix, int limit);
  Result<Room> SetNotifications(const User& me, int64_t room_id, NotifyLevel level);
  // Reactions (store_reactions.cc): idempotent; members only; not on deleted messages.
  Result<ReactionResult> React(const User& me, int64_t message_id, const std::string& emoji, bool add);
  // Search (store_search.cc): only rooms I am a member of now.
  Result<SearchPage> Search(const User& me, const SearchQuery& q);
  // The number of members of a room, counted up to cap (receipts go to
  // rooms of at most 100: a room of 10,000 costs no more than one of 101).
  Result<int64_t> MemberCount(int64_t room_id, int64_t cap);

  // Messages (store_messages.cc).
  Result<HistoryPage> History(const User& me, int64_t room_id, std::optional<int64_t> before,
                              std::optional<int64_t> after, int limit);
  // reply_to, when set, must name a message of the same room (else kInvalid invalid_reply).
  // attachments: upload ids, each one of the sender's own (else kInvalid invalid_attachment).
  Result<SendResult> Send(const User& me, int64_t room_id, const std::string& text,
                          const std::optional<std::string>& client_id,
                          std::optional<int64_t> reply_to = std::nullopt,
                          const std::vector<int64_t>& attachments = {});
  Result<SendResult> Answer(const User& me, int64_t question_id, const std::string& text,
                            const std::optional<std::string>& client_id);
  Result<Message> Edit(const User& me, int64_t message_id, const std::string& text);
  Status Delete(const User& me, int64_t message_id);
  // Moves my read marker forward; *moved (if given) tells whether it moved.
  Status MarkRead(const User& me, int64_t room_id, int64_t event_id, bool* moved = nullptr);

  // Moderation, blocks, admins and accounts (store_moderation.cc). Every
  // check runs inside the write transaction of the action it guards, and
  // every action appends its event there (DESIGN section 3.1). Errors: 403
  // not_moderator / not_owner / target_protected, 404 user_not_found /
  // member_not_found, 400 invalid_field.
  Result<Member> UpdateMember(const User& me, int64_t room_id, const std::string& username, const MemberUpdate& u);
  Status Kick(const User& me, int64_t room_id, const std::string& username);
  Status BanUser(const User& me, int64_t room_id, const std::string& username, const std::string& reason);
  Status Unban(const User& me, int64_t room_id, const std::string& username);
  Result<std::vector<Ban>> Bans(const User& me, int64_t room_id);
  Status Block(const User& me, const std::string& username);
  Status Unblock(const User& me, const std::string& username);
  Result<std::vector<User>> Blocks(const User& me);
  Result<bool> IsAdmin(int64_t user_id);
  Result<std::vector<AccountInfo>> AdminListUsers(const std::string& prefix, int limit);
  // Deactivation ends every session of the user; reactivation lets them sign in again.
  Status SetDeactivated(const User& me, const std::string& username, bool deactivated);
  // parleyctl admin [--revoke]: no actor, no quota.
  Status SetAdmin(const std::string& username, bool admin);
  // Stores a new password hash and ends every session of the user except
  // the one whose token hash is keep (empty: all of them).
  Status SetPassword(int64_t user_id, const std::string& pw_hash, const std::string& keep_token_hash);

  // Uploads (store_uploads.cc). CreateUpload takes a token of WriteClass
  // kUpload, checks the quota (kTooLarge quota_exceeded), gives `u` a random
  // id and inserts it; `place` then puts the file under that id, inside the
  // transaction, so a row never exists without its file. A caller whose
  // `place` succeeded removes the file again if this returns an error.
  Result<Upload> CreateUpload(const User& me, Upload u, const std::function<Status(int64_t id)>& place);
  // The upload, if me uploaded it or is a member of a room where a message
  // carrying it was posted (and not deleted); kNotFound otherwise.
  Result<Upload> ReadableUpload(const User& me, int64_t upload_id);
  // One bounded step of the uploads' garbage collection (parley-events runs
  // it periodically): at most `limit` uploads never attached to a message
  // and older than keep_ms lose their row, then at most `limit` files of
  // uploads whose row is gone (those, and deleted messages' uploads that no
  // live message carries, see ReleaseAttachments) are removed by `remove`
  // (called with the upload id, outside any transaction: nothing can reach
  // them any more). Returns how many files were removed.
  Result<int64_t> CollectUploads(int64_t keep_ms, int limit, const std::function<Status(int64_t id)>& remove);

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
    std::optional<Role> role;       // set when a member
    bool moderator = false;
    std::optional<int64_t> muted_until;
  };
  // Access of a moderator (the owner or a moderator) of a non-DM room, or 403 not_moderator.
  Result<Access> LoadModeratorAccess(const User& me, int64_t room_id);
  // The target of a moderation action: known (404 user_not_found), not the
  // actor, not the owner, and not a moderator unless the actor owns the room
  // (403 target_protected).
  Result<User> LoadTarget(const Access& actor, const User& me, const std::string& username);
  // 403 banned when the user is banned from the room; 403 blocked when
  // `from` may not reach `to` (to blocked from).
  Status CheckNotBanned(int64_t room_id, int64_t user_id);
  Status CheckNotBlocked(int64_t from_id, int64_t to_id);
  // In a direct conversation: 403 blocked when the other person blocked me.
  Status CheckDmNotBlocked(const User& me, int64_t room_id);
  // A moderation member event: the member's state after the action, and who acted.
  Status AppendModerationEvent(int64_t room_id, const Member& m, MemberAction action, const User& by,
                               const std::string* reason = nullptr);
  Status ApplyRole(int64_t room_id, const User& who, Role role);
  // kNotFound for unknown rooms and for private/dm rooms the user is not in
  // (their existence is not revealed); kForbidden not_a_member otherwise.
  Result<Access> LoadAccess(int64_t user_id, int64_t room_id, bool require_member);
  Result<Room> LoadRoomView(const User& me, int64_t room_id);
  Result<std::optional<Message>> LoadMessage(int64_t id);
  // The author's own message in a room the author can still see.
  Result<Message> LoadOwnMessage(const User& me, int64_t message_id);
  // Takes one token from the user's bucket of that class inside the open
  // write transaction, or kThrottled with the seconds until one is back.
  Status ConsumeWriteToken(int64_t user_id, WriteClass c);
  Result<std::optional<Message>> FindByClientId(int64_t user_id, const std::optional<std::string>& client_id);
  Result<Message> InsertMessage(const User& me, int64_t room_id, const char* kind, const std::string& text,
                                std::optional<int64_t> reply_to, const std::optional<std::string>& client_id,
                                std::vector<Upload> attachments = {});
  // store_uploads.cc: the uploads named by ids, all owned by me, in that order.
  Result<std::vector<Upload>> OwnUploads(const User& me, const std::vector<int64_t>& ids);
  Status InsertAttachments(int64_t message_id, const std::vector<Upload>& attachments);
  // In a delete's transaction, after the tombstone is written: the uploads
  // of that message that no live message carries any more lose their row
  // (404 to everyone at once, quota given back) and their file is queued
  // for CollectUploads.
  Status ReleaseAttachments(int64_t message_id);
  Status DropUploads(const std::vector<int64_t>& ids);  // rows out, ids to upload_trash
  // Fills the listed messages' mentions, attachments and (for a reader) their
  // reactions as that reader sees them: three queries whatever the list's
  // length (schema/message_index.h).
  Status AttachDetails(std::optional<int64_t> reader_id, std::vector<Message>& messages);
  Status LoadMentions(const MessageIndex& index);
  Status LoadReactions(int64_t user_id, const MessageIndex& index);  // store_reactions.cc
  Status LoadAttachments(const MessageIndex& index);                 // store_uploads.cc
  Result<Member> LoadMember(int64_t room_id, int64_t user_id);
  // Fills the per-reader fields of a room (store_rooms.cc).
  Status FillView(Room& r, int64_t user_id);
  Status FillLastAndPeer(Room& r, int64_t user_id);
  // The room's newest message (a tombstone included), with its details as user sees them.
  Result<std::optional<Message>> LastMessage(int64_t room_id, int64_t user_id);
  // Sets each message's reactions as user sees them (store_reactions.cc).
  Status AttachReactions(int64_t user_id, std::vector<Message>& messages);
  // Resolves @username in text to members of the room other than the
  // author and stores them for the message (store_messages.cc).
  Status StoreMentions(Message& m);
  Result<int64_t> NextEventId();
  // Appends an event inside the current write transaction; returns its id.
  // message_id tags the events of one message (RewriteMessageEvents).
  Result<int64_t> AppendEvent(int64_t id, const char* type, std::optional<int64_t> room_id,
                              std::optional<int64_t> target_id, Audience audience,
                              const std::string& data, std::optional<int64_t> message_id = std::nullopt);
  Result<int64_t> AppendEvent(const char* type, std::optional<int64_t> room_id,
                              std::optional<int64_t> target_id, Audience audience,
                              const std::string& data, std::optional<int64_t> message_id = std::nullopt);
  // Inside an edit's or a delete's write transaction: every event of the
  // message so far now carries `data`, its current object (DESIGN section 4).
  Status RewriteMessageEvents(int64_t message_id, const std::string& data);
  Status AppendMemberEvent(int64_t room_id, const User& user, Role role, MemberAction action);
  // Sets a member's role; with owner set, only that room's owner may.
  Status ChangeRole(const User* owner, int64_t room_id, const std::string& username, Role role);
  Status AddMember(int64_t room_id, const User& user, Role role, MemberAction action);
  Result<std::unique_ptr<Transaction>> BeginWrite();
  Status CommitWrite(Transaction& tx);

  Db& db_;
  Limits limits_;
  int64_t pending_head_ = 0;  // highest event id appended in the open transaction
  int64_t notify_head_ = 0;
};

}  // namespace parley
