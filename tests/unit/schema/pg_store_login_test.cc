// schema/pg/store_login.cc against a real PostgreSQL server: the count is
// atomic across connections (pools on several hosts). store_test.cc's
// LoginThrottling* cases hold the rules themselves on both backends.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "schema/pg/store.h"
#include "tests/unit/schema/pg_store_fixture.h"

namespace parley::pg {
namespace {

using PgLoginTest = test::PgStoreFixture;

// 40 guesses at one account from one address, on 8 connections at once: as
// many get through as the limit allows, not one more. A read-then-write
// count without the row lock lets several read the same count.
TEST_F(PgLoginTest, ParallelGuessesOnManyConnectionsGetExactlyTheLimit) {
  Limits limits;
  limits.login_failures = 5;
  constexpr int kConns = 8, kEach = 5;
  std::vector<std::unique_ptr<PgConn>> conns;
  for (int i = 0; i < kConns; ++i) {
    conns.push_back(OtherConn());
    ASSERT_NE(conns.back(), nullptr);
  }
  std::atomic<int> passed{0}, throttled{0}, other{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kConns; ++i) {
    threads.emplace_back([&, i] {
      PgStore store(*conns[i], limits);
      for (int k = 0; k < kEach; ++k) {
        Status st = store.BeginLogin("alice", "10.0.0.1");
        (st.ok() ? passed : st.code() == Code::kThrottled ? throttled : other)++;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(passed.load(), limits.login_failures);
  EXPECT_EQ(throttled.load(), kConns * kEach - limits.login_failures);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(QueryInt("SELECT failures FROM login_throttle WHERE account = 'alice'"), limits.login_failures);
  EXPECT_EQ(QueryInt("SELECT failures FROM login_throttle WHERE account = '' AND address = '10.0.0.1'"),
            limits.login_failures)
      << "refused attempts are not counted against the address either";
}

}  // namespace
}  // namespace parley::pg
