// Catch-up pacing (issue 8, item 5): a user looping polls, or SSE streams
// resuming, from an old cursor gets their pages at the paced rate, each one
// whole and correct, loses nothing, and does not delay anybody's live
// delivery; many accounts from one address share that address's pages. The
// rate here is 2 pages/s (4 at once).
#include <thread>

#include "events_fixture.h"

namespace parley::e2e {
namespace {

using Clock = std::chrono::steady_clock;

class PacingTest : public EventsTest {
 protected:
  // The backlogs are written with SQLite's SQL, straight into the log.
  void SetUp() override {
    PARLEY_E2E_SQLITE_ONLY();
    EventsTest::SetUp();
  }
  std::vector<std::string> EventsFlags() const override {
    return {"--catchup-pages", "2", "--catchup-address-pages", "0"};
  }

  // A backlog of `n` small messages in `room`, written as another program
  // would; returns the ids in order.
  std::vector<int64_t> Backlog(const std::string& token, int64_t room, int n) {
    const int64_t from = DbHead();
    Sql("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < " + std::to_string(n) +
           ") INSERT INTO events(ts, type, room_id, audience, data) SELECT CAST(strftime('%s','now') AS INTEGER) "
           "* 1000, 'message', " + std::to_string(room) + ", 'room', json_object('text', 'backlog ' || i) FROM c;");
    const int64_t to = DbHead();
    WaitHead(token, to, 10s);
    std::vector<int64_t> ids;
    for (int64_t id = from + 1; id <= to; ++id) ids.push_back(id);
    return ids;
  }
};

TEST_F(PacingTest, LoopingOldCursorPollsArePacedAndEachPageIsWhole) {
  User alice = Register("alice");
  const int64_t room = General(alice);
  const std::vector<int64_t> backlog = Backlog(alice.token, room, 1200);
  PollResult first = Poll(alice.token, "?since=0&timeout=0");
  ASSERT_TRUE(first.well_formed) << first.response.Describe();
  ASSERT_EQ(first.events.size(), 500u);
  ASSERT_TRUE(first.more);

  // 11 more from cursor 0, one after another: 3 go at once, 8 at 2/s.
  const auto start = Clock::now();
  for (int i = 0; i < 11; ++i) {
    PollResult p = Poll(alice.token, "?since=0&timeout=0");
    ASSERT_TRUE(p.well_formed) << p.response.Describe();
    EXPECT_EQ(p.events.size(), 500u) << "a held poll still gets a whole page, poll " << i;
    EXPECT_TRUE(p.more);
    EXPECT_EQ(p.next, first.next) << "the same page each time";
  }
  const auto took = Clock::now() - start;
  EXPECT_GE(took, 3500ms) << "8 paced pages at 2/s";
  EXPECT_GE(Stats()["polls_paced"].num(), 8);

  // Following `next` through the backlog, paced or not, loses nothing.
  std::vector<int64_t> got;
  int64_t since = backlog.front() - 1;
  for (int i = 0; i < 10; ++i) {
    PollResult p = Poll(alice.token, "?since=" + std::to_string(since) + "&timeout=0");
    ASSERT_TRUE(p.well_formed) << p.response.Describe();
    for (const PolledEvent& e : p.events) {
      if (e.id && e.type == "message") got.push_back(*e.id);
    }
    since = p.next;
    if (!p.more) break;
  }
  EXPECT_EQ(got, backlog);
}

TEST_F(PacingTest, HeldPollsDoNotDelayLiveDeliveryAndAreAnsweredAtTheirTurn) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = General(alice);
  Backlog(alice.token, room, 600);
  auto live = Subscribe(bob.token);

  // 12 of alice's polls from cursor 0 at once: 4 are answered, 8 held.
  std::vector<PollResult> polls(12);
  std::vector<std::jthread> threads;
  for (size_t i = 0; i < polls.size(); ++i) {
    threads.emplace_back([&, i] { polls[i] = Poll(alice.token, "?since=0&timeout=0"); });
  }
  WaitForStats([](const Json& j) { return j["polls_paced"].num() >= 1; }, 10s);
  const int64_t id = Send(bob, room, "live while alice catches up")["id"].num();
  EXPECT_TRUE(live->WaitForId(id, 3s)) << "live delivery waits for nobody's catch-up (8 held pages take 4 s)";
  for (auto& t : threads) t.join();
  for (const PollResult& p : polls) {
    ASSERT_TRUE(p.well_formed) << p.response.Describe();
    EXPECT_EQ(p.events.size(), 500u);
    EXPECT_TRUE(p.more);
  }
  EXPECT_GE(Stats()["polls_paced"].num(), 1);
}

// The durable ids of a stream's events, in the order received.
std::vector<int64_t> MessageIds(SseStream& s) {
  std::vector<int64_t> ids;
  for (const SseEvent& e : s.Events()) {
    if (e.id && e.type == "message") ids.push_back(*e.id);
  }
  return ids;
}

TEST_F(PacingTest, ResumingStreamsArePacedLikePollsAndLoseNothing) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = General(alice);
  const std::vector<int64_t> backlog = Backlog(alice.token, room, 1200);
  auto live = Subscribe(bob.token);

  // 4 of alice's streams resume from 0: 3 pages each (500, 500, 200 of the
  // backlog), about 9.6 pages against 4 at once and 2/s: over 2.5 s.
  const auto start = Clock::now();
  std::vector<std::unique_ptr<SseStream>> streams;
  for (int i = 0; i < 4; ++i) streams.push_back(Subscribe(alice.token, "?last_event_id=0"));
  WaitForStats([](const Json& j) { return j["streams_paced"].num() >= 1; }, 10s);
  const int64_t id = Send(bob, room, "live while alice resumes")["id"].num();
  EXPECT_TRUE(live->WaitForId(id, 3s)) << "live delivery waits for nobody's resume";
  for (auto& s : streams) {
    ASSERT_TRUE(s->WaitForId(id, 30s)) << s->Body().substr(0, 300);
    std::vector<int64_t> got = MessageIds(*s);
    ASSERT_FALSE(got.empty());
    EXPECT_EQ(got.back(), id) << "then live, after the backlog";
    got.pop_back();
    EXPECT_EQ(got, backlog) << "every id once, in order";
  }
  const auto took = Clock::now() - start;
  EXPECT_GE(took, 2000ms) << "about 5.6 paced pages at 2/s";
  EXPECT_GE(Stats()["streams_paced"].num(), 3);
}

// Six accounts on one address (every client here is 127.0.0.1) each poll
// once from cursor 0, at once, with a per-user rate that would let all of
// them through: the address's 1 page/s (2 at once) holds four of them, the
// last for about 4 s.
class AddressPacingTest : public PacingTest {
 protected:
  std::vector<std::string> EventsFlags() const override {
    return {"--catchup-pages", "100", "--catchup-address-pages", "1"};
  }
};

TEST_F(AddressPacingTest, ManyAccountsFromOneAddressShareItsPages) {
  std::vector<User> users;
  for (int i = 0; i < 6; ++i) users.push_back(Register("acct" + std::to_string(i)));
  const int64_t room = General(users[0]);
  Backlog(users[0].token, room, 600);
  const auto start = Clock::now();
  std::vector<PollResult> polls(users.size());
  {
    std::vector<std::jthread> threads;
    for (size_t i = 0; i < users.size(); ++i) {
      threads.emplace_back([&, i] { polls[i] = Poll(users[i].token, "?since=0&timeout=0"); });
    }
  }
  const auto took = Clock::now() - start;
  for (const PollResult& p : polls) {
    ASSERT_TRUE(p.well_formed) << p.response.Describe();
    EXPECT_EQ(p.events.size(), 500u) << "a held poll still gets a whole page";
    EXPECT_TRUE(p.more);
  }
  // Bounds that a slow machine only makes easier: requests that straggle
  // in let the bucket refill a little, so 2 of the 4 and 2 s of the 4 s.
  EXPECT_GE(Stats()["polls_paced"].num(), 2);
  EXPECT_GE(took, 2000ms) << "pages past the address's burst, at 1/s";
}

}  // namespace
}  // namespace parley::e2e
