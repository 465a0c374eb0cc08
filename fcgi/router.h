// Maps a method and path to a route: pure, table-driven, unit-tested.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::fcgi {

enum class RouteId {
  kRegister, kLogin, kLogout, kMe, kUsers, kRooms, kCreateRoom, kJoin, kLeave, kInvite, kMembers,
  kMember,
  kUpdateMember, kDm, kHistory, kSend, kAnswer, kEdit, kDelete, kTyping, kRead, kHealth,
  // DESIGN section 3.1 (handlers_moderation.cc)
  kKick, kBans, kBan, kUnban, kPassword, kBlocks, kBlock, kUnblock, kAdminUsers, kDeactivate, kReactivate,
  // Conversations (issue 12).
  kDirectory, kNotifications, kReact, kUnreact, kSearch,
  kUpload, kDownload,
  // A room's name and topic.
  kRoom, kUpdateRoom,
  // Pending invitations (migration 023).
  kInvitations, kDeclineInvitation, kRoomInvitations,
};

// Where a route's requests run (fcgi/worker.cc): on the request thread's
// read connection; in the writer's group-committed batch (every write of a
// signed-in user); or on the request thread in a write transaction of its
// own, for what hashes a password (register, login, a password change):
// tens of milliseconds of Argon2 would hold up every write queued behind it;
// and for an upload, whose file is opened, read and sniffed before its short
// transaction (insert the row, rename the file) begins.
enum class RunsOn { kReader, kBatch, kOwnTransaction };

struct RouteMatch {
  enum class Kind { kFound, kNotFound, kWrongMethod };
  Kind kind = Kind::kNotFound;
  RouteId id = RouteId::kHealth;
  RunsOn runs = RunsOn::kReader;
  int64_t num = 0;       // the {id} in the path, if any
  std::string name;      // the {username} in the path, if any
  std::string allow;     // for kWrongMethod: the methods the path accepts
};

RouteMatch Route(std::string_view method, std::string_view path);

// Whether the route reads a JSON body.
bool TakesBody(RouteId id);
// Whether the route works without a session (register, login, health).
bool IsPublic(RouteId id);

}  // namespace parley::fcgi

namespace parley::fcgi {

// "POST /api/rooms/{id}/messages": the route's method and pattern, for
// metrics labels (fcgi/metrics.h); "?" for an id outside the table.
std::string RouteLabel(RouteId id);

}  // namespace parley::fcgi
