// Store: the SQLite backend of Storage (schema/storage.h), over one
// connection.
//
// Design note. Each write runs inside BEGIN IMMEDIATE (or a savepoint of the
// open WriteBatch) and appends its event rows in the same transaction
// (DESIGN section 2). SQLite has one writer at a time, so event ids become
// visible in increasing order with no holes that fill in later; a message's
// id is the id of the event that created it.
//
// Threading: one Store per Db, used by one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "schema/db.h"
#include "schema/event_merge.h"  // RoomBound
#include "schema/moderation.h"   // Addressed
#include "schema/storage.h"
#include "schema/store_rules.h"

namespace parley {

struct UpdateTarget;  // schema/moderation.h

class MessageIndex;  // schema/message_index.h

class Store final : public Storage {
 public:
  explicit Store(Db& db, Limits limits = {}) : db_(db), limits_(limits) { IndexEvery(kIndexEveryRows); }

  Db& db() { return db_; }

  Result<std::unique_ptr<Batch>> BeginBatch() override;
  bool in_batch() const override { return db_.in_batch(); }
  uint64_t commits() const override { return db_.commits(); }
  // The WAL checkpoint, then the search index's merge step (store_search.cc).
  Status MaintainIfDue() override;
  // The merge step: after this many commits that indexed messages, at most
  // this many pages (migration 011). Rare and small: the commits' own merges
  // of 64 segments do the bulk; this tidies an index that grows slowly.
  static constexpr uint64_t kMergeEveryCommits = 16;
  static constexpr int64_t kMergePages = 32;
  // A commit indexes the messages waiting for the search index once this
  // connection has sent this many since its last indexing commit
  // (store_search.cc); until then Search finds them in the waiting tail.
  static constexpr int64_t kIndexEveryRows = 256;
  // Another cadence (1: every commit that sends indexes, as migration 009 did), for
  // tests and tools/bench/sendcost; applies from the next commit.
  void IndexEvery(int64_t rows);
  // Indexes every waiting message now, in a write transaction of its own
  // (tests, before FTS5's integrity check compares index and messages).
  Status IndexWaiting();

  const Limits& limits() const override { return limits_; }
  Result<std::string> Epoch() override;
  Result<int64_t> Head() override;
  int64_t TakeNotifyHead() override {
    int64_t h = notify_head_;
    notify_head_ = 0;
    return h;
  }
  bool carries_wakeups() const override { return false; }
  bool remote() const override { return false; }
  Status Writable() const override { return db_.StillAtItsPath(); }
  Result<std::vector<int64_t>> KeepPresence(int64_t, const std::function<std::vector<int64_t>()>&) override {
    return std::vector<int64_t>();
  }
  Status Announce(const std::string&) override {
    return Status::Internal("SQLite carries no wake-ups: the worker's datagram does");
  }

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
  Status BeginLogin(const std::string& username, const std::string& address) override;
  Status LoginSucceeded(const std::string& username, const std::string& address) override;

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
  Result<ReactionResult> React(const User& me, int64_t message_id, const std::string& emoji, bool add) override;
  Result<SearchPage> Search(const User& me, const SearchQuery& q) override;
  Result<int64_t> MemberCount(int64_t room_id, int64_t cap) override;

  Result<HistoryPage> History(const User& me, int64_t room_id, std::optional<int64_t> before,
                              std::optional<int64_t> after, int limit) override;
  Result<SendResult> Send(const User& me, int64_t room_id, const std::string& text,
                          const std::optional<std::string>& client_id,
                          std::optional<int64_t> reply_to = std::nullopt,
                          const std::vector<int64_t>& attachments = {}) override;
  Result<SendResult> Answer(const User& me, int64_t question_id, const std::string& text,
                            const std::optional<std::string>& client_id) override;
  Result<Message> Edit(const User& me, int64_t message_id, const std::string& text) override;
  Status Delete(const User& me, int64_t message_id) override;
  Status MarkRead(const User& me, int64_t room_id, int64_t event_id,
                  std::optional<int64_t>* moved_to = nullptr) override;

  Result<MemberUpdated> UpdateMember(const User& me, int64_t room_id, const std::string& username, const MemberUpdate& u) override;
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

  Result<Upload> CreateUpload(const User& me, Upload u, const std::function<Status(int64_t id)>& place) override;
  Result<Upload> ReadableUpload(const User& me, int64_t upload_id) override;
  Result<int64_t> CollectUploads(int64_t keep_ms, int limit, const std::function<Status(int64_t id)>& remove) override;
  Result<std::string> UploadsMark(bool create) override;
  Result<std::vector<int64_t>> UploadsWithoutRows(const std::vector<int64_t>& ids) override;

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
  Result<int64_t> NextEventRoom(int64_t after_room) override;
  Result<int64_t> RetentionCut(int64_t room_id, int64_t keep_per_room, int64_t before_ms) override;
  Result<OldEventsDeleted> DeleteOldEvents(int64_t room_id, int64_t after_id, int64_t below_id, int64_t before_ms,
                                           int64_t max_rows) override;
  Result<KeysDeleted> DeleteExpiredKeys(KeyKind kind, int64_t from_ms, int64_t before_ms, int64_t max_rows) override;


 private:
  // The rooms user_id left in (after, upto] and is out of now, each up to
  // their last member event in it (EventsForUser, store_events.cc).
  Result<std::vector<RoomBound>> RoomsLeftSince(int64_t user_id, int64_t after, int64_t upto);
  // The membership row of a user in a room, checked against the room's kind.
  struct Access {
    Room room;                      // without the per-user counters
    std::optional<Role> role;       // set when a member
    bool moderator = false;
    std::optional<int64_t> muted_until;
    bool request = false;           // a DM request of mine, not answered (migration 026)
  };
  // Access of a moderator (the owner or a moderator) of a non-DM room, or 403 not_moderator.
  // CheckMayModerate's rule (schema/moderation.h).
  Result<Access> LoadModeratorAccess(const User& me, int64_t room_id, bool owner_only = false);
  // The target of a moderation action: known (404 user_not_found), not the
  // actor, not the owner, and not a moderator unless the actor owns the room
  // (403 target_protected).
  Result<User> LoadTarget(const Access& actor, const User& me, const std::string& username);
  // 409 room_name_taken when `name` passes for the name of a non-DM room
  // other than `self` (RoomNameSkeletonSql): a creation (self 0) or a rename.
  Status CheckRoomNameFree(const std::string& name, int64_t self);
  // 403 banned when the user is banned from the room; 403 blocked when
  // `from` may not reach `to` (to blocked from).
  Status CheckNotBanned(int64_t room_id, int64_t user_id);
  Status CheckNotBlocked(int64_t from_id, int64_t to_id);
  // In a direct conversation: 403 blocked when the other person blocked me.
  Status CheckDmNotBlocked(const User& me, int64_t room_id);
  // A `user` event addressed to `to` alone (PostgreSQL's UserEvent).
  Status AppendUserEvent(int64_t to, const std::string& data);
  // A moderation member event: the member's state after the action, and who acted.
  Status AppendModerationEvent(int64_t room_id, const Member& m, MemberAction action, const User& by,
                               const std::string* reason = nullptr,
                               Addressed addressed = Addressed::kRoomAndTarget);
  Status ApplyRole(int64_t room_id, const User& who, Role role);
  // UpdateMember's lookups and write of a mute: the end of a kept mute that
  // still runs (of a user out of the room), and the mute set or lifted where
  // the target's lives (their members row, or kept_mutes).
  Result<std::optional<int64_t>> LoadKeptMute(int64_t room_id, int64_t user_id);
  Status SetMute(int64_t room_id, const UpdateTarget& t, std::optional<int64_t> until);
  // kNotFound for unknown rooms and for private/dm rooms the user is not in
  // (their existence is not revealed); kForbidden not_a_member otherwise.
  Result<Access> LoadAccess(int64_t user_id, int64_t room_id, bool require_member);
  // The room and the user's membership in it as they are, with no verdict
  // (CheckRoomAccess): kNotFound only for a room that does not exist. For
  // the operator, who sees every room; users go through LoadAccess.
  Result<Access> LoadRoomAccess(int64_t user_id, int64_t room_id);
  Result<Room> LoadRoomView(const User& me, int64_t room_id);
  Result<std::optional<Message>> LoadMessage(int64_t id);
  // The author's own message in a room the author can still see; *access
  // (if given): the author's access to that room.
  Result<Message> LoadOwnMessage(const User& me, int64_t message_id, Access* access = nullptr);
  // Whether a member may speak in the room by any means (send, edit, add a
  // reaction, type): not muted (403 muted) and, in a DM, not blocked by the
  // other person (403 blocked).
  Status CheckMaySpeak(const User& me, const Access& a);
  // Takes one token from the user's bucket of that class inside the open
  // write transaction, or kThrottled with the seconds until one is back.
  Status ConsumeWriteToken(int64_t user_id, WriteClass c);
  Result<std::optional<Message>> FindByClientId(int64_t user_id, const std::optional<std::string>& client_id);
  Result<Message> InsertMessage(const User& me, int64_t room_id, const char* kind, const std::string& text,
                                std::optional<int64_t> reply_to, const std::optional<std::string>& client_id,
                                std::vector<Upload> attachments = {});
  // Moves the user's read marker in the room forward to event_id (never
  // back); *moved says whether it moved.
  Status MoveReadMarker(int64_t user_id, int64_t room_id, int64_t event_id, bool* moved);
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
  // The messages with these ids that exist, in that order, with details as
  // reader sees them: one detail query per kind for the list (search hits).
  Result<std::vector<Message>> LoadMessages(const std::vector<int64_t>& ids, int64_t reader_id);
  // The newest message of each room that has one, in room_ids' order, with
  // details as user sees them: one detail query per kind for the list.
  Result<std::vector<Message>> LastMessages(const std::vector<int64_t>& room_ids, int64_t user_id);
  // store_rooms.cc: the other person of each DM among rooms, one statement for all.
  Status FillPeers(std::span<Room> rooms, int64_t user_id);
  // Where a search reads: ids in [from, below), at most `scan` matches
  // (-1: every one).
  struct SearchWindow {
    int64_t below;
    int64_t from;
    int scan;
  };
  // Search's hits in `table` (messages_fts, or search_tail: the messages
  // not yet in it) for the MATCH expression `match`, newest first, at most
  // q.limit + 1. Returns the oldest match read when the scan stopped at its
  // bound short of the page, SearchPageOf's floor (store_search.cc).
  Result<std::optional<int64_t>> CollectHits(const char* table, const std::string& match, const SearchWindow& w,
                                             const User& me, const SearchQuery& q, SearchHits& hits);
  // The rooms a search's second step reads (SearchGoesOnInRooms): q's room,
  // or mine when I am in at most kSearchRoomsFirst; none otherwise.
  Result<std::vector<int64_t>> SearchRooms(const User& me, const SearchQuery& q);
  // The second step's floor for the rooms (ids, comma-separated) below `below`.
  Result<std::optional<int64_t>> SearchRoomsFloor(const std::string& rooms, int64_t below, int share);
  // Fills the temporary FTS5 table search_tail, on this connection only,
  // with the messages still waiting for the index that q could find.
  Status LoadSearchTail(const User& me, const SearchQuery& q);
  // A bounded merge of the search index's segments once this connection
  // indexed kMergeEveryCommits commits since its last (migration 011).
  Status MergeIndexIfDue();
  // Sets each message's reactions as user sees them (store_reactions.cc).
  Status AttachReactions(int64_t user_id, std::vector<Message>& messages);
  // Resolves @username in text to members of the room other than the
  // author and stores them for the message (store_messages.cc).
  // A new message (`replace` false) has none to delete first: that DELETE
  // was a tenth of a send's instructions (tools/bench/sendcost, index mode).
  Status StoreMentions(Message& m, bool replace = true);
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
  // muted_until: a member's return with a kept mute (MemberEventData).
  Status AppendMemberEvent(int64_t room_id, const User& user, Role role, MemberAction action,
                           std::optional<int64_t> muted_until = std::nullopt);
  // Every way into a room: inserts the member row unless present (403
  // banned), with the mute kept from an earlier membership if it still runs.
  // A request (the other person of a DM someone opened, migration 026)
  // counts against the user's requests, not their memberships.
  Status AddMember(int64_t room_id, const User& user, Role role, MemberAction action,
                   MemberEntry entry = MemberEntry::kMembership);
  // 403 membership_limit_reached when the user's memberships, their
  // requests aside, pass Limits::memberships_per_user.
  Status CheckMemberships(const User& user);
  // After a request's insert: past the cap, the oldest request goes (its
  // person leaves that DM, a `left` event), so that strangers' DMs never
  // crowd out anything else.
  Status DropOldestRequestPastCap(const User& user);
  // The person of a DM request answers it (a send in it, or opening it
  // themselves): it is a membership from now on, and counts as one.
  Status AnswerRequest(int64_t room_id, const User& user);
  // Every way out (leave, kick, ban): deletes the member row, and keeps a
  // mute that still runs in kept_mutes for the user's return (migration 017).
  Status RemoveMember(int64_t room_id, int64_t user_id);
  // In AddMember, after the insert: the kept mute, set on the new row if it
  // still runs (its value then), the kept row deleted either way.
  Result<std::optional<int64_t>> TakeKeptMute(int64_t room_id, int64_t user_id);
  // Pending invitations (store_invitations.cc): one, or none; whether one
  // was deleted; a moderator's withdrawal inside Kick's transaction (404
  // member_not_found when there is none either).
  Result<std::optional<Invitation>> LoadInvitation(int64_t room_id, int64_t user_id);
  Result<bool> DropInvitation(int64_t room_id, int64_t user_id);
  // The invitation, deleted, or none (decline, withdrawal).
  Result<std::optional<Invitation>> TakeInvitation(int64_t room_id, int64_t user_id);
  Status WithdrawInvitation(const User& me, int64_t room_id, const User& who);
  Result<std::unique_ptr<Transaction>> BeginWrite();
  Status CommitWrite(Transaction& tx);

  Db& db_;
  Limits limits_;
  int64_t pending_head_ = 0;  // highest event id appended in the open transaction
  int64_t notify_head_ = 0;
  uint64_t merged_at_ = 0;  // db_.before_commits() at the last merge step
};

}  // namespace parley

