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
}

// /events/stats is open to loopback (these tests run there).
TEST_F(SiteTest, EventsStatsAllowedFromLoopback) {
  Response r = NewClient()->Get("/events/stats");
  EXPECT_EQ(r.status, 200) << r.Describe();
}

}  // namespace
}  // namespace parley::e2e
