// Durable sends with group commit (issue 9), on the real stack: the write
// batches show in parley-fcgi's metrics, the metrics are for loopback only,
// and 50 kill -9s of a worker at random moments while clients send lose no
// acknowledged send and store none twice.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "durable_fixture.h"

namespace parley::e2e {
namespace {

using Clock = std::chrono::steady_clock;

class DurableStatsTest : public DurableTest {
 protected:
  StackOptions Options() const override {
    StackOptions o;
    o.trusted_proxies = "127.0.0.1";  // so a forwarded client is not loopback
    return o;
  }
};

TEST_F(DurableStatsTest, MetricsAreServedToLoopbackOnly) {
  User alice = Register("alice");
  Send(alice, General(alice), "counted", "stats-1");

  Response local = NewClient(Client::Cookies::kOff)->Get("/api/_stats");
  ASSERT_EQ(local.status, 200) << local.Describe();
  Json j = local.json();
  EXPECT_GE(j["requests"]["POST /api/rooms/{id}/messages"]["201"].num(), 1) << local.body;
  EXPECT_GE(j["requests"]["POST /api/register"]["201"].num(), 1) << local.body;
  EXPECT_GE(j["batches"].num(), 1) << local.body;
  EXPECT_GE(j["syncs"].num(), 1) << local.body;
  EXPECT_GE(j["latency_ms"]["count"].num(), 3) << local.body;
  EXPECT_EQ(j["queue_depth"].num(), 0) << local.body;

  Response prom = NewClient(Client::Cookies::kOff)->Get("/api/_stats?format=prometheus");
  ASSERT_EQ(prom.status, 200) << prom.Describe();
  EXPECT_NE(prom.Header("content-type").find("text/plain"), std::string::npos);
  EXPECT_NE(prom.body.find("parley_fcgi_requests_total{route=\"POST /api/rooms/{id}/messages\",status=\"201\"}"),
            std::string::npos)
      << prom.body;
  EXPECT_NE(prom.body.find("parley_fcgi_syncs_total "), std::string::npos) << prom.body;
  EXPECT_NE(prom.body.find("parley_fcgi_request_seconds_bucket{le=\"+Inf\"}"), std::string::npos) << prom.body;

  // A client nginx saw elsewhere (through a trusted proxy) is refused, as JSON.
  Response far = NewClient(Client::Cookies::kOff)->Get("/api/_stats", {"X-Forwarded-For: 203.0.113.9"});
  EXPECT_EQ(far.status, 403) << far.Describe();
  EXPECT_EQ(far.ErrorCode(), "forbidden") << far.body;
  Response forged =
      NewClient(Client::Cookies::kOff)->Get("/api/_stats", {"X-Forwarded-For: 127.0.0.1, 203.0.113.9"});
  EXPECT_EQ(forged.status, 403) << forged.Describe();
  // Another method: 405 with Allow.
  Response post = NewClient(Client::Cookies::kOff)->Post("/api/_stats", "{}");
  EXPECT_EQ(post.status, 405) << post.Describe();
  EXPECT_EQ(post.Header("allow"), "GET");
  EXPECT_EQ(post.ErrorCode(), "method_not_allowed") << post.body;
}

// Many senders at once: their sends share commits (fewer syncs than
// sends), and each is stored once under the id it was answered with.
TEST_F(DurableTest, ConcurrentSendsShareCommits) {
  constexpr int kSenders = 48, kEach = 25;
  User owner = Register("owner");
  const int64_t room = CreateRoom(owner, "batched", "public");
  std::vector<User> users = RegisterMembers("s", kSenders, room);
  Json before = FcgiStats();
  std::atomic<bool> stop{false};
  std::vector<Sender> senders = StartSenders(users, room, "b", kEach, stop);
  for (Sender& s : senders) s.thread.join();
  Json after = FcgiStats();

  std::map<std::string, int64_t> stored = Stored(room);
  size_t acked = 0;
  for (const Sender& s : senders) {
    EXPECT_TRUE(s.problems.empty()) << s.problems.front();
    for (const Ack& a : s.acks) {
      ++acked;
      auto it = stored.find(a.client_id);
      EXPECT_TRUE(it != stored.end() && it->second == a.id) << a.client_id;
    }
  }
  EXPECT_EQ(acked, static_cast<size_t>(kSenders * kEach));
  EXPECT_EQ(stored.size(), acked);

  const int64_t batches = after["batches"].num() - before["batches"].num();
  const int64_t batched = after["batched_requests"].num() - before["batched_requests"].num();
  const int64_t syncs = after["syncs"].num() - before["syncs"].num();
  std::printf("group commit: %zu sends in %lld batches, %lld syncs (%.2f sends per sync)\n", acked,
              static_cast<long long>(batches), static_cast<long long>(syncs),
              syncs > 0 ? static_cast<double>(acked) / static_cast<double>(syncs) : 0.0);
  EXPECT_EQ(batched, static_cast<int64_t>(acked)) << "every send went through a batch";
  EXPECT_LT(batches, batched) << "no batch ever held two sends";
  EXPECT_LT(syncs, static_cast<int64_t>(acked)) << "a sync per send: nothing was shared";
  EXPECT_EQ(after["batch_failures"].num(), 0);
}

// 50 kill -9s of a worker at random moments while 16 clients send; each
// retries a failed send with its client_id until it is answered 2xx. Every
// acknowledged send is stored exactly once, under the id it was answered
// with, and nothing is stored that nobody was told about.
TEST_F(DurableTest, FiftyWorkerKillsLoseNoAcknowledgedSend) {
  constexpr int kSenders = 16, kKills = 50;
  User owner = Register("owner");
  const int64_t room = CreateRoom(owner, "crash", "public");
  std::vector<User> users = RegisterMembers("k", kSenders, room);
  std::atomic<bool> stop{false};
  std::vector<Sender> senders = StartSenders(users, room, "k", 1 << 30, stop);

  std::mt19937 rng(std::random_device{}());
  std::map<pid_t, Clock::time_point> seen;  // worker -> when first seen
  std::vector<std::string> problems;
  int kills = 0;
  const auto deadline = Clock::now() + 200s;
  while (kills < kKills && Clock::now() < deadline) {
    std::vector<pid_t> workers = stack().FcgiWorkers();
    const auto now = Clock::now();
    for (pid_t w : workers) seen.emplace(w, now);
    // A worker that dies within a second of starting is replaced only
    // after a pause (pool.cc): kill one that has been up for a second.
    std::vector<pid_t> old;
    for (pid_t w : workers) {
      if (now - seen[w] >= 1s) old.push_back(w);
    }
    if (workers.size() < 2 || old.empty()) {
      std::this_thread::sleep_for(50ms);
      continue;
    }
    // A random moment: sends are always in flight, so the kill lands in
    // a batch, in a commit, between them, or while answering.
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 300)(rng)));
    const pid_t victim = old[std::uniform_int_distribution<size_t>(0, old.size() - 1)(rng)];
    if (kill(victim, SIGKILL) == 0) ++kills;
  }
  // Let the senders get through once more after the last kill, then stop.
  std::this_thread::sleep_for(1s);
  stop = true;
  for (Sender& s : senders) s.thread.join();
  EXPECT_EQ(kills, kKills) << "the kills did not finish in time";

  EXPECT_EQ(Sql("PRAGMA integrity_check;"), "ok\n");
  std::map<std::string, int64_t> stored = Stored(room);
  const auto [acked, lost, retries, replayed] = CheckAcknowledged(senders, stored);
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(stored.size(), acked) << "stored sends that no client was told about";
  EXPECT_GT(acked, static_cast<size_t>(kKills) * 4) << "the senders hardly got going";
  std::printf("durable crash test: %d kill -9s of a worker; %zu acknowledged sends, %d failed attempts retried, %zu lost\n",
              kills, acked, retries, lost);
  RecordProperty("acknowledged_sends", static_cast<int>(acked));
  RecordProperty("lost_sends", static_cast<int>(lost));
}

// One worker with one computing seat: the writer's batches and the
// registrations, which hold a seat while they wait for the writer lock,
// run side by side. Before the writer took its seat ahead of the writer
// lock (fcgi/writer.cc), a batch holding the lock could wait for the seat
// held by a registration waiting for the lock: both stood until the busy
// timeout, and the registration was answered 503 five seconds late.
class OneSeatTest : public DurableTest {
 protected:
  StackOptions Options() const override {
    StackOptions o;
    o.workers = 1;
    o.fcgi_env = {"PARLEY_THREADS=3", "PARLEY_RUNNING=1"};
    return o;
  }
};

TEST_F(OneSeatTest, RegistrationsBesideBatchesNeitherWaitForTheBusyTimeout) {
  constexpr int kSenders = 4, kRegistrars = 2;
  User owner = Register("owner");
  const int64_t room = CreateRoom(owner, "seats", "public");
  std::vector<User> users = RegisterMembers("s", kSenders, room);
  std::atomic<bool> stop{false};
  std::vector<Sender> senders = StartSenders(users, room, "q", 100000, stop);
  struct Registrar {
    int registered = 0;
    std::vector<std::string> problems;
    std::thread thread;
  };
  std::vector<Registrar> registrars(kRegistrars);
  for (int i = 0; i < kRegistrars; ++i) {
    Registrar& r = registrars[static_cast<size_t>(i)];
    auto client = NewClient(Client::Cookies::kOff);
    r.thread = std::thread([&r, &stop, i, c = std::move(client)] {
      for (int n = 0; !stop.load(); ++n) {
        const std::string name = "r" + std::to_string(i) + "n" + std::to_string(n);
        const auto begun = Clock::now();
        Response resp = c->Post("/api/register", "{\"username\":" + Quote(name) + ",\"password\":" + Quote(kPassword) + "}");
        const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begun);
        if (resp.status != 201 || took > 3s) {
          r.problems.push_back(name + " after " + std::to_string(took.count()) + " ms: " + resp.Describe());
        } else {
          ++r.registered;
        }
      }
    });
  }
  std::this_thread::sleep_for(6s);
  stop = true;
  for (Registrar& r : registrars) r.thread.join();
  for (Sender& s : senders) s.thread.join();

  int registered = 0;
  for (const Registrar& r : registrars) {
    EXPECT_TRUE(r.problems.empty()) << r.problems.size() << " slow or failed registration(s), first: " << r.problems.front();
    registered += r.registered;
  }
  const auto [acked, lost, retries, replayed] = CheckAcknowledged(senders, Stored(room));
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(retries, 0) << "sends answered 5xx or not at all";
  // Loose floors: a sanitizer build on a busy machine is slow, and before
  // the fix this test saw no registration at all.
  EXPECT_GE(registered, 2);
  EXPECT_GE(acked, 10u);
  std::printf("one seat: %d registrations and %zu sends in 6 s\n", registered, acked);
}

}  // namespace
}  // namespace parley::e2e
