// nginx's own rate limits (PARLEY_LIMITS=on, the shipped configuration):
// 429 in the API's error format with Retry-After, logins limited per
// address, sends and reads per session so that many users behind one
// address are not throttled as one.
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fixture.h"
#include "raw_http.h"

namespace parley::e2e {
namespace {

class LimitsTest : public StackTest {
 protected:
  StackOptions Options() const override {
    StackOptions o;
    o.limits = true;
    return o;
  }
};

// The attempts carry no password, so the server answers each at once
// (400, no password hash) and its per-account failure throttle never
// triggers: a 429 can only come from nginx. Real logins take tens of
// milliseconds each, too slow from one thread to exceed 10 per second.
TEST_F(LimitsTest, LoginFloodFromOneAddressGets429Json) {
  auto c = NewClient(Client::Cookies::kOff);
  int throttled = 0;
  Response last429;
  for (int i = 0; i < 100 && throttled == 0; ++i) {
    Response r = c->Post("/api/login", "{\"username\":\"ghost\"}");
    ASSERT_TRUE(r.status == 400 || r.status == 429) << r.Describe();
    if (r.status == 429) {
      ++throttled;
      last429 = r;
    }
  }
  ASSERT_GT(throttled, 0) << "no 429 after 100 rapid logins from one address";
  EXPECT_NE(last429.Header("content-type").find("application/json"), std::string::npos);
  EXPECT_EQ(last429.ErrorCode(), "throttled") << last429.body;
  EXPECT_EQ(last429.Header("retry-after"), "1") << last429.Describe();
  ExpectNginxsOwnHeaders(last429.headers, "nginx's 429 of a login flood");
  // Other routes are not affected by the login limit.
  EXPECT_EQ(c->Get("/api/health").status, 200);
}

// Account creation from one address: a hundred at once, then one a minute.
// The per-second limit of logins and registrations (10, burst 20) is waited
// out on each 429; a 429 that lasts past 3 s is the per-address one. A
// sign-in from the same address still passes: it is a different budget.
TEST_F(LimitsTest, RegistrationsFromOneAddressStopAfterAHundred) {
  auto c = NewClient(Client::Cookies::kOff);
  const std::string password = "correct horse battery";
  int made = 0;
  Response refused;
  for (int i = 0; i < 120 && refused.status == 0; ++i) {
    const std::string body =
        "{\"username\":\"signup" + std::to_string(i) + "\",\"password\":\"" + password + "\"}";
    for (int waited_ms = 0;; waited_ms += 150) {
      Response r = c->Post("/api/register", body);
      if (r.status == 201) {
        ++made;
        break;
      }
      ASSERT_EQ(r.status, 429) << "registration " << i << ": " << r.Describe();
      if (waited_ms >= 3000) {
        refused = r;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(150));
    }
  }
  ASSERT_EQ(refused.status, 429) << made << " accounts from one address were never refused";
  // 101: nginx takes burst + 1 at once; the test may add a minute's refill.
  EXPECT_GE(made, 101);
  EXPECT_LE(made, 103);
  EXPECT_EQ(refused.ErrorCode(), "throttled") << refused.body;
  EXPECT_EQ(refused.Header("retry-after"), "60");
  Response login = c->Post("/api/login", "{\"username\":\"signup0\",\"password\":\"" + password + "\"}");
  EXPECT_EQ(login.status, 200) << login.Describe();
}

// A flood from 4 connections with one token, each sending request(c, t, i)
// up to per_thread times without pause: it stops at the first 429 (kept in
// *throttled), which like every 429 must be the API's throttled error with
// exactly one Retry-After (the quota's or nginx's, never both), or at
// anything else but `ok` (described in *problem).
void Flood(const std::string& base_url, const std::string& token, int per_thread, long ok,
           const std::function<Response(Client&, int, int)>& request, Response* throttled, std::string* problem) {
  constexpr int kThreads = 4;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Client c(base_url, Client::Cookies::kOff);
      c.set_bearer(token);
      for (int i = 0; i < per_thread && !stop.load(); ++i) {
        Response r = request(c, t, i);
        if (r.status == ok) continue;
        std::lock_guard<std::mutex> lock(mu);
        const bool json_429 = r.status == 429 && r.ErrorCode() == "throttled" &&
                              r.Header("content-type").find("application/json") != std::string::npos &&
                              r.Headers("retry-after").size() == 1;
        if (json_429 && throttled->status == 0) *throttled = r;
        if (!json_429 && problem->empty()) *problem = r.Describe();
        stop.store(true);
      }
    });
  }
  for (auto& th : threads) th.join();
}

// Two users on the same address (think: one office proxy). One floods sends
// from several connections until it is throttled; the other, right after,
// is not. Several connections, so the flood outruns the limit even on a
// slow, busy machine.
TEST_F(LimitsTest, SendLimitIsPerSessionNotPerAddress) {
  User noisy = Register("noisy");
  User quiet = Register("quiet");
  int64_t room = CreateRoom(noisy, "busy", "public");
  Join(quiet, room);

  Response throttled;
  std::string problem;
  Flood(stack().base_url(), noisy.token, 250, 201, [&](Client& c, int t, int i) {
    return c.Post(RoomPath(room, "/messages"), "{\"text\":\"spam " + std::to_string(t) + "-" + std::to_string(i) + "\"}");
  }, &throttled, &problem);
  EXPECT_TRUE(problem.empty()) << problem;
  ASSERT_EQ(throttled.status, 429) << "1000 rapid sends were never throttled";

  for (int i = 0; i < 5; ++i) {
    Response r = quiet->Post(RoomPath(room, "/messages"), "{\"text\":\"still here\"}");
    EXPECT_EQ(r.status, 201) << "send " << i << " of the other user: " << r.Describe();
  }
  // Reads spend a bucket of their own: the throttled sender still reads.
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(noisy->Get(RoomPath(room, "/messages?limit=1")).status, 200);
  }
}

// One session that reads in a loop (a script paging history or searching)
// is held to the read rate, so that it cannot keep the pool's request
// threads to itself; a person's burst passes whole, the others on the same
// address read on, and the reader's own writes are not touched.
TEST_F(LimitsTest, ReadLimitIsPerSessionAndSparesABurst) {
  User noisy = Register("reader");
  User quiet = Register("neighbour");
  int64_t room = CreateRoom(noisy, "library", "public");
  Join(quiet, room);
  const std::string history = RoomPath(room, "/messages?limit=1");

  // A history page whose 150 images load at once: far below the burst of
  // 200, whatever the machine's speed.
  for (int i = 0; i < 150; ++i) {
    Response r = noisy->Get(i % 2 ? history : "/api/rooms");
    ASSERT_EQ(r.status, 200) << "read " << i << " of a burst: " << r.Describe();
  }

  Response throttled;
  std::string problem;
  Flood(stack().base_url(), noisy.token, 1000, 200, [&](Client& c, int, int) { return c.Get(history); }, &throttled,
        &problem);
  EXPECT_TRUE(problem.empty()) << problem;
  ASSERT_EQ(throttled.status, 429) << "4,000 rapid reads of one session were never throttled";
  EXPECT_EQ(throttled.ErrorCode(), "throttled") << throttled.body;
  EXPECT_NE(throttled.Header("content-type").find("application/json"), std::string::npos);
  EXPECT_EQ(throttled.Header("retry-after"), "1") << throttled.Describe();
  ExpectNginxsOwnHeaders(throttled.headers, "nginx's 429 of a read flood");

  // Right after: the neighbour reads, the reader still writes.
  for (int i = 0; i < 5; ++i) {
    Response r = quiet->Get(history);
    EXPECT_EQ(r.status, 200) << "read " << i << " of the other user: " << r.Describe();
  }
  Response sent = noisy->Post(RoomPath(room, "/messages"), "{\"text\":\"still writing\"}");
  EXPECT_EQ(sent.status, 201) << sent.Describe();
  // And the bucket refills: 30 reads a second.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(noisy->Get(history).status, 200);
}

// One address holds at most 256 requests in progress, whatever credentials
// it makes up (limit_conn parley_addrs). Bodies trickled under a fresh
// random Bearer token each met no limit before (every token its own
// bucket, client_body_timeout between reads only): 1,528 of them from one
// client took all of Debian's default 768 worker_connections. Past 256
// nginx answers 429 throttled at once, before it reads the body, and the
// slots come back when the connections close.
TEST_F(LimitsTest, OneAddressHoldsAtMost256RequestsWhateverItsTokens) {
  constexpr int kHeld = 256;
  constexpr int kExtra = 10;
  std::mt19937_64 rng(std::random_device{}());
  auto trickled = [&] {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string token;
    for (int i = 0; i < 64; ++i) token += kHex[rng() % 16];
    // The body's first byte of 16,000; the rest never comes.
    return "POST /api/rooms/1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + token +
           "\r\nContent-Type: application/json\r\nContent-Length: 16000\r\n\r\n{";
  };
  std::vector<RawSocket> held;
  for (int i = 0; i < kHeld; ++i) {
    std::string error;
    RawSocket s = RawSocket::Connect(stack().port(), &error);
    ASSERT_TRUE(s.valid()) << "connection " << i << ": " << error;
    ASSERT_TRUE(s.Send(trickled(), std::chrono::milliseconds(5000))) << "connection " << i;
    held.push_back(std::move(s));
  }
  // Until nginx has read every held request's headers (and counted it).
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  for (int i = 0; i < kExtra; ++i) {
    std::string error;
    RawSocket s = RawSocket::Connect(stack().port(), &error);
    ASSERT_TRUE(s.valid()) << error;
    ASSERT_TRUE(s.Send(trickled(), std::chrono::milliseconds(5000)));
    RawResponse r = ReadResponse(s, std::chrono::milliseconds(5000));
    ASSERT_EQ(r.status, 429) << "request " << kHeld + i + 1 << " from one address: " << r.Describe();
    EXPECT_EQ(r.json()["error"]["code"].str(), "throttled") << r.body;
    EXPECT_EQ(r.Header("retry-after"), "1") << r.Describe();
  }
  held.clear();
  Response health;
  for (int waited_ms = 0; waited_ms < 5000; waited_ms += 100) {
    health = NewClient(Client::Cookies::kOff)->Get("/api/health");
    if (health.status == 200) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(health.status, 200) << "after the held connections closed: " << health.Describe();
}

}  // namespace
}  // namespace parley::e2e
