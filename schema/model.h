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
enum class MemberAction { kJoined, kLeft, kAdded, kRole };
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
};

struct Member {
  User user;
  Role role = Role::kMember;
  bool owner = false;
  bool online = false;
  int64_t read_event_id = 0;  // their read marker (receipts, issue 12)
};

// Reactions to a message as one reader sees them: counted per emoji.
struct Reaction {
  std::string emoji;
  int64_t count = 0;
  bool me = false;  // the reader is among them
};

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
  std::vector<int64_t> mentions;    // members named by @username, in order
  std::vector<Reaction> reactions;  // filled for a reader (history, search), never in events
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
