// schema/start_retry.cc: the start-up migration tried again while the
// database is unavailable, and only then.
#include "schema/start_retry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace parley {
namespace {

using std::chrono::milliseconds;

// Attempts answer `answers` in turn (the last one from then on); waits are
// recorded, not slept.
struct Script {
  std::vector<Result<int>> answers;
  int attempts = 0;
  std::vector<milliseconds> waits;
  bool keep_waiting = true;
  Result<int> Run(const StartRetry& retry) {
    return RetryWhileUnavailable(
        "test", retry,
        [this]() -> Result<int> {
          const size_t i = std::min(static_cast<size_t>(attempts), answers.size() - 1);
          ++attempts;
          return answers[i];
        },
        [this](milliseconds d) {
          waits.push_back(d);
          return keep_waiting;
        });
  }
};

TEST(StartRetryTest, UnavailableIsTriedAgainWithABackoffUntilItSucceeds) {
  Script s{{Status::Unavailable("connecting to PostgreSQL: refused"), Status::Unavailable("busy"),
            Status::Unavailable("busy"), Status::Unavailable("busy"), 42}};
  StartRetry retry{milliseconds(60'000), milliseconds(100), milliseconds(300)};
  Result<int> r = s.Run(retry);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 42);
  EXPECT_EQ(s.attempts, 5);
  EXPECT_EQ(s.waits, (std::vector<milliseconds>{milliseconds(100), milliseconds(200), milliseconds(300),
                                                 milliseconds(300)}));
}

TEST(StartRetryTest, OtherErrorsAreReturnedAtOnce) {
  Script s{{Status::Internal("database schema version 99 is newer than this binary (40)"), 1}};
  Result<int> r = s.Run(StartRetry{});
  EXPECT_EQ(r.status().code(), Code::kInternal);
  EXPECT_EQ(s.attempts, 1);
  EXPECT_TRUE(s.waits.empty());
}

TEST(StartRetryTest, GivesUpOnceTheBudgetIsSpent) {
  Script s{{Status::Unavailable("busy")}};
  // Waits are not slept here: a zero budget is spent at the first failure.
  Result<int> r = s.Run(StartRetry{milliseconds(0), milliseconds(100), milliseconds(100)});
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_EQ(s.attempts, 1);
  EXPECT_TRUE(s.waits.empty());
}

TEST(StartRetryTest, AStopWhileWaitingEndsTheRetries) {
  Script s{{Status::Unavailable("busy"), 7}};
  s.keep_waiting = false;
  Result<int> r = s.Run(StartRetry{});
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_EQ(s.attempts, 1);
  EXPECT_EQ(s.waits.size(), 1u);
}

}  // namespace
}  // namespace parley
