// The chaos proof (issue 10 item 6): tools/cluster 3 with PARLEY_RESTART=1
// (a dead pool or daemon is started again, as systemd would), senders
// writing through nginx to every pool, SSE streams and long-polls through
// nginx to every daemon, and ten rounds of faults: kill -9 of a daemon,
// kill -9 of a pool, and an immediate PostgreSQL restart (a crash and WAL
// recovery), in a different order each round, with traffic between them.
//
// What must hold at the end:
// - every send answered 2xx is in the room's history exactly once (by its
//   client_id, with the id it was answered with), and nothing else is: a
//   send that failed or timed out is retried with the same client_id until
//   a 2xx comes (the idempotency contract), so no send is left unresolved;
// - every subscriber, reconnecting through nginx wherever it lands with its
//   last id (Last-Event-ID, or since=), saw exactly the acknowledged
//   message ids, each once, in ascending order;
// - after every fault, sends are acknowledged again (the cluster recovers),
//   and every killed process is back before the next round.
// Every wait is on a condition and bounded; the sleeps only pace the load.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "client.h"
#include "cluster.h"
#include "json.h"
#include "sse.h"

namespace parley::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kHosts = 3;
constexpr int kRounds = 10;
constexpr int kSenders = 4;
constexpr int kStreams = 3;  // SSE subscribers
constexpr int kPollers = 3;  // long-poll subscribers
// Each sender's pause between messages: about 80 sends/s in all, load
// without saturating two shared cores.
constexpr auto kSendGap = 40ms;
constexpr long kSendTimeoutMs = 5000;  // a request lost in a fault is retried after this
// Sends acknowledged after each fault before the next one (the load period,
// and the proof that the cluster recovered).
constexpr size_t kAcksBetweenFaults = 25;
constexpr auto kRecoverWithin = 20s;   // acks flow again after a fault
constexpr auto kBackWithin = 20s;      // a killed process runs again
constexpr auto kCatchUpWithin = 20s;   // subscribers see the last ack

struct Person {
  std::string name;
  std::string token;
};

// What the senders were answered: client_id -> message id, and what went
// wrong. Shared by the sender threads and the test thread.
class Ledger {
 public:
  void Ack(const std::string& client_id, int64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    acked_[client_id] = id;
    cv_.notify_all();
  }
  void Retried() { retries_.fetch_add(1); }
  void Fail(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    failures_.push_back(what);
    cv_.notify_all();
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_.size();
  }
  // Until `n` sends are acknowledged (false on timeout or on a failure).
  bool WaitCount(size_t n, std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return acked_.size() >= n || !failures_.empty(); }) &&
           failures_.empty();
  }
  std::map<std::string, int64_t> acked() {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_;
  }
  std::vector<std::string> failures() {
    std::lock_guard<std::mutex> lock(mu_);
    return failures_;
  }
  int retries() const { return retries_.load(); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int64_t> acked_;
  std::vector<std::string> failures_;
  std::atomic<int> retries_{0};
};

// The message ids one subscriber received, in arrival order.
class Seen {
 public:
  void Add(int64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    ids_.push_back(id);
    max_ = std::max(max_, id);
  }
  void Reconnected() { reconnects_.fetch_add(1); }
  void Fail(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    if (failure_.empty()) failure_ = what;
  }
  int64_t max() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_;
  }
  std::vector<int64_t> ids() {
    std::lock_guard<std::mutex> lock(mu_);
    return ids_;
  }
  std::string failure() {
    std::lock_guard<std::mutex> lock(mu_);
    return failure_;
  }
  int reconnects() const { return reconnects_.load(); }

 private:
  std::mutex mu_;
  std::vector<int64_t> ids_;
  int64_t max_ = 0;
  std::string failure_;
  std::atomic<int> reconnects_{0};
};

// Where the subscribers' ids differ from the acknowledged ones, in a line.
std::string Compare(const std::vector<int64_t>& seen, const std::vector<int64_t>& want) {
  if (seen == want) return "";
  std::map<int64_t, int> times;
  for (int64_t id : seen) ++times[id];
  size_t dups = 0, missing = 0, unknown = 0, disorder = 0;
  for (const auto& [id, n] : times) dups += n > 1 ? static_cast<size_t>(n - 1) : 0;
  for (int64_t id : want) missing += times.count(id) == 0;
  for (const auto& [id, n] : times) unknown += !std::binary_search(want.begin(), want.end(), id);
  for (size_t i = 1; i < seen.size(); ++i) disorder += seen[i] <= seen[i - 1];
  size_t at = 0;
  while (at < seen.size() && at < want.size() && seen[at] == want[at]) ++at;
  return "saw " + std::to_string(seen.size()) + " ids, want " + std::to_string(want.size()) + ": " +
         std::to_string(missing) + " missing, " + std::to_string(dups) + " duplicates, " +
         std::to_string(unknown) + " never acknowledged, " + std::to_string(disorder) +
         " out of order; first difference at index " + std::to_string(at) + " (saw " +
         (at < seen.size() ? std::to_string(seen[at]) : "-") + ", want " +
         (at < want.size() ? std::to_string(want[at]) : "-") + ")";
}

class ChaosTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    if (!cluster_.Start(&error)) FAIL() << error;
  }
  // Stops and joins the senders (each finishes the message it holds), then
  // the subscribers. Idempotent.
  void StopSenders() {
    stop_senders_ = true;
    for (auto& t : senders_) t.join();
    senders_.clear();
  }
  void StopAll() {
    StopSenders();
    stop_subscribers_ = true;
    for (auto& t : subscribers_) t.join();
    subscribers_.clear();
  }
  // Joins every thread when the test body returns, early (a failed
  // ASSERT) or not, before the locals the threads use are gone.
  struct Joiner {
    ChaosTest* test;
    ~Joiner() { test->StopAll(); }
  };

  Client Api(const Person* as = nullptr) { return cluster_.Api(as ? as->token : ""); }
  Person Register(const std::string& name) { return Person{name, cluster_.Register(name)}; }

  // Sends until told to stop; each message is retried with its client_id
  // until a 2xx answers it (the last one too, after the stop).
  void Send(int sender, const Person& p) {
    Client c = Api(&p);
    c.set_timeout_ms(kSendTimeoutMs);
    const std::string path = "/api/rooms/" + std::to_string(room_) + "/messages";
    for (int k = 0; !stop_senders_; ++k) {
      const std::string client_id = "s" + std::to_string(sender) + "-" + std::to_string(k);
      const std::string body = R"({"text":"chaos )" + client_id + R"(","client_id":")" + client_id + R"("})";
      const auto give_up = Clock::now() + kRecoverWithin;
      for (;;) {
        Response r = c.Post(path, body);
        if (r.status == 200 || r.status == 201) {
          Json m = r.json()["message"];
          if (m["client_id"].str() != client_id || !m["id"].is_number()) {
            ledger_.Fail(client_id + ": answered with another message: " + r.Describe());
            return;
          }
          ledger_.Ack(client_id, m["id"].num());
          break;
        }
        // 502/503/504 or no answer: a fault; anything else is a bug.
        if (r.status != 0 && r.status < 500) {
          ledger_.Fail(client_id + ": " + r.Describe());
          return;
        }
        if (Clock::now() > give_up) {
          ledger_.Fail(client_id + ": no 2xx within 20 s of retries; last: " + r.Describe());
          return;
        }
        ledger_.Retried();
        std::this_thread::sleep_for(100ms);  // pace the retries
      }
      std::this_thread::sleep_for(kSendGap);
    }
  }

  // The message ids of our room in a poll body or an SSE event's data.
  bool OfRoom(const Json& message) const { return message["room_id"].num() == room_; }

  // Long-polls through nginx from `cursor`, again after every error with
  // the same cursor, until told to stop.
  void Poll(const Person& p, int64_t cursor, Seen& seen) {
    Client c = Api(&p);
    c.set_timeout_ms(15000);
    while (!stop_subscribers_) {
      Response r = c.Get("/events/poll?since=" + std::to_string(cursor) + "&timeout=3");
      if (r.status != 200) {
        if (r.status != 0 && r.status < 500) seen.Fail("poll: " + r.Describe());
        seen.Reconnected();
        std::this_thread::sleep_for(100ms);  // pace the reconnections
        continue;
      }
      Json j = r.json();
      for (const Json& e : j["events"].items()) {
        if (e["type"].str() == "reset") seen.Fail("poll: a reset at cursor " + std::to_string(cursor));
        if (e["type"].str() == "message" && OfRoom(e["data"])) seen.Add(e["id"].num());
      }
      if (!j["next"].is_number()) {
        seen.Fail("poll: no next: " + r.Describe());
        std::this_thread::sleep_for(100ms);
        continue;
      }
      cursor = j["next"].num();
    }
  }

  // Streams through nginx, reconnecting with Last-Event-ID after every end
  // or error, until told to stop.
  void Stream(const Person& p, int64_t cursor, Seen& seen) {
    while (!stop_subscribers_) {
      SseStream::Options o;
      o.headers = {"Authorization: Bearer " + p.token, "Last-Event-ID: " + std::to_string(cursor)};
      std::string error;
      std::unique_ptr<SseStream> s = SseStream::Open(cluster_.port(), o, &error);
      if (!s) {
        seen.Reconnected();
        std::this_thread::sleep_for(100ms);
        continue;
      }
      size_t used = 0;  // items of this stream already looked at
      bool ended = false;
      while (!stop_subscribers_ && !ended) {
        s->WaitUntil([&](const SseState& st) { return st.eof || st.items().size() > used; }, 200ms);
        s->With([&](const SseState& st) {
          ended = st.eof;
          if (st.headers_done && st.status != 200) {
            if (st.status < 500) seen.Fail("stream: HTTP " + std::to_string(st.status));
            ended = true;
            return;
          }
          const auto& items = st.items();
          for (; used < items.size(); ++used) {
            if (items[used].kind != SseItem::Kind::kEvent) continue;
            const SseEvent& e = items[used].event;
            if (e.type == "reset") seen.Fail("stream: a reset at cursor " + std::to_string(cursor));
            if (e.id) cursor = *e.id;
            if (e.type == "message" && e.id && OfRoom(e.json())) seen.Add(*e.id);
          }
        });
      }
      if (ended) {
        seen.Reconnected();
        std::this_thread::sleep_for(100ms);
      }
    }
  }

  Cluster cluster_{ClusterOptions{kHosts, /*restart=*/true}};
  int64_t room_ = 0;
  Ledger ledger_;
  std::atomic<bool> stop_senders_{false};
  std::atomic<bool> stop_subscribers_{false};
  std::vector<std::thread> senders_;
  std::vector<std::thread> subscribers_;
};

TEST_F(ChaosTest, AcknowledgedSendsAreStoredAndDeliveredExactlyOnceThroughTenRoundsOfCrashes) {
  const auto started = Clock::now();
  Person owner = Register("owner");
  std::vector<Person> senders, subscribers;
  for (int i = 0; i < kSenders; ++i) senders.push_back(Register("sender" + std::to_string(i)));
  for (int i = 0; i < kStreams + kPollers; ++i) subscribers.push_back(Register("sub" + std::to_string(i)));
  {
    Client c = Api(&owner);
    Response r = c.Post("/api/rooms", R"({"name":"chaos","kind":"public"})");
    ASSERT_EQ(r.status, 201) << r.Describe();
    room_ = r.json()["room"]["id"].num();
  }
  for (const std::vector<Person>* group : {&senders, &subscribers}) {
    for (const Person& p : *group) {
      Client c = Api(&p);
      Response j = c.Post("/api/rooms/" + std::to_string(room_) + "/join");
      ASSERT_EQ(j.status / 100, 2) << j.Describe();
    }
  }
  // The subscribers' first cursor: a daemon's head, taken before the first
  // send. A daemon behind the database only makes it lower (a few join
  // events more), never past a message.
  int64_t cursor = -1;
  {
    Client c = Api(&subscribers[0]);
    Response r = c.Get("/events/poll");
    ASSERT_EQ(r.status, 200) << r.Describe();
    cursor = r.json()["next"].num();
  }

  std::vector<std::unique_ptr<Seen>> seen;
  Joiner joiner{this};
  for (int i = 0; i < kStreams + kPollers; ++i) {
    seen.push_back(std::make_unique<Seen>());
    Seen& s = *seen.back();
    const Person& p = subscribers[static_cast<size_t>(i)];
    if (i < kStreams) {
      subscribers_.emplace_back([this, &p, cursor, &s] { Stream(p, cursor, s); });
    } else {
      subscribers_.emplace_back([this, &p, cursor, &s] { Poll(p, cursor, s); });
    }
  }
  for (int i = 0; i < kSenders; ++i) {
    senders_.emplace_back([this, i, &senders] { Send(i, senders[static_cast<size_t>(i)]); });
  }

  // Ten rounds, each: a daemon, a pool and PostgreSQL, in a rotating order,
  // with acknowledged traffic after each fault.
  ASSERT_TRUE(ledger_.WaitCount(kAcksBetweenFaults, kRecoverWithin)) << "no traffic before the first fault";
  std::vector<double> fault_seconds(3), recover_seconds(3);  // daemon, pool, PostgreSQL: for the log
  for (int round = 0; round < kRounds; ++round) {
    const std::string daemon = "events-" + std::to_string(round % kHosts + 1);
    const std::string pool = "fcgi-" + std::to_string((round + 1) % kHosts + 1);
    pid_t daemon_pid = 0, pool_pid = 0;
    std::vector<std::pair<std::string, std::function<void()>>> faults = {
        {"kill -9 " + daemon, [&] { daemon_pid = cluster_.Kill(daemon); }},
        {"kill -9 " + pool, [&] { pool_pid = cluster_.Kill(pool); }},
        {"PostgreSQL immediate restart",
         [&] {
           std::string error;
           EXPECT_TRUE(cluster_.CrashPostgres(&error)) << error;
         }},
    };
    std::rotate(faults.begin(), faults.begin() + round % 3, faults.end());
    for (size_t f = 0; f < faults.size(); ++f) {
      auto& [what, fault] = faults[f];
      const size_t before = ledger_.count();
      const auto at = Clock::now();
      fault();
      const size_t kind = (f + static_cast<size_t>(round) % 3) % 3;  // before the rotation
      fault_seconds[kind] += std::chrono::duration<double>(Clock::now() - at).count();
      if (!ledger_.WaitCount(before + kAcksBetweenFaults, kRecoverWithin)) {
        StopSenders();
        FAIL() << "round " << round << ": sends were not acknowledged again after " << what << "\n"
               << ::testing::PrintToString(ledger_.failures()) << "\n"
               << cluster_.LogTail();
      }
      recover_seconds[kind] += std::chrono::duration<double>(Clock::now() - at).count();
    }
    ASSERT_TRUE(cluster_.WaitBack(daemon, daemon_pid, kBackWithin))
        << "round " << round << ": " << daemon << " not back\n" << cluster_.LogTail();
    ASSERT_TRUE(cluster_.WaitBack(pool, pool_pid, kBackWithin))
        << "round " << round << ": " << pool << " not back\n" << cluster_.LogTail();
  }
  StopSenders();
  const auto faults_done = Clock::now();
  ASSERT_TRUE(ledger_.failures().empty()) << ::testing::PrintToString(ledger_.failures());

  const std::map<std::string, int64_t> acked = ledger_.acked();
  std::vector<int64_t> want;
  for (const auto& [client_id, id] : acked) want.push_back(id);
  std::sort(want.begin(), want.end());
  ASSERT_FALSE(want.empty());

  // The room's history through nginx: each acknowledged send once, with
  // its id, and nothing else.
  std::map<std::string, std::vector<int64_t>> stored;  // client_id -> ids
  {
    Client c = Api(&owner);
    int64_t after = 0;
    for (bool more = true; more;) {
      const std::string page =
          "/api/rooms/" + std::to_string(room_) + "/messages?after=" + std::to_string(after) + "&limit=200";
      // A connection idle since the last PostgreSQL restart answers its
      // first statement 503 (try again), as a sender's would.
      Response r = c.Get(page);
      for (int retry = 0; r.status >= 500 && retry < 20; ++retry) {
        std::this_thread::sleep_for(100ms);
        r = c.Get(page);
      }
      ASSERT_EQ(r.status, 200) << r.Describe() << "\n" << cluster_.LogTail();
      Json j = r.json();
      for (const Json& m : j["messages"].items()) {
        stored[m["client_id"].str()].push_back(m["id"].num());
        after = std::max(after, m["id"].num());
      }
      more = j["has_more"].boolean() && j["messages"].size() > 0;
    }
  }
  size_t duplicates = 0, missing = 0, wrong_id = 0, never_sent = 0;
  for (const auto& [client_id, ids] : stored) {
    duplicates += ids.size() - 1;
    never_sent += acked.count(client_id) == 0;
  }
  for (const auto& [client_id, id] : acked) {
    auto it = stored.find(client_id);
    if (it == stored.end()) {
      ++missing;
    } else if (it->second.front() != id) {
      ++wrong_id;
    }
  }
  EXPECT_EQ(duplicates + missing + wrong_id + never_sent, 0u)
      << acked.size() << " acknowledged, " << stored.size() << " client ids stored: " << duplicates
      << " duplicates, " << missing << " missing, " << wrong_id << " under another id, " << never_sent
      << " never sent";

  // Every subscriber catches up (bounded), then saw exactly `want`.
  const auto catch_up = Clock::now() + kCatchUpWithin;
  for (auto& s : seen) {
    while (s->max() < want.back() && s->failure().empty() && Clock::now() < catch_up) {
      std::this_thread::sleep_for(50ms);
    }
  }
  StopAll();
  for (int i = 0; i < kStreams + kPollers; ++i) {
    Seen& s = *seen[static_cast<size_t>(i)];
    const std::string who = (i < kStreams ? "stream " : "poller ") + std::to_string(i);
    EXPECT_EQ(s.failure(), "") << who;
    EXPECT_EQ(Compare(s.ids(), want), "") << who;
  }

  int reconnects = 0;
  for (auto& s : seen) reconnects += s->reconnects();
  const auto secs = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  std::printf("chaos: %d rounds, %zu sends acknowledged (%d retries), %d subscriber reconnections; "
              "%.1f s in all, %.1f s of faults\n",
              kRounds, acked.size(), ledger_.retries(), reconnects, secs(Clock::now() - started),
              secs(faults_done - started));
  std::printf("chaos: seconds in all (the fault itself / until %zu more acks): daemon %.1f/%.1f, pool %.1f/%.1f, "
              "PostgreSQL %.1f/%.1f\n",
              kAcksBetweenFaults, fault_seconds[0], recover_seconds[0], fault_seconds[1], recover_seconds[1],
              fault_seconds[2], recover_seconds[2]);
}

}  // namespace
}  // namespace parley::e2e
