// The rules of rooms and messages that both Storage backends apply the same
// way (schema/store_*.cc for SQLite, schema/pg/store_*.cc for PostgreSQL):
// one definition, so that the two cannot drift apart in an error code, a
// message or an event's JSON.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "schema/model.h"
#include "schema/status.h"
#include "schema/storage.h"  // NowMs, RoomUpdate, RoomListQuery

namespace parley {

// What every reader of a `room` event may see: no per-user counters.
std::string RoomEventData(const Room& r);

// The skeleton of a username (`value`: a column or a parameter), in SQL both
// backends run: two names with one skeleton pass for each other. It is the
// name lower-cased, without `.`, `_` and `-` (so `a.lice` and `al_ice` are
// alice), then with `rn` read as `m`, `vv` as `w`, `i` and `1` as `l` and
// `0` as `o` (`aIice` and alice, `a1ice`, `rnary` and mary, `vvill` and
// will, `b0b` and bob). The separators go first: names that differ by them
// alone share a skeleton whatever else they hold (`r.nary` and `rnary`). A
// new name whose skeleton another has is refused (CreateUser). With
// `username` it is, to the byte, the expression the users_skeleton index is
// on (SQLite's migration 025, PostgreSQL's 022): SQLite uses an expression
// index only for the identical expression.
std::string UsernameSkeletonSql(const std::string& value);
// The skeleton of a room's name, as a username's, with the space a separator
// too (`Team Chat`, `team-chat` and `teamchat`). `lowered` is the name with
// A-Z lower-cased and no other letter, as the rooms_name index folds it:
// lower(name) on SQLite, whose lower() folds ASCII only, and lower(name
// COLLATE "C") on PostgreSQL, whose lower() otherwise follows the
// database's locale; so both backends find the same names alike. Other
// letters pass through as they are (`É` is not `é` here, nor Cyrillic `с`
// Latin `c`). With the index's column it is that index's expression
// (rooms_skeleton, the same migrations).
std::string RoomNameSkeletonSql(const std::string& lowered);
// 409 username_taken for a name that passes for `existing`'s.
Status UsernameLooksTaken(const std::string& existing);
// 409 room_name_taken for a name that passes for another room's; the room
// is not named: it may be a private one. `same`: the other room's name is
// this one in another ASCII case, which is told as a taken name always was.
Status RoomNameLooksTaken(bool same);
// Who hears of a room's creation or change: everyone for public and Q&A
// rooms (room lists and the directory stay live), its members for a
// private room (a DM's members are its only readers too).
Audience RoomEventAudience(RoomKind kind);
// UpdateRoom's change, the same on both backends: `r` (the room as it is)
// with u's fields applied; false if that leaves it as it was (no write, no
// event).
bool ApplyRoomUpdate(Room& r, const RoomUpdate& u);
// What a user may learn of a room, from the room and whether they are in
// it (LoadAccess on both backends): a private room or a DM is no business
// of anyone outside it (404 room_not_found, its existence not revealed);
// outside a public or Q&A room, 403 not_a_member where the caller needs a
// member. The operator (AdminSetOwner) reads rooms without this verdict.
Status CheckRoomAccess(const Room& r, bool member, bool require_member);
// AdminSetOwner's refusals, from the room as the new owner's access read
// it: a DM has no owner (400), a non-member cannot own it (404
// member_not_found, in a private room too: the operator sees every room).
Status CheckMayOwn(const Room& r, bool member, const User& who);
// The role of someone who joins or is added to a room of that kind.
Role DefaultRole(RoomKind kind);
// Professors and students in Q&A rooms, members elsewhere.
bool RoleFitsKind(Role role, RoomKind kind);

// A client_id names one send: reusing it for another room or another kind
// of message is a client bug, not a retry (409 client_id_reused).
Status ClientIdReused();
// The idempotency keys of one kind (Storage::DeleteExpiredKeys), in SQL both
// backends run: nginx's replay keys start with a space (kReplayKeyPrefix),
// which no client_id has (printable ASCII without one, fcgi/validate.cc).
// To the byte the predicate of the kind's partial index (SQLite's migration
// 027, PostgreSQL's 024): either planner takes a partial index only for a
// query whose WHERE holds the index's own condition.
const char* KeyKindSql(Storage::KeyKind kind);
// Whether `seen`, the message stored under the client_id an answer to
// question_id carries, is that answer, sent before (a retry: 200 with it).
// Anything else under it is a reuse, 409, a follow-up question with that
// very reply_to included (its author may have become a professor since).
bool IsAnswerRetry(const Message& seen, int64_t question_id);
// The question has a live answer: the first answer wins (409
// already_answered). Deleting that answer reopens the question.
Status AlreadyAnswered();

// A user who is in `cap` rooms and conversations already (Limits::
// memberships_per_user) is added to no other: 403 membership_limit_reached,
// for their own join, create, accept or DM, and for their answer to a DM
// request (below).
Status MembershipLimitReached(const User& user, int64_t cap);

// How a member row comes in. The other person of a DM that someone else
// opens comes in as a request (SQLite's migration 026, PostgreSQL's 023):
// counted against a cap of its own (memberships_per_user again; past it the
// oldest request goes), not against their memberships, until they answer
// it (a send in it, or opening it themselves). Before, 1,000 accounts
// opening a DM each filled someone's memberships, and then no one else
// could reach them.
enum class MemberEntry { kMembership, kRequest };

// Reactions one person may put on one message, and different emoji one
// message may carry: what bounds a message's `reactions` in every page of
// history (any 1-32 bytes make an emoji, and the react quota allows 172,800
// a day). Adding to an emoji the message carries is always allowed.
inline constexpr int64_t kReactionsPerPerson = 20;
inline constexpr int64_t kEmojiPerMessage = 50;
// After a reaction's insert: `mine`, the reactor's reactions on the message,
// and `emoji`, the message's different emoji, both counting the new one.
// 403 reaction_limit_reached past either bound.
Status CheckReactionBounds(int64_t mine, int64_t emoji);

// FillPeers of both backends: the ids of the DMs among rooms, comma-
// separated ("" when there is none), and each room's peer set from what
// the query found (room id -> the other person).
std::string DmIds(std::span<const Room> rooms);
void SetPeers(std::span<Room> rooms, const std::unordered_map<int64_t, User>& peers);

// The columns of an upload row `u`, in the order both backends read them.
inline constexpr const char* kUploadColumns = "u.id, u.user_id, u.name, u.mime, u.size, u.width, u.height";
// What one file costs against its uploader's quota: its size, but at least
// a file system block (4 KiB on ext4, xfs and tmpfs), which is what a file
// of one byte takes on the disk; 200 one-byte uploads took 800 KiB of
// blocks (and 200 inodes) while the quota counted 200 bytes.
inline constexpr int64_t kUploadMinChargeBytes = 4096;
// An upload's quota cost; the quota's SQL sums the same per row
// (MAX(size, 4096) on SQLite, GREATEST on PostgreSQL).
inline int64_t UploadCharge(int64_t size) { return size > kUploadMinChargeBytes ? size : kUploadMinChargeBytes; }
// A new upload's id: 52 random bits plus one, positive and below 2^53 (a
// JSON number any client reads exactly), so one id tells nothing of others.
int64_t RandomUploadId();
// A message in a room the reader cannot see is reported as not existing.
Status HideRoom(const Status& st);
// A muted member's sends and answers are refused inside the send's own
// transaction, so a send racing a mute is either before the mute event in
// the log or refused (403 muted).
Status CheckNotMuted(const std::optional<int64_t>& muted_until);

// A page of people from the rows read in user id order (limit + 1 asked:
// the one more says there is a next page, whose `after` is the last kept).
inline int64_t UserIdOf(const Member& m) { return m.user.id; }
inline int64_t UserIdOf(const Ban& b) { return b.user.id; }
inline int64_t UserIdOf(const User& u) { return u.id; }
inline int64_t UserIdOf(const Invitation& i) { return i.user.id; }
template <class Row>
std::optional<int64_t> TrimToPage(std::vector<Row>& rows, int limit) {
  if (static_cast<int>(rows.size()) <= limit) return std::nullopt;
  rows.resize(limit);
  if (rows.empty()) return std::nullopt;
  return UserIdOf(rows.back());
}

// with=latest's byte budget (RoomListQuery::latest_bytes), the same on
// both backends. A room's latest page as its JSON costs, estimated from
// what varies (texts, names, emoji, mention ids) plus a fixed share for
// each message's other members, and the room's last_message again.
constexpr size_t kMessageJsonOverhead = 256;
size_t LatestPageBytes(const Room& room, const HistoryPage& page);
// True once the latest pages read so far (their LatestPageBytes: `bytes`)
// reach the budget: the rooms after them are left to the next page.
inline bool LatestBudgetSpent(size_t bytes, const RoomListQuery& q) {
  return q.latest_bytes > 0 && bytes >= q.latest_bytes;
}
// After the loop that read the latest pages while LatestBudgetSpent was
// false: the page ends at the last room that has its page, and `next`
// resumes after it (the page's own `next`, from its limit, otherwise).
void EndAtLatestBudget(RoomListPage& page);

// What a backend's search queries found: message id and snippet, in any
// order; up to one more than the page (which tells that there are more).
using SearchHits = std::vector<std::pair<int64_t, std::string>>;
// The page of at most `limit` hits, newest first, each with its message as
// `load` gives them (for the ids in order; every hit exists, in the read
// transaction that found it). `floor`: the oldest match the index scan read
// when it stopped at SearchQuery::scan (none: it read every match); hits
// below it are left to the next page, which starts there.
Result<SearchPage> SearchPageOf(SearchHits hits, int limit, std::optional<int64_t> floor,
                                const std::function<Result<std::vector<Message>>(const std::vector<int64_t>&)>& load);

// A search's second step, on both backends. The first reads the newest
// SearchQuery::scan matches of every room and keeps the reader's: a reader
// whose rooms hold a tiny share of a word's matches (one quiet room of a
// thousand) got pages holding nothing. When that scan stopped at its bound
// with the page short, a search of one room, or by a reader in at most
// kSearchRoomsFirst rooms, goes on with the matches of those rooms alone
// below where it stopped, down to a floor above which at most
// SearchRoomShare of each room's messages lie: so the second step, too,
// reads at most about `scan` rows, whatever the word. More rooms than that
// cost a term each in the index (~1 ms each at a million messages on
// SQLite), and hold a fair share of most words' matches anyway.
constexpr size_t kSearchRoomsFirst = 16;
inline bool SearchGoesOnInRooms(size_t hits, const SearchQuery& q, std::optional<int64_t> floor) {
  return floor && hits <= static_cast<size_t>(q.limit);
}
// Each room's share of the second step's window (at least one message).
inline int SearchRoomShare(int scan, size_t rooms) {
  return rooms == 0 ? scan : std::max(1, static_cast<int>(scan / static_cast<int>(rooms)));
}

}  // namespace parley
