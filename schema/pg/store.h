// PgStore: the Storage interface (schema/storage.h) on PostgreSQL, issue
// 10 item 1, with the semantics of SQLite's Store (the comments of
// schema/storage.h hold). Methods not yet written answer kInternal
// "not on PostgreSQL yet" (store_pending.cc).
//
// Design note. Every write that appends events collects them while the
// transaction runs and appends them last (CommitEvents): AppendEvents takes
// the ids from the counter row, whose lock serialises every appender on
// every host until COMMIT, so the lock is held for as short a time as the
// transaction allows. The wake-up (notify.h) is queued in the same
// transaction, so it is delivered at COMMIT or never. In a group-commit
// batch it is queued once, for the batch's highest id, just before its
// COMMIT, with each room's last_event_id (FinishBatch): a batch of n sends
// costs one NOTIFY and one rooms row version per room, not n.
//
// Differences from SQLite, all invisible to callers:
// - Head() and DataVersion() read the counter row (the last committed id):
//   PostgreSQL has no PRAGMA data_version. The daemon uses DataVersion to
//   notice appends by writers that sent no wake-up; writes without events
//   no longer move it, and they wake no subscriber anyway.
// - Presence rows belong to one daemon (the `daemon` name given here):
//   several daemons hold connections, a user is online while any of them
//   holds one, and ClearPresence() at a daemon's start clears only its own.
// - EventsForUser reads in a REPEATABLE READ transaction, PostgreSQL's
//   snapshot, as SQLite's read transaction gives one.
// - Transactions are READ COMMITTED, and several pools write at once (SQLite
//   has one writer). So a check that guards a write locks what it read until
//   COMMIT (SELECT ... FOR SHARE on the member row a send relies on, FOR
//   UPDATE on a quota bucket), where SQLite's single writer made that free.
//
// Threading: one PgStore per PgConn, used by one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "schema/model.h"
#include "schema/event_merge.h"  // RoomBound
#include "schema/pg/conn.h"
#include "schema/storage.h"
#include "schema/store_rules.h"  // SearchHits

namespace parley {
struct UpdateTarget;  // schema/moderation.h
}  // namespace parley

namespace parley::pg {

struct DetailQuery;  // store_details.h

class PgStore final : public Storage {
 public:
  // daemon: this process's name in the presence table (unique per daemon:
  // a host name and port, say).
  explicit PgStore(PgConn& conn, Limits limits = {}, std::string daemon = "local")
      : conn_(conn), limits_(limits), daemon_(std::move(daemon)) {}

  PgConn& conn() { return conn_; }

  Result<std::unique_ptr<Batch>> BeginBatch() override;
  bool in_batch() const override { return conn_.in_batch(); }
  uint64_t commits() const override { return conn_.commits(); }
  // PostgreSQL's autovacuum and checkpointer do their own upkeep.
  Status MaintainIfDue() override { return Status::Ok(); }

  const Limits& limits() const override { return limits_; }
  Result<std::string> Epoch() override;
  Result<int64_t> Head() override;
  int64_t TakeNotifyHead() override {
    int64_t h = notify_head_;
    notify_head_ = 0;
    return h;
  }
  bool carries_wakeups() const override { return true; }
  bool remote() const override { return true; }
  Status Writable() const override { return Status::Ok(); }
  Status Announce(const std::string& payload) override;  // notify.cc's channel, outside a transaction

  // Accounts and sessions (store.cc).
  Result<User> CreateUser(const std::string& username, const std::string& pw_hash) override;
  Result<std::optional<UserCredentials>> FindCredentials(const std::string& username) override;
  Result<std::optional<User>> FindUser(const std::string& username) override;
  Result<std::vector<User>> SearchUsers(const std::string& prefix, int limit) override;
  using Storage::CreateSession;
  Status CreateSession(int64_t user_id, const std::string& token_hash,
                       const std::optional<std::string>& checked_pw_hash) override;
  Result<std::optional<User>> SessionUser(const std::string& token_hash) override;
  Status RevokeSession(const std::string& token_hash) override;
  Result<int64_t> SweepSessions(int64_t limit) override;
  // store_login.cc
  Status BeginLogin(const std::string& username, const std::string& address) override;
  Status LoginSucceeded(const std::string& username, const std::string& address) override;

  // Rooms and membership (store_rooms.cc).
  Result<Room> CreateRoom(const User& me, const std::string& name, RoomKind kind,
                          std::optional<int64_t> answers_per_professor) override;
  Result<Room> GetRoom(const User& me, int64_t room_id) override;
  Result<Room> UpdateRoom(const User& me, int64_t room_id, const RoomUpdate& u) override;
  Result<Room> Join(const User& me, int64_t room_id) override;
  Status Leave(const User& me, int64_t room_id) override;
  Result<Invited> Invite(const User& me, int64_t room_id, const std::string& username) override;
  Result<std::vector<Invitation>> Invitations(const User& me) override;
  Status DeclineInvitation(const User& me, int64_t room_id) override;
  Result<InvitationPage> RoomInvitations(const User& me, int64_t room_id, const UserPageQuery& q) override;
  Result<MemberPage> Members(const User& me, int64_t room_id, const UserPageQuery& q) override;
  Result<Member> FindMember(const User& me, int64_t room_id, const std::string& username) override;
  Result<std::pair<Room, bool>> GetOrCreateDm(const User& me, const std::string& username) override;
  Status AdminSetRole(int64_t room_id, const std::string& username, Role role) override;
  Status AdminSetOwner(int64_t room_id, const std::string& username) override;
  Status CheckMayType(const User& me, int64_t room_id) override;
  Result<RoomListPage> ListRoomsPage(const User& me, const RoomListQuery& q) override;
  Result<std::vector<Room>> Directory(const User& me, const std::string& prefix, int limit) override;
  Result<Room> SetNotifications(const User& me, int64_t room_id, NotifyLevel level) override;
  Result<int64_t> MemberCount(int64_t room_id, int64_t cap) override;
  // store_reactions.cc, store_search.cc
  Result<ReactionResult> React(const User& me, int64_t message_id, const std::string& emoji, bool add) override;
  Result<SearchPage> Search(const User& me, const SearchQuery& q) override;

  // Messages (store_messages.cc).
  Result<HistoryPage> History(const User& me, int64_t room_id, std::optional<int64_t> before,
                              std::optional<int64_t> after, int limit) override;
  Result<SendResult> Send(const User& me, int64_t room_id, const std::string& text,
                          const std::optional<std::string>& client_id, std::optional<int64_t> reply_to = std::nullopt,
                          const std::vector<int64_t>& attachments = {}) override;
  Result<SendResult> Answer(const User& me, int64_t question_id, const std::string& text,
                            const std::optional<std::string>& client_id) override;
  Result<Message> Edit(const User& me, int64_t message_id, const std::string& text) override;
  Status Delete(const User& me, int64_t message_id) override;
  Status MarkRead(const User& me, int64_t room_id, int64_t event_id,
                  std::optional<int64_t>* moved_to = nullptr) override;

  // Moderation, blocks, admins and accounts (store_moderation.cc).
  Result<MemberUpdated> UpdateMember(const User& me, int64_t room_id, const std::string& username,
                                     const MemberUpdate& u) override;
  Status Kick(const User& me, int64_t room_id, const std::string& username) override;
  Status BanUser(const User& me, int64_t room_id, const std::string& username, const std::string& reason) override;
  Status Unban(const User& me, int64_t room_id, const std::string& username) override;
  Result<BanPage> Bans(const User& me, int64_t room_id, const UserPageQuery& q) override;
  Status Block(const User& me, const std::string& username) override;
  Status Unblock(const User& me, const std::string& username) override;
  Result<BlockPage> Blocks(const User& me, const UserPageQuery& q) override;
  Result<bool> IsAdmin(int64_t user_id) override;
  Result<std::vector<AccountInfo>> AdminListUsers(const std::string& prefix, int limit) override;
  Status SetDeactivated(const User& me, const std::string& username, bool deactivated) override;
  Status SetAdmin(const std::string& username, bool admin) override;
  Status SetPassword(int64_t user_id, const std::string& pw_hash, const std::string& keep_token_hash) override;

  // Uploads (store_uploads.cc).
  Result<Upload> CreateUpload(const User& me, Upload u, const std::function<Status(int64_t id)>& place) override;
  Result<Upload> ReadableUpload(const User& me, int64_t upload_id) override;
  Result<int64_t> CollectUploads(int64_t keep_ms, int limit,
                                 const std::function<Status(int64_t id)>& remove) override;
  Result<std::string> UploadsMark(bool create) override;
  Result<std::vector<int64_t>> UploadsWithoutRows(const std::vector<int64_t>& ids) override;

  // The event log, sessions and presence for parley-events (store_events.cc).
  Result<std::vector<Event>> EventsAfter(int64_t after_id, int limit) override;
  Result<std::vector<Event>> EventsForUser(int64_t user_id, int64_t after, int64_t upto, int limit) override;
  Result<int64_t> LogFloor() override;
  Result<std::vector<int64_t>> RoomIdsOf(int64_t user_id) override;
  Result<std::optional<Session>> FindSession(const std::string& token_hash) override;
  Result<std::vector<int64_t>> EndedSessions(const std::vector<int64_t>& session_ids) override;
  Status TouchSessions(const std::vector<int64_t>& session_ids) override;
  Result<int64_t> DataVersion() override;
  Result<bool> SetOnline(int64_t user_id, bool online) override;
  Status ClearPresence() override;
  Result<std::vector<User>> HeldPresence() override;
  Result<std::vector<int64_t>> KeepPresence(int64_t stale_ms,
                                            const std::function<std::vector<int64_t>()>& held) override;
  Result<int64_t> NextEventRoom(int64_t after_room) override;
  Result<int64_t> RetentionCut(int64_t room_id, int64_t keep_per_room, int64_t before_ms) override;
  Result<OldEventsDeleted> DeleteOldEvents(int64_t room_id, int64_t after_id, int64_t below_id, int64_t before_ms,
                                           int64_t max_rows) override;
  Result<KeysDeleted> DeleteExpiredKeys(KeyKind kind, int64_t from_ms, int64_t before_ms, int64_t max_rows) override;

 private:
  // The rooms user_id left in (after, upto] and is out of now, each up to
  // their last member event in it (EventsForUser, store_events.cc).
  Result<std::vector<RoomBound>> RoomsLeftSince(int64_t user_id, int64_t after, int64_t upto);
  // Appends events (setting their ids), moves each room's last_event_id,
  // queues the wake-up and commits; on success the head is TakeNotifyHead's.
  Status CommitEvents(PgTx& tx, std::vector<Event>& events);
  // The same for events already appended in tx (AppendEvents): a message's
  // event is appended first, as the message takes its id. `sent`: the
  // message the write sent, whose sender's read marker moves to it.
  Status CommitAppended(PgTx& tx, const std::vector<Event>& events, const Message* sent = nullptr);
  // Before a batch's COMMIT: its senders' read markers, its rooms' head
  // rows and its one wake-up.
  Status FinishBatch();
  // Every transaction of PgStore but a send's begins here (a send,
  // PgTx::Begin; a read outside a batch finds nothing pending). The read
  // markers that the batch's earlier sends moved (batch_markers_) are
  // written first, riding with the write's first statement, so that what
  // it reads (a room's unread count, a member's read_event_id, MarkRead's
  // forward-only rule) is as if each send had written its own. A send
  // reads no marker, so a run of sends writes each sender's once.
  Result<std::unique_ptr<PgTx>> BeginWrite();
  // (user, room) -> the id a sender's marker moves to.
  using MarkerMoves = std::map<std::pair<int64_t, int64_t>, int64_t>;
  Status WriteBatchMarkers();
  // Queues one statement that moves the markers (forward only).
  Status DeferMarkerMoves(const MarkerMoves& moves);
  // Takes one token from the user's bucket of that class inside the open
  // write transaction (the bucket row locked to COMMIT), or kThrottled with
  // the seconds until one is back (store_quota.cc).
  // `prefetched`: the result of BucketQuery(user_id, c), when the caller
  // sent it in a pipeline of its own (then the bucket costs no round trip).
  Status ConsumeWriteToken(int64_t user_id, WriteClass c, Result<PgResult>* prefetched = nullptr);
  // The user's bucket of class c, locked FOR UPDATE to the COMMIT.
  static PgConn::Stmt BucketQuery(int64_t user_id, WriteClass c);

  // --- pgw: private helpers of rooms, messages, reactions, search ---
  // The membership row of a user in a room, checked against the room's kind.
  struct Access {
    Room room;                 // without the per-user counters
    std::optional<Role> role;  // set when a member
    bool moderator = false;
    std::optional<int64_t> muted_until;
    // The message stored under LoadAccess's client_id, if one is.
    std::optional<int64_t> seen;
  };
  // kNotFound for unknown rooms and for private/dm rooms the user is not in
  // (their existence is not revealed); kForbidden not_a_member otherwise.
  // lock: the member row is locked FOR SHARE until COMMIT, so a write that
  // relies on the membership (a send, an edit, a reaction) and a kick or a
  // leave racing it are serialised: one waits for the other's COMMIT.
  // client_id, if not null: also look up the message the user stored
  // under it (seen).
  Result<Access> LoadAccess(int64_t user_id, int64_t room_id, bool require_member, bool lock = false,
                            const std::string* client_id = nullptr);
  // LoadAccess in two halves, for a caller that sends the query with
  // another statement (Send): the statement, and the reading of its rows.
  static PgConn::Stmt AccessQuery(int64_t user_id, int64_t room_id, bool lock, const std::string* client_id);
  static Result<Access> ReadAccess(const PgResult& r, bool require_member, bool with_client_id);
  // The rows of AccessQuery as they are, with no verdict (CheckRoomAccess):
  // kNotFound only for a room that does not exist. For the operator, who
  // sees every room; users go through ReadAccess.
  static Result<Access> ReadRoomAccess(const PgResult& r, bool with_client_id);
  // query's rows, read in one round trip with the access check and ahead
  // of its verdict: a reader who is not a member gets the refusal, and the
  // rows read with it are dropped.
  Result<PgResult> ReadAsMember(int64_t user_id, int64_t room_id, PgConn::Stmt query);
  Result<Room> LoadRoomView(const User& me, int64_t room_id);
  Result<Member> LoadMember(int64_t room_id, int64_t user_id);
  // A room's name that passes for another's, as on SQLite (store_rooms.cc):
  // LockRoomName first, right after the write token (503 at once when
  // another pool holds the name's lock: a wait could close a cycle through
  // the counter row inside a write batch), then CheckRoomNameFree (self:
  // the room renamed, 0 for a new one), in one transaction.
  Status LockRoomName(const std::string& name);
  Status CheckRoomNameFree(const std::string& name, int64_t self);
  // 403 banned / 403 blocked, as on SQLite (store_moderation.cc there).
  Status CheckNotBanned(int64_t room_id, int64_t user_id);
  Status CheckNotBlocked(int64_t from_id, int64_t to_id);
  Status CheckDmNotBlocked(const User& me, int64_t room_id);
  // Inserts the member row unless present, and its event into events; the
  // row takes back a mute kept from an earlier membership if it still runs
  // (migration 012).
  // A request (the other person of a DM someone opened, migration 023)
  // counts against the user's requests, not their memberships.
  Status AddMember(int64_t room_id, const User& user, Role role, MemberAction action, std::vector<Event>& events,
                   MemberEntry entry = MemberEntry::kMembership);
  // With the user's row locked (AddMember, AnswerRequest): 403
  // membership_limit_reached when their memberships, requests aside, pass
  // the cap; for a new request, past its cap the oldest request goes (its
  // person leaves that DM, a `left` event into events).
  Status CountMemberships(const User& user, MemberEntry entry, std::vector<Event>& events);
  // The person of a DM request answers it (a send in it, or opening it
  // themselves): it is a membership from now on, and counts as one (with
  // the membership cap on; without it only the flag goes).
  Status AnswerRequest(int64_t room_id, const User& user);
  // AnswerRequest's statements, for a send that pipelines them ahead of its
  // own: the user's row locked FOR NO KEY UPDATE when their membership is a
  // request (two answers queue there, before either holds the member row
  // FOR SHARE that the other's UPDATE needs), then the request cleared,
  // both before the counter row. Then CountAnswer with the UPDATE's count.
  static std::vector<PgConn::Stmt> AnswerQueries(int64_t user_id, int64_t room_id);
  Status CountAnswer(const User& user, int64_t cleared);
  // Every way out (leave, kick, ban): deletes the member row and keeps a
  // mute that still runs in kept_mutes for the user's return. The role of
  // the row deleted, or none when there was none.
  Result<std::optional<Role>> RemoveMember(int64_t room_id, int64_t user_id);
  // The per-reader fields of a room (read marker, unread counts, last message, peer).
  Status FillView(Room& r, int64_t user_id);
  // The other person of each DM among rooms, one statement for all (none
  // without a DM), and what it read into the rooms.
  static std::optional<PgConn::Stmt> PeersQuery(std::span<const Room> rooms, int64_t user_id);
  static Status ReadPeers(const PgResult& row, std::span<Room> rooms);
  // Messages (store_messages.cc) and their details (store_message_details.cc).
  // lock: "" or a locking clause for the message row ("FOR UPDATE OF m"):
  // an edit, a delete, an answer or a reaction and a delete racing it are
  // serialised on the row.
  Result<std::optional<Message>> LoadMessage(int64_t id, const char* lock = "");
  // The messages named by ids, in that order, without their details
  // (DetailReads).
  Result<std::vector<Message>> LoadMessages(const std::vector<int64_t>& ids);
  // The newest message of each room that has one, in room_ids' order (no
  // details), as one statement (rows of kMessageSelect: ReadMessages).
  static PgConn::Stmt LastMessagesQuery(const std::vector<int64_t>& room_ids);
  // The author's own message in a room the author can still see; *access
  // (if given): the author's access to that room.
  Result<Message> LoadOwnMessage(const User& me, int64_t message_id, Access* access = nullptr);
  // As on SQLite (schema/store.h): not muted, not blocked in a DM.
  Status CheckMaySpeak(const User& me, const Access& a);
  Result<std::optional<Message>> FindByClientId(int64_t user_id, const std::optional<std::string>& client_id);
  // Takes a send token, then appends the message's event first (its id is
  // the message's), inserts m with its mentions, client_id and attachments
  // and writes the event's data; the caller commits with CommitAppended(ev).
  // *duplicate: another send with that client_id committed first (nothing
  // is left to commit: roll back and answer with that one).
  Status InsertMessage(PgTx& tx, Message& m, Event& ev, bool* duplicate);
  // InsertMessage's halves without its token: the insert statement (its
  // kind kind_in_qa in a Q&A room, else m.kind), and the rest once its
  // rows are back (m.id and m.kind from them). The insert statement hands
  // out the batch's next id when the batch holds the counter row
  // (event_log.h); otherwise kTakeOneId comes first, and FinishInsert
  // reads the last statement's rows.
  std::vector<PgConn::Stmt> InsertQuery(const Message& m, const char* kind_in_qa);
  Status FinishInsert(Message& m, Event& ev, const PgResult& inserted, bool* duplicate);
  // store_search.cc: one step of a search, the matches of `source` (a FROM
  // clause and its WHERE naming the messages m; at most $9 of them, newest
  // first) over Search's parameters, after the CTEs of `with` ("name AS
  // (...), " each); read, the page's hits among them go into `hits`, and
  // the step ends with the oldest match read when it read `scan` of them,
  // and the floor of `with`'s CTE f when it has one. SearchInRooms: the
  // second step (SearchGoesOnInRooms) in `rooms`, below `below`, with its
  // floor, one statement; the floor.
  struct SearchStepEnd {
    std::optional<int64_t> oldest;
    std::optional<int64_t> floor;
  };
  static PgConn::Stmt SearchStepQuery(const std::string& source, const std::string& query, std::vector<PgParam> params,
                                      const std::string& with = "");
  static Result<SearchStepEnd> ReadSearchStep(Result<PgResult> r, int scan, SearchHits& hits);
  Result<std::optional<int64_t>> SearchInRooms(const std::vector<int64_t>& rooms, int64_t below, const std::string& query,
                                               std::vector<PgParam> params, int scan, SearchHits& hits);
  // A read transaction: one REPEATABLE READ snapshot (a savepoint of the
  // open batch inside one), as SQLite's read transaction gives.
  Result<std::unique_ptr<PgTx>> BeginRead();
  // History's page inside the caller's transaction (ListRoomsPage's too).
  Result<HistoryPage> ReadHistory(const User& me, int64_t room_id, std::optional<int64_t> before,
                                  std::optional<int64_t> after, int limit);
  // ReadHistory without the details: the access check and the page's rows,
  // sent together (one round trip).
  Result<HistoryPage> ReadHistoryPage(const User& me, int64_t room_id, std::optional<int64_t> before,
                                      std::optional<int64_t> after, int limit);
  Status StoreMentions(Message& m);
  // Every event of the message so far now carries data (DESIGN section 4).
  Status RewriteMessageEvents(int64_t message_id, const std::string& data);
  // Appends one message event (edit, delete) tagged with its message
  // (events.message_id, which RewriteMessageEvents finds) and commits.
  Status CommitMessageEvent(PgTx& tx, Event& e, int64_t message_id);
  // Mentions, attachments and, for a reader, reactions (MessageDetailQueries),
  // or only reactions: one round trip (DetailReads).
  Status AttachDetails(std::optional<int64_t> reader_id, std::vector<Message>& messages);
  Status AttachReactions(int64_t user_id, std::vector<Message>& messages);
  Status Attach(std::vector<Message>& messages, std::vector<DetailQuery> queries);
  // Attachments (store_attachments.cc).
  Result<std::vector<Upload>> OwnUploads(const User& me, const std::vector<int64_t>& ids);
  Status InsertAttachments(int64_t message_id, const std::vector<Upload>& attachments);
  Status ReleaseAttachments(int64_t message_id);

  // --- pgm: private helpers of moderation, uploads, login ---
  // What a moderation action knows of its room and actor (store_moderation.cc).
  struct ModAccess {
    Room room;  // id, kind and owner only
    bool moderator = false;
  };
  // The room and the actor's member row, locked FOR SHARE until COMMIT:
  // 404 room_not_found / 403 not_a_member as for any member action, then
  // CheckMayModerate's rule (schema/moderation.h).
  Result<ModAccess> LockModerator(const User& me, int64_t room_id, bool owner_only = false);
  // The target of a moderation action: known (404 user_not_found), not the
  // actor, not the owner, and not a moderator unless the actor owns the room
  // (403 target_protected); its member row, if any, locked FOR UPDATE.
  Result<User> LockTarget(const ModAccess& actor, const User& me, const std::string& username);
  // The member as Members() lists it, or 404 member_not_found.
  Result<Member> LoadRoomMember(int64_t room_id, int64_t user_id);
  // Pending invitations (store_invitations.cc), as on SQLite: one, or
  // none; whether one was deleted; a moderator's withdrawal inside Kick's
  // transaction, its event into events (404 member_not_found for none).
  Result<std::optional<Invitation>> LoadInvitation(int64_t room_id, int64_t user_id);
  Result<bool> DropInvitation(int64_t room_id, int64_t user_id);
  // The invitation, deleted, or none (decline, withdrawal): one statement.
  Result<std::optional<Invitation>> TakeInvitation(int64_t room_id, int64_t user_id);
  Status WithdrawInvitation(const User& me, int64_t room_id, const User& who, std::vector<Event>& events);
  // Sets a member's role (400 invalid_field if it does not fit the room's
  // kind, 404 member_not_found), adding the role event if it changed.
  Status ChangeMemberRole(int64_t room_id, RoomKind kind, const User& who, Role role, std::vector<Event>& events);
  // UpdateMember's lookup and write of a mute, as on SQLite: the end of a
  // kept mute that still runs, its row locked FOR UPDATE until COMMIT, and
  // the mute set or lifted where the target's lives (members or kept_mutes).
  Result<std::optional<int64_t>> LockKeptMute(int64_t room_id, int64_t user_id);
  Status SetMute(int64_t room_id, const UpdateTarget& t, std::optional<int64_t> until);
  // In an open transaction: the uploads' rows go and their ids are queued in
  // upload_trash for CollectUploads to remove the files (store_uploads.cc;
  // the delete of a message's last carrier uses it too).
  Status DropUploads(const std::vector<int64_t>& ids);
  // notify.h's EventsChannel for conn_, asked once (the schema never
  // changes under a store).
  Result<std::string> Channel();

  PgConn& conn_;
  Limits limits_;
  std::string daemon_;
  int64_t notify_head_ = 0;
  std::string channel_;
  // Work a group-commit batch does once (BeginBatch, CommitAppended, Send):
  // each room's newest id appended by its committed writes, written to
  // rooms.last_event_id once before the batch's COMMIT rather than by
  // every write (a row version each); and the member rows (room, user)
  // that a committed write of the batch locked FOR SHARE, which stay
  // locked to its COMMIT, so a later send need not lock them again (each
  // lock from another savepoint would make a MultiXact).
  std::map<int64_t, int64_t> batch_rooms_;
  std::set<std::pair<int64_t, int64_t>> batch_member_locks_;
  // And each sender's read marker in each room, (user, room) to the id of
  // their newest message the batch committed: a send moves its sender's
  // marker to it (as on SQLite, which says why), and a run of sends of
  // one person now writes that row once, not once a send (a row version
  // and two foreign key checks each: ~60 µs of the server's CPU a send,
  // tools/bench/cluster sends).
  MarkerMoves batch_markers_;
};

// A token hash (raw bytes) as the hex that decode($n, 'hex') turns into
// the bytea column: raw bytes may hold a NUL, which no text parameter can.
std::string HexOf(const std::string& bytes);

// An event of now (store.cc), and the member event of SQLite's
// Store::AppendMemberEvent: the same object.
Event MakeEvent(const char* type, std::optional<int64_t> room_id, std::optional<int64_t> target_id,
                Audience audience, std::string data);
Event MemberEvent(int64_t room_id, const User& user, Role role, MemberAction action,
                  std::optional<int64_t> muted_until = std::nullopt);

}  // namespace parley::pg
