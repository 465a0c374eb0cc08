// Conversations (issue 12, DESIGN section 3.2): the room list by activity,
// the directory, notification levels, reactions and search.
#include "fcgi/api.h"
#include "fcgi/input.h"
#include "fcgi/response.h"
#include "fcgi/search_query.h"
#include "fcgi/validate.h"

namespace parley::fcgi {
namespace {

// Rooms per page; changed_since without a limit is paged at the most.
constexpr int64_t kMaxRoomPage = 1000;
constexpr int64_t kMaxDirectory = 50;
constexpr int64_t kMaxSearch = 50;
// with=latest: each room's latest page, the size of GET /api/rooms/{id}/messages' default page.
constexpr int kLatestPage = 50;
// with=latest: an answer's latest pages stop at about this many bytes
// (RoomListQuery::latest_bytes), with `next` for the rest. Counts alone let
// 200 rooms of 50 messages of 16,000 bytes make one answer of 164 MB (the
// worker at 446 MB, 1 GB with two at once; ~820 MB at the 1,000-room cap,
// audit-c).
constexpr size_t kLatestBytes = size_t{4} << 20;

// The room list's cursor: "LAST_EVENT_ID:ROOM_ID" (RoomCursor), opaque to clients.
std::string FormatCursor(const RoomCursor& c) {
  return std::to_string(c.last_event_id) + ":" + std::to_string(c.room_id);
}

Result<std::optional<RoomCursor>> ParseCursor(std::string_view query) {
  std::optional<std::string> raw = QueryParam(query, "before");
  if (!raw) return std::optional<RoomCursor>();
  size_t colon = raw->find(':');
  std::optional<int64_t> event = colon == std::string::npos ? std::nullopt : ParseId(std::string_view(*raw).substr(0, colon));
  std::optional<int64_t> room = colon == std::string::npos ? std::nullopt : ParseId(std::string_view(*raw).substr(colon + 1));
  if (!event || !room || *event > kMaxId || *room > kMaxId) {
    return Status::Invalid("invalid_cursor", "before must be the next cursor of an earlier page");
  }
  return std::optional<RoomCursor>(RoomCursor{*event, *room});
}

// with=latest asks for each room's latest page of history in the same answer.
Result<bool> ParseWithLatest(std::string_view query) {
  std::optional<std::string> with = QueryParam(query, "with");
  if (!with) return false;
  if (*with != "latest") return Status::Invalid("invalid_field", "with may only be latest");
  return true;
}

// The rooms, each with "latest":{"messages","has_more"} when the page has them.
void WriteRooms(JsonWriter& w, const RoomListPage& page) {
  if (page.latest.empty()) {
    Write(w, page.rooms);
    return;
  }
  w.BeginArray();
  for (size_t i = 0; i < page.rooms.size(); ++i) {
    std::string room = ToJson(page.rooms[i]);
    room.pop_back();
    JsonWriter latest;
    latest.BeginObject().Key("messages");
    Write(latest, page.latest[i].messages);
    latest.Key("has_more").Bool(page.latest[i].has_more).EndObject();
    room += ",\"latest\":" + latest.Take() + "}";
    w.Raw(room);
  }
  w.EndArray();
}

}  // namespace

Result<Response> Api::RoomList(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> limit, QueryInt(c.req.query, "limit", 1, kMaxRoomPage));
  PARLEY_ASSIGN_OR_RETURN(std::optional<RoomCursor> before, ParseCursor(c.req.query));
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> changed, QueryInt(c.req.query, "changed_since", 0, kMaxId));
  PARLEY_ASSIGN_OR_RETURN(bool with_latest, ParseWithLatest(c.req.query));
  // Without any of them: today's list (my rooms and the public ones, by id).
  if (!limit && !before && !changed && !with_latest) return Rooms(c);
  RoomListQuery q;
  q.latest = with_latest ? kLatestPage : 0;
  q.latest_bytes = kLatestBytes;
  q.limit = static_cast<int>(limit.value_or(changed ? kMaxRoomPage : 50));
  q.before = before;
  q.changed_since = changed;
  PARLEY_ASSIGN_OR_RETURN(RoomListPage page, store_.ListRoomsPage(c.user, q));
  JsonWriter w;
  w.BeginObject().Key("rooms");
  WriteRooms(w, page);
  w.Key("next");
  if (page.next) {
    w.String(FormatCursor(*page.next));
  } else {
    w.Null();
  }
  if (changed) {
    w.Key("left").BeginArray();
    for (int64_t id : page.left) w.Int(id);
    w.EndArray();
  }
  w.EndObject();
  return JsonResponse(200, w.Take());
}

Result<Response> Api::Directory(Call& c) {
  std::string prefix = QueryParam(c.req.query, "prefix").value_or("");
  PARLEY_RETURN_IF_ERROR(ValidatePrefix(prefix, kMaxRoomName));
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> limit, QueryInt(c.req.query, "limit", 1, kMaxDirectory));
  PARLEY_ASSIGN_OR_RETURN(std::vector<Room> rooms,
                          store_.Directory(c.user, prefix, static_cast<int>(limit.value_or(kMaxDirectory))));
  return JsonResponse(200, Wrap("rooms", rooms));
}

Result<Response> Api::Notifications(Call& c) {
  PARLEY_ASSIGN_OR_RETURN(std::string name, RequireString(c.body, "level"));
  std::optional<NotifyLevel> level = ParseNotifyLevel(name);
  if (!level) return Status::Invalid("invalid_field", "level must be all, mentions or none");
  PARLEY_ASSIGN_OR_RETURN(Room room, store_.SetNotifications(c.user, c.route.num, *level));
  return JsonResponse(200, Wrap("room", room));
}

Result<Response> Api::React(Call& c, bool add) {
  std::optional<std::string> emoji = PercentDecode(c.route.name);
  if (!emoji) return Status::Invalid("invalid_emoji", "the emoji is not a well-formed percent-encoded path segment");
  PARLEY_RETURN_IF_ERROR(ValidateEmoji(*emoji));
  PARLEY_ASSIGN_OR_RETURN(ReactionResult r, store_.React(c.user, c.route.num, *emoji, add));
  return JsonResponse(200, Wrap("message", r.message));
}

Result<Response> Api::Search(Call& c) {
  std::optional<std::string> q = QueryParam(c.req.query, "q");
  if (!q) return Status::Invalid("invalid_query", "q is required");
  SearchQuery sq;
  PARLEY_ASSIGN_OR_RETURN(sq.match, BuildMatchExpression(*q));
  PARLEY_ASSIGN_OR_RETURN(sq.room_id, QueryInt(c.req.query, "room_id", 1, kMaxId));
  PARLEY_ASSIGN_OR_RETURN(sq.before, QueryInt(c.req.query, "before", 1, kMaxId));
  PARLEY_ASSIGN_OR_RETURN(std::optional<int64_t> limit, QueryInt(c.req.query, "limit", 1, kMaxSearch));
  sq.limit = static_cast<int>(limit.value_or(20));
  if (std::optional<std::string> from = QueryParam(c.req.query, "from")) {
    PARLEY_RETURN_IF_ERROR(ValidateUsername(*from));
    PARLEY_ASSIGN_OR_RETURN(std::optional<User> author, store_.FindUser(*from));
    // Nobody by that name wrote anything: an empty page, as for any filter,
    // once the room's access is checked (403/404 for a room_id I am not
    // in, whoever `from` names). Ids start at 1: 0 matches nobody.
    sq.from_user = author ? author->id : 0;
  }
  PARLEY_ASSIGN_OR_RETURN(SearchPage page, store_.Search(c.user, sq));
  JsonWriter w;
  w.BeginObject().Key("results").BeginArray();
  for (const SearchHit& h : page.results) {
    // The message object with one more member, "snippet".
    std::string m = ToJson(h.message);
    m.pop_back();
    m += ",\"snippet\":";
    AppendJsonString(m, h.snippet);
    m += '}';
    w.Raw(m);
  }
  w.EndArray().Key("has_more").Bool(page.has_more());
  if (page.next_before) w.Key("next_before").Int(*page.next_before);
  w.EndObject();
  return JsonResponse(200, w.Take());
}

}  // namespace parley::fcgi
