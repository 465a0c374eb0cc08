// nginx's limit keys (issue 8, items 3 and 18): limit_conn and limit_req key
// on the credential the daemons authenticate with (a Bearer token wins, a
// junk cookie beside it changes nothing), and, behind a load balancer nginx
// is told to trust, on the client address from X-Forwarded-For.
//
// Each 429 is attributed to nginx by its error log ("limiting ... by zone"),
// so the per-user limits inside the daemons cannot make these pass.
#include <atomic>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fixture.h"
#include "sse.h"

namespace parley::e2e {
namespace {

using std::chrono::milliseconds;

// A fresh, well-formed session cookie that names no session: the dodge that
// a key made of cookie and Authorization together let through.
std::string JunkCookie(std::mt19937_64& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string v;
  for (int i = 0; i < 64; ++i) v += kHex[rng() % 16];
  return "Cookie: parley_session=" + v + "; junk" + std::to_string(rng() % 100000) + "=1";
}

class NginxKeysTest : public StackTest {
 protected:
  StackOptions Options() const override {
    StackOptions o;
    o.limits = true;
    return o;
  }
  bool NginxLogged(const std::string& needle) {
    return ReadText(stack().dir() + "/nginx-error.log").find(needle) != std::string::npos;
  }
};

// Opens one stream with `headers` and waits for its answer's head: a 200
// stays open; a refusal is read to its end, for Body().
std::unique_ptr<SseStream> OpenStream(int port, const HeaderList& headers) {
  SseStream::Options o;
  o.headers = headers;
  std::string error;
  auto s = SseStream::Open(port, o, &error);
  EXPECT_TRUE(s) << error;
  if (!s) return s;
  EXPECT_TRUE(s->WaitHeaders(milliseconds(10000))) << "a stream got no answer";
  if (s->status() != 200) {
    EXPECT_TRUE(s->WaitEof(milliseconds(10000)));
  }
  return s;
}

// nginx's stream limit is the cheap first line; the daemon's cap per user
// (--max-user-connections, 32 by default) is the contract. Raised past
// nginx's, it lets nginx's limit be seen.
class NginxStreamLimitTest : public NginxKeysTest {
 protected:
  StackOptions Options() const override {
    StackOptions o = NginxKeysTest::Options();
    o.events_flags = {"--max-user-connections", "64"};
    return o;
  }
};

// 48 streams of one Bearer session, each with a junk cookie of its own: the
// ones past nginx's 40 get nginx's 429.
TEST_F(NginxStreamLimitTest, JunkCookieBesideBearerDoesNotDodgeTheStreamLimit) {
  User u = Register("streamer");
  std::mt19937_64 rng(std::random_device{}());
  std::vector<std::unique_ptr<SseStream>> streams;
  int live = 0;
  int throttled = 0;
  for (int i = 0; i < 48; ++i) {
    auto s = OpenStream(stack().port(), {"Authorization: Bearer " + u.token, JunkCookie(rng)});
    ASSERT_TRUE(s) << "stream " << i;
    if (s->status() == 200) {
      ++live;
    } else {
      ASSERT_EQ(s->status(), 429) << s->Body();
      ++throttled;
      EXPECT_NE(s->Header("content-type").find("application/json"), std::string::npos);
      EXPECT_EQ(Json::Parse(s->Body())["error"]["code"].str(), "throttled") << s->Body();
      EXPECT_EQ(s->Header("cache-control"), "no-store") << "nginx's own 429 is not kept either";
      EXPECT_EQ(s->Header("x-content-type-options"), "nosniff");
    }
    streams.push_back(std::move(s));
  }
  EXPECT_LE(live, 40);
  EXPECT_GE(throttled, 8) << "48 streams of one session, " << live << " of them live";
  EXPECT_TRUE(NginxLogged("by zone \"parley_streams\"")) << stack().LogTail();
}

// With nginx's limits on, as shipped, the stream past a user's 32 gets the
// daemon's 429 too_many_connections that the README promises, not nginx's
// throttled (whose limit was 32 too, and so answered first); so does a
// poll, and with a junk cookie beside the token too.
TEST_F(NginxKeysTest, TheStreamPastAUsersCapGetsTheDaemonsAnswer) {
  User u = Register("tabs");
  std::mt19937_64 rng(std::random_device{}());
  const std::string bearer = "Authorization: Bearer " + u.token;
  std::vector<std::unique_ptr<SseStream>> streams;
  for (int i = 0; i < 32; ++i) {
    streams.push_back(OpenStream(stack().port(), {bearer}));
    ASSERT_TRUE(streams.back()) << "stream " << i;
    ASSERT_EQ(streams.back()->status(), 200) << "stream " << i << ": " << streams.back()->Body();
  }
  for (const HeaderList& headers : {HeaderList{bearer}, HeaderList{bearer, JunkCookie(rng)}}) {
    auto refused = OpenStream(stack().port(), headers);
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status(), 429) << refused->Body();
    EXPECT_EQ(Json::Parse(refused->Body())["error"]["code"].str(), "too_many_connections") << refused->Body();
  }
  Response poll = NewClient(Client::Cookies::kOff)->Get("/events/poll?since=0&timeout=0", {bearer});
  EXPECT_EQ(poll.status, 429) << poll.Describe();
  EXPECT_EQ(poll.ErrorCode(), "too_many_connections") << poll.Describe();
  EXPECT_FALSE(NginxLogged("by zone \"parley_streams\"")) << stack().LogTail();
}

// A send flood of one Bearer session with a new junk cookie on every request
// is limited by nginx as one client. The daemons' own per-user quota may
// answer 429 first; nginx counts those requests all the same, so the flood
// goes on until nginx's log shows its own limit (or gives up).
TEST_F(NginxKeysTest, JunkCookieBesideBearerDoesNotDodgeTheSendLimit) {
  User u = Register("flooder");
  int64_t room = CreateRoom(u, "flood", "public");
  constexpr int kThreads = 4;
  const std::string kZone = "by zone \"parley_send\"";
  std::atomic<bool> limited{false};
  std::mutex mu;
  std::vector<std::string> problems;  // GUARDED_BY(mu)
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<uint64_t>(t) * 7919 + 1);
      Client c(stack().base_url(), Client::Cookies::kOff);
      c.set_bearer(u.token);
      for (int i = 0; i < 250 && !limited.load(); ++i) {
        Response r = c.Post(RoomPath(room, "/messages"),
                            "{\"text\":\"flood " + std::to_string(t) + "-" + std::to_string(i) + "\"}",
                            {JunkCookie(rng)});
        if (r.status != 201 && r.status != 429) {
          std::lock_guard<std::mutex> lock(mu);
          problems.push_back(r.Describe());
          return;
        }
        if (i % 10 == 9 && NginxLogged(kZone)) limited.store(true);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_TRUE(problems.empty()) << problems.front();
  EXPECT_TRUE(NginxLogged(kZone)) << "1000 sends with junk cookies never hit nginx's send limit\n"
                                  << stack().LogTail();
}

// Logins flood from one forwarded address until nginx refuses it.
int FloodLogins(Client& c, const std::string& forwarded_for) {
  for (int i = 0; i < 200; ++i) {
    Response r = c.Post("/api/login", "{\"username\":\"ghost\"}", {"X-Forwarded-For: " + forwarded_for});
    if (r.status == 429) return i;
    if (r.status != 400) return -1;
  }
  return -1;
}

// Behind a trusted balancer (here: 127.0.0.1), two clients that the balancer
// forwards from different addresses have separate login limits.
class TrustedProxyTest : public NginxKeysTest {
 protected:
  StackOptions Options() const override {
    StackOptions o = NginxKeysTest::Options();
    o.trusted_proxies = "127.0.0.1";
    return o;
  }
};

TEST_F(TrustedProxyTest, ForwardedAddressesHaveTheirOwnLoginLimit) {
  auto c = NewClient(Client::Cookies::kOff);
  ASSERT_GE(FloodLogins(*c, "203.0.113.7"), 0) << "203.0.113.7 was never limited";
  // A hop list: the right-most untrusted address is the client.
  for (int i = 0; i < 5; ++i) {
    Response r = c->Post("/api/login", "{\"username\":\"ghost\"}",
                         {"X-Forwarded-For: 203.0.113.7, 198.51.100.9"});
    EXPECT_EQ(r.status, 400) << "another client behind the balancer, try " << i << ": " << r.Describe();
  }
  EXPECT_TRUE(NginxLogged("client: 203.0.113.7")) << "nginx logs the forwarded address";
}

// An IPv6 host is given a /64 whole, so nginx's login limit counts the /64
// as one client, however nginx prints the address: each case floods one
// address until 429, then floods its neighbours. One in the same /64 meets
// the spent bucket at once (a refill or two at most); one in the next /64
// gets the whole burst. The cases cover each place a "::" can stand in
// nginx's canonical form, and dotted forms, which are keyed whole.
TEST_F(TrustedProxyTest, AnIPv6HostsLoginLimitIsItsSlash64) {
  struct Case {
    std::string flood;
    std::vector<std::string> same, other;
  };
  const std::vector<Case> cases = {
      {"2001:db8:1:2::7", {"2001:db8:1:2:ffff:1:2:3", "2001:DB8:1:2:0:0:0:9"}, {"2001:db8:1:3::7"}},
      {"2001:db8::1", {"2001:db8:0:0:1:2:3:4"}, {"2001:db8:0:1::1", "2001:db8:0:2:3:4:5:6"}},
      {"::1:2:3:4:5:6", {"0:0:1:2:9::"}, {"::1:3:3:4:5:6"}},
      {"::5:6:7:8:9", {"0:0:0:5::1"}, {"::6:6:7:8:9"}},
      {"7::2:3:4:5:6", {"7:0:0:2::"}, {"7::3:3:4:5:6"}},
      {"a:b:c::1", {"a:b:c:0:ffff::"}, {"a:b:c:1::1"}},
      {"9::1", {"9:0:0:0:1:2:3:4"}, {"9:0:0:1::"}},
      {"::1:2:3", {"::4:5:6:7"}, {"0:0:0:1::"}},
      {"::ffff:198.51.100.1", {}, {"::ffff:198.51.100.2", "198.51.100.1"}},
  };
  auto c = NewClient(Client::Cookies::kOff);
  for (const Case& k : cases) {
    ASSERT_GE(FloodLogins(*c, k.flood), 20) << k.flood << " was limited before its burst was spent";
    for (const std::string& a : k.same) {
      const int passed = FloodLogins(*c, a);
      EXPECT_TRUE(passed >= 0 && passed < 10) << a << " is in " << k.flood << "'s /64, yet " << passed
                                              << " logins passed";
    }
    for (const std::string& a : k.other) {
      EXPECT_GE(FloodLogins(*c, a), 20) << a << " shared the limit of " << k.flood;
    }
  }
}

// A balancer that terminates TLS says so in X-Forwarded-Proto: the session
// cookie is then Secure and the CSRF check expects the browser's https origin.
TEST_F(TrustedProxyTest, HttpsFromATrustedBalancerMakesCookiesSecure) {
  auto browser = NewClient();
  const HeaderList via_balancer = {"X-Forwarded-For: 203.0.113.20", "X-Forwarded-Proto: https"};
  HeaderList headers = via_balancer;
  std::string https_origin = origin();
  https_origin.replace(0, 4, "https");
  headers.push_back("Origin: " + https_origin);
  Response reg = browser->Post("/api/register",
                               "{\"username\":\"" + Unique("lb") + "\",\"password\":\"" + kPassword + "\"}",
                               headers);
  ASSERT_EQ(reg.status, 201) << reg.Describe();
  EXPECT_NE(reg.Header("set-cookie").find("; Secure"), std::string::npos) << reg.Header("set-cookie");
  EXPECT_EQ(reg.Header("strict-transport-security"), "max-age=31536000");
  // libcurl keeps a Secure cookie for https only; hand it over as a browser would.
  const std::string cookie = reg.Header("set-cookie").substr(0, reg.Header("set-cookie").find(';'));
  headers.push_back("Cookie: " + cookie);
  Response sent = browser->Post(RoomPath(1, "/messages"), "{\"text\":\"via the balancer\"}", headers);
  EXPECT_EQ(sent.status, 201) << sent.Describe();
}

// The same headers from a peer nobody trusts change nothing.
TEST_F(NginxKeysTest, ForwardedProtoFromAnUntrustedPeerIsIgnored) {
  auto c = NewClient();
  Response reg = c->Post("/api/register",
                         "{\"username\":\"" + Unique("nolb") + "\",\"password\":\"" + kPassword + "\"}",
                         {"X-Forwarded-For: 203.0.113.21", "X-Forwarded-Proto: https"});
  ASSERT_EQ(reg.status, 201) << reg.Describe();
  EXPECT_EQ(reg.Header("set-cookie").find("Secure"), std::string::npos) << reg.Header("set-cookie");
  EXPECT_EQ(reg.Header("strict-transport-security"), "");
}

// Nothing trusted: X-Forwarded-For is the client's own claim and is ignored,
// so a new address in it does not buy a new budget.
TEST_F(NginxKeysTest, ForwardedForFromAnUntrustedPeerIsIgnored) {
  auto c = NewClient(Client::Cookies::kOff);
  ASSERT_GE(FloodLogins(*c, "203.0.113.7"), 0) << "never limited";
  int throttled = 0;
  for (int i = 0; i < 5; ++i) {
    Response r = c->Post("/api/login", "{\"username\":\"ghost\"}", {"X-Forwarded-For: 198.51.100.9"});
    if (r.status == 429) ++throttled;
  }
  EXPECT_GT(throttled, 0) << "a forged X-Forwarded-For escaped the per-address limit";
  EXPECT_FALSE(NginxLogged("client: 203.0.113.7"));
}

// parley-events refuses headers past 16 KiB (with an HTML 400); nginx takes
// four lines of 8 KiB. Only the headers the daemon reads go to it, and of
// the cookies only the session's: a poll with three 7 KB cookies of some
// other application on the host, or 7 KB headers of any other name, is
// answered as without them, by cookie or by Bearer token.
TEST_F(NginxKeysTest, LargeForeignHeadersDoNotBreakTheEventStream) {
  User u = Register("bigcookies");
  const std::string pad(7000, 'x');
  HeaderList junk_cookies;
  HeaderList junk_headers;
  for (int i = 0; i < 3; ++i) {
    junk_cookies.push_back("Cookie: other" + std::to_string(i) + "=" + pad);
    junk_headers.push_back("X-Pad-" + std::to_string(i) + ": " + pad);
  }
  HeaderList by_cookie = junk_cookies;
  by_cookie.push_back("Cookie: parley_session=" + u.token);
  HeaderList by_bearer = junk_headers;
  by_bearer.push_back("Authorization: Bearer " + u.token);
  for (const HeaderList& headers : {by_cookie, by_bearer}) {
    Response poll = NewClient(Client::Cookies::kOff)->Get("/events/poll?since=0&timeout=0", headers);
    EXPECT_EQ(poll.status, 200) << poll.Describe();
    EXPECT_NE(poll.Header("content-type").find("application/json"), std::string::npos) << poll.Describe();
  }
  // No session cookie among the others: the daemon's JSON 401, as with no
  // Cookie header at all (nginx sends none, not an empty one).
  Response anonymous = NewClient(Client::Cookies::kOff)->Get("/events/poll?since=0&timeout=0", junk_cookies);
  EXPECT_EQ(anonymous.status, 401) << anonymous.Describe();
  EXPECT_NE(anonymous.Header("content-type").find("application/json"), std::string::npos) << anonymous.Describe();
}

}  // namespace
}  // namespace parley::e2e
