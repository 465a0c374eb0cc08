// fcgi/read_quota.h: one bucket of reads per user, whichever session reads.
#include "fcgi/read_quota.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace parley::fcgi {
namespace {

TEST(ReadQuotaTest, AUsersBurstThenTheirRateAndNoOneElses) {
  ReadQuota reads(Rate{1, 3});
  const int64_t t = 1'000'000;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(reads.Take(7, t).ok()) << i;
  Status st = reads.Take(7, t);
  EXPECT_EQ(st.code(), Code::kThrottled);
  EXPECT_EQ(st.reason(), "throttled");
  EXPECT_EQ(st.retry_after_s(), 1);
  EXPECT_TRUE(reads.Take(8, t).ok()) << "another user has a bucket of their own";
  EXPECT_FALSE(reads.Take(7, t + 999).ok());
  EXPECT_TRUE(reads.Take(7, t + 1000).ok()) << "one token a second";
}

TEST(ReadQuotaTest, UnlimitedTakesEverything) {
  ReadQuota reads(Rate{});
  for (int i = 0; i < 10000; ++i) ASSERT_TRUE(reads.Take(1, 0).ok());
}

// The request threads of a worker share it: exactly the burst goes through.
TEST(ReadQuotaTest, ThreadsShareOneBucketPerUser) {
  ReadQuota reads(Rate{0.001, 1000});
  std::atomic<int> taken{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) taken += reads.Take(42, 5000).ok() ? 1 : 0;
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(taken.load(), 1000);
}

}  // namespace
}  // namespace parley::fcgi
