#include "events/pacer.h"

#include <event2/event.h>
#include <gtest/gtest.h>

#include <memory>

namespace parley::events {
namespace {

TEST(PageBucketTest, ABurstOfTwiceTheRateGoesAtOnceThenOneEveryPeriod) {
  PageBucket b(4, 1000);  // 4 pages/s: 8 at once, then one every 250 ms
  for (int i = 0; i < 8; ++i) EXPECT_EQ(b.Take(1000), 0) << "page " << i;
  EXPECT_EQ(b.Take(1000), 250);
  EXPECT_EQ(b.Take(1000), 500) << "the next caller queues behind the one already waiting";
  EXPECT_EQ(b.Take(1750), 0) << "three periods later both waiting pages and this one are paid for";
  EXPECT_EQ(b.Take(1750), 250);
}

TEST(PageBucketTest, UnusedPartOfAPageIsGivenBack) {
  PageBucket b(4, 0);
  for (int i = 0; i < 8; ++i) ASSERT_EQ(b.Take(0), 0);
  // Live polls (a few events each) take a page and give almost all of it back.
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(b.Take(0), 250) << "the bucket is empty";
    b.Refund(1.0);
  }
  b.Refund(5.0);  // at most one page back per call
  EXPECT_EQ(b.Take(0), 0);
  EXPECT_EQ(b.Take(0), 250);
}

TEST(PageBucketTest, RefillsToTheBurstAndNoFurther) {
  PageBucket b(4, 0);
  for (int i = 0; i < 8; ++i) ASSERT_EQ(b.Take(0), 0);
  EXPECT_FALSE(b.Full(1000));
  EXPECT_TRUE(b.Full(2000));
  for (int i = 0; i < 8; ++i) EXPECT_EQ(b.Take(60000), 0) << "an hour idle still gives 8 pages, page " << i;
  EXPECT_EQ(b.Take(60000), 250);
}

TEST(PageBudgetsTest, APageWaitsForTheLaterOfItsUsersAndItsAddresssBucket) {
  PageBudgets b(2, 4);  // per user 2/s (4 at once), per address 4/s (8 at once)
  // One user from many addresses: the user's bucket binds.
  for (uint64_t a = 1; a <= 4; ++a) EXPECT_EQ(b.Take(PaceKey{7, a}, 0), 0);
  EXPECT_EQ(b.Take(PaceKey{7, 5}, 0), 500) << "a new address adds no pages to the user";
  // Many users from one address: the address's bucket binds.
  for (int64_t u = 10; u < 17; ++u) EXPECT_EQ(b.Take(PaceKey{u, 99}, 0), 0) << "user " << u;
  EXPECT_EQ(b.Take(PaceKey{17, 99}, 0), 0) << "the address's 8th page";
  EXPECT_EQ(b.Take(PaceKey{18, 99}, 0), 250) << "a new account adds no pages to the address";
  // No address (a request straight to the socket): by user only.
  for (int i = 0; i < 4; ++i) EXPECT_EQ(b.Take(PaceKey{30, 0}, 0), 0);
  EXPECT_EQ(b.Take(PaceKey{30, 0}, 0), 500);
}

TEST(PageBudgetsTest, WhatAPageLeftUnusedGoesBackToBothBuckets) {
  PageBudgets b(2, 2);
  for (int i = 0; i < 4; ++i) ASSERT_EQ(b.Take(PaceKey{1, 5}, 0), 0);
  // Small pages (a live-ish poll): taken and given back, so never waiting.
  for (int i = 0; i < 50; ++i) {
    ASSERT_EQ(b.Take(PaceKey{1, 5}, 0), 500);
    b.Built(PaceKey{1, 5}, 0.0);
  }
  EXPECT_EQ(b.Take(PaceKey{2, 5}, 0), 500) << "a fresh user, but the address has no page left";
}

// Whatever others ask, a page is due within 2 s or is not taken (the
// caller refuses or retries it): a bucket owes at most 2 s of its rate.
// Unbounded, one user's 1,500 quick polls made every other account behind
// the same address wait minutes.
TEST(PageBudgetsTest, NoSequenceOfPagesPushesAWaitPastTwoSeconds) {
  PageBudgets b(4, 16);  // the defaults: 8 at once per user, 32 per address
  int64_t refused = 0;
  for (int64_t i = 0; i < 1500; ++i) {
    const int64_t wait = b.Take(PaceKey{1, 9}, i);  // one user, a page a ms
    EXPECT_LE(wait, 2000) << "page " << i;
    refused += wait < 0;
  }
  EXPECT_GT(refused, 1400) << "past the bound pages are refused, not queued";
  EXPECT_EQ(b.Take(PaceKey{2, 9}, 1500), 0) << "one user took at most 16 of the address's 32 pages (plus its refill)";
  // Many accounts behind one address: the address's bucket binds, within 2 s too.
  for (int64_t u = 100; u < 200; ++u) {
    for (int i = 0; i < 3; ++i) EXPECT_LE(b.Take(PaceKey{u, 9}, 1500), 2000) << "user " << u;
  }
  EXPECT_LE(b.Take(PaceKey{2, 9}, 1500), 2000);
}

TEST(PageBucketTest, APageThatWouldOweMoreThanTwoSecondsIsNotTaken) {
  PageBucket b(4, 0);
  for (int i = 0; i < 8; ++i) ASSERT_EQ(b.Take(0), 0);
  for (int i = 1; i <= 8; ++i) ASSERT_EQ(b.Take(0), 250 * i);
  EXPECT_EQ(b.Take(0), -1) << "a 9th page would be due in 2.25 s";
  EXPECT_EQ(b.Take(0), -1) << "and a refused page took nothing";
  EXPECT_EQ(b.Take(250), 2000) << "a period later there is room for one";
}

struct EventBaseFree {
  void operator()(event_base* b) const { event_base_free(b); }
};

// A held poll whose client went away (an abort, a timeout) had read
// nothing, and nothing gave its page back: a user aborting catch-up polls
// as fast as they were held ran the address's bucket into debt, and every
// other account behind it waited. (The loop never runs here: pages held
// for 2 s at most are not due within the test.)
TEST(PacerTest, AHeldRequestWhoseConnectionWentGivesItsPageBack) {
  std::unique_ptr<event_base, EventBaseFree> base(event_base_new());
  Config cfg;
  cfg.catchup_pages_per_s = 4;  // 8 at once; the address four times that
  int built = 0;
  Pacer pacer(base.get(), cfg, [&](uint64_t) { return ++built > 0; });
  const PaceKey mallory{1, 9};
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(pacer.Take(mallory), 0);
    pacer.Built(mallory, 1.0);  // whole pages, answered at once
  }
  for (uint64_t conn = 100; conn < 1600; ++conn) {
    const int64_t wait = pacer.Take(mallory);
    ASSERT_NE(wait, 0);
    pacer.Hold(conn, mallory, wait);
    pacer.Release(conn);  // the client goes before its turn
  }
  EXPECT_EQ(built, 0);
  const int64_t next = pacer.Take(mallory);
  EXPECT_GT(next, 0);
  EXPECT_LE(next, 250) << "mallory's own next page waits for her burst only, not for what she dropped";
  pacer.Release(100);  // released twice: nothing more goes back
  // The address's 32 less mallory's 9: other accounts behind it wait for nothing.
  for (int64_t u = 2; u < 5; ++u) {
    for (int i = 0; i < 7; ++i) EXPECT_EQ(pacer.Take(PaceKey{u, 9}), 0) << "user " << u << " page " << i;
  }
}

TEST(PageBudgetsTest, ZeroRatesTurnPacingOffAndIdleBucketsArePruned) {
  PageBudgets off(0, 0);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(off.Take(PaceKey{1, 5}, 0), 0);
  EXPECT_EQ(off.size(), 0u);
  PageBudgets b(2, 8);
  b.Take(PaceKey{1, 5}, 0);
  EXPECT_EQ(b.size(), 2u);
  b.Prune(100);
  EXPECT_EQ(b.size(), 2u) << "not refilled yet";
  b.Prune(1000);
  EXPECT_EQ(b.size(), 0u);
}

TEST(PageUsedTest, TheLargerShareOfEventsOrBytes) {
  EXPECT_DOUBLE_EQ(PageUsed(0, 0, 1000), 0.0);
  EXPECT_DOUBLE_EQ(PageUsed(kPollMax, 10, 1000), 1.0);
  EXPECT_DOUBLE_EQ(PageUsed(kPollMax / 10, 500, 1000), 0.5) << "20 large events cost half a page, not 4 %";
  EXPECT_DOUBLE_EQ(PageUsed(1, 5000, 1000), 1.0);
}

}  // namespace
}  // namespace parley::events
