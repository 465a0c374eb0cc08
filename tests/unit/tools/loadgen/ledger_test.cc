#include "tools/loadgen/ledger.h"

#include <gtest/gtest.h>

namespace parley::loadgen {
namespace {

TEST(Receipts, MarkOnceThenDuplicate) {
  Receipts r;
  EXPECT_TRUE(r.Mark(0));
  EXPECT_TRUE(r.Mark(1000));
  EXPECT_FALSE(r.Mark(1000));
  EXPECT_TRUE(r.Has(0));
  EXPECT_FALSE(r.Has(999));
  EXPECT_FALSE(r.Has(100000));
  EXPECT_EQ(r.unique(), 2u);
}

TEST(Ledger, OwesOnlyAckedMessagesInsideTheWindow) {
  Ledger l;
  uint64_t before = l.Add(100, 0);  // sent before the receiver subscribed
  uint64_t a = l.Add(200, 0);
  uint64_t b = l.Add(300, 0);
  uint64_t failed = l.Add(400, 0);
  uint64_t pending = l.Add(500, 0);
  uint64_t after = l.Add(900, 0);   // sent after the receiver dropped for good
  for (uint64_t g : {before, a, b, after}) l.Ack(g);
  l.Fail(failed);
  l.Ack(failed);  // too late: a failed send stays failed
  EXPECT_EQ(l.acked(), 4u);
  EXPECT_EQ(l.failed(), 1u);
  EXPECT_EQ(l.pending(), 1u);
  (void)pending;

  Receipts r;
  EXPECT_EQ(l.Check(r).expected, 0u);  // never established: nothing owed
  r.since_ns = 150;
  r.until_ns = 800;
  Ledger::Owed o = l.Check(r);
  EXPECT_EQ(o.expected, 2u);
  EXPECT_EQ(o.missing + o.undelivered, 2u);
  r.Mark(a);
  r.Mark(b);
  r.Mark(before);  // received though not owed: fine
  o = l.Check(r);
  EXPECT_EQ(o.missing, 0u);
  EXPECT_EQ(o.undelivered, 0u);
}

TEST(Ledger, GapsAreMissingTailsAreUndelivered) {
  Ledger l;
  // Two senders, interleaved: 0:s0 1:s1 2:s0 3:s1 4:s0 5:s1
  for (int i = 0; i < 6; ++i) l.Ack(l.Add(100 + i, static_cast<uint32_t>(i % 2)));
  Receipts r;
  r.since_ns = 0;
  r.Mark(0);
  r.Mark(4);  // sender 0: 2 was skipped
  r.Mark(1);  // sender 1: 3 and 5 not there yet
  Ledger::Owed o = l.Check(r);
  EXPECT_EQ(o.expected, 6u);
  EXPECT_EQ(o.missing, 1u);
  EXPECT_EQ(o.undelivered, 2u);
}

}  // namespace
}  // namespace parley::loadgen
