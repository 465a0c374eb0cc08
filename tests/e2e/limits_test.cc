// nginx's own rate limits (PARLEY_LIMITS=on, the shipped configuration):
// 429 in the API's error format, logins limited per address, sends per
// session so that many users behind one address are not throttled as one.
#include <atomic>
#include <mutex>
#include <thread>

#include "fixture.h"

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
  // Other routes are not affected by the login limit.
  EXPECT_EQ(c->Get("/api/health").status, 200);
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

  constexpr int kThreads = 4;
  std::atomic<int> throttled{0};
  std::mutex mu;
  std::vector<std::string> problems;  // GUARDED_BY(mu)
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Client c(stack().base_url(), Client::Cookies::kOff);
      c.set_bearer(noisy.token);
      for (int i = 0; i < 250 && throttled.load() == 0; ++i) {
        Response r = c.Post(RoomPath(room, "/messages"),
                            "{\"text\":\"spam " + std::to_string(t) + "-" + std::to_string(i) + "\"}");
        if (r.status == 429 && r.ErrorCode() == "throttled" &&
            r.Header("content-type").find("application/json") != std::string::npos) {
          throttled.fetch_add(1);
        } else if (r.status != 201) {
          std::lock_guard<std::mutex> lock(mu);
          problems.push_back(r.Describe());
          return;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_TRUE(problems.empty()) << problems.front();
  ASSERT_GT(throttled.load(), 0) << "1000 rapid sends were never throttled";

  for (int i = 0; i < 5; ++i) {
    Response r = quiet->Post(RoomPath(room, "/messages"), "{\"text\":\"still here\"}");
    EXPECT_EQ(r.status, 201) << "send " << i << " of the other user: " << r.Describe();
  }
  // Reads are never limited.
  for (int i = 0; i < 30; ++i) {
    ASSERT_EQ(noisy->Get(RoomPath(room, "/messages?limit=1")).status, 200);
  }
}

}  // namespace
}  // namespace parley::e2e
