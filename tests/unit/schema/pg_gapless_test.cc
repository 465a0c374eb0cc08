// The proof of issue 10 item 2 (DESIGN §7): on PostgreSQL, ids taken from
// the counter row (schema/pg/event_log.h) reach every tailing reader exactly
// once, ascending, however the writers' transactions interleave; ids taken
// from a plain bigserial do not, and the same test catches it.
//
// 16 writers, each on its own connection, run transactions that sleep a
// little, take 1-3 ids, sleep again with the ids taken but not committed
// (the window in which a sequence lets a higher id commit first), then
// commit, or roll back one time in ten. 4 readers tail all along with
// `id > cursor ORDER BY id` and move their cursor to the last id they read.
// When the writers are done, each reader reads until it has caught up.
// Everything is bounded by kDeadline; the test waits on conditions (writers
// joined, a read that began after that came back empty), never on time.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <numeric>
#include <random>
#include <thread>
#include <vector>

#include "schema/pg/event_log.h"
#include "schema/pg/migrate.h"
#include "tests/unit/schema/pg_cluster.h"

namespace parley::pg {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kWriters = 16;
constexpr int kReaders = 4;
constexpr int kTxPerWriter = 15;
constexpr int kReadPage = 500;
constexpr auto kDeadline = std::chrono::seconds(60);

// How a writer takes ids in its transaction: the ids of the n rows it added.
using AppendFn = std::function<Result<std::vector<int64_t>>(PgTx&, int n)>;
// How a reader tails: ids above `after`, ascending, at most kReadPage.
using TailFn = std::function<Result<std::vector<int64_t>>(PgConn&, int64_t after)>;

struct Outcome {
  std::vector<int64_t> committed;          // ids whose COMMIT succeeded, sorted
  std::vector<std::vector<int64_t>> seen;  // per reader, in the order read
  std::string error;                       // the first failure in any thread
  double seconds = 0;
};

class TailRun {
 public:
  // batches: each writer's transactions are group-commit batches of
  // savepoints instead of plain transactions.
  TailRun(std::string url, AppendFn append, TailFn tail, bool batches = false)
      : url_(std::move(url)), append_(std::move(append)), tail_(std::move(tail)), batches_(batches), seen_(kReaders) {}

  Outcome Go() {
    Clock::time_point start = Clock::now();
    deadline_ = start + kDeadline;
    std::vector<std::thread> readers, writers;
    for (int r = 0; r < kReaders; ++r) readers.emplace_back([this, r] { Reader(r); });
    for (int w = 0; w < kWriters; ++w) writers.emplace_back([this, w] { Writer(w); });
    for (auto& t : writers) t.join();
    writers_done_ = true;
    for (auto& t : readers) t.join();
    Outcome out;
    out.committed = std::move(committed_);
    std::sort(out.committed.begin(), out.committed.end());
    out.seen = std::move(seen_);
    out.error = error_;
    out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return out;
  }

 private:
  void Fail(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_.empty()) error_ = what;
    stop_ = true;
  }
  bool Late() {
    if (Clock::now() > deadline_) Fail("the run passed its deadline");
    return stop_;
  }

  void Writer(int w) {
    auto conn = PgConn::Connect(url_);
    if (!conn.ok()) return Fail(conn.status().ToString());
    std::mt19937 rng(static_cast<unsigned>(w + 1));
    for (int i = 0; i < kTxPerWriter && !Late(); ++i) {
      std::vector<int64_t> ids;  // what this transaction committed
      Status st = batches_ ? RunBatch(**conn, rng, &ids) : RunTransaction(**conn, rng, &ids);
      if (!st.ok()) return Fail(st.ToString());
      std::lock_guard<std::mutex> lock(mu_);
      committed_.insert(committed_.end(), ids.begin(), ids.end());
    }
  }

  static int Draw(std::mt19937& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
  static void Pause(std::mt19937& rng, int min_us, int max_us) {
    std::this_thread::sleep_for(std::chrono::microseconds(Draw(rng, min_us, max_us)));
  }

  // One transaction that takes 1-3 ids, rolled back one time in ten.
  Status RunTransaction(PgConn& conn, std::mt19937& rng, std::vector<int64_t>* committed) {
    PARLEY_ASSIGN_OR_RETURN(auto tx, PgTx::Begin(conn));
    Pause(rng, 0, 500);
    PARLEY_ASSIGN_OR_RETURN(std::vector<int64_t> ids, append_(*tx, Draw(rng, 1, 3)));
    Pause(rng, 500, 3000);  // ids taken, not committed: the window
    if (rng() % 10 == 0) return Status::Ok();  // rolled back by the guard
    PARLEY_RETURN_IF_ERROR(tx->Commit());
    *committed = std::move(ids);
    return Status::Ok();
  }

  // One group-commit batch (PgBatch, as the worker's writer runs them): 1-4
  // writes, each in its savepoint taking 1-3 ids, one write in five rolled
  // back on its own; the batch rolled back one time in ten.
  Status RunBatch(PgConn& conn, std::mt19937& rng, std::vector<int64_t>* committed) {
    PARLEY_ASSIGN_OR_RETURN(auto batch, PgBatch::Begin(conn, [&conn] { return FinishIds(conn); }));
    std::vector<int64_t> kept;
    for (int writes = Draw(rng, 1, 4); writes > 0; --writes) {
      PARLEY_ASSIGN_OR_RETURN(auto tx, PgTx::Begin(conn));
      Pause(rng, 0, 300);
      PARLEY_ASSIGN_OR_RETURN(std::vector<int64_t> ids, append_(*tx, Draw(rng, 1, 3)));
      if (rng() % 5 == 0) continue;  // rolled back to its savepoint by the guard
      PARLEY_RETURN_IF_ERROR(tx->Commit());
      kept.insert(kept.end(), ids.begin(), ids.end());
    }
    Pause(rng, 500, 3000);  // the window again
    if (rng() % 10 == 0) return Status::Ok();
    PARLEY_RETURN_IF_ERROR(batch->Commit());
    *committed = std::move(kept);
    return Status::Ok();
  }

  void Reader(int r) {
    auto conn = PgConn::Connect(url_);
    if (!conn.ok()) return Fail(conn.status().ToString());
    int64_t cursor = 0;
    while (!Late()) {
      // Once a read that began after the last commit comes back empty, the
      // reader has everything it will ever see.
      bool final_read = writers_done_;
      auto page = tail_(**conn, cursor);
      if (!page.ok()) return Fail(page.status().ToString());
      for (int64_t id : *page) {
        seen_[r].push_back(id);
        cursor = id;
      }
      if (page->empty()) {
        if (final_read) return;
        std::this_thread::sleep_for(std::chrono::microseconds(200));  // pacing, not waiting
      }
    }
  }

  const std::string url_;
  const AppendFn append_;
  const TailFn tail_;
  const bool batches_;
  Clock::time_point deadline_;
  std::atomic<bool> writers_done_{false};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<int64_t> committed_;         // guarded by mu_
  std::string error_;                      // guarded by mu_
  std::vector<std::vector<int64_t>> seen_;  // one per reader, each written by its reader only
};

std::vector<int64_t> IdsOf(const std::vector<Event>& events) {
  std::vector<int64_t> ids;
  for (const Event& e : events) ids.push_back(e.id);
  return ids;
}

// The first column of every row.
Result<std::vector<int64_t>> IdsOf(const PgResult& rows) {
  std::vector<int64_t> ids;
  for (int i = 0; i < rows.Rows(); ++i) {
    PARLEY_ASSIGN_OR_RETURN(int64_t id, rows.Int(i, 0));
    ids.push_back(id);
  }
  return ids;
}

bool StrictlyAscending(const std::vector<int64_t>& ids) {
  return std::adjacent_find(ids.begin(), ids.end(), std::greater_equal<int64_t>()) == ids.end();
}

// How many committed ids the reader never saw.
size_t Missed(const std::vector<int64_t>& committed, const std::vector<int64_t>& seen) {
  std::vector<int64_t> sorted = seen;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> missing;
  std::set_difference(committed.begin(), committed.end(), sorted.begin(), sorted.end(),
                      std::back_inserter(missing));
  return missing.size();
}

// The counter row's appends (event_log.h), each in a savepoint of its own.
Result<std::vector<int64_t>> AppendMessages(PgTx& tx, int n) {
  std::vector<Event> events(n);
  for (Event& e : events) {
    e.type = "message";
    e.room_id = 1;
    e.data = "{}";
  }
  PARLEY_RETURN_IF_ERROR(AppendEvents(tx, events));
  return IdsOf(events);
}

Result<std::vector<int64_t>> TailEvents(PgConn& conn, int64_t after) {
  PARLEY_ASSIGN_OR_RETURN(std::vector<Event> events, ReadEventsAfter(conn, after, kReadPage));
  return IdsOf(events);
}

// The run on a fresh migrated schema: every committed id, 1 to n with no
// gap (rolled-back appends gave theirs back), reached every reader once,
// ascending.
void ExpectGaplessAndSeenByAll(const std::string& prefix, bool batches) {
  PARLEY_PG_CLUSTER(cluster);
  ASSERT_OK_AND_ASSIGN(std::string url, cluster->NewSchema(prefix));
  {
    ASSERT_OK_AND_ASSIGN(auto conn, PgConn::Connect(url));
    ASSERT_OK(MigratePg(*conn));
  }
  Outcome out = TailRun(url, AppendMessages, TailEvents, batches).Go();
  ASSERT_EQ(out.error, "");
  ASSERT_GT(out.committed.size(), static_cast<size_t>(kWriters * kTxPerWriter / 2));
  std::vector<int64_t> expected(out.committed.size());
  std::iota(expected.begin(), expected.end(), 1);
  EXPECT_EQ(out.committed, expected);
  for (int r = 0; r < kReaders; ++r) {
    EXPECT_TRUE(StrictlyAscending(out.seen[r])) << "reader " << r;
    EXPECT_EQ(out.seen[r], out.committed) << "reader " << r << " missed " << Missed(out.committed, out.seen[r]);
  }
  std::cout << "counter row" << (batches ? ", batches" : "") << ": " << out.committed.size() << " ids committed by "
            << kWriters << " writers in " << out.seconds << " s; every reader saw each once, in order\n";
}

TEST(PgGaplessTest, CounterRowIdsReachEveryTailingReaderExactlyOnceInOrder) {
  ExpectGaplessAndSeenByAll("gapless", false);
}

// The same with group commit: a batch takes the row at its first append,
// hands out its later ids itself and writes the row back at its COMMIT;
// a write rolled back to its savepoint gives its ids back to the batch.
TEST(PgGaplessTest, GroupCommitBatchesKeepTheIdsGaplessAndInCommitOrder) {
  ExpectGaplessAndSeenByAll("gapless_batches", true);
}

// The negative control: the same run on a sequence must show a skip, or the
// test above could not fail.
TEST(PgGaplessTest, NegativeControlBigserialIdsAreSkippedByATailingReader) {
  PARLEY_PG_CLUSTER(cluster);
  ASSERT_OK_AND_ASSIGN(std::string url, cluster->NewSchema("bigserial"));
  {
    ASSERT_OK_AND_ASSIGN(auto conn, PgConn::Connect(url));
    ASSERT_OK(conn->ExecScript("CREATE TABLE serial_log (id bigserial PRIMARY KEY, data text NOT NULL)"));
  }
  AppendFn append = [](PgTx& tx, int n) -> Result<std::vector<int64_t>> {
    PARLEY_ASSIGN_OR_RETURN(
        PgResult rows,
        tx.conn().Exec("INSERT INTO serial_log (data) SELECT '{}' FROM generate_series(1, $1) RETURNING id", {n}));
    return IdsOf(rows);
  };
  TailFn tail = [](PgConn& conn, int64_t after) -> Result<std::vector<int64_t>> {
    PARLEY_ASSIGN_OR_RETURN(
        PgResult rows, conn.Exec("SELECT id FROM serial_log WHERE id > $1 ORDER BY id LIMIT $2", {after, kReadPage}));
    return IdsOf(rows);
  };
  Outcome out = TailRun(url, append, tail).Go();
  ASSERT_EQ(out.error, "");
  size_t missed = 0;
  for (int r = 0; r < kReaders; ++r) {
    EXPECT_TRUE(StrictlyAscending(out.seen[r])) << "reader " << r;
    missed += Missed(out.committed, out.seen[r]);
  }
  EXPECT_GT(missed, 0u) << "no reader skipped an id on a bigserial: the proof above could not fail";
  std::cout << "bigserial: " << out.committed.size() << " ids committed in " << out.seconds << " s; the "
            << kReaders << " readers skipped " << missed << " (negative control)\n";
}

}  // namespace
}  // namespace parley::pg
