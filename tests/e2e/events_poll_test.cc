// Long-poll, GET /events/poll?since=N&timeout=S (DESIGN section 4): at once
// with the head or with what is there, held until an event or the timeout,
// pages of 500 with more:true, 400 on bad input, and a poll loop that
// follows `next` across many sends without losing anything.
#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include "events_fixture.h"

namespace parley::e2e {
namespace {

using Clock = std::chrono::steady_clock;

class EventsPollTest : public EventsTest {
 protected:
  static std::vector<int64_t> Ids(const PollResult& p) {
    std::vector<int64_t> ids;
    for (const PolledEvent& e : p.events) ids.push_back(e.id.value_or(0));
    return ids;
  }
};

// A poll is held only once the daemon knows its user's rooms, which it
// delivers by. Before, a poll admitted while they could not be read (the
// database restarting) was held without them and answered at its timeout
// with the head as its next, past the messages it was never given: lost
// for good, since the next poll starts there.
TEST_F(EventsPollTest, APollWhoseRoomsCannotBeReadIsRefusedNotAnsweredPastWhatItNeverCarried) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = General(alice);
  const int64_t head = DbHead();
  WaitHead(alice.token, head);  // not bob's: his rooms must not be tracked yet
  Sql("ALTER TABLE members RENAME COLUMN user_id TO user_id_away");  // the rooms cannot be read
  auto first = std::async(std::launch::async,
                          [&] { return Poll(bob.token, "?since=" + std::to_string(head) + "&timeout=3"); });
  // Admitted and held, or refused: either way the daemon has decided.
  const auto deadline = Clock::now() + 5s;
  while (first.wait_for(20ms) != std::future_status::ready && Stats()["connections"]["poll"].num() < 1) {
    ASSERT_LT(Clock::now(), deadline) << "the poll was neither held nor answered";
  }
  Sql("ALTER TABLE members RENAME COLUMN user_id_away TO user_id");
  const int64_t sent = Send(alice, room, "while bob was polling")["id"].num();
  PollResult r = first.get();
  int64_t cursor = head;
  if (r.response.status == 200) {
    const std::vector<int64_t> ids = Ids(r);
    if (std::find(ids.begin(), ids.end(), sent) != ids.end()) return;  // it carried the message
    cursor = r.next;
  } else {
    EXPECT_EQ(r.response.status, 503) << r.response.Describe();
    EXPECT_NE(r.response.body.find("retry"), std::string::npos) << r.response.Describe();
  }
  // Following the answer, as a client does, must reach the message.
  PollResult next = Poll(bob.token, "?since=" + std::to_string(cursor) + "&timeout=3");
  const std::vector<int64_t> ids = Ids(next);
  EXPECT_NE(std::find(ids.begin(), ids.end(), sent), ids.end())
      << "message " << sent << " lost: the first poll answered " << r.response.Describe() << "; the next "
      << next.response.Describe();
}

TEST_F(EventsPollTest, WithoutSinceAnswersAtOnceWithTheHead) {
  User alice = Register("alice");
  Json m = Send(alice, General(alice), "the head");
  WaitHead(alice.token, m["id"].num());
  PollResult p = Poll(alice.token, "");
  ASSERT_TRUE(p.well_formed) << p.response.Describe();
  EXPECT_NE(p.response.Header("content-type").find("application/json"), std::string::npos);
  EXPECT_LT(p.elapsed, 1s) << "no since: no waiting";
  EXPECT_TRUE(p.events.empty()) << p.response.body;
  EXPECT_EQ(p.next, m["id"].num()) << p.response.body;
  EXPECT_FALSE(p.more);
  EXPECT_FALSE(p.epoch.empty());
}

TEST_F(EventsPollTest, WithSinceAnswersAtOnceWhenEventsExist) {
  User alice = Register("alice");
  const int64_t room = General(alice);
  const int64_t before = Head(alice.token);
  std::vector<int64_t> sent;
  for (int i = 0; i < 3; ++i) sent.push_back(Send(alice, room, "m" + std::to_string(i))["id"].num());
  WaitHead(alice.token, sent.back());
  PollResult p = Poll(alice.token, "?since=" + std::to_string(before));  // default timeout: 25 s
  ASSERT_TRUE(p.well_formed) << p.response.Describe();
  EXPECT_LT(p.elapsed, 2s) << "events were there: no waiting";
  EXPECT_EQ(Ids(p), sent) << p.response.body;
  EXPECT_EQ(p.next, sent.back());
  EXPECT_FALSE(p.more);
  for (size_t i = 0; i < p.events.size() && i < 3; ++i) {
    EXPECT_EQ(p.events[i].type, "message");
    EXPECT_EQ(p.events[i].data["text"].str(), "m" + std::to_string(i));
    EXPECT_EQ(p.events[i].data["id"].num(), sent[i]);
  }
}

TEST_F(EventsPollTest, HoldsUntilAnEventArrives) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t head = Head(bob.token);
  PollResult p;
  std::jthread poller([&] { p = Poll(bob.token, "?since=" + std::to_string(head) + "&timeout=10"); });
  WaitForStats([](const Json& j) { return j["connections"]["poll"].num() >= 1; }, 5s);
  std::this_thread::sleep_for(700ms);
  Json m = Send(alice, General(alice), "wake up");
  poller.join();
  ASSERT_TRUE(p.well_formed) << p.response.Describe();
  EXPECT_GE(p.elapsed, 600ms) << "the poll was held";
  EXPECT_LT(p.elapsed, 5s) << "and answered when the event came";
  EXPECT_EQ(Ids(p), std::vector<int64_t>{m["id"].num()}) << p.response.body;
  EXPECT_EQ(p.next, m["id"].num());
}

TEST_F(EventsPollTest, TimeoutOneAnswersEmptyAfterAboutASecond) {
  User alice = Register("alice");
  const int64_t head = Head(alice.token);
  PollResult p = Poll(alice.token, "?since=" + std::to_string(head) + "&timeout=1");
  ASSERT_TRUE(p.well_formed) << p.response.Describe();
  EXPECT_GE(p.elapsed, 900ms);
  EXPECT_LT(p.elapsed, 3s) << "timeout=1 held the poll " << p.elapsed.count() << " ms";
  EXPECT_TRUE(p.events.empty()) << p.response.body;
  EXPECT_EQ(p.next, head);
  EXPECT_FALSE(p.more);
}

TEST_F(EventsPollTest, PagesOf500WithMore) {
  constexpr int kSenders = 4, kEach = 130;  // 520 events
  std::vector<User> users;
  for (int i = 0; i < kSenders; ++i) users.push_back(Register("sender"));
  const int64_t room = General(users[0]);
  const int64_t before = Head(users[0].token);
  std::mutex mu;
  std::vector<int64_t> sent;            // GUARDED_BY(mu)
  std::vector<std::string> failures;    // GUARDED_BY(mu)
  std::vector<std::jthread> threads;
  for (int t = 0; t < kSenders; ++t) {
    threads.emplace_back([&, t] {
      Client c(stack().base_url(), Client::Cookies::kOff);
      c.set_bearer(users[t].token);
      for (int i = 0; i < kEach; ++i) {
        Response r = c.Post(RoomPath(room, "/messages"), "{\"text\":\"page " + std::to_string(i) + "\"}");
        std::lock_guard<std::mutex> lock(mu);
        if (r.status == 201) {
          sent.push_back(r.json()["message"]["id"].num());
        } else {
          failures.push_back(r.Describe());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(failures.empty()) << failures.size() << " sends failed; first: " << failures.front();
  std::sort(sent.begin(), sent.end());
  ASSERT_EQ(sent.size(), 520u);
  WaitHead(users[0].token, sent.back());

  PollResult first = Poll(users[0].token, "?since=" + std::to_string(before));
  ASSERT_TRUE(first.well_formed) << first.response.Describe();
  EXPECT_EQ(first.events.size(), 500u);
  EXPECT_TRUE(first.more) << "520 events: the first page says there are more";
  EXPECT_EQ(Ids(first), std::vector<int64_t>(sent.begin(), sent.begin() + 500))
      << FirstDifference(Ids(first), std::vector<int64_t>(sent.begin(), sent.begin() + 500));
  EXPECT_EQ(first.next, sent[499]) << "next is the last id of the page";

  PollResult second = Poll(users[0].token, "?since=" + std::to_string(first.next));
  ASSERT_TRUE(second.well_formed) << second.response.Describe();
  EXPECT_LT(second.elapsed, 2s);
  EXPECT_EQ(Ids(second), std::vector<int64_t>(sent.begin() + 500, sent.end()));
  EXPECT_FALSE(second.more);
  EXPECT_EQ(second.next, sent.back());
}

TEST_F(EventsPollTest, BadSinceOrTimeoutIs400Json) {
  User alice = Register("alice");
  for (const char* query : {"?since=abc", "?since=-1", "?since=1.5", "?since=1e3", "?since=99999999999999999999",
                            "?since=0&timeout=x", "?since=0&timeout=-1", "?since=0&timeout=56",
                            "?since=0&timeout=1.5", "?timeout=100000"}) {
    PollResult p = Poll(alice.token, query);
    EXPECT_EQ(p.response.status, 400) << query << ": " << p.response.Describe();
    EXPECT_NE(p.response.Header("content-type").find("application/json"), std::string::npos) << query;
    EXPECT_FALSE(p.response.ErrorCode().empty()) << query << ": " << p.response.body;
    EXPECT_FALSE(p.response.json()["error"]["message"].str().empty()) << query << ": " << p.response.body;
  }
  // The bounds themselves are fine.
  PollResult max = Poll(alice.token, "?timeout=55");
  EXPECT_EQ(max.response.status, 200) << max.response.Describe();
}

// A client that only polls, always from the `next` of the previous answer,
// while 200 messages are sent: every one arrives, once, in order.
TEST_F(EventsPollTest, FollowingNextAcrossManySendsLosesNothing) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = CreateRoom(alice, "busy", "public");
  Join(bob, room);
  const int64_t start = Head(bob.token);
  std::atomic<int64_t> target{INT64_MAX};
  std::vector<int64_t> got;
  int polls = 0;
  std::string problem;
  std::jthread poller([&] {
    Client c(stack().base_url(), Client::Cookies::kOff);
    c.set_bearer(bob.token);
    int64_t next = start;
    auto deadline = Clock::now() + 40s;
    while (next < target.load() && Clock::now() < deadline) {
      Response r = c.Get("/events/poll?since=" + std::to_string(next) + "&timeout=5");
      ++polls;
      Json j = r.json();
      if (r.status != 200 || !j["next"].is_number()) {
        problem = "poll since=" + std::to_string(next) + ": " + r.Describe();
        return;
      }
      for (const Json& e : j["events"].items()) {
        if (e["type"].str() == "message" && e["data"]["room_id"].num() == room) got.push_back(e["id"].num());
      }
      next = j["next"].num();
    }
  });
  std::vector<int64_t> sent;
  for (int i = 0; i < 200; ++i) {
    sent.push_back(Send(alice, room, "p" + std::to_string(i))["id"].num());
    if (i % 20 == 0) std::this_thread::sleep_for(30ms);  // some polls wait, some find a backlog
  }
  target = sent.back();
  poller.join();
  EXPECT_TRUE(problem.empty()) << problem;
  EXPECT_EQ(got, sent) << FirstDifference(got, sent);
  EXPECT_GT(polls, 1);
}

}  // namespace
}  // namespace parley::e2e
