// fcgi/router.cc: every route of notes/api.md, and what must not match.
#include "fcgi/router.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace parley::fcgi {
namespace {

struct RouteCase {
  const char* method;
  const char* path;
  RouteId id;
  int64_t num;
  const char* name;
};

const RouteCase kCases[] = {
    {"POST", "/api/register", RouteId::kRegister, 0, ""},
    {"POST", "/api/login", RouteId::kLogin, 0, ""},
    {"POST", "/api/logout", RouteId::kLogout, 0, ""},
    {"GET", "/api/me", RouteId::kMe, 0, ""},
    {"GET", "/api/users", RouteId::kUsers, 0, ""},
    {"GET", "/api/rooms", RouteId::kRooms, 0, ""},
    {"POST", "/api/rooms", RouteId::kCreateRoom, 0, ""},
    {"POST", "/api/rooms/7/join", RouteId::kJoin, 7, ""},
    {"POST", "/api/rooms/8/leave", RouteId::kLeave, 8, ""},
    {"POST", "/api/rooms/9/members", RouteId::kInvite, 9, ""},
    {"GET", "/api/rooms/10/members", RouteId::kMembers, 10, ""},
    {"GET", "/api/me/invitations", RouteId::kInvitations, 0, ""},
    {"DELETE", "/api/me/invitations/31", RouteId::kDeclineInvitation, 31, ""},
    {"GET", "/api/rooms/10/members/bob", RouteId::kMember, 10, "bob"},
    {"PUT", "/api/rooms/11/members/alice.b-c_d", RouteId::kUpdateMember, 11, "alice.b-c_d"},
    {"POST", "/api/dm", RouteId::kDm, 0, ""},
    {"GET", "/api/rooms/12/messages", RouteId::kHistory, 12, ""},
    {"POST", "/api/rooms/13/messages", RouteId::kSend, 13, ""},
    {"POST", "/api/messages/14/answer", RouteId::kAnswer, 14, ""},
    {"PATCH", "/api/messages/15", RouteId::kEdit, 15, ""},
    {"DELETE", "/api/messages/16", RouteId::kDelete, 16, ""},
    {"POST", "/api/rooms/17/typing", RouteId::kTyping, 17, ""},
    {"POST", "/api/rooms/18/read", RouteId::kRead, 18, ""},
    {"GET", "/api/health", RouteId::kHealth, 0, ""},
    {"POST", "/api/uploads", RouteId::kUpload, 0, ""},
    {"GET", "/api/uploads/19", RouteId::kDownload, 19, ""},
    {"GET", "/api/rooms/20", RouteId::kRoom, 20, ""},
    {"PATCH", "/api/rooms/21", RouteId::kUpdateRoom, 21, ""},
};

TEST(RouterTest, EveryRouteMatches) {
  for (const RouteCase& c : kCases) {
    SCOPED_TRACE(std::string(c.method) + " " + c.path);
    RouteMatch m = Route(c.method, c.path);
    ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
    EXPECT_EQ(m.id, c.id);
    EXPECT_EQ(m.num, c.num);
    EXPECT_EQ(m.name, c.name);
  }
}

TEST(RouterTest, LargestIdIsCaptured) {
  RouteMatch m = Route("POST", "/api/rooms/999999999999999999/join");  // 18 digits
  ASSERT_EQ(m.kind, RouteMatch::Kind::kFound);
  EXPECT_EQ(m.num, int64_t{999999999999999999});
}

TEST(RouterTest, UnknownPathsAreNotFound) {
  for (const char* path : {"", "/", "/api", "/api/", "/api/nope", "/api/rooms/7/nope",
                           "/api/rooms/7/messages/extra", "/api/messages/7/answers", "/API/me", "/api/ME",
                           "api/me", "/api//me", "/api/me/x", "/events/stream", "/api/rooms/7/members/a/b"}) {
    RouteMatch m = Route("GET", path);
    EXPECT_EQ(m.kind, RouteMatch::Kind::kNotFound) << path;
    m = Route("POST", path);
    EXPECT_EQ(m.kind, RouteMatch::Kind::kNotFound) << path;
  }
}

TEST(RouterTest, TrailingSlashIsNotMatched) {
  for (const char* path : {"/api/me/", "/api/rooms/", "/api/rooms/7/join/", "/api/messages/7/",
                           "/api/rooms/7/members/", "/api/health/"}) {
    for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
      EXPECT_EQ(Route(method, path).kind, RouteMatch::Kind::kNotFound) << method << " " << path;
    }
  }
}

TEST(RouterTest, BadIdsAreNotFound) {
  for (const char* id : {"0", "-1", "+1", "abc", "1a", "1.0", "0x1", "1234567890123456789", "99999999999999999999",
                         "%31", " 1"}) {
    std::string rooms = std::string("/api/rooms/") + id + "/messages";
    EXPECT_EQ(Route("GET", rooms).kind, RouteMatch::Kind::kNotFound) << rooms;
    EXPECT_EQ(Route("POST", rooms).kind, RouteMatch::Kind::kNotFound) << rooms;
    std::string messages = std::string("/api/messages/") + id;
    EXPECT_EQ(Route("PATCH", messages).kind, RouteMatch::Kind::kNotFound) << messages;
    EXPECT_EQ(Route("DELETE", messages).kind, RouteMatch::Kind::kNotFound) << messages;
  }
  EXPECT_EQ(Route("POST", "/api/rooms//join").kind, RouteMatch::Kind::kNotFound);
}

TEST(RouterTest, WrongMethodListsTheAllowedOnes) {
  struct Case {
    const char* method;
    const char* path;
    const char* allow;
  };
  const Case cases[] = {
      {"DELETE", "/api/rooms/1/messages", "GET, POST"},
      {"PUT", "/api/rooms/1/messages", "GET, POST"},
      {"PUT", "/api/rooms", "GET, POST"},
      {"DELETE", "/api/rooms/1/members", "GET, POST"},
      {"POST", "/api/rooms/1/members/alice", "GET, PUT, DELETE"},
      {"POST", "/api/rooms/1/bans/alice", "PUT, DELETE"},
      {"POST", "/api/me/blocks", "GET"},
      {"GET", "/api/admin/users/alice/deactivate", "POST"},
      {"GET", "/api/messages/5", "PATCH, DELETE"},
      {"POST", "/api/messages/5", "PATCH, DELETE"},
      {"GET", "/api/messages/5/answer", "POST"},
      {"GET", "/api/register", "POST"},
      {"GET", "/api/login", "POST"},
      {"GET", "/api/logout", "POST"},
      {"POST", "/api/me", "GET"},
      {"DELETE", "/api/users", "GET"},
      {"POST", "/api/health", "GET"},
      {"GET", "/api/rooms/1/join", "POST"},
      {"GET", "/api/rooms/1/typing", "POST"},
      {"HEAD", "/api/me", "GET"},
      {"POST", "/api/rooms/1", "GET, PATCH"},
      {"DELETE", "/api/rooms/1", "GET, PATCH"},
      {"PATCH", "/api/rooms/directory", "GET"},
  };
  for (const Case& c : cases) {
    RouteMatch m = Route(c.method, c.path);
    EXPECT_EQ(m.kind, RouteMatch::Kind::kWrongMethod) << c.method << " " << c.path;
    EXPECT_EQ(m.allow, c.allow) << c.method << " " << c.path;
  }
}

TEST(RouterTest, BodiesAndPublicRoutes) {
  const std::vector<RouteId> with_body = {RouteId::kRegister, RouteId::kLogin,  RouteId::kCreateRoom,
                                          RouteId::kInvite,   RouteId::kUpdateMember, RouteId::kDm,
                                          RouteId::kSend,     RouteId::kAnswer, RouteId::kEdit,
                                          RouteId::kRead,     RouteId::kUpdateRoom};
  for (const RouteCase& c : kCases) {
    bool expected = std::find(with_body.begin(), with_body.end(), c.id) != with_body.end();
    EXPECT_EQ(TakesBody(c.id), expected) << c.method << " " << c.path;
    bool is_public = c.id == RouteId::kRegister || c.id == RouteId::kLogin || c.id == RouteId::kHealth;
    EXPECT_EQ(IsPublic(c.id), is_public) << c.method << " " << c.path;
  }
}

}  // namespace
}  // namespace parley::fcgi

namespace parley::fcgi {
namespace {

// Reads run on the request thread; every write of a signed-in user joins the
// group-committed batch; what hashes a password, or reads an uploaded file,
// runs alone (fcgi/router.h).
TEST(RouterTest, WhereEachRouteRuns) {
  for (const RouteCase& c : kCases) {
    RouteMatch m = Route(c.method, c.path);
    ASSERT_EQ(m.kind, RouteMatch::Kind::kFound) << c.method << " " << c.path;
    RunsOn expected = RunsOn::kBatch;
    if (std::string(c.method) == "GET") {
      expected = RunsOn::kReader;
    } else if (c.id == RouteId::kRegister || c.id == RouteId::kLogin || c.id == RouteId::kPassword ||
               c.id == RouteId::kUpload) {
      expected = RunsOn::kOwnTransaction;
    }
    EXPECT_EQ(m.runs, expected) << c.method << " " << c.path;
  }
}

}  // namespace
}  // namespace parley::fcgi
