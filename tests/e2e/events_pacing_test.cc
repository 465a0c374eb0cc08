// Catch-up pacing (issue 8, item 5): a user looping polls, or SSE streams
// resuming, from an old cursor gets their pages at the paced rate, each one
// whole and correct, loses nothing, and does not delay anybody's live
// delivery; many accounts from one address share that address's pages. The
// rate here is 2 pages/s (4 at once).
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
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

  // 8 of alice's polls from cursor 0 at once: 4 are answered, 4 held (the
  // last 2 s, the most a page waits: more would be refused).
  std::vector<PollResult> polls(8);
  std::vector<std::jthread> threads;
  for (size_t i = 0; i < polls.size(); ++i) {
    threads.emplace_back([&, i] { polls[i] = Poll(alice.token, "?since=0&timeout=0"); });
  }
  WaitForStats([](const Json& j) { return j["polls_paced"].num() >= 1; }, 10s);
  const int64_t id = Send(bob, room, "live while alice catches up")["id"].num();
  EXPECT_TRUE(live->WaitForId(id, 1500ms)) << "live delivery waits for nobody's catch-up (4 held pages take 2 s)";
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

// Four accounts on one address (every client here is 127.0.0.1) each poll
// once from cursor 0, at once, with a per-user rate that would let all of
// them through: the address's 1 page/s (2 at once) holds two of them, the
// last for about 2 s (the most a page waits).
class AddressPacingTest : public PacingTest {
 protected:
  std::vector<std::string> EventsFlags() const override {
    return {"--catchup-pages", "100", "--catchup-address-pages", "1"};
  }
};

TEST_F(AddressPacingTest, ManyAccountsFromOneAddressShareItsPages) {
  std::vector<User> users;
  for (int i = 0; i < 4; ++i) users.push_back(Register("acct" + std::to_string(i)));
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
  // in let the bucket refill a little, so 1 of the 2 and 1 s of the 2 s.
  EXPECT_GE(Stats()["polls_paced"].num(), 1);
  EXPECT_GE(took, 1000ms) << "pages past the address's burst, at 1/s";
}


// A catch-up poll straight on the daemon's socket, from 127.0.0.1 as nginx
// would say: the socket, left open (-1 if it failed).
int SendRawPoll(const std::string& sock, const std::string& token, const std::string& query) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
  const std::string req = "GET /events/poll" + query + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
                          token + "\r\nX-Forwarded-For: 127.0.0.1\r\n\r\n";
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return -1;
  }
  return fd;
}

// One user fires catch-up polls and drops each while the pacer holds it (a
// client that aborts its requests; the per-user connection cap no longer
// counts one aborted). Each took a page from the address's bucket, and
// nothing gave it back once its connection had gone, so the address's debt
// grew with every one: after 1,500 of them another account behind the same
// address waited 81 s for its first page. Now an abandoned poll gives its
// page back, and no bucket owes more than 2 s of its rate (pacer.h).
class AbandonedPacingTest : public PacingTest {
 protected:
  std::vector<std::string> EventsFlags() const override {
    return {"--catchup-pages", "1", "--catchup-address-pages", "2"};
  }
};

TEST_F(AbandonedPacingTest, AbandonedCatchUpPollsDoNotDelayOtherAccountsBehindTheAddress) {
  User mallory = Register("mallory");
  User carol = Register("carol");
  Backlog(mallory.token, General(mallory), 600);
  const std::string sock = stack().dir() + "/events.sock";
  const int64_t paced_before = Stats()["polls_paced"].num();
  // 30 at once (the cap is 32): 2 answered from mallory's burst; the rest
  // held (before: all 28, owing 13 s of the address's pages) or refused.
  std::vector<int> polls;
  for (int i = 0; i < 30; ++i) {
    int fd = SendRawPoll(sock, mallory.token, "?since=0&timeout=0");
    ASSERT_GE(fd, 0);
    polls.push_back(fd);
  }
  // Until the daemon has seen every one: held, or answered (readable).
  const auto deadline = Clock::now() + 10s;
  while (Clock::now() < deadline) {
    int64_t answered = 0;
    for (int fd : polls) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 0) == 1) ++answered;
    }
    if (answered + Stats()["polls_paced"].num() - paced_before >= 30) break;
    std::this_thread::sleep_for(50ms);
  }
  for (int fd : polls) close(fd);
  WaitForStats([](const Json& j) { return j["connections"]["poll"].num() == 0; }, 5s);

  PollResult p = Poll(carol.token, "?since=0&timeout=0");
  ASSERT_TRUE(p.well_formed) << p.response.Describe();
  EXPECT_EQ(p.events.size(), 500u);
  EXPECT_LT(p.elapsed, 3000ms) << "another account behind the address waited for mallory's dropped polls";
}

}  // namespace
}  // namespace parley::e2e
