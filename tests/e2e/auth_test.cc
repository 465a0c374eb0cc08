// Accounts and sessions: register, login, logout, me, user search, and the
// two ways to authenticate (Bearer; cookie with its CSRF check).
#include <algorithm>

#include "events_fixture.h"
#include "fixture.h"

namespace parley::e2e {
namespace {

bool IsHex64(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

class AuthTest : public StackTest {
 protected:
  std::string Credentials(const std::string& name, const std::string& password) {
    return "{\"username\":" + Quote(name) + ",\"password\":" + Quote(password) + "}";
  }
  // A browser-like client signed in with the session cookie only.
  std::unique_ptr<Client> CookieUser(const std::string& prefix) {
    auto c = NewClient(Client::Cookies::kOn);
    Response r = c->Post("/api/register", Credentials(Unique(prefix), kPassword));
    if (r.status != 201) throw SetupError("register: " + r.Describe());
    if (c->Cookie("parley_session").empty()) throw SetupError("no session cookie: " + r.Describe());
    return c;
  }
};

TEST_F(AuthTest, RegisterReturnsUserTokenAndSessionCookie) {
  auto c = NewClient();
  Response r = c->Post("/api/register", Credentials("alice", kPassword));
  ASSERT_EQ(r.status, 201) << r.Describe();
  Json j = r.json();
  EXPECT_GT(j["user"]["id"].num(), 0) << r.body;
  EXPECT_EQ(j["user"]["username"].str(), "alice") << r.body;
  EXPECT_TRUE(IsHex64(j["token"].str())) << r.body;
  EXPECT_FALSE(j["user"].has("password")) << r.body;

  const std::string cookie = r.Header("set-cookie");
  EXPECT_EQ(cookie.rfind("parley_session=", 0), 0u) << cookie;
  EXPECT_TRUE(IsHex64(cookie.substr(15, 64))) << cookie;
  EXPECT_EQ(cookie.substr(79, 1), ";") << cookie;
  for (const char* attr : {"Path=/", "HttpOnly", "SameSite=Strict", "Max-Age=2592000"}) {
    EXPECT_NE(cookie.find(attr), std::string::npos) << attr << " missing: " << cookie;
  }
  EXPECT_EQ(cookie.find("Secure"), std::string::npos) << "plain http: no Secure: " << cookie;

  Response me = c->Get("/api/me");
  ASSERT_EQ(me.status, 200) << me.Describe();
  EXPECT_EQ(me.json()["user"]["username"].str(), "alice");
}

TEST_F(AuthTest, RegisterRejectsTakenNameCaseInsensitively) {
  auto c = NewClient(Client::Cookies::kOff);
  ASSERT_EQ(c->Post("/api/register", Credentials("Bob.Smith", kPassword)).status, 201);
  for (const char* name : {"Bob.Smith", "bob.smith", "BOB.SMITH"}) {
    Response r = c->Post("/api/register", Credentials(name, kPassword));
    EXPECT_EQ(r.status, 409) << name << ": " << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "username_taken") << name;
  }
}

TEST_F(AuthTest, RegisterValidatesUsernameAndPassword) {
  auto c = NewClient(Client::Cookies::kOff);
  struct Case {
    std::string body;
    std::string code;
  };
  const std::vector<Case> cases = {
      {Credentials(std::string(33, 'a'), kPassword), "invalid_field"},
      {Credentials("", kPassword), "invalid_field"},
      {Credentials("has space", kPassword), "invalid_field"},
      {Credentials("semi;colon", kPassword), "invalid_field"},
      {Credentials("caf\xc3\xa9", kPassword), "invalid_field"},
      {Credentials("shortpw", "1234567"), "invalid_field"},
      {Credentials("longpw", std::string(1025, 'p')), "invalid_field"},
      {"{\"username\":\"nopass\"}", "missing_field"},
      {"{\"password\":" + Quote(kPassword) + "}", "missing_field"},
  };
  for (const auto& k : cases) {
    Response r = c->Post("/api/register", k.body);
    EXPECT_EQ(r.status, 400) << k.body.substr(0, 80) << ": " << r.Describe();
    EXPECT_EQ(r.ErrorCode(), k.code) << k.body.substr(0, 80) << ": " << r.body;
  }
  // The edges of the limits are accepted.
  EXPECT_EQ(c->Post("/api/register", Credentials(std::string(32, 'z'), "12345678")).status, 201);
  EXPECT_EQ(c->Post("/api/register", Credentials("A-b_c.9", std::string(1024, 'p'))).status, 201);
}

TEST_F(AuthTest, LoginAnswersTheSameForUnknownUserAndWrongPassword) {
  User alice = Register("alice");
  auto c = NewClient();
  Response wrong = c->Post("/api/login", Credentials(alice.name, "not-the-password"));
  Response unknown = c->Post("/api/login", Credentials("nobody_here", "not-the-password"));
  EXPECT_EQ(wrong.status, 401) << wrong.Describe();
  EXPECT_EQ(unknown.status, 401) << unknown.Describe();
  EXPECT_EQ(wrong.ErrorCode(), "invalid_credentials");
  EXPECT_EQ(wrong.body, unknown.body) << "the answer must not tell which one was wrong";
  EXPECT_TRUE(wrong.Header("set-cookie").empty());
}

TEST_F(AuthTest, LoginReturnsANewWorkingSession) {
  User alice = Register("alice");
  auto c = NewClient(Client::Cookies::kOn);
  // Usernames are case-insensitive at login too.
  std::string upper = alice.name;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  Response r = c->Post("/api/login", Credentials(upper, kPassword));
  ASSERT_EQ(r.status, 200) << r.Describe();
  const std::string token = r.json()["token"].str();
  EXPECT_EQ(r.json()["user"]["id"].num(), alice.id);
  EXPECT_NE(token, alice.token) << "each login is its own session";
  EXPECT_FALSE(c->Cookie("parley_session").empty());

  auto bearer = NewClient(Client::Cookies::kOff);
  bearer->set_bearer(token);
  Response me = bearer->Get("/api/me");
  ASSERT_EQ(me.status, 200) << me.Describe();
  EXPECT_EQ(me.json()["user"]["username"].str(), alice.name);
}

TEST_F(AuthTest, EveryAuthenticatedRouteNeedsASession) {
  auto c = NewClient();
  for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
           {"GET", "/api/me"},
           {"GET", "/api/rooms"},
           {"GET", "/api/users?prefix=a"},
           {"POST", "/api/logout"},
           {"GET", "/api/rooms/1/messages"},
           {"GET", "/api/rooms/1/members"}}) {
    Response r = c->Request(method, path);
    EXPECT_EQ(r.status, 401) << method << " " << path << ": " << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "not_signed_in") << method << " " << path;
  }
  Response send = c->Post("/api/rooms/1/messages", "{\"text\":\"hi\"}");
  EXPECT_EQ(send.status, 401) << send.Describe();
}

// One session used from several places (two Bearer clients and the same
// token as a cookie): a logout from one of them revokes it for all, on every
// worker, immediately.
TEST_F(AuthTest, LogoutRevokesTheSessionEverywhereAtOnce) {
  User alice = Register("alice");
  auto second = NewClient(Client::Cookies::kOff);
  second->set_bearer(alice.token);
  auto as_cookie = NewClient(Client::Cookies::kOff);
  const HeaderList cookie = {"Cookie: parley_session=" + alice.token};
  // Warm every worker with the session first (in case any of them caches).
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(alice->Get("/api/me").status, 200);
    ASSERT_EQ(second->Get("/api/rooms").status, 200);
    ASSERT_EQ(as_cookie->Get("/api/me", cookie).status, 200);
  }

  Response out = alice->Post("/api/logout");
  ASSERT_EQ(out.status, 204) << out.Describe();
  EXPECT_TRUE(out.body.empty());

  for (int i = 0; i < 6; ++i) {
    Response a = alice->Get("/api/me");
    Response b = second->Get("/api/rooms");
    Response c = as_cookie->Get("/api/me", cookie);
    Response d = second->Post("/api/rooms/1/messages", "{\"text\":\"after logout\"}");
    EXPECT_EQ(a.status, 401) << a.Describe();
    EXPECT_EQ(b.status, 401) << b.Describe();
    EXPECT_EQ(c.status, 401) << c.Describe();
    EXPECT_EQ(d.status, 401) << d.Describe();
    EXPECT_EQ(a.ErrorCode(), "not_signed_in");
  }
  // A second logout with the dead token is just unauthenticated.
  EXPECT_EQ(alice->Post("/api/logout").status, 401);
}

TEST_F(AuthTest, LogoutClearsTheCookie) {
  auto c = CookieUser("carol");
  Response out = c->Post("/api/logout", "", {"Origin: " + origin()});
  ASSERT_EQ(out.status, 204) << out.Describe();
  const std::string cookie = out.Header("set-cookie");
  EXPECT_NE(cookie.find("parley_session="), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("Max-Age=0"), std::string::npos) << cookie;
  EXPECT_EQ(c->Get("/api/me").status, 401);
}

TEST_F(AuthTest, LoginThrottledAfterRepeatedFailures) {
  User alice = Register("alice");
  User bob = Register("bob");
  auto c = NewClient(Client::Cookies::kOff);
  for (int i = 0; i < 5; ++i) {
    Response r = c->Post("/api/login", Credentials(alice.name, "wrong-password"));
    ASSERT_EQ(r.status, 401) << "failure " << i + 1 << ": " << r.Describe();
  }
  Response sixth = c->Post("/api/login", Credentials(alice.name, "wrong-password"));
  EXPECT_EQ(sixth.status, 429) << sixth.Describe();
  EXPECT_EQ(sixth.ErrorCode(), "throttled") << sixth.body;
  // While throttled, even the right password does not get in (otherwise the
  // throttle would only slow down a guesser, not stop one).
  Response right = c->Post("/api/login", Credentials(alice.name, kPassword));
  EXPECT_EQ(right.status, 429) << right.Describe();
  // Per account: another user from the same address signs in normally.
  Response other = c->Post("/api/login", Credentials(bob.name, kPassword));
  EXPECT_EQ(other.status, 200) << other.Describe();
  // The existing session of the throttled account keeps working.
  EXPECT_EQ(alice->Get("/api/me").status, 200);
}

TEST_F(AuthTest, CookieWriteWithoutOriginFailsCsrf) {
  auto c = CookieUser("dave");
  ASSERT_EQ(c->Get("/api/me").status, 200) << "safe requests need no Origin";
  Response r = c->Post("/api/rooms", "{\"name\":\"csrf-none\",\"kind\":\"public\"}");
  EXPECT_EQ(r.status, 403) << r.Describe();
  EXPECT_EQ(r.ErrorCode(), "csrf_failed") << r.body;
  Response out = c->Post("/api/logout");
  EXPECT_EQ(out.status, 403) << out.Describe();
  EXPECT_EQ(c->Get("/api/me").status, 200) << "the failed logout must not have logged out";
}

TEST_F(AuthTest, CookieWriteWithMatchingOriginSucceeds) {
  auto c = CookieUser("erin");
  Response r = c->Post("/api/rooms", "{\"name\":\"csrf-ok\",\"kind\":\"public\"}",
                       {"Origin: " + origin()});
  EXPECT_EQ(r.status, 201) << "Origin " << origin() << ": " << r.Describe();
  Response s = c->Post("/api/rooms", "{\"name\":\"csrf-sfs\",\"kind\":\"public\"}",
                       {"Sec-Fetch-Site: same-origin"});
  EXPECT_EQ(s.status, 201) << s.Describe();
}

TEST_F(AuthTest, CookieWriteFromAnotherOriginFailsCsrf) {
  auto c = CookieUser("frank");
  const std::string port = std::to_string(stack().port());
  for (const std::string& o : {std::string("http://evil.example"),
                               "http://127.0.0.1:" + std::to_string(stack().port() + 1),
                               "https://127.0.0.1:" + port, std::string("null")}) {
    Response r = c->Post("/api/rooms", "{\"name\":\"csrf-evil\",\"kind\":\"public\"}",
                         {"Origin: " + o});
    EXPECT_EQ(r.status, 403) << "Origin " << o << ": " << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "csrf_failed") << o;
  }
  Response cross = c->Post("/api/rooms", "{\"name\":\"csrf-cross\",\"kind\":\"public\"}",
                           {"Sec-Fetch-Site: cross-site"});
  EXPECT_EQ(cross.status, 403) << cross.Describe();
}

TEST_F(AuthTest, BearerWritesNeedNoOrigin) {
  User gina = Register("gina");
  Response r = gina->Post("/api/rooms", "{\"name\":\"bearer-room\",\"kind\":\"public\"}");
  EXPECT_EQ(r.status, 201) << r.Describe();
}

TEST_F(AuthTest, UsersFindsByCaseInsensitivePrefix) {
  User a = Register("Alpha");
  User b = Register("alpine");
  User c = Register("beta");
  Response r = c->Get("/api/users?prefix=AL");
  ASSERT_EQ(r.status, 200) << r.Describe();
  std::vector<std::string> names;
  for (const Json& u : r.json()["users"].items()) names.push_back(u["username"].str());
  EXPECT_NE(std::find(names.begin(), names.end(), a.name), names.end()) << r.body;
  EXPECT_NE(std::find(names.begin(), names.end(), b.name), names.end()) << r.body;
  EXPECT_EQ(std::find(names.begin(), names.end(), c.name), names.end()) << r.body;
}

// Test stacks hash passwords at argon2id's minimum cost (StackOptions::
// fast_passwords); without that setting, as deployed, a stored hash has
// libsodium's interactive cost: 64 MiB, 2 passes.
class PasswordCostTest : public EventsTest {
 protected:
  StackOptions Options() const override {
    StackOptions o = EventsTest::Options();
    o.fast_passwords = false;
    return o;
  }
};

TEST_F(PasswordCostTest, ADeploymentStoresInteractiveCostHashes) {
  PARLEY_E2E_SQLITE_ONLY();
  User u = Register("cost");
  const std::string hash = Sql("SELECT pw_hash FROM users WHERE username = '" + u.name + "';");
  EXPECT_EQ(hash.rfind("$argon2id$v=19$m=65536,t=2,", 0), 0u) << hash;
  // And it signs in, which verifies at that cost.
  Response r = NewClient()->Post("/api/login", "{\"username\":" + Quote(u.name) + ",\"password\":" + Quote(kPassword) + "}");
  EXPECT_EQ(r.status, 200) << r.Describe();
}

}  // namespace
}  // namespace parley::e2e
