#include "fcgi/router.h"

#include <vector>

#include "fcgi/input.h"

namespace parley::fcgi {
namespace {

struct RouteDef {
  const char* method;
  const char* pattern;  // '#' a numeric id segment, '*' a name segment
  RouteId id;
};

// Order matters only for the Allow header, which lists methods in this order.
constexpr RouteDef kRoutes[] = {
    {"POST", "/api/register", RouteId::kRegister},
    {"POST", "/api/login", RouteId::kLogin},
    {"POST", "/api/logout", RouteId::kLogout},
    {"GET", "/api/me", RouteId::kMe},
    {"GET", "/api/users", RouteId::kUsers},
    {"GET", "/api/rooms", RouteId::kRooms},
    {"POST", "/api/rooms", RouteId::kCreateRoom},
    {"POST", "/api/rooms/#/join", RouteId::kJoin},
    {"POST", "/api/rooms/#/leave", RouteId::kLeave},
    {"GET", "/api/rooms/#/members", RouteId::kMembers},
    {"POST", "/api/rooms/#/members", RouteId::kInvite},
    {"PUT", "/api/rooms/#/members/*", RouteId::kSetRole},
    {"POST", "/api/dm", RouteId::kDm},
    {"GET", "/api/rooms/#/messages", RouteId::kHistory},
    {"POST", "/api/rooms/#/messages", RouteId::kSend},
    {"POST", "/api/messages/#/answer", RouteId::kAnswer},
    {"PATCH", "/api/messages/#", RouteId::kEdit},
    {"DELETE", "/api/messages/#", RouteId::kDelete},
    {"POST", "/api/rooms/#/typing", RouteId::kTyping},
    {"POST", "/api/rooms/#/read", RouteId::kRead},
    {"GET", "/api/health", RouteId::kHealth},
    {"DELETE", "/api/rooms/#/members/*", RouteId::kKick},
    {"GET", "/api/rooms/#/bans", RouteId::kBans},
    {"PUT", "/api/rooms/#/bans/*", RouteId::kBan},
    {"DELETE", "/api/rooms/#/bans/*", RouteId::kUnban},
    {"POST", "/api/me/password", RouteId::kPassword},
    {"GET", "/api/me/blocks", RouteId::kBlocks},
    {"PUT", "/api/me/blocks/*", RouteId::kBlock},
    {"DELETE", "/api/me/blocks/*", RouteId::kUnblock},
    {"GET", "/api/admin/users", RouteId::kAdminUsers},
    {"POST", "/api/admin/users/*/deactivate", RouteId::kDeactivate},
    {"POST", "/api/admin/users/*/reactivate", RouteId::kReactivate},
    {"GET", "/api/rooms/directory", RouteId::kDirectory},
    {"PUT", "/api/rooms/#/notifications", RouteId::kNotifications},
    {"PUT", "/api/messages/#/reactions/*", RouteId::kReact},
    {"DELETE", "/api/messages/#/reactions/*", RouteId::kUnreact},
    {"GET", "/api/search", RouteId::kSearch},
    {"POST", "/api/uploads", RouteId::kUpload},
    {"GET", "/api/uploads/#", RouteId::kDownload},
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
    case RouteId::kSetRole:
    case RouteId::kDm:
    case RouteId::kSend:
    case RouteId::kAnswer:
    case RouteId::kEdit:
    case RouteId::kRead:
    case RouteId::kPassword:
    case RouteId::kNotifications:
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
