// Storage: everything the daemons and parleyctl do with Parley's data, as
// one interface (DESIGN section 7, issue 10). Store (schema/store.h) is the
// SQLite backend; a PostgreSQL one implements the same methods
// (schema/pg/). Callers hold a Storage& and do not know which one runs.
//
// The contract every backend keeps (DESIGN sections 2 and 4): each write
// appends its events in the transaction that makes the change, so the log
// and the tables never disagree; event ids become visible in increasing
// order with no holes that fill in later (a reader tailing `id > cursor`
// never skips one); membership and permissions are checked inside the
// transaction of the action they guard. After a commit that appended
// events, TakeNotifyHead() returns the new head once, so the caller can wake
// the events daemon.
//
// Group commit (fcgi/writer.h): writes made while a Batch is open share its
// one transaction and its one sync, each in a savepoint of its own, so one
// that fails rolls back alone.
//
// Threading: one Storage object per connection, used by one thread.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schema/model.h"
#include "schema/status.h"
#include "schema/token_bucket.h"

namespace parley {

// The classes of writes that each have a token bucket per user (item 4 of
// the hardening issue). kTyping's bucket lives in the worker's memory, the
// others in write_quota (store_quota.cc).
enum class WriteClass {
  kSend, kEdit, kDelete, kJoin, kLeave, kCreateRoom, kInvite, kDm, kTyping, kRead, kModerate, kReact, kUpload,
  kRoomEdit
};
constexpr size_t kWriteClasses = 14;
// "send", "edit", ...: the write_quota.class column and the PARLEY_WRITE_RATES names.
const char* ToString(WriteClass c);
std::optional<WriteClass> ParseWriteClass(std::string_view s);

// 429 throttled for that class, with Retry-After in whole seconds.
Status WriteThrottled(WriteClass c, int64_t retry_after_ms);

struct Limits {
  int64_t session_idle_ms = 30LL * 24 * 3600 * 1000;      // 30 days without use
  int64_t session_absolute_ms = 90LL * 24 * 3600 * 1000;  // 90 days at most
  // Sessions an account holds at once. A login removes the account's
  // expired and idle ones, then, past this many, the ones used least
  // recently: without it every login of a script or a bot left a row that
  // stayed forever.
  int sessions_per_user = 100;
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
      // room_edit: a room's name or topic. A public room's change goes to
      // every user (the directory); under moderate's 2 a second, one owner
      // toggling a topic pushed every online client 2 events, and 4 room
      // list reads of the web client's, a second.
      {1.0 / 60, 5},
  }};
  // Rooms a user may own (public, private and Q&A); 0 = no cap.
  int64_t rooms_per_user = 50;
  // Rooms and direct conversations a user may be in, however they came in
  // (join, creation, invitation accepted, a DM opened or answered), and
  // apart from them as many DM requests (MemberEntry); 0 = no cap. What
  // bounds a user's room list, the rooms the push daemon tracks for them
  // and the indexes a resume reads: joins alone allow 86,400 a day.
  int64_t memberships_per_user = 1000;
  // Uploads (store_uploads.cc): one file at most upload_max_bytes (nginx
  // enforces the same PARLEY_UPLOAD_MAX first), all of a user's files
  // together at most upload_quota_bytes (0 = no quota).
  int64_t upload_max_bytes = 25LL << 20;
  int64_t upload_quota_bytes = 1LL << 30;
  // Every GET of the API by one user, all their sessions together, per
  // worker process (fcgi/read_quota.h): twice what nginx allows one session
  // (30 a second, burst 200).
  Rate reads_per_user{60, 400};

  const Rate& rate(WriteClass c) const { return write_rates[static_cast<size_t>(c)]; }
  Rate& rate(WriteClass c) { return write_rates[static_cast<size_t>(c)]; }
  // PARLEY_LIMITS=off (benchmarks): every bucket and both room caps off.
  void WritesOff() {
    for (Rate& r : write_rates) r = Rate{};
    rooms_per_user = 0;
    memberships_per_user = 0;
    reads_per_user = Rate{};
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

// What UpdateMember leaves. A member: their member object as it now is.
// Someone out of the room whose mute is kept for their return (migration
// 017), when the update asked only to change or lift that mute: no member,
// and the kept mute's end (nullopt: lifted, they come back unmuted).
// What an invitation did: the membership the invitee already had, or the
// pending invitation, and whether it was made now.
struct Invited {
  std::optional<Member> member;
  std::optional<Invitation> invitation;
  bool created = false;
};

struct MemberUpdated {
  std::optional<Member> member;
  std::optional<int64_t> kept_muted_until;
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

// A page of a room's members, in user id order: a room's members are
// read through its primary key, so a page costs its own rows however
// large the room (`general` holds every user).
// A page of people in user id order (a room's members, its bans, my
// blocks): those above `after`, through the table's primary key.
struct UserPageQuery {
  int64_t after = 0;  // user ids above this
  int limit = 1000;
};

struct MemberPage {
  std::vector<Member> members;
  std::optional<int64_t> next;  // the `after` of the next page, when there is one
};
struct BanPage {
  std::vector<Ban> bans;
  std::optional<int64_t> next;
};
struct InvitationPage {
  std::vector<Invitation> invitations;
  std::optional<int64_t> next;
};
struct BlockPage {
  std::vector<User> blocks;
  std::optional<int64_t> next;
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

// PATCH /api/rooms/{id}: what to change; an absent field stays.
struct RoomUpdate {
  std::optional<std::string> name;
  std::optional<std::string> topic;
};

struct RoomListQuery {
  int limit = 50;                    // rooms per page
  std::optional<RoomCursor> before;  // the page after this position
  std::optional<int64_t> changed_since;  // only rooms with events after this id, plus `left`
  int latest = 0;  // > 0: each room's latest page of history, this many messages (with=latest)
  // > 0 with `latest`: the page ends at the first room whose latest page
  // brings the pages' estimated size (LatestPageBytes) to this many bytes
  // or more, with `next` after it: always one room at least, so an answer
  // is at most this plus one room's page. Counts bound a page's rows, not
  // its bytes: 1,000 rooms of 50 messages of 16,000 bytes is 800 MB.
  size_t latest_bytes = 0;
};

struct RoomListPage {
  std::vector<Room> rooms;         // most recent activity first
  std::optional<RoomCursor> next;  // set when there are more
  std::vector<int64_t> left;       // changed_since: rooms I left (or was removed from) since
  std::vector<HistoryPage> latest; // with q.latest: one per room, in the same order, read in the same transaction
};

// Matching messages a search reads at most (SearchQuery::scan).
constexpr int kSearchScan = 10000;

struct SearchQuery {
  std::string match;                  // an FTS5 MATCH expression built by the caller from quoted terms
  std::optional<int64_t> room_id;
  std::optional<int64_t> from_user;
  std::optional<int64_t> before;      // message ids below this
  int limit = 20;
  // The matches read at most, newest first and of every room, before the
  // membership and the filters choose the page: a search's work is bounded
  // whatever share of the site's matches its reader may see (one room of a
  // thousand, say). A page that stops there may hold fewer than `limit`
  // results, even none, with next_before where it stopped.
  int scan = kSearchScan;
};

struct SearchHit {
  Message message;
  std::string snippet;  // the match marked with \u0002 ... \u0003
};

struct SearchPage {
  std::vector<SearchHit> results;      // newest first
  std::optional<int64_t> next_before;  // the `before` of the next page, if there may be one
  bool has_more() const { return next_before.has_value(); }
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

// One group commit in progress (see the note at the top).
class Batch {
 public:
  virtual ~Batch() = default;
  // Durable when it returns ok (unless the backend was told otherwise,
  // PARLEY_SYNC=normal); what was not committed is rolled back on destruction.
  virtual Status Commit() = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // Group commit: writes until the batch commits or is destroyed join it.
  virtual Result<std::unique_ptr<Batch>> BeginBatch() = 0;
  virtual bool in_batch() const = 0;
  // Commits of write transactions and batches so far: each is one sync
  // under a durable setting (the metrics' syncs per batch).
  virtual uint64_t commits() const = 0;
  // Upkeep that no request should wait for (SQLite: the WAL checkpoint),
  // called by the daemons at quiet points, between requests.
  virtual Status MaintainIfDue() = 0;

  virtual const Limits& limits() const = 0;
  virtual Result<std::string> Epoch() = 0;
  virtual Result<int64_t> Head() = 0;
  // Whether a write could be stored now, as far as can be told without
  // writing (GET /api/health). SQLite: the file at the path is still the
  // one this connection opened (Db::StillAtItsPath), since a worker whose
  // file was moved refuses every write yet reads on from the file it has.
  // PostgreSQL: Head() reached the server, which is as far as one can tell.
  virtual Status Writable() const = 0;
  // The head after the last committed write that appended events, once; 0 if none.
  virtual int64_t TakeNotifyHead() = 0;
  // Whether the backend itself carries wake-ups and ephemeral events to
  // every events daemon (PostgreSQL: LISTEN/NOTIFY, across hosts; each
  // append announces its head at COMMIT). When false (SQLite), the worker's
  // datagram to its one local daemon does (fcgi/notifier.h).
  virtual bool carries_wakeups() const = 0;
  // Whether each statement is a round trip to a server (PostgreSQL), not a
  // call inside this process (SQLite): a wait worth moving off a thread
  // that others queue behind (fcgi/worker.cc admits writes before the batch).
  virtual bool remote() const = 0;
  // Sends one schema/wakeup.h payload (typing, a receipt) to every daemon,
  // at once and outside any transaction; only where carries_wakeups().
  virtual Status Announce(const std::string& payload) = 0;

  // Accounts and sessions (store.cc).
  virtual Result<User> CreateUser(const std::string& username, const std::string& pw_hash) = 0;
  virtual Result<std::optional<UserCredentials>> FindCredentials(const std::string& username) = 0;
  virtual Result<std::optional<User>> FindUser(const std::string& username) = 0;
  virtual Result<std::vector<User>> SearchUsers(const std::string& prefix, int limit) = 0;
  // Opens a session for the user, in one transaction with a check of the
  // account: 403 account_deactivated if it is, and with checked_pw_hash
  // (the hash a login's password was verified against) 401
  // invalid_credentials if the password changed meanwhile. A login reads
  // the account, then spends ~90 ms on Argon2id: a deactivation or a
  // password change that commits in between deletes every session there
  // is, and the login's, opened after it, would outlive both.
  virtual Status CreateSession(int64_t user_id, const std::string& token_hash,
                               const std::optional<std::string>& checked_pw_hash) = 0;
  // The same without a password (registration's first session, parleyctl).
  Status CreateSession(int64_t user_id, const std::string& token_hash) {
    return CreateSession(user_id, token_hash, std::nullopt);
  }
  // The user a token hash belongs to, if the session is live; refreshes its idle clock.
  virtual Result<std::optional<User>> SessionUser(const std::string& token_hash) = 0;
  virtual Status RevokeSession(const std::string& token_hash) = 0;
  // Removes up to `limit` sessions past their absolute expiry, the oldest
  // expiry first, in one short transaction; parley-events calls it once a
  // minute, and again while a step was full. Returns how many went. (A
  // session idle too long is refused at once, and goes by its expiry.)
  virtual Result<int64_t> SweepSessions(int64_t limit) = 0;
  // Login throttling (store_login.cc). BeginLogin counts an attempt on
  // (username, address) and on address before the password is checked, in
  // one write transaction, and refuses it (kThrottled, with the wait) while
  // either is blocked: parallel guesses get no extra tries. A success is
  // then reported with LoginSucceeded, which clears that pair's count.
  virtual Status BeginLogin(const std::string& username, const std::string& address) = 0;
  virtual Status LoginSucceeded(const std::string& username, const std::string& address) = 0;

  // Rooms and membership (store_rooms.cc).
  // Every room I am a member of, with my view of it (unread counts, last
  // message), in id order. (GET /api/rooms adds public rooms from Directory.)
  // One page of the room list holding them all, re-ordered: its statements
  // are per page, in one read transaction, where reading room by room cost
  // two statements a room (two round trips on PostgreSQL) and more for each
  // room's last message.
  Result<std::vector<Room>> MyRooms(const User& me) {
    RoomListQuery all;
    all.limit = 1 << 30;  // Limits::memberships_per_user bounds it (twice 1,000 by default, with requests)
    PARLEY_ASSIGN_OR_RETURN(RoomListPage page, ListRoomsPage(me, all));
    std::sort(page.rooms.begin(), page.rooms.end(), [](const Room& a, const Room& b) { return a.id < b.id; });
    return std::move(page.rooms);
  }
  virtual Result<Room> CreateRoom(const User& me, const std::string& name, RoomKind kind,
                                  std::optional<int64_t> answers_per_professor) = 0;
  virtual Result<Room> GetRoom(const User& me, int64_t room_id) = 0;
  // A new name or topic (each validated already; an empty topic clears
  // it), by the room's owner or a moderator (403 not_moderator; DMs are
  // named after their people and cannot be renamed). A change appends a
  // `room` event, to everyone for public and Q&A rooms, as their creation
  // is, and to the members of a private one; a change to what the room
  // already has appends nothing. 409 room_name_taken.
  virtual Result<Room> UpdateRoom(const User& me, int64_t room_id, const RoomUpdate& u) = 0;
  // Joins a public or Q&A room, or a private one I hold an invitation to
  // (accepting it: the invitation goes in the same transaction, as does one
  // to a public room); any other private room is 404 room_not_found.
  virtual Result<Room> Join(const User& me, int64_t room_id) = 0;
  virtual Status Leave(const User& me, int64_t room_id) = 0;
  // Invites someone (any member may, into any room but a DM): a pending
  // invitation, which adds them only once they join (migration 023 says
  // why), or, if they are in already, that membership. 403 blocked (they
  // block me), banned; 404 user_not_found.
  virtual Result<Invited> Invite(const User& me, int64_t room_id, const std::string& username) = 0;
  // My pending invitations, newest first (at most kMaxPendingInvitations).
  virtual Result<std::vector<Invitation>> Invitations(const User& me) = 0;
  // Declines one of mine: a `declined` event to the room and to me. 404
  // invitation_not_found. Taxed as a leave.
  virtual Status DeclineInvitation(const User& me, int64_t room_id) = 0;
  // A room's pending invitations, for its owner and moderators (who may
  // withdraw them: Kick), paged in invitee id order as the member list.
  virtual Result<InvitationPage> RoomInvitations(const User& me, int64_t room_id, const UserPageQuery& q) = 0;
  virtual Result<MemberPage> Members(const User& me, int64_t room_id, const UserPageQuery& q) = 0;
  // One member, seen by a member of the room (the list's access rules).
  virtual Result<Member> FindMember(const User& me, int64_t room_id, const std::string& username) = 0;
  // Returns the room and whether it was created now.
  virtual Result<std::pair<Room, bool>> GetOrCreateDm(const User& me, const std::string& username) = 0;
  // Set a role without the owner check (parleyctl). A member's own role
  // changes go through UpdateMember, with the moderation rules.
  virtual Status AdminSetRole(int64_t room_id, const std::string& username, Role role) = 0;
  // Hands a room to a member (parleyctl set-owner): 404 user_not_found,
  // room_not_found, member_not_found; 400 invalid_field for a DM. The only
  // way a room gets an owner after its creation: `general` is made with
  // none, and until then nobody could moderate the room everyone is in.
  // The new owner of a Q&A room teaches in it (professor), as its creator
  // would. Appends a `room` event with the new owner (nothing if they own
  // it already); the previous owner stays a member.
  virtual Status AdminSetOwner(int64_t room_id, const std::string& username) = 0;
  // Typing's check (store_messages.cc): a member (403 not_a_member, or 404
  // for a room one may not see) who may speak in the room: not muted (403 muted) and, in a DM, not blocked by
  // the other person (403 blocked). The same one read of the member row.
  virtual Status CheckMayType(const User& me, int64_t room_id) = 0;

  // Conversations (issue 12). Room list and directory (store_rooms.cc):
  // pages walk my memberships by rooms.last_event_id; at most the limit.
  virtual Result<RoomListPage> ListRoomsPage(const User& me, const RoomListQuery& q) = 0;
  // Public and Q&A rooms I am not in, whose name starts with prefix (any case).
  virtual Result<std::vector<Room>> Directory(const User& me, const std::string& prefix, int limit) = 0;
  virtual Result<Room> SetNotifications(const User& me, int64_t room_id, NotifyLevel level) = 0;
  // Reactions (store_reactions.cc): idempotent; members only; not on deleted
  // messages. Adding one is refused as an edit is (403 muted, blocked);
  // removing one's own is not.
  virtual Result<ReactionResult> React(const User& me, int64_t message_id, const std::string& emoji, bool add) = 0;
  // Search (store_search.cc): only rooms I am a member of now.
  virtual Result<SearchPage> Search(const User& me, const SearchQuery& q) = 0;
  // The number of members of a room, counted up to cap (receipts go to
  // rooms of at most 100: a room of 10,000 costs no more than one of 101).
  virtual Result<int64_t> MemberCount(int64_t room_id, int64_t cap) = 0;

  // Messages (store_messages.cc).
  virtual Result<HistoryPage> History(const User& me, int64_t room_id, std::optional<int64_t> before,
                                      std::optional<int64_t> after, int limit) = 0;
  // reply_to, when set, must name a message of the same room (else kInvalid invalid_reply).
  // attachments: upload ids, each one of the sender's own (else kInvalid invalid_attachment).
  virtual Result<SendResult> Send(const User& me, int64_t room_id, const std::string& text,
                                  const std::optional<std::string>& client_id,
                                  std::optional<int64_t> reply_to = std::nullopt,
                                  const std::vector<int64_t>& attachments = {}) = 0;
  virtual Result<SendResult> Answer(const User& me, int64_t question_id, const std::string& text,
                                    const std::optional<std::string>& client_id) = 0;
  // An edit, like a send, is refused to a muted member (403 muted) and, in
  // a DM, to one the other person blocked (403 blocked). A delete is not:
  // it takes words back.
  virtual Result<Message> Edit(const User& me, int64_t message_id, const std::string& text) = 0;
  virtual Status Delete(const User& me, int64_t message_id) = 0;
  // Moves my read marker forward to event_id, or to the log's head (Head)
  // when event_id lies beyond it: a marker past the head would count every
  // later message as read, for ever. *moved_to (if given): where the marker
  // moved to, or nullopt when it did not move.
  virtual Status MarkRead(const User& me, int64_t room_id, int64_t event_id,
                          std::optional<int64_t>* moved_to = nullptr) = 0;

  // Moderation, blocks, admins and accounts (store_moderation.cc). Every
  // check runs inside the write transaction of the action it guards, and
  // every action appends its event there (DESIGN section 3.1). Errors: 403
  // not_moderator / not_owner / target_protected, 404 user_not_found /
  // member_not_found, 400 invalid_field. UpdateMember reaches someone out
  // of the room only through a mute kept for their return, and only when
  // the update touches nothing but the mute (MemberUpdated).
  virtual Result<MemberUpdated> UpdateMember(const User& me, int64_t room_id, const std::string& username, const MemberUpdate& u) = 0;
  // Removes a member, or withdraws the pending invitation of someone not
  // in the room (an `uninvited` event to the room and to them).
  virtual Status Kick(const User& me, int64_t room_id, const std::string& username) = 0;
  virtual Status BanUser(const User& me, int64_t room_id, const std::string& username, const std::string& reason) = 0;
  virtual Status Unban(const User& me, int64_t room_id, const std::string& username) = 0;
  virtual Result<BanPage> Bans(const User& me, int64_t room_id, const UserPageQuery& q) = 0;
  // A block or unblock that changes something appends a `user` event
  // addressed to me alone, {"user": the other person, "blocked": bool}: my
  // other devices apply it live, and a room-list catch-up after it lists
  // every room (its mention counts changed). The blocked person hears nothing.
  virtual Status Block(const User& me, const std::string& username) = 0;
  virtual Status Unblock(const User& me, const std::string& username) = 0;
  virtual Result<BlockPage> Blocks(const User& me, const UserPageQuery& q) = 0;
  virtual Result<bool> IsAdmin(int64_t user_id) = 0;
  virtual Result<std::vector<AccountInfo>> AdminListUsers(const std::string& prefix, int limit) = 0;
  // Deactivation ends every session of the user; reactivation lets them sign in again.
  virtual Status SetDeactivated(const User& me, const std::string& username, bool deactivated) = 0;
  // parleyctl admin [--revoke]: no actor, no quota.
  virtual Status SetAdmin(const std::string& username, bool admin) = 0;
  // Stores a new password hash and ends every session of the user except
  // the one whose token hash is keep (empty: all of them).
  virtual Status SetPassword(int64_t user_id, const std::string& pw_hash, const std::string& keep_token_hash) = 0;

  // Uploads (store_uploads.cc). CreateUpload takes a token of WriteClass
  // kUpload, checks the quota (kTooLarge quota_exceeded), gives `u` a random
  // id and inserts it; `place` then puts the file under that id, inside the
  // transaction, so a row never exists without its file. A caller whose
  // `place` succeeded removes the file again if this returns an error.
  virtual Result<Upload> CreateUpload(const User& me, Upload u, const std::function<Status(int64_t id)>& place) = 0;
  // The upload, if me uploaded it or is a member of a room where a message
  // carrying it was posted (and not deleted); kNotFound otherwise.
  virtual Result<Upload> ReadableUpload(const User& me, int64_t upload_id) = 0;
  // One bounded step of the uploads' garbage collection (parley-events runs
  // it periodically): at most `limit` uploads never attached to a message
  // and older than keep_ms lose their row, then at most `limit` files of
  // uploads whose row is gone (those, and deleted messages' uploads that no
  // live message carries) are removed by `remove` (called with the upload
  // id, outside any transaction: nothing can reach them any more). Returns
  // how many files were removed.
  virtual Result<int64_t> CollectUploads(int64_t keep_ms, int limit,
                                         const std::function<Status(int64_t id)>& remove) = 0;
  // This deployment's uploads mark (schema/uploads_mark.h): random, kept
  // in meta; parley-fcgi writes it into the uploads directory it uses, and
  // parley-events removes no file from a directory without it. `create`:
  // made on first use (a pool's start); otherwise "" while there is none.
  virtual Result<std::string> UploadsMark(bool create) = 0;
  // Of `ids`, those with no upload row. A file in the uploads directory
  // with none is a stray: a worker died between moving it in and
  // committing its row (store_uploads.cc).
  virtual Result<std::vector<int64_t>> UploadsWithoutRows(const std::vector<int64_t>& ids) = 0;

  // The event log, for readers such as parley-events (store_events.cc).
  virtual Result<std::vector<Event>> EventsAfter(int64_t after_id, int limit) = 0;
  // Events in (after, upto] that user may see: broadcast, addressed to
  // them, or in a room they are a member of now.
  virtual Result<std::vector<Event>> EventsForUser(int64_t user_id, int64_t after, int64_t upto, int limit) = 0;
  // The log's floor: the highest id of an event gone from the log (0 if
  // none), recorded by DeleteOldEvents, and at least the oldest event left
  // less one (for what went before that record). A cursor below it cannot
  // be replayed without a gap; one at or above it can, whichever rooms
  // retention pruned.
  virtual Result<int64_t> LogFloor() = 0;
  virtual Result<std::vector<int64_t>> RoomIdsOf(int64_t user_id) = 0;
  // A live session for a token hash, without touching its idle clock.
  virtual Result<std::optional<Session>> FindSession(const std::string& token_hash) = 0;
  // Of these sessions, those that have ended (logged out, expired, idle too
  // long, or never were), in no order: one read for all of them, however
  // many (parley-events asks about every held connection's every few
  // seconds: one read each cost its loop 12,000 round trips a check).
  virtual Result<std::vector<int64_t>> EndedSessions(const std::vector<int64_t>& session_ids) = 0;
  // A held stream or poll is use of its session: moves the idle clock of
  // these sessions to now where it is over an hour old (as SessionUser
  // does for the API), one statement for all of them; a session that has
  // ended stays ended. Without it, a client that only listened (a bot, a
  // tab left open without a click) was cut as idle after 30 days.
  virtual Status TouchSessions(const std::vector<int64_t>& session_ids) = 0;
  // PRAGMA data_version: changes whenever another connection commits.
  virtual Result<int64_t> DataVersion() = 0;
  // Presence rows, written by parley-events only. SetOnline answers whether
  // this changed the user's presence across every daemon: their first row
  // anywhere (online) or their last one gone (offline). Where
  // carries_wakeups() (PostgreSQL), the database is the judge: the answer is
  // decided under a lock on the user, so two daemons racing cannot both or
  // neither see it, and the change is announced to every daemon (Announce,
  // schema/wakeup.h's presence) in the same transaction, so every daemon
  // hears of a user's changes in the order they were made. SQLite has one
  // daemon, which tracks its connections itself: always true, no query more.
  virtual Result<bool> SetOnline(int64_t user_id, bool online) = 0;
  // A daemon's start: it holds no connection. On PostgreSQL, the users it
  // held (a crash, then a restart) who are left with no row anywhere are
  // announced offline, as by KeepPresence.
  virtual Status ClearPresence() = 0;
  // The users this daemon holds a presence row of, by id: the start of an
  // upgrade's new image, which gives them their grace period to come back
  // (events/presence.h) instead of clearing them.
  virtual Result<std::vector<User>> HeldPresence() = 0;
  // Called by parley-events about once a second: this daemon is alive, and
  // the presence of daemons not seen for stale_ms is dropped (they died, and
  // their connections with them). The users this left with no row anywhere
  // are announced offline (as SetOnline does) and returned.
  // A daemon can be taken for dead and not be: stopped for a while, or cut
  // from the database (then whichever daemon gets through first drops all
  // the others). It finds its own mark gone at its next call, and only then
  // asks `held` for the users it still holds a row of (events/presence.h):
  // their rows are put back in one statement, and those nobody else holds
  // are announced online, as at a first connection. Without this they would
  // show offline until their last connection here closed, since a row is
  // written only at a user's first connection. Putting back is idempotent
  // (a row already there is left alone); `held` is also asked at a daemon's
  // first mark. An empty `held` ({}): a caller that holds nobody.
  // SQLite has one daemon, which clears its own rows when it starts:
  // nothing to do there, and `held` is never asked.
  virtual Result<std::vector<int64_t>> KeepPresence(int64_t stale_ms,
                                                    const std::function<std::vector<int64_t>()>& held) = 0;
  // Retention, the steps schema/retention.h makes a pass of, each its own
  // short transaction. Room id 0 stands for the events of no room.
  // The smallest room id above after_room that events have, or 0 when none.
  virtual Result<int64_t> NextEventRoom(int64_t after_room) = 0;
  // The id below which a room's events may go, its keep_per_room-th newest
  // event; 0 when it has no more events than that or when its oldest is not
  // older than before_ms (checked first, so a room with nothing old costs
  // one index probe, not a walk of keep_per_room entries).
  virtual Result<int64_t> RetentionCut(int64_t room_id, int64_t keep_per_room, int64_t before_ms) = 0;
  // Reads the room's oldest max_rows events with ids after after_id and
  // below below_id, and deletes those of them older than before_ms, except
  // the newest event of the log (the head, so that the log is never empty
  // and its oldest id says which cursors are too old). One transaction that
  // touches at most max_rows events.
  struct OldEventsDeleted {
    int64_t count = 0;
    int64_t last_id = 0;  // the highest id deleted, 0 when none
  };
  virtual Result<OldEventsDeleted> DeleteOldEvents(int64_t room_id, int64_t after_id, int64_t below_id,
                                                   int64_t before_ms, int64_t max_rows) = 0;

  // Idempotency keys expire (schema/key_expiry.h): the rows by which a
  // send's client_id, or nginx's replay key (IsReplayKey), finds the
  // message it stored. Deletes the oldest keys of that kind created at or
  // after from_ms and before before_ms, at most max_rows, in a short
  // transaction of its own (one statement on PostgreSQL; on SQLite a read
  // and a delete by primary key per key, store_messages.cc says why),
  // through an index of the kind's keys by age (SQLite migration 027,
  // PostgreSQL's 024): never a read of the table.
  // The message and its client_id stay; a later send with that client_id is
  // a new send. from_ms is where the last delete ended: on PostgreSQL the
  // index keeps the entries of deleted rows until a vacuum, and each delete
  // from the start would read them all again.
  enum class KeyKind { kClient, kReplay };
  struct KeysDeleted {
    int64_t count = 0;
    int64_t last_ms = 0;  // the newest created_ts deleted; 0 when none
  };
  virtual Result<KeysDeleted> DeleteExpiredKeys(KeyKind kind, int64_t from_ms, int64_t before_ms,
                                                int64_t max_rows) = 0;

};

}  // namespace parley
