// The data model shared by both daemons. Plain values; JSON forms in json.h.
//
// Room kinds, roles, audiences and member actions are enums; model.cc is the
// one place that turns each into its wire and database string and back.
// Parse* returns nullopt for anything else, which the API answers with 400.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley {

enum class RoomKind { kPublic, kPrivate, kQa, kDm };
enum class Role { kMember, kStudent, kProfessor };  // member: ordinary rooms; the others: Q&A
// Who may read an event: the members of its room (plus its target_id), or everyone.
enum class Audience { kRoom, kAll };
// The "action" of a member event.
// kKicked and kBanned end the membership as kLeft does; the others
// (DESIGN section 3.1) change it in place or, for kUnbanned, lift a ban.
// kAdded: an invitation that added its invitee at once, as before migration
// 023 (older logs carry it). kInvited, kDeclined, kUninvited: a pending
// invitation made, declined by its invitee, withdrawn by a moderator.
enum class MemberAction {
  kJoined, kLeft, kAdded, kRole, kKicked, kBanned, kUnbanned, kMuted, kUnmuted, kModerator,
  kInvited, kDeclined, kUninvited
};
// A member's notification level in a room (PUT /api/rooms/{id}/notifications).
enum class NotifyLevel { kAll, kMentions, kNone };

const char* ToString(RoomKind kind);
const char* ToString(Role role);
const char* ToString(Audience audience);
const char* ToString(MemberAction action);
std::optional<RoomKind> ParseRoomKind(std::string_view s);
std::optional<Role> ParseRole(std::string_view s);
std::optional<Audience> ParseAudience(std::string_view s);
std::optional<MemberAction> ParseMemberAction(std::string_view s);
const char* ToString(NotifyLevel level);
std::optional<NotifyLevel> ParseNotifyLevel(std::string_view s);


struct User {
  int64_t id = 0;
  std::string username;
};

struct Message;

struct Room {
  int64_t id = 0;
  std::string name;
  std::string topic;  // one line the owner or a moderator sets; empty: none
  RoomKind kind = RoomKind::kPublic;
  std::optional<User> owner;
  std::optional<int64_t> answers_per_professor;
  // Seen from one user:
  bool member = false;
  std::optional<Role> role;
  int64_t unread = 0;
  int64_t last_event_id = 0;
  int64_t read_event_id = 0;  // members: my read marker (0: never read)
  std::optional<User> peer;  // the other person of a direct conversation
  // Room list (issue 12), members only: mentions of me after my marker,
  // my notification level, the latest message (null when none).
  int64_t unread_mentions = 0;
  NotifyLevel notifications = NotifyLevel::kAll;
  std::shared_ptr<const Message> last_message;
  // A DM someone else opened that I have not answered yet (POST /api/dm):
  // a message request, which counts against my memberships only once I
  // answer it, and which a newer one may push out.
  bool request = false;
};

struct Member {
  User user;
  Role role = Role::kMember;
  bool owner = false;
  bool online = false;
  bool moderator = false;
  std::optional<int64_t> muted_until;  // ms since the epoch, while in the future
  int64_t read_event_id = 0;           // their read marker (0: never read)
};

// A ban from a room: who, why, by whom (null once that account is gone), when.
struct Ban {
  User user;
  std::string reason;
  std::optional<User> by;
  int64_t ts = 0;
};

// A pending invitation (migration 023): to which room, for whom, by whom
// (null once that account is gone), when. The room as the invitee may see
// it before joining: its name, kind and topic.
struct Invitation {
  int64_t room_id = 0;
  std::string room_name;
  RoomKind room_kind = RoomKind::kPrivate;
  std::string room_topic;  // "" when none
  User user;
  std::optional<User> by;
  int64_t ts = 0;
};

// Reactions to a message as one reader sees them: counted per emoji.
struct Reaction {
  std::string emoji;
  int64_t count = 0;
  bool me = false;  // the reader is among them
};

// An uploaded file (store_uploads.cc). On a message it is an attachment;
// its bytes live in the uploads directory under its id.
struct Upload {
  int64_t id = 0;  // random, below 2^53: not guessable, yet a JSON number
  int64_t user_id = 0;
  std::string name;
  std::string mime;
  int64_t size = 0;
  std::optional<int64_t> width;   // images only
  std::optional<int64_t> height;  // images only
};

// A send or an answer without a client_id, through nginx, is keyed by
// nginx's $request_id (fcgi/http.h), which nginx's replay of the request on
// another worker (fastcgi_next_upstream, after a worker died between its
// commit and its answer) carries again: the replay then finds the message
// stored, as a retry with a client_id does, instead of storing it twice.
// Kept as the message's client_id under a prefix no client may send (a
// client_id is printable ASCII, which has no space), and never shown.
inline constexpr std::string_view kReplayKeyPrefix = " nginx ";
inline bool IsReplayKey(std::string_view client_id) { return client_id.starts_with(kReplayKeyPrefix); }

struct Message {
  int64_t id = 0;
  int64_t room_id = 0;
  User user;
  std::string kind;  // message | question | answer
  std::string text;
  std::optional<int64_t> reply_to;
  std::optional<int64_t> answer_id;  // questions: the accepted answer
  int64_t ts = 0;
  std::optional<std::string> client_id;
  bool edited = false;
  bool deleted = false;
  std::optional<User> deleted_by;  // set when someone other than the author deleted it
  std::vector<int64_t> mentions;    // members named by @username, in order
  std::vector<Reaction> reactions;  // filled for a reader (history, search), never in events
  std::vector<Upload> attachments;  // in the order they were sent
};

// One row of the event log. data is the JSON payload clients receive.
struct Event {
  int64_t id = 0;
  int64_t ts = 0;
  std::string type;
  std::optional<int64_t> room_id;
  std::optional<int64_t> target_id;
  Audience audience = Audience::kRoom;
  std::string data;
};

}  // namespace parley
