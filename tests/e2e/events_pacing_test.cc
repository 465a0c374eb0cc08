// Catch-up pacing (issue 8, item 5): a user looping polls from an old
// cursor gets their pages at the paced rate, each one whole and correct,
// loses nothing while following `next`, and does not delay anybody's live
// delivery. The rate here is 2 pages/s (4 at once).
#include <thread>

#include "events_fixture.h"

namespace parley::e2e {
namespace {

using Clock = std::chrono::steady_clock;

class PacingTest : public EventsTest {
 protected:
  std::vector<std::string> EventsFlags() const override { return {"--catchup-pages", "2"}; }

  // A backlog of `n` small messages in `room`, written as another program
  // would; returns the ids in order.
  std::vector<int64_t> Backlog(const std::string& token, int64_t room, int n) {
    const int64_t from = DbHead();
    Sqlite("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < " + std::to_string(n) +
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

}  // namespace
}  // namespace parley::e2e
