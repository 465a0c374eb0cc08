// What nginx/parley.conf itself promises: static files with the security
// headers, /api/health through the pool, and nginx's own errors as JSON.
#include "fixture.h"

namespace parley::e2e {
namespace {

class SiteTest : public StackTest {};

TEST_F(SiteTest, HealthAnswersWithHeadAndEpoch) {
  Response r = NewClient()->Get("/api/health");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_NE(r.Header("content-type").find("application/json"), std::string::npos);
  Json j = r.json();
  EXPECT_EQ(j["status"].str(), "ok") << r.body;
  EXPECT_TRUE(j["head"].is_number()) << r.body;
  EXPECT_GE(j["head"].num(), 0) << r.body;
  const std::string epoch = j["epoch"].str();
  EXPECT_FALSE(epoch.empty()) << r.body;
  EXPECT_EQ(epoch.find_first_not_of("0123456789abcdef"), std::string::npos) << r.body;
}

TEST_F(SiteTest, StaticIndexCarriesSecurityHeaders) {
  Response r = NewClient()->Get("/");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_NE(r.Header("content-type").find("text/html"), std::string::npos);
  EXPECT_NE(r.body.find("<title>Parley</title>"), std::string::npos);
  EXPECT_EQ(r.Header("x-content-type-options"), "nosniff");
  EXPECT_EQ(r.Header("referrer-policy"), "no-referrer");
  const std::string csp = r.Header("content-security-policy");
  for (const char* part : {"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'",
                           "base-uri 'none'", "form-action 'self'"}) {
    EXPECT_NE(csp.find(part), std::string::npos) << part << " missing from: " << csp;
  }
  EXPECT_EQ(r.Header("server"), "nginx") << "server_tokens off hides the version";
}

TEST_F(SiteTest, MissingStaticFileIs404) {
  Response r = NewClient()->Get("/no-such-file.js");
  EXPECT_EQ(r.status, 404) << r.Describe();
}

// nginx/parley.conf compresses for the clients that ask (Accept-Encoding:
// gzip), as every browser does: the static client, and the API's answers
// of 1 KiB and more. What comes compressed decodes to exactly the plain
// answer.
TEST_F(SiteTest, StaticFilesComeGzippedToClientsThatAsk) {
  auto plain = NewClient();
  auto gzip = NewClient();
  gzip->set_accept_gzip(true);
  for (const char* path : {"/", "/js/app.js", "/style.css"}) {
    Response p = plain->Get(path);
    Response g = gzip->Get(path);
    ASSERT_EQ(p.status, 200) << path << ": " << p.Describe();
    ASSERT_EQ(g.status, 200) << path << ": " << g.Describe();
    EXPECT_EQ(p.Header("content-encoding"), "") << path;
    EXPECT_EQ(g.Header("content-encoding"), "gzip") << path;
    EXPECT_NE(g.Header("vary").find("Accept-Encoding"), std::string::npos) << path;
    EXPECT_EQ(g.body, p.body) << path;
  }
}

// The web client's files are kept by the browser and checked again at each
// use, so an upgrade's new script is never mixed with an old page.
TEST_F(SiteTest, StaticFilesAreCheckedAgainAtEachUse) {
  auto client = NewClient();
  for (const char* path : {"/", "/js/app.js", "/style.css"}) {
    Response r = client->Get(path);
    ASSERT_EQ(r.status, 200) << path << ": " << r.Describe();
    EXPECT_EQ(r.Headers("cache-control"), std::vector<std::string>{"no-cache"}) << path;
    EXPECT_EQ(r.Header("x-content-type-options"), "nosniff") << path << ": the server's headers stay";
    EXPECT_NE(r.Header("content-security-policy"), "") << path;
    const std::string etag = r.Header("etag");
    ASSERT_FALSE(etag.empty()) << path;
    Response again = client->Get(path, {"If-None-Match: " + etag});
    EXPECT_EQ(again.status, 304) << path << ": " << again.Describe();
    EXPECT_TRUE(again.body.empty()) << path;
  }
}

TEST_F(SiteTest, LargeApiAnswersComeGzippedButNeverASessionToken) {
  User alice = Register("gz");
  const int64_t room = General(alice);
  for (int i = 0; i < 30; ++i) Send(alice, room, "a message long enough to make the page pass a KiB, number " + std::to_string(i));
  const std::string page = RoomPath(room, "/messages?limit=50");
  Response p = alice->Get(page);
  alice->set_accept_gzip(true);
  Response g = alice->Get(page);
  ASSERT_EQ(p.status, 200) << p.Describe();
  ASSERT_EQ(g.status, 200) << g.Describe();
  ASSERT_GE(p.body.size(), 1024u);
  EXPECT_EQ(p.Header("content-encoding"), "");
  EXPECT_EQ(g.Header("content-encoding"), "gzip");
  EXPECT_EQ(g.Header("cache-control"), "no-store");
  EXPECT_EQ(g.body, p.body);

  // Under 1 KiB: not worth nginx's CPU.
  Response me = alice->Get("/api/me");
  ASSERT_EQ(me.status, 200) << me.Describe();
  EXPECT_LT(me.body.size(), 1024u);
  EXPECT_EQ(me.Header("content-encoding"), "");

  // A login's and a registration's body holds a new session's token: never
  // compressed (BREACH). They are under 1 KiB today; their locations turn
  // gzip off too, should they ever grow.
  auto bob = NewClient(Client::Cookies::kOff);
  bob->set_accept_gzip(true);
  const std::string name = Unique("gzb");
  Response reg = bob->Post("/api/register", "{\"username\":" + Quote(name) + ",\"password\":" + Quote(kPassword) + "}");
  ASSERT_EQ(reg.status, 201) << reg.Describe();
  EXPECT_EQ(reg.Header("content-encoding"), "");
  Response login = bob->Post("/api/login", "{\"username\":" + Quote(name) + ",\"password\":" + Quote(kPassword) + "}");
  ASSERT_EQ(login.status, 200) << login.Describe();
  EXPECT_EQ(login.Header("content-encoding"), "");
  EXPECT_FALSE(login.json()["token"].str().empty()) << login.body;
}

// A stack without the push daemon: nginx answers for it, in the API's
// error format, not with an HTML page.
class SiteWithoutEventsTest : public StackTest {
 protected:
  StackOptions Options() const override {
    StackOptions o;
    o.events = false;
    return o;
  }
};

TEST_F(SiteWithoutEventsTest, EventsWithoutDaemonIs502Json) {
  Response r = NewClient()->Get("/events/poll?since=0");
  EXPECT_EQ(r.status, 502) << r.Describe();
  EXPECT_NE(r.Header("content-type").find("application/json"), std::string::npos);
  EXPECT_EQ(r.ErrorCode(), "unavailable") << r.body;
  ExpectNginxsOwnHeaders(r.headers, "nginx's 502 for the push daemon");
}

// /events/stats is open to loopback (these tests run there).
TEST_F(SiteTest, EventsStatsAllowedFromLoopback) {
  Response r = NewClient()->Get("/events/stats");
  EXPECT_EQ(r.status, 200) << r.Describe();
}

}  // namespace
}  // namespace parley::e2e
