#include "fcgi/gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

namespace parley::fcgi {
namespace {

using namespace std::chrono_literals;

// Waits (bounded) until `n` threads queue for a pass.
void WaitForWaiting(Gate& gate, size_t n) {
  for (auto deadline = std::chrono::steady_clock::now() + 10s; gate.Waiting() < n;) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "only " << gate.Waiting() << " of " << n << " queued";
    std::this_thread::sleep_for(1ms);
  }
}

TEST(GateTest, NoMoreThanTheSlotsHoldAPassAtOnce) {
  Gate gate(2);
  std::atomic<int> holding{0}, most{0}, done{0}, shared_seat{0};
  std::atomic<int> in_seat[2] = {0, 0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] {
      for (int round = 0; round < 20; ++round) {
        Gate::Pass pass = gate.Enter();
        ASSERT_TRUE(pass.seat() == 0 || pass.seat() == 1) << pass.seat();
        if (++in_seat[pass.seat()] != 1) ++shared_seat;
        int now = ++holding;
        for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
        }
        std::this_thread::sleep_for(100us);
        --holding;
        --in_seat[pass.seat()];
      }
      ++done;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(done.load(), 16);
  EXPECT_EQ(most.load(), 2);
  EXPECT_EQ(shared_seat.load(), 0) << "two threads held one seat";
  EXPECT_EQ(gate.Waiting(), 0u);
}

TEST(GateTest, PassesGoInArrivalOrderAndTheWriterFirst) {
  Gate gate(1);
  Gate::Pass mine = gate.Enter();
  std::mutex mu;
  std::vector<std::string> order;
  auto take = [&](const std::string& name, bool first) {
    Gate::Pass pass = first ? gate.EnterFirst() : gate.Enter();
    std::lock_guard<std::mutex> lock(mu);
    order.push_back(name);
  };
  std::thread a(take, "a", false);
  WaitForWaiting(gate, 1);
  std::thread b(take, "b", false);
  WaitForWaiting(gate, 2);
  std::thread w(take, "writer", true);
  WaitForWaiting(gate, 3);
  mine.Leave();
  a.join();
  b.join();
  w.join();
  EXPECT_EQ(order, (std::vector<std::string>{"writer", "a", "b"}));
}

TEST(GateTest, AFreeSlotIsNotTakenPastQueuedThreads) {
  Gate gate(1);
  Gate::Pass mine = gate.Enter();
  std::atomic<bool> queued_got{false};
  std::thread queued([&] {
    Gate::Pass p = gate.Enter();
    queued_got = true;
  });
  WaitForWaiting(gate, 1);
  mine.Leave();
  // The slot went to the queued thread, not back to the free count: this
  // Enter waits until that thread gives it back.
  Gate::Pass again = gate.Enter();
  EXPECT_TRUE(queued_got.load());
  queued.join();
}

TEST(GateTest, AFreeSeatIsTheOneUsedLast) {
  Gate gate(3);
  Gate::Pass a = gate.Enter();
  Gate::Pass b = gate.Enter();
  const int seat_a = a.seat(), seat_b = b.seat();
  EXPECT_NE(seat_a, seat_b);
  b.Leave();
  a.Leave();
  Gate::Pass c = gate.Enter();
  Gate::Pass d = gate.Enter();
  EXPECT_EQ(c.seat(), seat_a);
  EXPECT_EQ(d.seat(), seat_b);
}

TEST(GateTest, APassMovesAndLeavesOnce) {
  Gate gate(1);
  Gate::Pass a = gate.Enter();
  Gate::Pass b = std::move(a);
  EXPECT_FALSE(a.held());
  EXPECT_TRUE(b.held());
  b.Leave();
  b.Leave();
  EXPECT_FALSE(b.held());
  Gate::Pass c = gate.EnterFirst();  // the one slot is free again
  EXPECT_TRUE(c.held());
}

}  // namespace
}  // namespace parley::fcgi
