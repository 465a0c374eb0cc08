// Malformed HTTP through the real nginx: every request nginx cannot or will
// not serve gets a 4xx with the API's JSON error, never a 5xx page. Sent over
// raw sockets, because no HTTP library will send a lower-case method, a NUL
// in the path or a body on an SSE request. (Issue 8, item 17.)
#include <sys/socket.h>

#include <string>
#include <tuple>
#include <vector>

#include "fixture.h"
#include "raw_http.h"

namespace parley::e2e {
namespace {

using namespace std::chrono_literals;

class MalformedHttpTest : public StackTest {
 protected:
  RawResponse Raw(const std::string& request) { return RawExchange(stack().port(), request); }

  // A 4xx of `status` with an error body whose code is `code`.
  void ExpectJsonError(const RawResponse& r, long status, const std::string& code,
                       const std::string& what) {
    SCOPED_TRACE(what);
    EXPECT_FALSE(r.timed_out) << r.Describe();
    EXPECT_EQ(r.status, status) << r.Describe();
    EXPECT_NE(r.Header("content-type").find("application/json"), std::string::npos)
        << r.Header("content-type") << " " << r.Describe();
    EXPECT_EQ(r.json()["error"]["code"].str(), code) << r.Describe();
    EXPECT_TRUE(r.json()["error"]["message"].is_string()) << r.Describe();
    ExpectNginxsOwnHeaders(r.headers, r.Describe());
  }
};

constexpr const char* kHost = "Host: 127.0.0.1\r\n";

std::string Get(const std::string& target, const std::string& version = "HTTP/1.1") {
  return "GET " + target + " " + version + "\r\n" + kHost + "Connection: close\r\n\r\n";
}

TEST_F(MalformedHttpTest, MalformedRequestLinesAre400Json) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"lower-case method", std::string("get / HTTP/1.1\r\n") + kHost + "\r\n"},
      {"lower-case method on the API", std::string("post /api/login HTTP/1.1\r\n") + kHost + "\r\n"},
      {"lower-case version", Get("/api/health", "http/1.1")},
      {"extra token", Get("/api/health", "HTTP/1.1 extra")},
      {"extra token on events", Get("/events/poll", "HTTP/1.1 x")},
      {"no Host in HTTP/1.1", "GET /api/health HTTP/1.1\r\n\r\n"},
      {"garbage", "\x01\x02\x03 \xff\r\n\r\n"},
  };
  for (const auto& [what, request] : cases) ExpectJsonError(Raw(request), 400, "bad_request", what);
}

// nginx's own 505 and 501 would be 5xx for what is the client's mistake.
TEST_F(MalformedHttpTest, UnsupportedVersionAndEncodingAre400NotServerErrors) {
  ExpectJsonError(Raw(Get("/api/health", "HTTP/2.0")), 400, "bad_request", "HTTP/2.0 in text");
  ExpectJsonError(Raw(Get("/", "HTTP/9.9")), 400, "bad_request", "HTTP/9.9");
  ExpectJsonError(Raw(std::string("POST /api/login HTTP/1.1\r\n") + kHost +
                      "Transfer-Encoding: gzip\r\nConnection: close\r\n\r\n"),
                  400, "bad_request", "Transfer-Encoding: gzip");
}

TEST_F(MalformedHttpTest, NulAndPathsAboveTheRootAre400Json) {
  for (const char* target : {"/api/me%00", "/a%00b", "/events/stream%00", "/../etc/passwd",
                             "/api/../../etc/passwd", "/events/../../x", "/%2e%2e/%2e%2e/x"}) {
    ExpectJsonError(Raw(Get(target)), 400, "bad_request", target);
  }
  // A raw NUL byte in the request line.
  ExpectJsonError(Raw(std::string("GET /a\0b HTTP/1.1\r\n", 19) + kHost + "\r\n"), 400,
                  "bad_request", "raw NUL");
}

TEST_F(MalformedHttpTest, TooLongRequestLineAndHeadersAreJson) {
  ExpectJsonError(Raw(Get("/api/" + std::string(20000, 'a'))), 414, "uri_too_long", "20 KB URI");
  ExpectJsonError(Raw(std::string("GET /api/me HTTP/1.1\r\n") + kHost + "X-Big: " +
                      std::string(20000, 'b') + "\r\n\r\n"),
                  400, "header_too_large", "20 KB header");
}

TEST_F(MalformedHttpTest, NonGetOnEventsIs405WithAllow) {
  for (const char* request :
       {"POST /events/stream HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        "DELETE /events/poll?since=0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "PUT /events/stats HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
        "OPTIONS /events/stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "BREW /events/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"}) {
    RawResponse r = Raw(request);
    ExpectJsonError(r, 405, "method_not_allowed", request);
    EXPECT_EQ(r.Header("allow"), "GET") << request;
  }
  // GET still reaches the daemon (which wants a session).
  EXPECT_EQ(Raw(Get("/events/poll")).status, 401);
}

// The daemon never sees a body: nginx refuses it (a body used to reach the
// daemon, which closed early, and nginx answered 502 on the broken pipe).
TEST_F(MalformedHttpTest, BodyOnEventsIs413Json) {
  User u = Register("bodyer");
  const std::string auth = "Authorization: Bearer " + u.token + "\r\n";
  ExpectJsonError(Raw("GET /events/poll?since=0 HTTP/1.1\r\nHost: x\r\n" + auth +
                      "Content-Length: 5\r\nConnection: close\r\n\r\nhello"),
                  413, "body_not_allowed", "Content-Length body");
  ExpectJsonError(Raw("GET /events/stream HTTP/1.1\r\nHost: x\r\n" + auth +
                      "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
                  413, "body_not_allowed", "chunked body");
  ExpectJsonError(Raw("GET /events/stream HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: " +
                      std::string(1, '9') + std::string(6, '0') + "\r\nConnection: close\r\n\r\n" +
                      std::string(100000, 'x')),
                  413, "body_not_allowed", "large body");
  // An empty body is no body.
  RawResponse ok = Raw("GET /events/poll?since=0 HTTP/1.1\r\nHost: x\r\n" + auth +
                       "Content-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(ok.status, 200) << ok.Describe();
  ExpectHealthy();
}

// A malformed chunked body (item 17): a bad chunk size, a chunk without its
// CRLF, an overflowing size, on every kind of route: one nginx reads in full
// (the API), and ones it refuses before reading (405 and 413 on /events/, a
// POST to a static file), where the body is discarded only as the error page
// goes out and nginx used to answer that discard's failure with its HTML
// 400. Truncated bodies: the client gives up (half-close), and nginx closes
// without answering, or answers what needed no body; never a 5xx.
const std::vector<std::pair<std::string, std::string>> kBadChunks = {
    {"bad chunk size", "zz\r\nhello\r\n0\r\n\r\n"},
    {"missing CRLF after the data", "5\r\nhelloXX0\r\n\r\n"},
    {"size overflows", "fffffffffffffffffffffff\r\nhello\r\n0\r\n\r\n"},
    {"negative size", "-5\r\nhello\r\n0\r\n\r\n"},
};

std::string Chunked(const std::string& method, const std::string& target, const std::string& body,
                    const std::string& extra = "") {
  return method + " " + target + " HTTP/1.1\r\n" + kHost + extra +
         "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + body;
}

TEST_F(MalformedHttpTest, MalformedChunkedBodiesAre400JsonOnEveryRoute) {
  User u = Register("chunker");
  const std::string auth = "Authorization: Bearer " + u.token + "\r\n";
  const std::vector<std::tuple<std::string, std::string, std::string>> routes = {
      {"POST", "/api/login", ""},                        // read in full, then refused
      {"POST", "/api/rooms/1/messages", auth},           // signed in
      {"POST", "/api/rooms/1/messages", ""},             // would be 401
      {"POST", "/api/uploads?name=a.txt", auth},         // spooled to a file
      {"GET", "/events/stream", auth},                   // 413: no body on /events/
      {"POST", "/events/poll", auth},                    // 405 on /events/
      {"GET", "/events/stats", ""},                      // 413, nested location
      {"POST", "/index.html", ""},                       // 405 from the static files
      {"GET", "/", ""},
  };
  for (const auto& [method, target, extra] : routes) {
    for (const auto& [what, body] : kBadChunks) {
      ExpectJsonError(Raw(Chunked(method, target, body, extra)), 400, "bad_request",
                      method + " " + target + ": " + what);
    }
  }
  // Truncated: the client stops half-way and closes its side.
  for (const auto& [method, target, extra] : routes) {
    std::string error;
    RawSocket s = RawSocket::Connect(stack().port(), &error);
    ASSERT_TRUE(s.valid()) << error;
    ASSERT_TRUE(s.Send(Chunked(method, target, "50\r\nhello", extra), 5s));
    shutdown(s.fd(), SHUT_WR);
    RawResponse r = ReadResponse(s, 10s);
    EXPECT_FALSE(r.timed_out) << method << " " << target << " " << r.Describe();
    // No answer, a 4xx, or (a static GET, which never reads a body) the file.
    EXPECT_LT(r.status, 500) << method << " " << target << " " << r.Describe();
  }
  ExpectHealthy();
}

// With the shipped rate limits: a request refused with 429 before nginx read
// its body, whose body is malformed, also gets JSON (the discard of its body
// failed after the 429 had picked its error page).
class MalformedHttpLimitsTest : public MalformedHttpTest {
 protected:
  StackOptions Options() const override {
    StackOptions o;
    o.limits = true;
    return o;
  }
};

TEST_F(MalformedHttpLimitsTest, MalformedChunkedBodyOnAThrottledRouteIs400Json) {
  // Empty logins (refused by the worker at once, no password hash) until
  // nginx's login limit (10/s, burst 20) answers 429.
  bool throttled = false;
  for (int i = 0; i < 200 && !throttled; ++i) {
    RawResponse r = Raw("POST /api/login HTTP/1.1\r\n" + std::string(kHost) +
                        "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    throttled = r.status == 429;
  }
  ASSERT_TRUE(throttled) << "the login limit never answered 429";
  for (int i = 0; i < 5; ++i) {
    for (const auto& [what, body] : kBadChunks) {
      ExpectJsonError(Raw(Chunked("POST", "/api/login", body)), 400, "bad_request", "throttled: " + what);
    }
  }
}

// The internal error locations are not reachable from outside.
TEST_F(MalformedHttpTest, ErrorLocationsAreInternal) {
  RawResponse r = Raw(Get("/_parley/400.json"));
  EXPECT_EQ(r.status, 404) << r.Describe();
}

}  // namespace
}  // namespace parley::e2e
