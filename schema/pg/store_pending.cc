// PgStore: the methods of Storage not yet written for PostgreSQL (issue 10).
// Each answers kInternal with its name, so a caller that reaches one on
// PostgreSQL gets a clear 500, never a wrong answer. This file shrinks as
// they are written and goes away with the last.
#include "schema/pg/store.h"

namespace parley::pg {

namespace {

Status NotYet(const char* method) {
  return Status::Internal(std::string("PgStore::") + method + " is not on PostgreSQL yet");
}

}  // namespace

// pgw: rooms and membership (store_rooms.cc).
Result<std::vector<Room>> PgStore::ListRooms(const User&) { return NotYet("ListRooms"); }
Result<Room> PgStore::CreateRoom(const User&, const std::string&, RoomKind, std::optional<int64_t>) {
  return NotYet("CreateRoom");
}
Result<Room> PgStore::GetRoom(const User&, int64_t) { return NotYet("GetRoom"); }
Result<Room> PgStore::Join(const User&, int64_t) { return NotYet("Join"); }
Status PgStore::Leave(const User&, int64_t) { return NotYet("Leave"); }
Result<std::pair<Member, bool>> PgStore::Invite(const User&, int64_t, const std::string&) { return NotYet("Invite"); }
Result<std::vector<Member>> PgStore::Members(const User&, int64_t) { return NotYet("Members"); }
Result<Member> PgStore::SetRole(const User&, int64_t, const std::string&, Role) { return NotYet("SetRole"); }
Result<std::pair<Room, bool>> PgStore::GetOrCreateDm(const User&, const std::string&) {
  return NotYet("GetOrCreateDm");
}
Status PgStore::AdminSetRole(int64_t, const std::string&, Role) { return NotYet("AdminSetRole"); }
Status PgStore::CheckMember(const User&, int64_t) { return NotYet("CheckMember"); }
Result<RoomListPage> PgStore::ListRoomsPage(const User&, const RoomListQuery&) { return NotYet("ListRoomsPage"); }
Result<std::vector<Room>> PgStore::Directory(const User&, const std::string&, int) { return NotYet("Directory"); }
Result<Room> PgStore::SetNotifications(const User&, int64_t, NotifyLevel) { return NotYet("SetNotifications"); }
Result<int64_t> PgStore::MemberCount(int64_t, int64_t) { return NotYet("MemberCount"); }

// pgw: reactions and search (store_reactions.cc, store_search.cc).
Result<ReactionResult> PgStore::React(const User&, int64_t, const std::string&, bool) { return NotYet("React"); }
Result<SearchPage> PgStore::Search(const User&, const SearchQuery&) { return NotYet("Search"); }

// pgw: messages (store_messages.cc).
Result<HistoryPage> PgStore::History(const User&, int64_t, std::optional<int64_t>, std::optional<int64_t>, int) {
  return NotYet("History");
}
Result<SendResult> PgStore::Send(const User&, int64_t, const std::string&, const std::optional<std::string>&,
                                 std::optional<int64_t>, const std::vector<int64_t>&) {
  return NotYet("Send");
}
Result<SendResult> PgStore::Answer(const User&, int64_t, const std::string&, const std::optional<std::string>&) {
  return NotYet("Answer");
}
Result<Message> PgStore::Edit(const User&, int64_t, const std::string&) { return NotYet("Edit"); }
Status PgStore::Delete(const User&, int64_t) { return NotYet("Delete"); }
Status PgStore::MarkRead(const User&, int64_t, int64_t, bool*) { return NotYet("MarkRead"); }

}  // namespace parley::pg
