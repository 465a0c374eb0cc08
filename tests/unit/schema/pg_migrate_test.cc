// schema/pg/migrate.h against a real PostgreSQL server (pg_cluster.h).
#include "schema/pg/migrate.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "tests/unit/schema/pg_cluster.h"

namespace parley::pg {
namespace {

TEST(PgMigrateTest, AppliesEveryMigrationOnceAndRecordsTheVersion) {
  PARLEY_PG_CLUSTER(cluster);
  ASSERT_OK_AND_ASSIGN(std::string url, cluster->NewSchema("migrate"));
  ASSERT_OK_AND_ASSIGN(auto conn, PgConn::Connect(url));
  ASSERT_OK_AND_ASSIGN(PgResult schema, conn->Exec("SELECT current_schema()"));
  EXPECT_EQ(schema.Text(0, 0).rfind("migrate_", 0), 0u) << schema.Text(0, 0);  // the test's own
  ASSERT_GE(LatestPgSchemaVersion(), 1);
  ASSERT_OK_AND_ASSIGN(int v, MigratePg(*conn));
  EXPECT_EQ(v, LatestPgSchemaVersion());
  ASSERT_OK_AND_ASSIGN(int again, MigratePg(*conn));  // a second start: nothing to do
  EXPECT_EQ(again, v);
  ASSERT_OK_AND_ASSIGN(PgResult r, conn->Exec("SELECT version FROM schema_version"));
  ASSERT_EQ(r.Rows(), 1);
  EXPECT_EQ(r.Int(0, 0).value(), v);
  ASSERT_OK_AND_ASSIGN(PgResult counter, conn->Exec("SELECT last FROM event_counter"));
  ASSERT_EQ(counter.Rows(), 1);
  EXPECT_EQ(counter.Int(0, 0).value(), 0);
}

TEST(PgMigrateTest, ConcurrentStartersApplyEachMigrationOnce) {
  PARLEY_PG_CLUSTER(cluster);
  ASSERT_OK_AND_ASSIGN(std::string url, cluster->NewSchema("migrate_race"));
  constexpr int kStarters = 4;
  std::vector<Result<int>> results(kStarters, Status::Internal("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < kStarters; ++i) {
    threads.emplace_back([&, i] {
      auto conn = PgConn::Connect(url);
      results[i] = conn.ok() ? MigratePg(**conn) : Result<int>(conn.status());
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    ASSERT_OK(r);
    EXPECT_EQ(*r, LatestPgSchemaVersion());
  }
  // Applied twice, migration 001's INSERT would have left two counter rows
  // (or failed on the key).
  ASSERT_OK_AND_ASSIGN(auto conn, PgConn::Connect(url));
  ASSERT_OK_AND_ASSIGN(PgResult r, conn->Exec("SELECT count(*) FROM event_counter"));
  EXPECT_EQ(r.Int(0, 0).value(), 1);
}

TEST(PgMigrateTest, ADatabaseNewerThanTheBinaryIsRefused) {
  PARLEY_PG_CLUSTER(cluster);
  ASSERT_OK_AND_ASSIGN(std::string url, cluster->NewSchema("migrate_newer"));
  ASSERT_OK_AND_ASSIGN(auto conn, PgConn::Connect(url));
  ASSERT_OK(MigratePg(*conn));
  ASSERT_OK(conn->Exec("UPDATE schema_version SET version = $1", {LatestPgSchemaVersion() + 1}).status());
  EXPECT_ERROR(MigratePg(*conn), Code::kInternal, "internal");
}

}  // namespace
}  // namespace parley::pg
