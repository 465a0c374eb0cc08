// HTTPS and HTTP/2 (issue 8, item 13): the stack started as
// `PARLEY_TLS=on tools/run` starts it, with the self-signed certificate that
// tools/nginx-conf makes. The API is spoken by libcurl over HTTP/2 (the
// fixture's clients); the event stream and the long-poll by the curl
// program with --http2, which streams and tells the protocol it used.
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "fixture.h"
#include "raw_http.h"

namespace parley::e2e {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class TlsTest : public StackTest {
 protected:
  StackOptions Options() const override {
    StackOptions o;
    o.tls = true;
    return o;
  }

  // curl --http2 on a path of this stack, its output (headers, then body,
  // then "proto=<version>") appended to `out`. Bounded by --max-time.
  // `extra`: more of curl's arguments, before the URL.
  std::unique_ptr<Child> Curl(const std::string& path, const std::string& token,
                              const std::string& out, int max_time_s,
                              const std::vector<std::string>& extra = {}) {
    Child::Options o;
    o.argv = {"/usr/bin/curl", "-sSkN",        "--http2",  "-i",
              "--max-time",    std::to_string(max_time_s),
              "-H",            "Authorization: Bearer " + token,
              "-w",            "\nproto=%{http_version}\n"};
    o.argv.insert(o.argv.end(), extra.begin(), extra.end());
    o.argv.push_back(stack().base_url() + path);
    o.log_path = out;
    std::string error;
    auto child = Child::Spawn(o, &error);
    EXPECT_TRUE(child) << error;
    return child;
  }

  // Until the file holds `needle`, at most `timeout`.
  bool WaitForText(const std::string& path, const std::string& needle, milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (ReadText(path).find(needle) != std::string::npos) return true;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return ReadText(path).find(needle) != std::string::npos;
  }
};

TEST_F(TlsTest, BaseUrlIsHttpsAndEveryAnswerCarriesHsts) {
  ASSERT_EQ(stack().base_url().rfind("https://127.0.0.1:", 0), 0u) << stack().base_url();
  auto c = NewClient();
  for (const char* path : {"/", "/api/health", "/api/me", "/no-such-file"}) {
    Response r = c->Get(path);
    EXPECT_NE(r.status, 0) << path << ": " << r.curl_error;
    EXPECT_EQ(r.Header("strict-transport-security"), "max-age=31536000") << path;
  }
}

// Over TLS the session cookie is Secure, and the CSRF check expects the
// https origin (and refuses the http one, which is another origin).
TEST_F(TlsTest, CookiesAreSecureAndCsrfAcceptsTheHttpsOrigin) {
  auto browser = NewClient();
  const std::string name = Unique("tls");
  Response reg = browser->Post("/api/register",
                               "{\"username\":\"" + name + "\",\"password\":\"" + kPassword + "\"}",
                               {"Origin: " + origin()});
  ASSERT_EQ(reg.status, 201) << reg.Describe();
  const std::string cookie = reg.Header("set-cookie");
  EXPECT_NE(cookie.find("; Secure"), std::string::npos) << cookie;
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos) << cookie;

  User u = Register("peer");
  int64_t room = General(u);
  Response ok = browser->Post(RoomPath(room, "/messages"), "{\"text\":\"same origin\"}",
                              {"Origin: " + origin()});
  EXPECT_EQ(ok.status, 201) << ok.Describe();
  std::string http_origin = origin();
  http_origin.replace(0, 5, "http");
  Response refused = browser->Post(RoomPath(room, "/messages"), "{\"text\":\"cross\"}",
                                   {"Origin: " + http_origin});
  EXPECT_EQ(refused.status, 403) << refused.Describe();
  EXPECT_EQ(refused.ErrorCode(), "csrf_failed");
}

TEST_F(TlsTest, EventStreamOverHttp2DeliversLive) {
  User alice = Register("alice");
  User bob = Register("bob");
  int64_t room = General(alice);
  const std::string out = stack().dir() + "/stream.out";
  auto curl = Curl("/events/stream", bob.token, out, 30);
  ASSERT_TRUE(curl);
  ASSERT_TRUE(WaitForText(out, "event: hello", milliseconds(15000))) << ReadText(out);
  EXPECT_EQ(ReadText(out).rfind("HTTP/2 200", 0), 0u) << ReadText(out).substr(0, 200);
  Send(alice, room, "pushed over h2");
  EXPECT_TRUE(WaitForText(out, "pushed over h2", milliseconds(10000))) << ReadText(out);
  EXPECT_NE(ReadText(out).find("text/event-stream"), std::string::npos);
}

TEST_F(TlsTest, LongPollOverHttp2WakesOnASend) {
  User alice = Register("alice");
  User bob = Register("bob");
  int64_t room = General(alice);
  // A poll without `since` answers the daemon's head, which may trail the
  // store by a wake-up: wait until it has reached a known event, or the held
  // poll below would return bob's own sign-up events instead of waiting.
  const int64_t marker = Send(alice, room, "before the poll")["id"].num();
  int64_t next = 0;
  for (auto deadline = Clock::now() + milliseconds(10000); next < marker && Clock::now() < deadline;) {
    Response now = bob->Get("/events/poll?timeout=0");
    ASSERT_EQ(now.status, 200) << now.Describe();
    next = now.json()["next"].num();
    if (next < marker) std::this_thread::sleep_for(milliseconds(20));
  }
  ASSERT_GE(next, marker) << "the daemon's head never reached the marker";
  const std::string out = stack().dir() + "/poll.out";
  auto curl = Curl("/events/poll?since=" + std::to_string(next) + "&timeout=20", bob.token, out, 30);
  ASSERT_TRUE(curl);
  // The poll is held: nothing but (maybe) nothing yet.
  std::this_thread::sleep_for(milliseconds(500));
  Send(alice, room, "woke the poll");
  ASSERT_TRUE(curl->WaitFor(milliseconds(15000)).has_value()) << "poll never answered";
  const std::string got = ReadText(out);
  EXPECT_EQ(got.rfind("HTTP/2 200", 0), 0u) << got.substr(0, 200);
  EXPECT_NE(got.find("woke the poll"), std::string::npos) << got;
  EXPECT_NE(got.find("proto=2"), std::string::npos) << got;
}

// An HTTP/2 request body needs neither Content-Length nor Transfer-Encoding,
// so the map that refuses a body on /events/ by those headers let one
// through: nginx read it and passed it on, and the daemon answered a body
// past its 4 KiB with libevent's HTML 413. nginx refuses it itself now, in
// JSON, and the daemon never sees it.
TEST_F(TlsTest, AnHttp2BodyOnEventsIsRefusedInJson) {
  User bob = Register("bob");
  const std::string body = stack().dir() + "/body.bin";
  std::ofstream(body) << std::string(8192, 'x');
  const std::string out = stack().dir() + "/h2body.out";
  // -H "Content-Length:" keeps curl from announcing the size: DATA frames
  // alone, as a browser's streamed body.
  auto curl = Curl("/events/poll?since=0&timeout=0", bob.token, out, 10,
                   {"-X", "GET", "--data-binary", "@" + body, "-H", "Content-Length:", "-H", "Content-Type:"});
  ASSERT_TRUE(curl);
  ASSERT_TRUE(curl->WaitFor(milliseconds(15000)).has_value()) << "no answer";
  const std::string got = ReadText(out);
  EXPECT_EQ(got.rfind("HTTP/2 413", 0), 0u) << got.substr(0, 400);
  EXPECT_NE(got.find("application/json"), std::string::npos) << got.substr(0, 400);
  EXPECT_NE(got.find("\"body_not_allowed\""), std::string::npos) << got.substr(0, 400);
}

// Plain HTTP sent to the HTTPS port is sent on to the same URL over https
// (error_page 497), not answered with nginx's HTML 400 page.
TEST_F(TlsTest, PlainHttpOnTheHttpsPortRedirects) {
  const std::string port = std::to_string(stack().port());
  RawResponse r = RawExchange(stack().port(), "GET /api/health?x=1 HTTP/1.1\r\nHost: 127.0.0.1:" + port +
                                                  "\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(r.status, 301) << r.Describe();
  EXPECT_EQ(r.Header("location"), "https://127.0.0.1:" + port + "/api/health?x=1") << r.Describe();
}

}  // namespace
}  // namespace parley::e2e
