#include "fcgi/router.h"

#include <vector>

#include "fcgi/input.h"

namespace parley::fcgi {
namespace {

struct RouteDef {
  const char* method;
  const char* pattern;  // '#' a numeric id segment, '*' a name segment
  RouteId id;
  RunsOn runs;
};

constexpr RunsOn kReader = RunsOn::kReader;
constexpr RunsOn kBatch = RunsOn::kBatch;
constexpr RunsOn kAlone = RunsOn::kOwnTransaction;

// Order matters only for the Allow header, which lists methods in this order.
constexpr RouteDef kRoutes[] = {
    {"POST", "/api/register", RouteId::kRegister, kAlone},
    {"POST", "/api/login", RouteId::kLogin, kAlone},
    {"POST", "/api/logout", RouteId::kLogout, kBatch},
    {"GET", "/api/me", RouteId::kMe, kReader},
    {"GET", "/api/users", RouteId::kUsers, kReader},
    {"GET", "/api/rooms", RouteId::kRooms, kReader},
    {"POST", "/api/rooms", RouteId::kCreateRoom, kBatch},
    {"POST", "/api/rooms/#/join", RouteId::kJoin, kBatch},
    {"POST", "/api/rooms/#/leave", RouteId::kLeave, kBatch},
    {"GET", "/api/rooms/#/members", RouteId::kMembers, kReader},
    {"POST", "/api/rooms/#/members", RouteId::kInvite, kBatch},
    {"GET", "/api/rooms/#/members/*", RouteId::kMember, kReader},
    {"PUT", "/api/rooms/#/members/*", RouteId::kUpdateMember, kBatch},
    {"POST", "/api/dm", RouteId::kDm, kBatch},
    {"GET", "/api/rooms/#/messages", RouteId::kHistory, kReader},
    {"POST", "/api/rooms/#/messages", RouteId::kSend, kBatch},
    {"POST", "/api/messages/#/answer", RouteId::kAnswer, kBatch},
    {"PATCH", "/api/messages/#", RouteId::kEdit, kBatch},
    {"DELETE", "/api/messages/#", RouteId::kDelete, kBatch},
    {"POST", "/api/rooms/#/typing", RouteId::kTyping, kBatch},
    {"POST", "/api/rooms/#/read", RouteId::kRead, kBatch},
    {"GET", "/api/health", RouteId::kHealth, kReader},
    {"DELETE", "/api/rooms/#/members/*", RouteId::kKick, kBatch},
    {"GET", "/api/rooms/#/bans", RouteId::kBans, kReader},
    {"PUT", "/api/rooms/#/bans/*", RouteId::kBan, kBatch},
    {"DELETE", "/api/rooms/#/bans/*", RouteId::kUnban, kBatch},
    {"POST", "/api/me/password", RouteId::kPassword, kAlone},
    {"GET", "/api/me/blocks", RouteId::kBlocks, kReader},
    {"PUT", "/api/me/blocks/*", RouteId::kBlock, kBatch},
    {"DELETE", "/api/me/blocks/*", RouteId::kUnblock, kBatch},
    {"GET", "/api/admin/users", RouteId::kAdminUsers, kReader},
    {"POST", "/api/admin/users/*/deactivate", RouteId::kDeactivate, kBatch},
    {"POST", "/api/admin/users/*/reactivate", RouteId::kReactivate, kBatch},
    {"GET", "/api/rooms/directory", RouteId::kDirectory, kReader},
    {"PUT", "/api/rooms/#/notifications", RouteId::kNotifications, kBatch},
    {"PUT", "/api/messages/#/reactions/*", RouteId::kReact, kBatch},
    {"DELETE", "/api/messages/#/reactions/*", RouteId::kUnreact, kBatch},
    {"GET", "/api/search", RouteId::kSearch, kReader},
    {"POST", "/api/uploads", RouteId::kUpload, kAlone},
    {"GET", "/api/uploads/#", RouteId::kDownload, kReader},
    {"GET", "/api/rooms/#", RouteId::kRoom, kReader},
    {"PATCH", "/api/rooms/#", RouteId::kUpdateRoom, kBatch},
    {"GET", "/api/me/invitations", RouteId::kInvitations, kReader},
    {"DELETE", "/api/me/invitations/#", RouteId::kDeclineInvitation, kBatch},
    {"GET", "/api/rooms/#/invitations", RouteId::kRoomInvitations, kReader},
};

// Matches path against pattern segment by segment, filling num and name.
bool Matches(std::string_view pattern, std::string_view path, RouteMatch* m) {
  while (!pattern.empty() && !path.empty()) {
    if (pattern[0] != '/' || path[0] != '/') return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
    size_t pe = pattern.find('/'), se = path.find('/');
    std::string_view pseg = pattern.substr(0, pe), seg = path.substr(0, se);
    if (pseg == "#") {
      std::optional<int64_t> id = ParseId(seg);
      if (!id || *id == 0) return false;
      m->num = *id;
    } else if (pseg == "*") {
      if (seg.empty()) return false;
      m->name = std::string(seg);
    } else if (pseg != seg) {
      return false;
    }
    pattern = pe == std::string_view::npos ? std::string_view() : pattern.substr(pe);
    path = se == std::string_view::npos ? std::string_view() : path.substr(se);
  }
  return pattern.empty() && path.empty();
}

}  // namespace

RouteMatch Route(std::string_view method, std::string_view path) {
  RouteMatch result;
  for (const RouteDef& r : kRoutes) {
    RouteMatch m;
    if (!Matches(r.pattern, path, &m)) continue;
    if (method == r.method) {
      m.kind = RouteMatch::Kind::kFound;
      m.id = r.id;
      m.runs = r.runs;
      return m;
    }
    result.kind = RouteMatch::Kind::kWrongMethod;
    if (!result.allow.empty()) result.allow += ", ";
    result.allow += r.method;
  }
  return result;
}

bool TakesBody(RouteId id) {
  switch (id) {
    case RouteId::kRegister:
    case RouteId::kLogin:
    case RouteId::kCreateRoom:
    case RouteId::kInvite:
    case RouteId::kUpdateMember:
    case RouteId::kDm:
    case RouteId::kSend:
    case RouteId::kAnswer:
    case RouteId::kEdit:
    case RouteId::kRead:
    case RouteId::kPassword:
    case RouteId::kNotifications:
    case RouteId::kUpdateRoom:
      return true;
    default:
      return false;
  }
}

bool IsPublic(RouteId id) {
  return id == RouteId::kRegister || id == RouteId::kLogin || id == RouteId::kHealth;
}

}  // namespace parley::fcgi

namespace parley::fcgi {

std::string RouteLabel(RouteId id) {
  for (const RouteDef& r : kRoutes) {
    if (r.id != id) continue;
    std::string label = std::string(r.method) + " ";
    for (const char* p = r.pattern; *p; ++p) {
      if (*p == '#') {
        label += "{id}";
      } else if (*p == '*') {
        label += "{name}";
      } else {
        label += *p;
      }
    }
    return label;
  }
  return "?";
}

}  // namespace parley::fcgi
