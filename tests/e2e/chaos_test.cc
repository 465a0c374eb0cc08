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
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "chaos_traffic.h"
#include "client.h"
#include "cluster.h"
#include "json.h"

namespace parley::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kHosts = 3;
constexpr int kRounds = 10;
constexpr int kSenders = 4;
constexpr int kStreams = 3;  // SSE subscribers
constexpr int kPollers = 3;  // long-poll subscribers
// Sends acknowledged after each fault before the next one (the load period,
// and the proof that the cluster recovered).
constexpr size_t kAcksBetweenFaults = 25;
constexpr auto kRecoverWithin = 20s;   // acks flow again after a fault
constexpr auto kBackWithin = 20s;      // a killed process runs again
constexpr auto kCatchUpWithin = 20s;   // subscribers see the last ack

// Each sender's pause between messages: about 80 sends/s in all, load
// without saturating two shared cores; a request lost in a fault is
// retried after 5 s.
TrafficOptions Load() {
  TrafficOptions o;
  o.send_gap = 40ms;
  o.send_timeout_ms = 5000;
  o.recover_within = kRecoverWithin;
  return o;
}

class ChaosTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    if (!cluster_.Start(&error)) FAIL() << error;
  }

  Cluster cluster_{ClusterOptions{kHosts, /*restart=*/true}};
  Traffic traffic_{cluster_, Load()};  // stopped before the cluster
};

TEST_F(ChaosTest, AcknowledgedSendsAreStoredAndDeliveredExactlyOnceThroughTenRoundsOfCrashes) {
  const auto started = Clock::now();
  ASSERT_EQ(traffic_.Start(kSenders, kStreams, kPollers), "") << cluster_.LogTail();
  Ledger& ledger = traffic_.ledger();

  // Ten rounds, each: a daemon, a pool and PostgreSQL, in a rotating order,
  // with acknowledged traffic after each fault.
  ASSERT_TRUE(ledger.WaitCount(kAcksBetweenFaults, kRecoverWithin)) << "no traffic before the first fault";
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
      const size_t before = ledger.count();
      const auto at = Clock::now();
      fault();
      const size_t kind = (f + static_cast<size_t>(round) % 3) % 3;  // before the rotation
      fault_seconds[kind] += std::chrono::duration<double>(Clock::now() - at).count();
      if (!ledger.WaitCount(before + kAcksBetweenFaults, kRecoverWithin)) {
        traffic_.StopSenders();
        FAIL() << "round " << round << ": sends were not acknowledged again after " << what << "\n"
               << ::testing::PrintToString(ledger.failures()) << "\n"
               << cluster_.LogTail();
      }
      recover_seconds[kind] += std::chrono::duration<double>(Clock::now() - at).count();
    }
    ASSERT_TRUE(cluster_.WaitBack(daemon, daemon_pid, kBackWithin))
        << "round " << round << ": " << daemon << " not back\n" << cluster_.LogTail();
    ASSERT_TRUE(cluster_.WaitBack(pool, pool_pid, kBackWithin))
        << "round " << round << ": " << pool << " not back\n" << cluster_.LogTail();
  }
  traffic_.StopSenders();
  const auto faults_done = Clock::now();
  const size_t acked = ledger.count();
  EXPECT_EQ(traffic_.Verify(kCatchUpWithin), "");
  // Every daemon, restarted or not, has read the whole log without another
  // commit. A daemon that missed what was committed while it started kept
  // its head behind for good, and a poller that nginx kept sending to it
  // (round robin in step with the other pollers) missed the tail.
  EXPECT_TRUE(cluster_.DaemonsCaughtUp(5s)) << cluster_.DaemonStats();

  const int reconnects = traffic_.reconnects();
  const auto secs = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  std::printf("chaos: %d rounds, %zu sends acknowledged (%d retries), %d subscriber reconnections; "
              "%.1f s in all, %.1f s of faults\n",
              kRounds, acked, ledger.retries(), reconnects, secs(Clock::now() - started),
              secs(faults_done - started));
  std::printf("chaos: seconds in all (the fault itself / until %zu more acks): daemon %.1f/%.1f, pool %.1f/%.1f, "
              "PostgreSQL %.1f/%.1f\n",
              kAcksBetweenFaults, fault_seconds[0], recover_seconds[0], fault_seconds[1], recover_seconds[1],
              fault_seconds[2], recover_seconds[2]);
}

}  // namespace
}  // namespace parley::e2e
