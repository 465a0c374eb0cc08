// Two writes on two PostgreSQL connections, the second started while the
// first's transaction is still open: what the PgStore's row locks are for
// (a check that guards a write holds what it read until COMMIT). Used by
// the pg_store_*_test.cc files.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <thread>

#include "schema/pg/conn.h"
#include "schema/storage.h"
#include "tests/unit/temp_db.h"  // EXPECT_OK

namespace parley::test {

struct LockRace {
  bool waited = false;  // the second write waited for a lock of the first
  Status second;        // what the second write answered, after the first committed
};

// Runs `first` on `a` inside a batch (so its transaction stays open with its
// locks), then `second` on `b` in a thread; waits (bounded) until b's
// server process waits for a lock, commits the batch, and returns what
// `second` answered. `watch` is a third connection that observes b.
inline LockRace RaceAfterOpenWrite(Storage& a, pg::PgConn& b_conn, pg::PgConn& watch,
                                   const std::function<Status()>& first,
                                   const std::function<Status()>& second) {
  LockRace race;
  auto pid = b_conn.Exec("SELECT pg_backend_pid()");
  EXPECT_OK(pid);
  if (!pid.ok()) return race;
  const std::string b_pid = pid->Text(0, 0);
  auto batch = a.BeginBatch();
  EXPECT_OK(batch);
  if (!batch.ok()) return race;
  EXPECT_OK(first());
  std::atomic<bool> done{false};
  std::thread t([&] {
    race.second = second();
    done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done && !race.waited && std::chrono::steady_clock::now() < deadline) {
    auto w = watch.Exec("SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'",
                        {b_pid});
    EXPECT_OK(w);
    if (!w.ok()) break;
    race.waited = w->Text(0, 0) == "1";
    if (!race.waited) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_OK((*batch)->Commit());
  t.join();
  return race;
}

}  // namespace parley::test
