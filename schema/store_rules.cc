#include "schema/store_rules.h"

#include <algorithm>
#include <string>
#include <string_view>

#include "schema/crypto.h"
#include "schema/json.h"

namespace parley {

namespace {

// A lower-cased name (SQL) without the characters of `separators`, then
// with the letters and digits that pass for others read as those.
std::string SkeletonSql(std::string lowered, std::string_view separators) {
  for (char c : separators) lowered = "replace(" + lowered + ", '" + c + "', '')";
  return "replace(replace(replace(replace(replace(" + lowered + ", 'rn', 'm'), 'vv', 'w'), 'i', 'l'), '1', 'l'), '0', 'o')";
}

}  // namespace

std::string UsernameSkeletonSql(const std::string& value) { return SkeletonSql("lower(" + value + ")", "._-"); }

std::string RoomNameSkeletonSql(const std::string& lowered) { return SkeletonSql(lowered, " ._-"); }

Status UsernameLooksTaken(const std::string& existing) {
  return Status::Conflict("username_taken", "that username passes for " + existing + "'s, which is taken");
}

Status RoomNameLooksTaken(bool same) {
  return Status::Conflict("room_name_taken", same ? "a room with that name exists"
                                                  : "a room with a name that passes for that one exists");
}

std::string RoomEventData(const Room& r) {
  JsonWriter w;
  w.BeginObject().Key("room").BeginObject();
  w.Key("id").Int(r.id).Key("name").String(r.name).Key("kind").String(ToString(r.kind));
  if (!r.topic.empty()) w.Key("topic").String(r.topic);
  if (r.owner) {
    w.Key("owner");
    Write(w, *r.owner);
  }
  if (r.answers_per_professor) w.Key("answers_per_professor").Int(*r.answers_per_professor);
  w.EndObject().EndObject();
  return w.Take();
}

Audience RoomEventAudience(RoomKind kind) {
  return kind == RoomKind::kPublic || kind == RoomKind::kQa ? Audience::kAll : Audience::kRoom;
}

bool ApplyRoomUpdate(Room& r, const RoomUpdate& u) {
  const bool changed = (u.name && *u.name != r.name) || (u.topic && *u.topic != r.topic);
  if (u.name) r.name = *u.name;
  if (u.topic) r.topic = *u.topic;
  return changed;
}

Status CheckRoomAccess(const Room& r, bool member, bool require_member) {
  if (!member && (r.kind == RoomKind::kPrivate || r.kind == RoomKind::kDm)) {
    return Status::NotFound("room_not_found", "no such room");
  }
  if (require_member && !member) return Status::Forbidden("not_a_member", "join the room first");
  return Status::Ok();
}

Status CheckMayOwn(const Room& r, bool member, const User& who) {
  if (r.kind == RoomKind::kDm) return Status::Invalid("invalid_field", "a direct conversation has no owner");
  if (!member) return Status::NotFound("member_not_found", who.username + " is not a member of this room");
  return Status::Ok();
}

Role DefaultRole(RoomKind kind) { return kind == RoomKind::kQa ? Role::kStudent : Role::kMember; }

bool RoleFitsKind(Role role, RoomKind kind) {
  return kind == RoomKind::kQa ? (role == Role::kStudent || role == Role::kProfessor) : role == Role::kMember;
}

Status ClientIdReused() {
  return Status::Conflict("client_id_reused", "that client_id was already used for a different message");
}

static_assert(kReplayKeyPrefix.front() == ' ', "KeyKindSql and the key indexes tell replay keys by their space");

const char* KeyKindSql(Storage::KeyKind kind) {
  return kind == Storage::KeyKind::kReplay ? "substr(client_id, 1, 1) = ' '" : "substr(client_id, 1, 1) <> ' '";
}

bool IsAnswerRetry(const Message& seen, int64_t question_id) {
  return seen.kind == "answer" && seen.reply_to == question_id;
}

Status AlreadyAnswered() {
  return Status::Conflict("already_answered", "another professor answered this question first");
}

Status MembershipLimitReached(const User& user, int64_t cap) {
  return Status::Forbidden("membership_limit_reached", user.username + " is in " + std::to_string(cap) +
                                                           " rooms and conversations already, the most one person "
                                                           "may be in: leaving one makes room for another");
}

Status CheckReactionBounds(int64_t mine, int64_t emoji) {
  if (mine > kReactionsPerPerson) {
    return Status::Forbidden("reaction_limit_reached", "you have " + std::to_string(kReactionsPerPerson) +
                                                           " reactions on this message already: remove one first");
  }
  if (emoji > kEmojiPerMessage) {
    return Status::Forbidden("reaction_limit_reached",
                             "this message carries " + std::to_string(kEmojiPerMessage) +
                                 " different reactions already: add yours to one of them");
  }
  return Status::Ok();
}

std::string DmIds(std::span<const Room> rooms) {
  std::string ids;
  for (const Room& r : rooms) {
    if (r.kind == RoomKind::kDm) ids += (ids.empty() ? "" : ",") + std::to_string(r.id);
  }
  return ids;
}

void SetPeers(std::span<Room> rooms, const std::unordered_map<int64_t, User>& peers) {
  for (Room& r : rooms) {
    if (auto it = peers.find(r.id); it != peers.end()) r.peer = it->second;
  }
}

int64_t RandomUploadId() { return static_cast<int64_t>(std::stoull(NewToken().substr(0, 13), nullptr, 16)) + 1; }

Status HideRoom(const Status& st) {
  if (st.code() == Code::kNotFound) return Status::NotFound("message_not_found", "no such message");
  return st;
}

Status CheckNotMuted(const std::optional<int64_t>& muted_until) {
  if (muted_until && *muted_until > NowMs()) {
    return Status::Forbidden("muted", "a moderator muted you in this room until " + std::to_string(*muted_until));
  }
  return Status::Ok();
}

Result<SearchPage> SearchPageOf(SearchHits hits, int limit, std::optional<int64_t> floor,
                                const std::function<Result<std::vector<Message>>(const std::vector<int64_t>&)>& load) {
  if (floor) {
    hits.erase(std::remove_if(hits.begin(), hits.end(), [&](const auto& h) { return h.first < *floor; }), hits.end());
  }
  std::sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  SearchPage page;
  if (static_cast<int>(hits.size()) > limit) {
    hits.resize(limit);
    page.next_before = hits.back().first;
  } else {
    page.next_before = floor;
  }
  std::vector<int64_t> ids;
  for (const auto& [id, snippet] : hits) ids.push_back(id);
  PARLEY_ASSIGN_OR_RETURN(std::vector<Message> messages, load(ids));
  for (size_t i = 0; i < messages.size(); ++i) {
    page.results.push_back(SearchHit{std::move(messages[i]), std::move(hits[i].second)});
  }
  return page;
}

size_t LatestPageBytes(const Room& room, const HistoryPage& page) {
  auto message = [](const Message& m) {
    size_t n = kMessageJsonOverhead + m.text.size() + m.user.username.size() + m.mentions.size() * 20;
    if (m.client_id) n += m.client_id->size();
    for (const Reaction& r : m.reactions) n += r.emoji.size() + 40;
    for (const Upload& u : m.attachments) n += u.name.size() + u.mime.size() + 120;
    return n;
  };
  size_t bytes = room.last_message ? message(*room.last_message) : 0;
  for (const Message& m : page.messages) bytes += message(m);
  return bytes;
}

void EndAtLatestBudget(RoomListPage& page) {
  if (page.latest.size() >= page.rooms.size() || page.latest.empty()) return;
  page.rooms.resize(page.latest.size());
  page.next = RoomCursor{page.rooms.back().last_event_id, page.rooms.back().id};
}

}  // namespace parley
