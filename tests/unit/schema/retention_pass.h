// A whole retention pass (schema/retention.h) at NowMs(), for the tests that
// look at what one costs (retention_test.cc, pg_store_plans_test.cc).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>

#include "schema/retention.h"
#include "schema/storage.h"
#include "tests/unit/temp_db.h"

namespace parley::test {

// Steps of at most max_rows until the pass ends; what it deleted.
inline int64_t RetentionPass(Storage& store, int64_t keep_ms, int64_t keep_per_room, int64_t max_rows = 20000) {
  Retention r(store, Retention::Policy{keep_ms, keep_per_room});
  r.Begin(NowMs());
  int64_t deleted = 0;
  for (int steps = 0; r.running() && steps < 100000; ++steps) {
    auto p = r.Step(max_rows, 1000);
    EXPECT_OK(p);
    if (!p.ok()) break;
    EXPECT_LE(p->deleted, max_rows);
    deleted += p->deleted;
  }
  EXPECT_FALSE(r.running());
  return deleted;
}

}  // namespace parley::test
