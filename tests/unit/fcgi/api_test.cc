// fcgi/api.cc and handlers_*.cc: the REST API driven in-process
// (Api::Handle) over a real Store on a temporary SQLite file; and
// fcgi/notifier.cc against a real unix datagram socket.
//
// Argon2id costs ~50-100 ms per hash, so only the tests about passwords go
// through /api/register and /api/login; the others sign users in through
// the Store with a fake hash and a real session token.
#include "fcgi/api.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "fcgi/input.h"
#include "schema/crypto.h"
#include "schema/log.h"
#include "schema/moderation.h"
#include "schema/store.h"
#include "tests/unit/temp_db.h"

namespace parley::fcgi {
namespace {

constexpr const char* kHost = "chat.example";
constexpr const char* kOrigin = "http://chat.example";
constexpr const char* kPassword = "correct-horse";
using test::kFakeHash;

JsonPtr ParseBody(const Response& r) {
  JsonPtr j(cJSON_ParseWithLength(r.body.data(), r.body.size()));
  EXPECT_NE(j, nullptr) << "status " << r.status << " body: " << r.body;
  return j;
}
const cJSON* Get(const cJSON* obj, const char* key) { return cJSON_GetObjectItemCaseSensitive(obj, key); }
std::string Str(const cJSON* obj, const char* key) {
  const cJSON* v = Get(obj, key);
  return cJSON_IsString(v) ? v->valuestring : "<missing>";
}
int64_t Num(const cJSON* obj, const char* key) {
  const cJSON* v = Get(obj, key);
  return cJSON_IsNumber(v) ? static_cast<int64_t>(v->valuedouble) : -1;
}
std::optional<std::string> Header(const Response& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return std::nullopt;
}

// status, and a body of exactly {"error":{"code":code,"message":"..."}}.
::testing::AssertionResult IsError(const Response& r, int status, const std::string& code) {
  if (r.status != status) {
    return ::testing::AssertionFailure() << "status " << r.status << " instead of " << status << ": " << r.body;
  }
  JsonPtr j(cJSON_ParseWithLength(r.body.data(), r.body.size()));
  if (!j || !cJSON_IsObject(j.get())) return ::testing::AssertionFailure() << "not a JSON object: " << r.body;
  const cJSON* err = Get(j.get(), "error");
  if (cJSON_GetArraySize(j.get()) != 1 || !cJSON_IsObject(err)) {
    return ::testing::AssertionFailure() << "not {\"error\":{...}}: " << r.body;
  }
  const cJSON* c = Get(err, "code");
  const cJSON* m = Get(err, "message");
  if (cJSON_GetArraySize(err) != 2 || !cJSON_IsString(c) || !cJSON_IsString(m) || std::strlen(m->valuestring) == 0) {
    return ::testing::AssertionFailure() << "error is not {code, message}: " << r.body;
  }
  if (code != c->valuestring) return ::testing::AssertionFailure() << "code " << c->valuestring << " instead of " << code;
  return ::testing::AssertionSuccess();
}
#define EXPECT_API_ERROR(resp, status, code) EXPECT_TRUE(IsError((resp), (status), (code)))

class ApiTest : public ::testing::Test {
 protected:
  struct Session {
    User user;
    std::string token;
  };

  void SetUp() override {
    ASSERT_OK(CryptoInit());
    db_ = test::OpenDb(dir_.File("parley.db"));
    ASSERT_NE(db_, nullptr);
    store_ = std::make_unique<Store>(*db_);
    api_ = std::make_unique<Api>(*store_, quiet_);
  }

  // A request as nginx passes it: Host set, no credentials; "?" splits the query.
  static Request Req(const std::string& method, const std::string& target, const std::string& body = "") {
    Request r;
    r.method = method;
    size_t q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    r.body = body;
    if (!body.empty()) r.content_type = "application/json";
    r.host = kHost;
    r.remote_addr = "127.0.0.1";
    return r;
  }
  static Request Bearer(Request r, const std::string& token) {
    r.authorization = "Bearer " + token;
    return r;
  }
  static Request Cookie(Request r, const std::string& token) {
    r.cookie = "theme=dark; parley_session=" + token;
    return r;
  }

  Response Call(const Request& r) { return api_->Handle(r); }
  Response As(const Session& s, const std::string& method, const std::string& target, const std::string& body = "") {
    return Call(Bearer(Req(method, target, body), s.token));
  }

  // A signed-in user made through the Store: no Argon2id.
  Session SignIn(const std::string& name) {
    Session s;
    auto u = store_->CreateUser(name, kFakeHash);
    EXPECT_OK(u);
    if (!u.ok()) return s;
    s.user = *u;
    s.token = NewToken();
    EXPECT_OK(store_->CreateSession(s.user.id, TokenHash(s.token)));
    return s;
  }
  // Creates a room through the API and returns its id.
  int64_t CreateRoom(const Session& owner, const std::string& name, const std::string& kind) {
    Response r = As(owner, "POST", "/api/rooms", R"({"name":")" + name + R"(","kind":")" + kind + R"("})");
    EXPECT_EQ(r.status, 201) << r.body;
    JsonPtr j = ParseBody(r);
    return j ? Num(Get(j.get(), "room"), "id") : -1;
  }
  int64_t SendText(const Session& s, int64_t room, const std::string& text) {
    Response r = As(s, "POST", "/api/rooms/" + std::to_string(room) + "/messages", R"({"text":")" + text + R"("})");
    EXPECT_EQ(r.status, 201) << r.body;
    JsonPtr j = ParseBody(r);
    return j ? Num(Get(j.get(), "message"), "id") : -1;
  }

  test::TempDir dir_;
  std::unique_ptr<Db> db_;
  std::unique_ptr<Store> store_;
  Notifier quiet_{""};
  std::unique_ptr<Api> api_;
};

// ------------------------------------------------------------ accounts

TEST_F(ApiTest, RegisterReturnsTokenAndCookie) {
  Response r = Call(Req("POST", "/api/register", R"({"username":"alice","password":"correct-horse"})"));
  ASSERT_EQ(r.status, 201) << r.body;
  JsonPtr j = ParseBody(r);
  ASSERT_NE(j, nullptr);
  const cJSON* user = Get(j.get(), "user");
  EXPECT_GT(Num(user, "id"), 0);
  EXPECT_EQ(Str(user, "username"), "alice");
  const std::string token = Str(j.get(), "token");
  EXPECT_TRUE(LooksLikeToken(token)) << token;

  std::optional<std::string> cookie = Header(r, "Set-Cookie");
  ASSERT_TRUE(cookie.has_value());
  EXPECT_EQ(cookie->rfind("parley_session=" + token + ";", 0), 0u) << *cookie;
  EXPECT_NE(cookie->find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie->find("SameSite=Strict"), std::string::npos);
  EXPECT_NE(cookie->find("Path=/"), std::string::npos);
  EXPECT_EQ(cookie->find("Secure"), std::string::npos);  // plain http

  Response me = Call(Bearer(Req("GET", "/api/me"), token));
  ASSERT_EQ(me.status, 200) << me.body;
  JsonPtr mj = ParseBody(me);
  EXPECT_EQ(Str(Get(mj.get(), "user"), "username"), "alice");
  EXPECT_EQ(Call(Cookie(Req("GET", "/api/me"), token)).status, 200);

  // The new user is in `general`.
  EXPECT_EQ(Call(Bearer(Req("GET", "/api/rooms/1/messages"), token)).status, 200);
}

TEST_F(ApiTest, RegisterRefusesTakenNamesAndBadInput) {
  SignIn("alice");
  EXPECT_API_ERROR(Call(Req("POST", "/api/register", R"({"username":"ALICE","password":"correct-horse"})")), 409,
                   "username_taken");
  EXPECT_API_ERROR(Call(Req("POST", "/api/register", R"({"username":"a b","password":"correct-horse"})")), 400,
                   "invalid_field");
  EXPECT_API_ERROR(Call(Req("POST", "/api/register",
                            R"({"username":")" + std::string(33, 'a') + R"(","password":"correct-horse"})")),
                   400, "invalid_field");
  EXPECT_API_ERROR(Call(Req("POST", "/api/register", R"({"username":"bob","password":"short"})")), 400,
                   "invalid_field");
  EXPECT_API_ERROR(Call(Req("POST", "/api/register", R"({"username":"bob"})")), 400, "missing_field");
  EXPECT_API_ERROR(Call(Req("POST", "/api/register", R"({"password":"correct-horse"})")), 400, "missing_field");
  EXPECT_API_ERROR(Call(Req("POST", "/api/register", R"({"username":42,"password":"correct-horse"})")), 400,
                   "invalid_field");
}

TEST_F(ApiTest, LoginFailuresLookTheSame) {
  ASSERT_EQ(Call(Req("POST", "/api/register", R"({"username":"alice","password":"correct-horse"})")).status, 201);

  Response wrong = Call(Req("POST", "/api/login", R"({"username":"alice","password":"wrong-horse"})"));
  Response unknown = Call(Req("POST", "/api/login", R"({"username":"bob","password":"correct-horse"})"));
  Response invalid = Call(Req("POST", "/api/login", R"({"username":"b o b","password":"correct-horse"})"));
  EXPECT_API_ERROR(wrong, 401, "invalid_credentials");
  EXPECT_API_ERROR(unknown, 401, "invalid_credentials");
  EXPECT_API_ERROR(invalid, 401, "invalid_credentials");
  EXPECT_EQ(wrong.body, unknown.body);
  EXPECT_EQ(wrong.body, invalid.body);
  EXPECT_EQ(wrong.headers, unknown.headers);
  EXPECT_FALSE(Header(wrong, "Set-Cookie").has_value());

  Request ok = Req("POST", "/api/login", R"({"username":"alice","password":"correct-horse"})");
  ok.https = true;
  Response r = Call(ok);
  ASSERT_EQ(r.status, 200) << r.body;
  JsonPtr j = ParseBody(r);
  EXPECT_EQ(Str(Get(j.get(), "user"), "username"), "alice");
  const std::string token = Str(j.get(), "token");
  std::optional<std::string> cookie = Header(r, "Set-Cookie");
  ASSERT_TRUE(cookie.has_value());
  EXPECT_NE(cookie->find("parley_session=" + token), std::string::npos);
  EXPECT_NE(cookie->find("; Secure"), std::string::npos);  // served over TLS
  EXPECT_EQ(Call(Bearer(Req("GET", "/api/me"), token)).status, 200);
}

TEST_F(ApiTest, LoginIsThrottledEvenWithTheRightPassword) {
  ASSERT_OK_AND_ASSIGN(std::string hash, HashPassword(kPassword));
  ASSERT_OK(store_->CreateUser("alice", hash));
  Limits limits;
  limits.login_failures = 2;
  Store strict(*db_, limits);
  Api api(strict, quiet_);
  for (int i = 0; i < 2; ++i) {
    EXPECT_API_ERROR(api.Handle(Req("POST", "/api/login", R"({"username":"alice","password":"wrong-horse"})")), 401,
                     "invalid_credentials");
  }
  Response r = api.Handle(Req("POST", "/api/login", R"({"username":"Alice","password":"correct-horse"})"));
  EXPECT_API_ERROR(r, 429, "throttled");
  // The first backoff (15 s), less the time the Argon2id checks took.
  ASSERT_TRUE(Header(r, "Retry-After").has_value());
  EXPECT_GE(std::stoll(*Header(r, "Retry-After")), 5);
  EXPECT_LE(std::stoll(*Header(r, "Retry-After")), 15);
}

// Hardening item 10: somebody else's failures never lock the owner out.
// Through nginx every e2e client is 127.0.0.1, so the addresses are set here.
TEST_F(ApiTest, FailuresFromOneAddressNeverLockTheOwnerOut) {
  ASSERT_OK_AND_ASSIGN(std::string hash, HashPassword(kPassword));
  ASSERT_OK(store_->CreateUser("alice", hash));
  auto login = [&](const char* addr, const char* password) {
    Request r = Req("POST", "/api/login", std::string(R"({"username":"alice","password":")") + password + "\"}");
    r.remote_addr = addr;
    return Call(r);
  };
  for (int i = 0; i < 5; ++i) EXPECT_API_ERROR(login("203.0.113.5", "guess-guess"), 401, "invalid_credentials");
  Response locked = login("203.0.113.5", "guess-again");
  EXPECT_API_ERROR(locked, 429, "throttled");
  ASSERT_TRUE(Header(locked, "Retry-After").has_value());
  EXPECT_GE(std::stoll(*Header(locked, "Retry-After")), 5);
  EXPECT_LE(std::stoll(*Header(locked, "Retry-After")), 15);
  EXPECT_API_ERROR(login("203.0.113.5", kPassword), 429, "throttled");  // the guesser may not test the right one
  // The owner, from another address, signs in at once.
  Response owner = login("198.51.100.7", kPassword);
  EXPECT_EQ(owner.status, 200) << owner.body;
  // ... and that does not unblock the guesser's address.
  EXPECT_API_ERROR(login("203.0.113.5", kPassword), 429, "throttled");
}

// One host is given a /64 and may use any address in it: IPv6 guesses are
// counted by /64, or each of its 2^64 addresses had five tries at every
// account. Another /64 (the owner's) is not held back.
TEST_F(ApiTest, IPv6LoginFailuresCountByTheSlash64) {
  ASSERT_OK_AND_ASSIGN(std::string hash, HashPassword(kPassword));
  ASSERT_OK(store_->CreateUser("alice", hash));
  auto login = [&](const std::string& addr, const char* password) {
    Request r = Req("POST", "/api/login", std::string(R"({"username":"alice","password":")") + password + "\"}");
    r.remote_addr = addr;
    return Call(r);
  };
  for (int i = 0; i < 5; ++i) {
    EXPECT_API_ERROR(login("2001:db8:1:2::" + std::to_string(i + 1), "guess-guess"), 401, "invalid_credentials");
  }
  EXPECT_API_ERROR(login("2001:db8:1:2:abcd::9", "guess-again"), 429, "throttled");
  EXPECT_API_ERROR(login("2001:0db8:0001:0002:ffff:ffff:ffff:ffff", kPassword), 429, "throttled");
  EXPECT_EQ(login("2001:db8:1:3::1", kPassword).status, 200);
  // An IPv4-mapped address is its IPv4 one.
  for (int i = 0; i < 5; ++i) EXPECT_API_ERROR(login("::ffff:203.0.113.9", "guess-guess"), 401, "invalid_credentials");
  EXPECT_API_ERROR(login("203.0.113.9", "guess-again"), 429, "throttled");
}

TEST_F(ApiTest, TextIsStoredWithCrLfAndLoneCrAsNewlines) {
  Session alice = SignIn("alice");
  Response sent = As(alice, "POST", "/api/rooms/1/messages", R"({"text":"one\r\ntwo\rthree"})");
  ASSERT_EQ(sent.status, 201) << sent.body;
  JsonPtr sj = ParseBody(sent);
  EXPECT_EQ(Str(Get(sj.get(), "message"), "text"), "one\ntwo\nthree");
  const std::string edit = "/api/messages/" + std::to_string(Num(Get(sj.get(), "message"), "id"));
  Response edited = As(alice, "PATCH", edit, R"({"text":"four\r\nfive"})");
  ASSERT_EQ(edited.status, 200) << edited.body;
  EXPECT_EQ(Str(Get(ParseBody(edited).get(), "message"), "text"), "four\nfive");
  EXPECT_API_ERROR(As(alice, "POST", "/api/rooms/1/messages", R"({"text":"a\u009b2J"})"), 400, "invalid_field");
  EXPECT_API_ERROR(As(alice, "POST", "/api/rooms/1/messages", R"({"text":"\u00a0\u3000\u200b"})"), 400,
                   "invalid_field");
}

TEST_F(ApiTest, RoomNamesWithSpaceAroundThemAreRefused) {
  Session alice = SignIn("alice");
  EXPECT_API_ERROR(As(alice, "POST", "/api/rooms", R"({"name":"qa1 ","kind":"public"})"), 400, "invalid_field");
  EXPECT_API_ERROR(As(alice, "POST", "/api/rooms", R"({"name":"\u00a0\u00a0","kind":"public"})"), 400,
                   "invalid_field");
  EXPECT_EQ(As(alice, "POST", "/api/rooms", R"({"name":"qa1","kind":"public"})").status, 201);
}

TEST_F(ApiTest, ALowercaseBearerSchemeSignsIn) {
  Session alice = SignIn("alice");
  Request r = Req("GET", "/api/me");
  r.authorization = "bearer " + alice.token;
  EXPECT_EQ(Call(r).status, 200);
}

TEST_F(ApiTest, ADirectConversationWithAMalformedUsernameIs400) {
  Session alice = SignIn("alice");
  for (const char* name : {"", "a b", "..", "bob/x"}) {
    EXPECT_API_ERROR(As(alice, "POST", "/api/dm", R"({"username":")" + std::string(name) + R"("})"), 400,
                     "invalid_field")
        << name;
  }
  EXPECT_API_ERROR(As(alice, "POST", "/api/dm", R"({"username":"nobody"})"), 404, "user_not_found");
}

TEST_F(ApiTest, AnInvitationOfAMalformedUsernameIs400) {
  Session alice = SignIn("alice");
  const std::string members = "/api/rooms/" + std::to_string(CreateRoom(alice, "den", "private")) + "/members";
  for (const char* name : {"", "a b", "..", "bob/x"}) {
    EXPECT_API_ERROR(As(alice, "POST", members, R"({"username":")" + std::string(name) + R"("})"), 400,
                     "invalid_field")
        << name;
  }
  EXPECT_API_ERROR(As(alice, "POST", members, R"({"username":"nobody"})"), 404, "user_not_found");
}

TEST_F(ApiTest, MeNeedsAValidSession) {
  EXPECT_API_ERROR(Call(Req("GET", "/api/me")), 401, "not_signed_in");
  EXPECT_API_ERROR(Call(Bearer(Req("GET", "/api/me"), "garbage")), 401, "not_signed_in");
  EXPECT_API_ERROR(Call(Bearer(Req("GET", "/api/me"), NewToken())), 401, "not_signed_in");
  Request basic = Req("GET", "/api/me");
  basic.authorization = "Basic YWxpY2U6cHc=";
  EXPECT_API_ERROR(Call(basic), 401, "not_signed_in");
  EXPECT_API_ERROR(Call(Cookie(Req("GET", "/api/me"), "not-a-token")), 401, "not_signed_in");

  Session alice = SignIn("alice");
  Response me = As(alice, "GET", "/api/me");
  ASSERT_EQ(me.status, 200) << me.body;
  JsonPtr j = ParseBody(me);
  EXPECT_EQ(Num(Get(j.get(), "user"), "id"), alice.user.id);
  EXPECT_EQ(Str(Get(j.get(), "user"), "username"), "alice");
}

TEST_F(ApiTest, LogoutRevokesTheToken) {
  Session alice = SignIn("alice");
  // A cookie logout from another site is refused and changes nothing.
  EXPECT_API_ERROR(Call(Cookie(Req("POST", "/api/logout"), alice.token)), 403, "csrf_failed");
  EXPECT_EQ(As(alice, "GET", "/api/me").status, 200);

  Response r = As(alice, "POST", "/api/logout");
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.body.empty());
  std::optional<std::string> cookie = Header(r, "Set-Cookie");
  ASSERT_TRUE(cookie.has_value());
  EXPECT_EQ(cookie->rfind("parley_session=;", 0), 0u) << *cookie;
  EXPECT_NE(cookie->find("Max-Age=0"), std::string::npos);

  EXPECT_API_ERROR(As(alice, "GET", "/api/me"), 401, "not_signed_in");
  EXPECT_API_ERROR(Call(Cookie(Req("GET", "/api/me"), alice.token)), 401, "not_signed_in");
  EXPECT_API_ERROR(As(alice, "POST", "/api/logout"), 401, "not_signed_in");
}

TEST_F(ApiTest, CookieRequestsNeedSameOrigin) {
  Session alice = SignIn("alice");
  const std::string body = R"({"name":"Lobby","kind":"public"})";

  Request no_origin = Cookie(Req("POST", "/api/rooms", body), alice.token);
  EXPECT_API_ERROR(Call(no_origin), 403, "csrf_failed");
  Request evil = no_origin;
  evil.origin = "http://evil.example";
  EXPECT_API_ERROR(Call(evil), 403, "csrf_failed");
  Request wrong_scheme = no_origin;
  wrong_scheme.origin = "https://chat.example";  // but served over http
  EXPECT_API_ERROR(Call(wrong_scheme), 403, "csrf_failed");
  ASSERT_OK_AND_ASSIGN(std::vector<Room> rooms, store_->MyRooms(alice.user));
  EXPECT_EQ(rooms.size(), 1u);  // only general: nothing was created

  Request same = no_origin;
  same.origin = kOrigin;
  EXPECT_EQ(Call(same).status, 201);

  Request fetch = Cookie(Req("POST", "/api/rooms/1/typing"), alice.token);
  fetch.sec_fetch_site = "same-origin";
  EXPECT_EQ(Call(fetch).status, 204);

  Request tls = Cookie(Req("POST", "/api/rooms/1/typing"), alice.token);
  tls.https = true;
  tls.origin = "https://chat.example";
  EXPECT_EQ(Call(tls).status, 204);

  // Safe methods and Bearer requests need no Origin.
  EXPECT_EQ(Call(Cookie(Req("GET", "/api/rooms"), alice.token)).status, 200);
  EXPECT_EQ(As(alice, "POST", "/api/rooms/1/typing").status, 204);
}

TEST_F(ApiTest, CrossSiteLoginAndRegisterAreRefused) {
  Request login = Req("POST", "/api/login", R"({"username":"alice","password":"correct-horse"})");
  login.origin = "http://evil.example";
  EXPECT_API_ERROR(Call(login), 403, "csrf_failed");
  Request reg = Req("POST", "/api/register", R"({"username":"alice","password":"correct-horse"})");
  reg.origin = "http://evil.example";
  EXPECT_API_ERROR(Call(reg), 403, "csrf_failed");
  ASSERT_OK_AND_ASSIGN(std::optional<User> alice, store_->FindUser("alice"));
  EXPECT_FALSE(alice.has_value());
}

TEST_F(ApiTest, HealthNeedsNoSession) {
  Session alice = SignIn("alice");
  Response r = Call(Req("GET", "/api/health"));
  ASSERT_EQ(r.status, 200) << r.body;
  JsonPtr j = ParseBody(r);
  EXPECT_EQ(Str(j.get(), "status"), "ok");
  ASSERT_OK_AND_ASSIGN(int64_t head, store_->Head());
  EXPECT_EQ(Num(j.get(), "head"), head);
  EXPECT_EQ(Str(j.get(), "epoch").size(), 16u);
}

TEST_F(ApiTest, UserSearch) {
  Session alice = SignIn("alice");
  SignIn("albert");
  SignIn("bob");
  Response r = As(alice, "GET", "/api/users?prefix=AL");
  ASSERT_EQ(r.status, 200) << r.body;
  JsonPtr j = ParseBody(r);
  const cJSON* users = Get(j.get(), "users");
  ASSERT_TRUE(cJSON_IsArray(users));
  EXPECT_EQ(cJSON_GetArraySize(users), 2);
  EXPECT_EQ(Str(cJSON_GetArrayItem(users, 0), "username"), "albert");

  j = ParseBody(As(alice, "GET", "/api/users?prefix=al&limit=1"));
  EXPECT_EQ(cJSON_GetArraySize(Get(j.get(), "users")), 1);
  EXPECT_API_ERROR(As(alice, "GET", "/api/users?limit=0"), 400, "invalid_field");
  EXPECT_API_ERROR(As(alice, "GET", "/api/users?limit=51"), 400, "invalid_field");
  EXPECT_API_ERROR(As(alice, "GET", "/api/users?prefix=" + std::string(33, 'a')), 400, "invalid_field");
  EXPECT_API_ERROR(Call(Req("GET", "/api/users?prefix=al")), 401, "not_signed_in");
}

// ------------------------------------------------------------ messages

TEST_F(ApiTest, SendAndHistoryRoundTrip) {
  Session alice = SignIn("alice");
  Response sent = As(alice, "POST", "/api/rooms/1/messages", R"({"text":"hello","client_id":"c-1"})");
  ASSERT_EQ(sent.status, 201) << sent.body;
  JsonPtr sj = ParseBody(sent);
  const cJSON* m = Get(sj.get(), "message");
  const int64_t id = Num(m, "id");
  EXPECT_GT(id, 0);
  EXPECT_EQ(Num(m, "room_id"), 1);
  EXPECT_EQ(Num(Get(m, "user"), "id"), alice.user.id);
  EXPECT_EQ(Str(Get(m, "user"), "username"), "alice");
  EXPECT_EQ(Str(m, "kind"), "message");
  EXPECT_EQ(Str(m, "text"), "hello");
  EXPECT_EQ(Str(m, "client_id"), "c-1");
  EXPECT_GT(Num(m, "ts"), 0);
  EXPECT_EQ(Get(m, "edited"), nullptr);   // optional keys are absent when not set
  EXPECT_EQ(Get(m, "deleted"), nullptr);
  EXPECT_EQ(Get(m, "reply_to"), nullptr);

  Response again = As(alice, "POST", "/api/rooms/1/messages", R"({"text":"hello again","client_id":"c-1"})");
  ASSERT_EQ(again.status, 200) << again.body;
  JsonPtr aj = ParseBody(again);
  EXPECT_EQ(Num(Get(aj.get(), "message"), "id"), id);
  EXPECT_EQ(Str(Get(aj.get(), "message"), "text"), "hello");

  Response hist = As(alice, "GET", "/api/rooms/1/messages");
  ASSERT_EQ(hist.status, 200) << hist.body;
  JsonPtr hj = ParseBody(hist);
  const cJSON* msgs = Get(hj.get(), "messages");
  ASSERT_TRUE(cJSON_IsArray(msgs));
  ASSERT_EQ(cJSON_GetArraySize(msgs), 1);
  EXPECT_EQ(Num(cJSON_GetArrayItem(msgs, 0), "id"), id);
  EXPECT_EQ(Str(cJSON_GetArrayItem(msgs, 0), "text"), "hello");
  EXPECT_TRUE(cJSON_IsFalse(Get(hj.get(), "has_more")));

  const int64_t second = SendText(alice, 1, "second");
  hj = ParseBody(As(alice, "GET", "/api/rooms/1/messages?limit=1"));
  ASSERT_EQ(cJSON_GetArraySize(Get(hj.get(), "messages")), 1);
  EXPECT_EQ(Num(cJSON_GetArrayItem(Get(hj.get(), "messages"), 0), "id"), second);
  EXPECT_TRUE(cJSON_IsTrue(Get(hj.get(), "has_more")));
  hj = ParseBody(As(alice, "GET", "/api/rooms/1/messages?before=" + std::to_string(second) + "&limit=1"));
  EXPECT_EQ(Num(cJSON_GetArrayItem(Get(hj.get(), "messages"), 0), "id"), id);
  EXPECT_TRUE(cJSON_IsFalse(Get(hj.get(), "has_more")));
  hj = ParseBody(As(alice, "GET", "/api/rooms/1/messages?after=" + std::to_string(id)));
  ASSERT_EQ(cJSON_GetArraySize(Get(hj.get(), "messages")), 1);
  EXPECT_EQ(Num(cJSON_GetArrayItem(Get(hj.get(), "messages"), 0), "id"), second);

  for (const char* q : {"limit=0", "limit=201", "limit=x", "before=abc", "before=0", "after=-1"}) {
    EXPECT_API_ERROR(As(alice, "GET", std::string("/api/rooms/1/messages?") + q), 400, "invalid_field") << q;
  }

  Response edited = As(alice, "PATCH", "/api/messages/" + std::to_string(id), R"({"text":"hello, edited"})");
  ASSERT_EQ(edited.status, 200) << edited.body;
  JsonPtr ej = ParseBody(edited);
  EXPECT_EQ(Str(Get(ej.get(), "message"), "text"), "hello, edited");
  EXPECT_TRUE(cJSON_IsTrue(Get(Get(ej.get(), "message"), "edited")));

  Response deleted = As(alice, "DELETE", "/api/messages/" + std::to_string(id));
  EXPECT_EQ(deleted.status, 204);
  EXPECT_TRUE(deleted.body.empty());
  hj = ParseBody(As(alice, "GET", "/api/rooms/1/messages"));
  const cJSON* first = cJSON_GetArrayItem(Get(hj.get(), "messages"), 0);
  EXPECT_EQ(Num(first, "id"), id);
  EXPECT_EQ(Str(first, "text"), "");
  EXPECT_TRUE(cJSON_IsTrue(Get(first, "deleted")));
  EXPECT_API_ERROR(As(alice, "PATCH", "/api/messages/" + std::to_string(id), R"({"text":"x"})"), 409,
                   "message_deleted");
}

// A send without client_id is keyed by nginx's request id (schema/model.h,
// kReplayKeyPrefix): nginx's replay of it, the same id again, finds it
// stored (200) instead of storing a copy. Only 32 lower-case hex digits,
// as nginx writes $request_id, key anything; the key is never shown.
TEST_F(ApiTest, ASendWithoutClientIdIsKeyedByNginxsRequestId) {
  Session alice = SignIn("alice");
  auto send = [&](const std::string& request_id, const std::string& body) {
    Request r = Bearer(Req("POST", "/api/rooms/1/messages", body), alice.token);
    r.request_id = request_id;
    return Call(r);
  };
  const std::string id = "0123456789abcdef0123456789abcdef";
  Response first = send(id, R"({"text":"once"})");
  ASSERT_EQ(first.status, 201) << first.body;
  JsonPtr fj = ParseBody(first);
  const cJSON* m = Get(fj.get(), "message");
  EXPECT_EQ(Get(m, "client_id"), nullptr) << first.body;
  Response replay = send(id, R"({"text":"once"})");
  ASSERT_EQ(replay.status, 200) << replay.body;
  JsonPtr rj = ParseBody(replay);
  EXPECT_EQ(Num(Get(rj.get(), "message"), "id"), Num(m, "id"));
  EXPECT_EQ(Get(Get(rj.get(), "message"), "client_id"), nullptr) << replay.body;
  // A client_id of the client's own keys the send, not the request id.
  Response own = send(id, R"({"text":"mine","client_id":"c-1"})");
  ASSERT_EQ(own.status, 201) << own.body;
  EXPECT_EQ(Str(Get(ParseBody(own).get(), "message"), "client_id"), "c-1");
  // No request id, or one nginx never writes: every send stored.
  for (const std::string& bad : {std::string(), id.substr(1), id + "0", std::string(32, 'A'), " " + id.substr(1),
                                 std::string("0123456789abcdef0123456789abcdeg")}) {
    EXPECT_EQ(send(bad, R"({"text":"x"})").status, 201) << bad;
    EXPECT_EQ(send(bad, R"({"text":"x"})").status, 201) << bad;
  }
  JsonPtr hj = ParseBody(As(alice, "GET", "/api/rooms/1/messages"));
  EXPECT_EQ(cJSON_GetArraySize(Get(hj.get(), "messages")), 2 + 12);
  // A client cannot send the key's form as its own client_id: no space.
  EXPECT_API_ERROR(send("", R"({"text":"x","client_id":" nginx 0123"})"), 400, "invalid_field");
}

// Reads count per user, all sessions together (read_quota.h), in the
// bucket the worker hands every Api: nginx bounds each session alone.
TEST_F(ApiTest, ReadsOfAllOfAUsersSessionsShareOneBucket) {
  ReadQuota reads(Rate{0.001, 5});
  api_ = std::make_unique<Api>(*store_, quiet_, UploadDirs{}, &reads);
  Session alice = SignIn("alice");
  Session again = alice;
  again.token = NewToken();
  ASSERT_OK(store_->CreateSession(alice.user.id, TokenHash(again.token)));
  Session bob = SignIn("bob");
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(As(i % 2 == 0 ? alice : again, "GET", "/api/me").status, 200) << i;
  }
  // Writes and public reads are not reads of this bucket.
  EXPECT_EQ(As(again, "POST", "/api/rooms/1/messages", R"({"text":"still"})").status, 201);
  EXPECT_EQ(Call(Req("GET", "/api/health")).status, 200);
  for (const Session* s : {&alice, &again}) {
    Response r = As(*s, "GET", "/api/rooms/1/messages");
    EXPECT_API_ERROR(r, 429, "throttled");
    EXPECT_EQ(Header(r, "Retry-After").value_or(""), "1000") << r.body;
  }
  EXPECT_EQ(As(bob, "GET", "/api/me").status, 200) << "bob's bucket is his own";
}

TEST_F(ApiTest, SendChecksInputAndAccess) {
  Session alice = SignIn("alice");
  Session bob = SignIn("bob");
  const std::string room = "/api/rooms/1/messages";
  EXPECT_API_ERROR(As(alice, "POST", room, R"({"text":"   "})"), 400, "invalid_field");
  EXPECT_API_ERROR(As(alice, "POST", room, R"({"text":")" + std::string(4001, 'x') + R"("})"), 400, "invalid_field");
  EXPECT_EQ(As(alice, "POST", room, R"({"text":")" + std::string(4000, 'x') + R"("})").status, 201);
  EXPECT_API_ERROR(As(alice, "POST", room, R"({"text":"\u001b[2J"})"), 400, "invalid_field");
  EXPECT_API_ERROR(As(alice, "POST", room, R"({"text":"a\u0000b"})"), 400, "invalid_field");
  EXPECT_API_ERROR(As(alice, "POST", room, R"({"text":"ok","client_id":"has space"})"), 400, "invalid_field");
  EXPECT_API_ERROR(As(alice, "POST", room, R"({"text":"ok","client_id":7})"), 400, "invalid_field");
  EXPECT_API_ERROR(As(alice, "POST", room, R"({"client_id":"c"})"), 400, "missing_field");
  EXPECT_API_ERROR(As(alice, "POST", room, R"({"text":5})"), 400, "invalid_field");

  EXPECT_API_ERROR(As(alice, "POST", "/api/rooms/999/messages", R"({"text":"hi"})"), 404, "room_not_found");
  const int64_t secret = CreateRoom(alice, "secret", "private");
  const int64_t lobby = CreateRoom(alice, "Lobby", "public");
  EXPECT_API_ERROR(As(bob, "POST", "/api/rooms/" + std::to_string(secret) + "/messages", R"({"text":"hi"})"), 404,
                   "room_not_found");
  EXPECT_API_ERROR(As(bob, "GET", "/api/rooms/" + std::to_string(secret) + "/messages"), 404, "room_not_found");
  EXPECT_API_ERROR(As(bob, "POST", "/api/rooms/" + std::to_string(lobby) + "/messages", R"({"text":"hi"})"), 403,
                   "not_a_member");
  EXPECT_API_ERROR(As(bob, "GET", "/api/rooms/" + std::to_string(lobby) + "/messages"), 403, "not_a_member");

  const int64_t mine = SendText(alice, 1, "mine");
  EXPECT_API_ERROR(As(bob, "PATCH", "/api/messages/" + std::to_string(mine), R"({"text":"x"})"), 403, "not_author");
  EXPECT_API_ERROR(As(bob, "DELETE", "/api/messages/" + std::to_string(mine)), 403, "not_author");
  EXPECT_API_ERROR(As(bob, "DELETE", "/api/messages/999999"), 404, "message_not_found");
}

TEST_F(ApiTest, QuestionsAndAnswers) {
  Session alice = SignIn("alice");
  Session bob = SignIn("bob");
  Session carol = SignIn("carol");
  const int64_t qa = CreateRoom(alice, "Physics", "qa");
  const std::string base = "/api/rooms/" + std::to_string(qa);
  Response joined = As(bob, "POST", base + "/join");
  ASSERT_EQ(joined.status, 200) << joined.body;
  EXPECT_EQ(Str(Get(ParseBody(joined).get(), "room"), "role"), "student");
  ASSERT_EQ(As(carol, "POST", base + "/join").status, 200);
  ASSERT_EQ(As(alice, "PUT", base + "/members/carol", R"({"role":"professor"})").status, 200);

  Response q = As(bob, "POST", base + "/messages", R"({"text":"why?"})");
  ASSERT_EQ(q.status, 201) << q.body;
  JsonPtr qj = ParseBody(q);
  EXPECT_EQ(Str(Get(qj.get(), "message"), "kind"), "question");
  const std::string qid = std::to_string(Num(Get(qj.get(), "message"), "id"));
  EXPECT_API_ERROR(As(alice, "POST", base + "/messages", R"({"text":"statement"})"), 403, "professors_cannot_ask");
  EXPECT_API_ERROR(As(bob, "POST", "/api/messages/" + qid + "/answer", R"({"text":"me"})"), 403, "not_professor");

  Response a = As(alice, "POST", "/api/messages/" + qid + "/answer", R"({"text":"because"})");
  ASSERT_EQ(a.status, 201) << a.body;
  JsonPtr aj = ParseBody(a);
  EXPECT_EQ(Str(Get(aj.get(), "message"), "kind"), "answer");
  EXPECT_EQ(std::to_string(Num(Get(aj.get(), "message"), "reply_to")), qid);
  EXPECT_API_ERROR(As(carol, "POST", "/api/messages/" + qid + "/answer", R"({"text":"too"})"), 409,
                   "already_answered");
  const std::string aid = std::to_string(Num(Get(aj.get(), "message"), "id"));
  EXPECT_API_ERROR(As(carol, "POST", "/api/messages/" + aid + "/answer", R"({"text":"re"})"), 400, "not_a_question");
  EXPECT_API_ERROR(As(carol, "POST", "/api/messages/999999/answer", R"({"text":"re"})"), 404, "message_not_found");
}

// Every class of write has its own bucket per user; a refused write is 429
// with the real seconds until a token is back.
TEST_F(ApiTest, EveryWriteClassIs429WithRetryAfter) {
  Session alice = SignIn("alice"), bob = SignIn("bob");
  SignIn("carol");
  SignIn("dave");
  // Prepared through the default (generous) limits.
  const int64_t lobby = CreateRoom(bob, "Lobby", "public"), hall = CreateRoom(bob, "Hall", "public");
  const int64_t mine = CreateRoom(alice, "Mine", "private"), also = CreateRoom(alice, "Also", "private");
  const std::string m1 = std::to_string(SendText(alice, 1, "one")), m2 = std::to_string(SendText(alice, 1, "two"));
  ASSERT_EQ(As(alice, "POST", "/api/rooms/" + std::to_string(hall) + "/join").status, 200);
  const std::string r = "/api/rooms/";
  struct Write {
    WriteClass c;
    std::string method, first, second, body1, body2;
  };
  const std::vector<Write> writes = {
      {WriteClass::kSend, "POST", r + "1/messages", r + "1/messages", R"({"text":"a"})", R"({"text":"b"})"},
      {WriteClass::kEdit, "PATCH", "/api/messages/" + m1, "/api/messages/" + m1, R"({"text":"c"})", R"({"text":"d"})"},
      {WriteClass::kDelete, "DELETE", "/api/messages/" + m1, "/api/messages/" + m2, "", ""},
      {WriteClass::kJoin, "POST", r + std::to_string(lobby) + "/join", r + "1/join", "", ""},
      {WriteClass::kLeave, "POST", r + std::to_string(lobby) + "/leave", r + std::to_string(hall) + "/leave", "", ""},
      {WriteClass::kCreateRoom, "POST", "/api/rooms", "/api/rooms", R"({"name":"x1","kind":"public"})",
       R"({"name":"x2","kind":"public"})"},
      {WriteClass::kInvite, "POST", r + std::to_string(mine) + "/members", r + std::to_string(also) + "/members",
       R"({"username":"bob"})", R"({"username":"bob"})"},
      {WriteClass::kDm, "POST", "/api/dm", "/api/dm", R"({"username":"carol"})", R"({"username":"dave"})"},
      {WriteClass::kTyping, "POST", r + "1/typing", r + "1/typing", "", ""},
      {WriteClass::kRead, "POST", r + "1/read", r + "1/read", R"({"event_id":1})", R"({"event_id":2})"},
      {WriteClass::kModerate, "PUT", "/api/me/blocks/carol", "/api/me/blocks/dave", "", ""},
      {WriteClass::kUpload, "POST", "/api/uploads?name=a.txt", "/api/uploads?name=b.txt", "", ""},
      {WriteClass::kReact, "PUT", "/api/messages/" + m2 + "/reactions/a", "/api/messages/" + m2 + "/reactions/b",
       "", ""},
      {WriteClass::kRoomEdit, "PATCH", r + std::to_string(mine), r + std::to_string(also), R"({"topic":"a"})",
       R"({"topic":"b"})"},
  };
  ASSERT_EQ(writes.size(), kWriteClasses);
  Limits limits;
  for (Rate& rate : limits.write_rates) rate = Rate{0.01, 1};  // one token, then one per 100 s
  Store strict(*db_, limits);
  // Uploads come as files nginx spooled (fcgi/handlers_uploads.cc).
  UploadDirs dirs{dir_.File("spool"), dir_.File("uploads")};
  ASSERT_TRUE(std::filesystem::create_directory(dirs.spool) && std::filesystem::create_directory(dirs.files));
  auto spooled = [&](const std::string& name) {
    std::ofstream(dirs.spool + "/" + name) << "bytes of " << name;
    return dirs.spool + "/" + name;
  };
  Api api(strict, quiet_, dirs);
  for (const Write& w : writes) {
    SCOPED_TRACE(ToString(w.c));
    Request first = Bearer(Req(w.method, w.first, w.body1), alice.token);
    Request second = Bearer(Req(w.method, w.second, w.body2), alice.token);
    if (w.c == WriteClass::kUpload) {
      first.upload_file = spooled("1");
      second.upload_file = spooled("2");
    }
    Response ok = api.Handle(first);
    EXPECT_GE(ok.status, 200) << ok.body;
    EXPECT_LT(ok.status, 300) << ok.body;
    Response refused = api.Handle(second);
    EXPECT_API_ERROR(refused, 429, "throttled");
    std::optional<std::string> after = Header(refused, "Retry-After");
    ASSERT_TRUE(after.has_value());
    EXPECT_GE(std::stoll(*after), 90) << *after;  // the real wait, not a constant 1
    EXPECT_LE(std::stoll(*after), 100) << *after;
  }
  // The refused writes changed nothing.
  JsonPtr j = ParseBody(As(alice, "GET", r + "1/messages"));
  const cJSON* msgs = Get(j.get(), "messages");
  EXPECT_EQ(Str(cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1), "text"), "a");
  EXPECT_EQ(As(alice, "GET", r + std::to_string(hall) + "/messages").status, 200);  // still a member
  // Another user's buckets are untouched.
  EXPECT_EQ(api.Handle(Bearer(Req("POST", r + "1/typing"), bob.token)).status, 204);
  EXPECT_EQ(api.Handle(Bearer(Req("POST", r + "1/messages", R"({"text":"bob"})"), bob.token)).status, 201);
}

// A worker that died after moving the spooled file into uploads/ and
// before its commit: nginx retries the POST on another worker
// (fastcgi_next_upstream), which finds the file gone. That is "send it
// again", retryable, not a 500.
TEST_F(ApiTest, AnUploadWhoseSpooledFileIsGoneIsRetryable) {
  Session alice = SignIn("alice");
  UploadDirs dirs{dir_.File("spool"), dir_.File("uploads")};
  ASSERT_TRUE(std::filesystem::create_directory(dirs.spool) && std::filesystem::create_directory(dirs.files));
  Api api(*store_, quiet_, dirs);
  Request r = Bearer(Req("POST", "/api/uploads?name=a.txt"), alice.token);
  r.upload_file = dirs.spool + "/0000000007";
  Response gone = api.Handle(r);
  EXPECT_API_ERROR(gone, 503, "upload_interrupted");
  EXPECT_TRUE(Header(gone, "Retry-After").has_value());
  std::ofstream(r.upload_file) << "bytes";
  EXPECT_EQ(api.Handle(r).status, 201) << "sent again, it is stored";
}

// A role alone is a moderation write: it draws on the same bucket as a
// mute or a moderator flag (it once took none, so an owner could flood a
// room's log with role events).
TEST_F(ApiTest, ARoleChangeAloneIsThrottledAsModeration) {
  Session alice = SignIn("alice");
  Session bob = SignIn("bob");
  const int64_t qa = CreateRoom(alice, "Physics", "qa");
  const std::string member = "/api/rooms/" + std::to_string(qa) + "/members/bob";
  ASSERT_EQ(As(bob, "POST", "/api/rooms/" + std::to_string(qa) + "/join").status, 200);
  Limits limits;
  limits.rate(WriteClass::kModerate) = Rate{0.01, 1};  // one token, then one per 100 s
  Store strict(*db_, limits);
  Api api(strict, quiet_);
  EXPECT_EQ(api.Handle(Bearer(Req("PUT", member, R"({"role":"professor"})"), alice.token)).status, 200);
  EXPECT_API_ERROR(api.Handle(Bearer(Req("PUT", member, R"({"role":"student"})"), alice.token)), 429, "throttled");
}

TEST_F(ApiTest, RoomsPerUserAreCapped) {
  Session alice = SignIn("alice");
  Limits limits;
  limits.rooms_per_user = 2;
  Store strict(*db_, limits);
  Api api(strict, quiet_);
  for (const char* name : {"one", "two"}) {
    EXPECT_EQ(api.Handle(Bearer(Req("POST", "/api/rooms", R"({"name":")" + std::string(name) + R"(","kind":"qa"})"),
                                alice.token)).status, 201);
  }
  EXPECT_API_ERROR(api.Handle(Bearer(Req("POST", "/api/rooms", R"({"name":"three","kind":"public"})"), alice.token)),
                   403, "room_limit_reached");
  // Direct conversations are not owned rooms and do not count.
  SignIn("bob");
  EXPECT_EQ(api.Handle(Bearer(Req("POST", "/api/dm", R"({"username":"bob"})"), alice.token)).status, 201);
}

// One blocks at most kMaxBlocks people: the next is 403 with the API's
// error shape, and a repeat at the limit is still 204.
TEST_F(ApiTest, BlocksPastTheLimitAre403) {
  Session alice = SignIn("alice");
  SignIn("bob");
  SignIn("carol");
  ASSERT_OK(db_->ExecScript(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(kMaxBlocks - 1) +
      ") INSERT INTO users(username, pw_hash, created_ts) SELECT 'filler' || i, 'x', 0 FROM n; "
      "INSERT INTO blocks(blocker_id, blocked_id, ts) SELECT " + std::to_string(alice.user.id) +
      ", id, 0 FROM users WHERE username LIKE 'filler%';"));
  EXPECT_EQ(As(alice, "PUT", "/api/me/blocks/bob").status, 204);
  EXPECT_API_ERROR(As(alice, "PUT", "/api/me/blocks/carol"), 403, "block_limit_reached");
  EXPECT_EQ(As(alice, "PUT", "/api/me/blocks/bob").status, 204) << "blocked already";
}

// ------------------------------------------------------------ rooms

// The room list without `limit` has all my rooms and at most 100 public
// and Q&A rooms I am not in (the first by name): a site may have any
// number of them, and one request read and sent them all.
TEST_F(ApiTest, RoomListWithoutLimitHoldsAtMostAHundredOtherRooms) {
  Session alice = SignIn("alice");
  const int64_t mine = CreateRoom(alice, "zz mine", "private");
  ASSERT_OK(db_->ExecScript(
      "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500) "
      "INSERT INTO rooms(name, kind, owner_id, created_ts) SELECT printf('room %04d', i), "
      "CASE WHEN i % 2 THEN 'public' ELSE 'qa' END, NULL, 0 FROM n;"));
  Response r = As(alice, "GET", "/api/rooms");
  ASSERT_EQ(r.status, 200) << r.body;
  JsonPtr j = ParseBody(r);
  const cJSON* rooms = Get(j.get(), "rooms");
  ASSERT_TRUE(cJSON_IsArray(rooms));
  // general and mine, then room 0001 to room 0100.
  EXPECT_EQ(cJSON_GetArraySize(rooms), 102);
  int64_t last_id = 0;
  bool has_mine = false;
  std::string last_other;
  const cJSON* room = nullptr;
  cJSON_ArrayForEach(room, rooms) {
    const int64_t id = Num(room, "id");
    EXPECT_GT(id, last_id) << "in id order";
    last_id = id;
    has_mine = has_mine || id == mine;
    const std::string name = Str(room, "name");
    if (name.rfind("room ", 0) == 0 && name > last_other) last_other = name;
  }
  EXPECT_TRUE(has_mine);
  EXPECT_EQ(last_other, "room 0100");
}

TEST_F(ApiTest, RoomsMembersRolesAndDirectMessages) {
  Session alice = SignIn("alice");
  Session bob = SignIn("bob");

  Response created = As(alice, "POST", "/api/rooms", R"({"name":"Physics","kind":"qa","answers_per_professor":1})");
  ASSERT_EQ(created.status, 201) << created.body;
  JsonPtr cj = ParseBody(created);
  const cJSON* room = Get(cj.get(), "room");
  EXPECT_EQ(Str(room, "kind"), "qa");
  EXPECT_EQ(Str(room, "role"), "professor");
  EXPECT_TRUE(cJSON_IsTrue(Get(room, "member")));
  EXPECT_EQ(Str(Get(room, "owner"), "username"), "alice");
  EXPECT_EQ(Num(room, "answers_per_professor"), 1);
  const std::string base = "/api/rooms/" + std::to_string(Num(room, "id"));

  EXPECT_API_ERROR(As(bob, "POST", "/api/rooms", R"({"name":"physics","kind":"public"})"), 409, "room_name_taken");
  // A name that passes for it (README: the rules of room names).
  EXPECT_API_ERROR(As(bob, "POST", "/api/rooms", R"({"name":"Phys1cs","kind":"public"})"), 409, "room_name_taken");
  EXPECT_API_ERROR(As(bob, "POST", "/api/rooms", R"({"name":"x","kind":"dm"})"), 400, "invalid_field");
  EXPECT_API_ERROR(As(bob, "POST", "/api/rooms", R"({"name":"x","kind":"Public"})"), 400, "invalid_field");
  EXPECT_API_ERROR(As(bob, "POST", "/api/rooms", R"({"name":"x","kind":"public","answers_per_professor":1})"), 400,
                   "invalid_field");
  EXPECT_API_ERROR(As(bob, "POST", "/api/rooms", R"({"name":"","kind":"public"})"), 400, "invalid_field");
  EXPECT_API_ERROR(As(bob, "GET", base + "/members"), 403, "not_a_member");

  ASSERT_EQ(As(bob, "POST", base + "/join").status, 200);
  Response members = As(bob, "GET", base + "/members");
  ASSERT_EQ(members.status, 200) << members.body;
  JsonPtr mj = ParseBody(members);
  EXPECT_EQ(cJSON_GetArraySize(Get(mj.get(), "members")), 2);

  EXPECT_API_ERROR(As(bob, "PUT", base + "/members/bob", R"({"role":"professor"})"), 403, "not_owner");
  EXPECT_API_ERROR(As(alice, "PUT", base + "/members/bob", R"({"role":"admin"})"), 400, "invalid_field");
  EXPECT_API_ERROR(As(alice, "PUT", base + "/members/bob", R"({"role":"member"})"), 400, "invalid_field");
  EXPECT_API_ERROR(As(alice, "PUT", base + "/members/bad%20name", R"({"role":"student"})"), 404, "user_not_found");
  EXPECT_API_ERROR(As(alice, "PUT", base + "/members/nobody", R"({"role":"student"})"), 404, "user_not_found");
  Response role = As(alice, "PUT", base + "/members/bob", R"({"role":"professor"})");
  ASSERT_EQ(role.status, 200) << role.body;
  EXPECT_EQ(Str(Get(ParseBody(role).get(), "member"), "role"), "professor");
  // The owner stays a professor (a Q&A room's owner answers), and a body
  // with nothing to change is refused, not taken as "no change".
  EXPECT_API_ERROR(As(alice, "PUT", base + "/members/alice", R"({"role":"student"})"), 403, "target_protected");
  EXPECT_API_ERROR(As(alice, "PUT", base + "/members/bob", "{}"), 400, "missing_field");

  EXPECT_EQ(As(bob, "POST", base + "/leave").status, 204);
  EXPECT_API_ERROR(As(bob, "POST", base + "/leave"), 403, "not_a_member");

  // Private rooms: by invitation.
  const int64_t secret = CreateRoom(alice, "secret", "private");
  const std::string sbase = "/api/rooms/" + std::to_string(secret);
  EXPECT_API_ERROR(As(bob, "POST", sbase + "/join"), 404, "room_not_found");
  // An invitation waits for bob: 201 once, 200 after, listed as his until
  // he declines it or joins.
  Response invited = As(alice, "POST", sbase + "/members", R"({"username":"bob"})");
  ASSERT_EQ(invited.status, 201) << invited.body;
  JsonPtr ij = ParseBody(invited);
  const cJSON* invitation = Get(ij.get(), "invitation");
  EXPECT_EQ(Num(Get(invitation, "room"), "id"), secret);
  EXPECT_EQ(Str(Get(invitation, "room"), "name"), "secret");
  EXPECT_EQ(Str(Get(invitation, "room"), "kind"), "private");
  EXPECT_EQ(Str(Get(invitation, "user"), "username"), "bob");
  EXPECT_EQ(Str(Get(invitation, "by"), "username"), "alice");
  EXPECT_GT(Num(invitation, "ts"), 0);
  EXPECT_EQ(As(alice, "POST", sbase + "/members", R"({"username":"bob"})").status, 200);
  EXPECT_API_ERROR(As(alice, "POST", sbase + "/members", R"({"username":"nobody"})"), 404, "user_not_found");
  EXPECT_API_ERROR(As(bob, "GET", sbase + "/messages"), 404, "room_not_found");
  Response mine = As(bob, "GET", "/api/me/invitations");
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(cJSON_GetArraySize(Get(ParseBody(mine).get(), "invitations")), 1);
  EXPECT_EQ(As(bob, "DELETE", "/api/me/invitations/" + std::to_string(secret)).status, 204);
  EXPECT_API_ERROR(As(bob, "DELETE", "/api/me/invitations/" + std::to_string(secret)), 404, "invitation_not_found");
  EXPECT_API_ERROR(As(bob, "DELETE", "/api/me/invitations/x"), 404, "not_found");
  EXPECT_API_ERROR(As(bob, "POST", sbase + "/join"), 404, "room_not_found");
  EXPECT_EQ(As(alice, "POST", sbase + "/members", R"({"username":"bob"})").status, 201);
  EXPECT_EQ(As(bob, "POST", sbase + "/join").status, 200);
  Response member = As(alice, "POST", sbase + "/members", R"({"username":"bob"})");
  ASSERT_EQ(member.status, 200) << member.body;
  EXPECT_EQ(Str(Get(Get(ParseBody(member).get(), "member"), "user"), "username"), "bob");
  EXPECT_EQ(As(bob, "GET", sbase + "/messages").status, 200);

  // Direct conversations.
  Response dm = As(alice, "POST", "/api/dm", R"({"username":"bob"})");
  ASSERT_EQ(dm.status, 201) << dm.body;
  JsonPtr dj = ParseBody(dm);
  EXPECT_EQ(Str(Get(dj.get(), "room"), "kind"), "dm");
  EXPECT_EQ(Str(Get(dj.get(), "room"), "name"), "bob");
  EXPECT_EQ(Str(Get(Get(dj.get(), "room"), "peer"), "username"), "bob");
  Response dm2 = As(bob, "POST", "/api/dm", R"({"username":"alice"})");
  ASSERT_EQ(dm2.status, 200) << dm2.body;
  EXPECT_EQ(Num(Get(ParseBody(dm2).get(), "room"), "id"), Num(Get(dj.get(), "room"), "id"));
  EXPECT_API_ERROR(As(alice, "POST", "/api/dm", R"({"username":"alice"})"), 400, "invalid_field");
  EXPECT_API_ERROR(As(alice, "POST", "/api/dm", R"({"username":"nobody"})"), 404, "user_not_found");

  Response rooms = As(bob, "GET", "/api/rooms");
  ASSERT_EQ(rooms.status, 200) << rooms.body;
  JsonPtr rj = ParseBody(rooms);
  const cJSON* list = Get(rj.get(), "rooms");
  ASSERT_TRUE(cJSON_IsArray(list));
  bool saw_general = false;
  const cJSON* item = nullptr;
  cJSON_ArrayForEach(item, list) {
    if (Str(item, "name") == "general") saw_general = true;
    EXPECT_GE(Num(item, "unread"), 0);
    EXPECT_GE(Num(item, "last_event_id"), 0);
  }
  EXPECT_TRUE(saw_general);
}

TEST_F(ApiTest, ReadMarkersAndTyping) {
  Session alice = SignIn("alice");
  Session bob = SignIn("bob");
  const int64_t m = SendText(alice, 1, "unread for bob");
  auto general_unread = [&]() -> int64_t {
    JsonPtr j = ParseBody(As(bob, "GET", "/api/rooms"));
    const cJSON* item = nullptr;
    cJSON_ArrayForEach(item, Get(j.get(), "rooms")) {
      if (Num(item, "id") == 1) return Num(item, "unread");
    }
    return -1;
  };
  EXPECT_EQ(general_unread(), 1);
  EXPECT_EQ(As(bob, "POST", "/api/rooms/1/read", R"({"event_id":)" + std::to_string(m) + "}").status, 204);
  EXPECT_EQ(general_unread(), 0);
  EXPECT_API_ERROR(As(bob, "POST", "/api/rooms/1/read", R"({"event_id":-1})"), 400, "invalid_field");
  EXPECT_API_ERROR(As(bob, "POST", "/api/rooms/1/read", R"({"event_id":1.5})"), 400, "invalid_field");
  EXPECT_API_ERROR(As(bob, "POST", "/api/rooms/1/read", R"({})"), 400, "missing_field");

  EXPECT_EQ(As(bob, "POST", "/api/rooms/1/typing").status, 204);
  const int64_t secret = CreateRoom(alice, "secret", "private");
  EXPECT_API_ERROR(As(bob, "POST", "/api/rooms/" + std::to_string(secret) + "/typing"), 404, "room_not_found");
  const int64_t lobby = CreateRoom(alice, "Lobby", "public");
  EXPECT_API_ERROR(As(bob, "POST", "/api/rooms/" + std::to_string(lobby) + "/typing"), 403, "not_a_member");
}

// A muted member's typing, edits and reactions are refused as sends are;
// a delete of their own message is not.
TEST_F(ApiTest, AMutedMemberTypesEditsAndReactsNoMore) {
  Session alice = SignIn("alice");
  Session bob = SignIn("bob");
  const int64_t lobby = CreateRoom(alice, "Lobby", "public");
  const std::string base = "/api/rooms/" + std::to_string(lobby);
  ASSERT_EQ(As(bob, "POST", base + "/join").status, 200);
  const int64_t m = SendText(bob, lobby, "before the mute");
  const std::string message = "/api/messages/" + std::to_string(m);
  const Response muted = As(alice, "PUT", base + "/members/bob",
                            R"({"muted_until":)" + std::to_string(NowMs() + 60000) + "}");
  ASSERT_EQ(muted.status, 200) << muted.body;
  EXPECT_API_ERROR(As(bob, "POST", base + "/typing"), 403, "muted");
  EXPECT_API_ERROR(As(bob, "PATCH", message, R"({"text":"now with @alice"})"), 403, "muted");
  EXPECT_API_ERROR(As(bob, "PUT", message + "/reactions/up"), 403, "muted");
  EXPECT_EQ(As(alice, "POST", base + "/typing").status, 204);
  EXPECT_EQ(As(bob, "DELETE", message).status, 204);
}

// ------------------------------------------------------------ generic errors

TEST_F(ApiTest, WrongMethodIs405WithAllow) {
  Response r = Call(Req("DELETE", "/api/rooms/1/messages"));
  EXPECT_API_ERROR(r, 405, "method_not_allowed");
  EXPECT_EQ(Header(r, "Allow"), "GET, POST");
  r = Call(Req("GET", "/api/register"));
  EXPECT_API_ERROR(r, 405, "method_not_allowed");
  EXPECT_EQ(Header(r, "Allow"), "POST");
  r = Call(Req("GET", "/api/messages/5"));
  EXPECT_EQ(Header(r, "Allow"), "PATCH, DELETE");
}

TEST_F(ApiTest, UnknownRouteIs404) {
  EXPECT_API_ERROR(Call(Req("GET", "/api/nope")), 404, "not_found");
  EXPECT_API_ERROR(Call(Req("GET", "/api/rooms/0/messages")), 404, "not_found");
  EXPECT_API_ERROR(Call(Req("GET", "/api/me/")), 404, "not_found");
  EXPECT_FALSE(Header(Call(Req("GET", "/api/nope")), "Allow").has_value());
}

TEST_F(ApiTest, EveryErrorHasTheSameShape) {
  Session alice = SignIn("alice");
  const std::string send = "/api/rooms/1/messages";
  struct Case {
    Response r;
    int status;
    const char* code;
  };
  std::vector<Case> cases;
  cases.push_back({Call(Req("GET", "/api/nope")), 404, "not_found"});
  cases.push_back({Call(Req("PUT", "/api/me")), 405, "method_not_allowed"});
  cases.push_back({Call(Req("GET", "/api/me")), 401, "not_signed_in"});
  cases.push_back({As(alice, "POST", send, R"({"text":")" + std::string(kMaxBody, 'x') + R"("})"), 413,
                   "body_too_large"});
  cases.push_back({As(alice, "GET", "/api/me", std::string(kMaxBody + 1, ' ')), 413, "body_too_large"});
  Request plain = Bearer(Req("POST", send, "text=hi"), alice.token);
  plain.content_type = "text/plain";
  cases.push_back({Call(plain), 415, "unsupported_media_type"});
  Request latin1 = Bearer(Req("POST", send, R"({"text":"hi"})"), alice.token);
  latin1.content_type = "application/json; charset=latin1";
  cases.push_back({Call(latin1), 415, "unsupported_media_type"});
  cases.push_back({As(alice, "POST", send, R"({"text":)"), 400, "invalid_json"});
  cases.push_back({As(alice, "POST", send, R"(["text"])"), 400, "invalid_json"});
  cases.push_back({As(alice, "POST", send, "{\"text\":\"\xC3\x28\"}"), 400, "invalid_utf8"});
  cases.push_back({As(alice, "POST", send, R"({"text":)" + std::string(33, '[') + std::string(33, ']') + "}"), 400,
                   "nesting_too_deep"});
  cases.push_back({As(alice, "POST", send, R"({})"), 400, "missing_field"});
  cases.push_back({As(alice, "POST", send, R"({"text":""})"), 400, "invalid_field"});
  cases.push_back({Call(Cookie(Req("POST", send, R"({"text":"hi"})"), alice.token)), 403, "csrf_failed"});
  cases.push_back({As(alice, "GET", "/api/rooms/4242/messages"), 404, "room_not_found"});
  cases.push_back({As(alice, "POST", "/api/rooms", R"({"name":"general","kind":"public"})"), 409,
                   "room_name_taken"});
  for (const Case& c : cases) EXPECT_API_ERROR(c.r, c.status, c.code);
  // Application-level JSON: the request was refused before any write.
  ASSERT_OK_AND_ASSIGN(HistoryPage page, store_->History(alice.user, 1, std::nullopt, std::nullopt, 50));
  EXPECT_TRUE(page.messages.empty());
}

TEST_F(ApiTest, EmptyBodyWithoutContentTypeIs400) {
  // notes/api.md: 415 is for a non-empty body without application/json.
  // `curl -X POST` with no -d sends no body and no Content-Type: that is
  // bad input (no JSON object), not an unsupported media type.
  Session alice = SignIn("alice");
  Request r = Bearer(Req("POST", "/api/rooms/1/read"), alice.token);
  ASSERT_TRUE(r.content_type.empty());
  ASSERT_TRUE(r.body.empty());
  Response resp = Call(r);
  EXPECT_EQ(resp.status, 400) << resp.body;
  // Routes without a body accept an empty POST as they are.
  EXPECT_EQ(As(alice, "POST", "/api/rooms/1/typing").status, 204);
}

// ------------------------------------------------------------ notifier

// A bound unix datagram socket standing in for parley-events.
class DatagramListener {
 public:
  explicit DatagramListener(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) return;
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~DatagramListener() {
    if (fd_ >= 0) close(fd_);
  }
  DatagramListener(const DatagramListener&) = delete;
  DatagramListener& operator=(const DatagramListener&) = delete;
  bool ok() const { return bound_; }
  // The next queued datagram, without waiting (unix datagrams are queued
  // by the time sendto returns).
  std::optional<std::string> Next() {
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) return std::nullopt;
    return std::string(buf, static_cast<size_t>(n));
  }

 private:
  int fd_ = -1;
  bool bound_ = false;
};

TEST_F(ApiTest, NotifierWakesTheDaemonAfterWritesAndForTyping) {
  const std::string path = dir_.File("events.sock");
  DatagramListener daemon(path);
  ASSERT_TRUE(daemon.ok()) << std::strerror(errno);
  Notifier notifier(path);
  Api api(*store_, notifier);
  Session alice = SignIn("alice");
  Session bob = SignIn("bob");
  (void)store_->TakeNotifyHead();  // setup writes were not made through the API

  Response sent = api.Handle(Bearer(Req("POST", "/api/rooms/1/messages", R"({"text":"hi"})"), alice.token));
  ASSERT_EQ(sent.status, 201) << sent.body;
  const int64_t id = Num(Get(ParseBody(sent).get(), "message"), "id");
  EXPECT_EQ(daemon.Next(), "{\"head\":" + std::to_string(id) + "}");
  EXPECT_EQ(daemon.Next(), std::nullopt);  // exactly one datagram

  EXPECT_EQ(api.Handle(Bearer(Req("POST", "/api/rooms/1/typing"), alice.token)).status, 204);
  std::optional<std::string> typing = daemon.Next();
  ASSERT_TRUE(typing.has_value());
  JsonPtr tj(cJSON_Parse(typing->c_str()));
  ASSERT_NE(tj, nullptr) << *typing;
  const cJSON* t = Get(tj.get(), "typing");
  EXPECT_EQ(Num(t, "room_id"), 1);
  EXPECT_EQ(Num(Get(t, "user"), "id"), alice.user.id);
  EXPECT_EQ(Str(Get(t, "user"), "username"), "alice");
  EXPECT_EQ(Num(t, "head"), id) << "the log's head after the check, for the daemon to read up to";
  EXPECT_EQ(daemon.Next(), std::nullopt);  // typing is not stored: no head datagram

  // Reads and refused writes wake nobody.
  EXPECT_EQ(api.Handle(Bearer(Req("GET", "/api/rooms/1/messages"), bob.token)).status, 200);
  EXPECT_EQ(api.Handle(Bearer(Req("POST", "/api/rooms/999/messages", R"({"text":"x"})"), bob.token)).status, 404);
  EXPECT_EQ(daemon.Next(), std::nullopt);
  // A read marker that moves sends a receipt (not stored: no head datagram); one that does not, nothing.
  EXPECT_EQ(api.Handle(Bearer(Req("POST", "/api/rooms/1/read", R"({"event_id":1})"), bob.token)).status, 204);
  EXPECT_EQ(daemon.Next(), "{\"receipt\":{\"room_id\":1,\"user\":{\"id\":" + std::to_string(bob.user.id) +
                               ",\"username\":\"bob\"},\"event_id\":1,\"head\":" + std::to_string(id) + "}}");
  EXPECT_EQ(api.Handle(Bearer(Req("POST", "/api/rooms/1/read", R"({"event_id":1})"), bob.token)).status, 204);
  EXPECT_EQ(daemon.Next(), std::nullopt);
  // One beyond the log's head moves to the head, and its receipt says so;
  // asked again, it stays there (no receipt).
  ASSERT_OK_AND_ASSIGN(int64_t read_head, store_->Head());
  const std::string beyond = R"({"event_id":9007199254740992})";
  EXPECT_EQ(api.Handle(Bearer(Req("POST", "/api/rooms/1/read", beyond), bob.token)).status, 204);
  EXPECT_EQ(daemon.Next(), "{\"receipt\":{\"room_id\":1,\"user\":{\"id\":" + std::to_string(bob.user.id) +
                               ",\"username\":\"bob\"},\"event_id\":" + std::to_string(read_head) +
                               ",\"head\":" + std::to_string(read_head) + "}}");
  EXPECT_EQ(api.Handle(Bearer(Req("POST", "/api/rooms/1/read", beyond), bob.token)).status, 204);
  EXPECT_EQ(daemon.Next(), std::nullopt);

  // Every write that appends events does.
  Response joined = api.Handle(Bearer(Req("POST", "/api/rooms", R"({"name":"Lobby","kind":"public"})"), bob.token));
  ASSERT_EQ(joined.status, 201);
  ASSERT_OK_AND_ASSIGN(int64_t head, store_->Head());
  EXPECT_EQ(daemon.Next(), "{\"head\":" + std::to_string(head) + "}");
  EXPECT_EQ(notifier.dropped(), 0u);
}

TEST_F(ApiTest, NotifierWithoutListenerNeverFailsTheRequest) {
  Session alice = SignIn("alice");
  {
    Notifier nobody(dir_.File("missing.sock"));  // no such file: ENOENT
    Api api(*store_, nobody);
    EXPECT_EQ(api.Handle(Bearer(Req("POST", "/api/rooms/1/messages", R"({"text":"hi"})"), alice.token)).status, 201);
    EXPECT_EQ(api.Handle(Bearer(Req("POST", "/api/rooms/1/typing"), alice.token)).status, 204);
    EXPECT_EQ(nobody.dropped(), 2u);
  }
  {
    const std::string stale = dir_.File("stale.sock");
    { DatagramListener gone(stale); ASSERT_TRUE(gone.ok()); }  // the file stays, nobody reads: ECONNREFUSED
    Notifier refused(stale);
    Api api(*store_, refused);
    EXPECT_EQ(api.Handle(Bearer(Req("POST", "/api/rooms/1/messages", R"({"text":"again"})"), alice.token)).status,
              201);
    EXPECT_EQ(refused.dropped(), 1u);
  }
  {
    Notifier too_long("/" + std::string(200, 'x'));  // cannot be a unix socket path: notifications off
    Api api(*store_, too_long);
    EXPECT_EQ(api.Handle(Bearer(Req("POST", "/api/rooms/1/messages", R"({"text":"third"})"), alice.token)).status,
              201);
    EXPECT_EQ(too_long.dropped(), 0u);
  }
}

TEST_F(ApiTest, SendTakesReplyToOfTheSameRoom) {
  Session alice = SignIn("alice");
  const std::string room = "/api/rooms/1/messages";
  const int64_t original = SendText(alice, 1, "original");
  Response r = As(alice, "POST", room, R"({"text":"reply","reply_to":)" + std::to_string(original) + "}");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Num(Get(ParseBody(r).get(), "message"), "reply_to"), original);

  // Not an id at all: invalid_field; an id that is no message of this room: invalid_reply.
  EXPECT_API_ERROR(As(alice, "POST", room, R"({"text":"x","reply_to":"1"})"), 400, "invalid_field");
  EXPECT_API_ERROR(As(alice, "POST", room, R"({"text":"x","reply_to":0})"), 400, "invalid_field");
  EXPECT_API_ERROR(As(alice, "POST", room, R"({"text":"x","reply_to":1.5})"), 400, "invalid_field");
  EXPECT_API_ERROR(As(alice, "POST", room, R"({"text":"x","reply_to":999999})"), 400, "invalid_reply");
  const int64_t lobby = CreateRoom(alice, "Lobby", "public");
  const int64_t there = SendText(alice, lobby, "elsewhere");
  EXPECT_API_ERROR(As(alice, "POST", room, R"({"text":"x","reply_to":)" + std::to_string(there) + "}"), 400,
                   "invalid_reply");
}

}  // namespace
}  // namespace parley::fcgi

namespace parley::fcgi {
namespace {

// A 404 never echoes the path: a path of arbitrary bytes would make the
// body invalid UTF-8 (found by tools/fuzz-http).
TEST_F(ApiTest, UnknownPathsAnswerValidJsonWithoutEchoingThePath) {
  Response r = Call(Req("GET", "/api/rooms/\xff\xfe"));
  EXPECT_EQ(r.status, 404);
  EXPECT_TRUE(ValidUtf8(r.body)) << r.body;
  EXPECT_EQ(r.body.find('\xff'), std::string::npos);
}

// ------------------------------------------------------ admitted, then run

// A write on PostgreSQL is admitted on its request thread's connection and
// run by the writer on another (fcgi/worker.cc): Admit must refuse exactly
// what Handle refuses, touching nothing, and Run must need nothing more.
TEST_F(ApiTest, AWriteAdmittedOnOneConnectionRunsOnAnother) {
  std::unique_ptr<Db> lane_db = test::OpenDb(dir_.File("parley.db"));
  ASSERT_NE(lane_db, nullptr);
  Store lane_store(*lane_db);
  Api lane(lane_store, quiet_);
  Session alice = SignIn("alice");
  const std::string send = "/api/rooms/1/messages";
  auto refused = [&](const Request& r, int status, const std::string& code) {
    std::variant<Response, Admitted> a = lane.Admit(r, Route(r.method, r.path));
    const Response* answer = std::get_if<Response>(&a);
    if (!answer) return ::testing::AssertionFailure() << r.method << " " << r.path << " was admitted";
    if (::testing::AssertionResult e = IsError(*answer, status, code); !e) return e;
    if (r.method == "PUT" && !Header(*answer, "Allow")) return ::testing::AssertionFailure() << "no Allow header";
    return ::testing::AssertionSuccess();
  };
  EXPECT_TRUE(refused(Bearer(Req("POST", "/api/nowhere", "{}"), alice.token), 404, "not_found"));
  EXPECT_TRUE(refused(Bearer(Req("PUT", send, R"({"text":"x"})"), alice.token), 405, "method_not_allowed"));
  Request form = Bearer(Req("POST", send, "text=x"), alice.token);
  form.content_type = "application/x-www-form-urlencoded";
  EXPECT_TRUE(refused(form, 415, "unsupported_media_type"));
  EXPECT_TRUE(refused(Bearer(Req("POST", send, R"({"text":)"), alice.token), 400, "invalid_json"));
  EXPECT_TRUE(refused(Req("POST", send, R"({"text":"x"})"), 401, "not_signed_in"));
  EXPECT_TRUE(refused(Bearer(Req("POST", send, R"({"text":"x"})"), NewToken()), 401, "not_signed_in"));
  EXPECT_TRUE(refused(Cookie(Req("POST", send, R"({"text":"x"})"), alice.token), 403, "csrf_failed"));

  // Admitted on the lane, run on the writer's Api: stored, as Handle would.
  Request ok = Bearer(Req("POST", send, R"({"text":"admitted"})"), alice.token);
  const RouteMatch route = Route(ok.method, ok.path);
  std::variant<Response, Admitted> a = lane.Admit(ok, route);
  ASSERT_TRUE(std::holds_alternative<Admitted>(a)) << std::get<Response>(a).body;
  EXPECT_EQ(std::get<Admitted>(a).user.id, alice.user.id);
  ASSERT_OK_AND_ASSIGN(HistoryPage before, store_->History(alice.user, 1, std::nullopt, std::nullopt, 50));
  EXPECT_TRUE(before.messages.empty()) << "admitting wrote nothing";
  Response sent = api_->Run(ok, route, std::get<Admitted>(std::move(a)));
  ASSERT_EQ(sent.status, 201) << sent.body;
  ASSERT_OK_AND_ASSIGN(HistoryPage after, store_->History(alice.user, 1, std::nullopt, std::nullopt, 50));
  ASSERT_EQ(after.messages.size(), 1u);
  EXPECT_EQ(after.messages[0].text, "admitted");
  EXPECT_EQ(after.messages[0].user.id, alice.user.id);

  // A session that ends between the two: the write admitted goes on (as a
  // request a server has begun); the next is refused at its admission.
  Request again = Bearer(Req("POST", send, R"({"text":"in flight"})"), alice.token);
  std::variant<Response, Admitted> in_flight = lane.Admit(again, route);
  ASSERT_TRUE(std::holds_alternative<Admitted>(in_flight));
  ASSERT_OK(store_->RevokeSession(TokenHash(alice.token)));
  EXPECT_EQ(api_->Run(again, route, std::get<Admitted>(std::move(in_flight))).status, 201);
  EXPECT_TRUE(refused(again, 401, "not_signed_in"));
}

}  // namespace
}  // namespace parley::fcgi
