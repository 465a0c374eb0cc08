// schema/pg/event_log.h against a real PostgreSQL server (pg_cluster.h):
// what one append does. The concurrent proof is pg_gapless_test.cc.
#include "schema/pg/event_log.h"

#include <gtest/gtest.h>

#include <vector>

#include "schema/pg/migrate.h"
#include "tests/unit/schema/pg_cluster.h"

namespace parley::pg {
namespace {

std::unique_ptr<PgConn> MigratedConn(test::PgCluster* cluster, const std::string& prefix) {
  auto url = cluster->NewSchema(prefix);
  auto conn = url.ok() ? PgConn::Connect(*url) : Result<std::unique_ptr<PgConn>>(url.status());
  if (!conn.ok() || !MigratePg(**conn).ok()) {
    ADD_FAILURE() << "a migrated database: " << conn.status().ToString();
    return nullptr;
  }
  return std::move(conn).value();
}

Event MakeEvent(std::string type, std::optional<int64_t> room, std::string data) {
  Event e;
  e.ts = 1795330742179;
  e.type = std::move(type);
  e.room_id = room;
  e.audience = room ? Audience::kRoom : Audience::kAll;
  e.data = std::move(data);
  return e;
}

TEST(PgEventLogTest, AppendNumbersEventsFromTheCounterAndReadsThemBack) {
  PARLEY_PG_CLUSTER(cluster);
  auto conn = MigratedConn(cluster, "log");
  ASSERT_NE(conn, nullptr);
  std::vector<Event> events = {MakeEvent("message", 2, R"({"text":"hé"})"), MakeEvent("user", std::nullopt, "{}"),
                               MakeEvent("member", 3, "{}")};
  events[1].target_id = 7;
  {
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
    ASSERT_OK(AppendEvents(*tx, events));
    ASSERT_OK(tx->Commit());
  }
  EXPECT_EQ(events[0].id, 1);
  EXPECT_EQ(events[1].id, 2);
  EXPECT_EQ(events[2].id, 3);
  EXPECT_EQ(LastEventId(*conn).value(), 3);
  ASSERT_OK_AND_ASSIGN(std::vector<Event> read, ReadEventsAfter(*conn, 1, 10));
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[0].id, 2);
  EXPECT_EQ(read[0].type, "user");
  EXPECT_EQ(read[0].room_id, std::nullopt);
  EXPECT_EQ(read[0].target_id, 7);
  EXPECT_EQ(read[0].audience, Audience::kAll);
  EXPECT_EQ(read[1].id, 3);
  EXPECT_EQ(read[1].room_id, 3);
  ASSERT_OK_AND_ASSIGN(std::vector<Event> first, ReadEventsAfter(*conn, 0, 1));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].data, R"({"text":"hé"})");
  EXPECT_EQ(first[0].ts, 1795330742179);
}

TEST(PgEventLogTest, ARolledBackAppendLeavesNoGap) {
  PARLEY_PG_CLUSTER(cluster);
  auto conn = MigratedConn(cluster, "rollback");
  ASSERT_NE(conn, nullptr);
  std::vector<Event> lost = {MakeEvent("message", 1, "{}"), MakeEvent("message", 1, "{}")};
  {
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
    ASSERT_OK(AppendEvents(*tx, lost));
  }  // rolled back
  EXPECT_EQ(LastEventId(*conn).value(), 0);
  std::vector<Event> kept = {MakeEvent("message", 1, "{}")};
  ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
  ASSERT_OK(AppendEvents(*tx, kept));
  ASSERT_OK(tx->Commit());
  EXPECT_EQ(kept[0].id, 1);
}

TEST(PgEventLogTest, ABatchLargerThanOneInsertStaysContiguous) {
  PARLEY_PG_CLUSTER(cluster);
  auto conn = MigratedConn(cluster, "batch");
  ASSERT_NE(conn, nullptr);
  // More rows than one statement's 65535 parameters hold (7 per event).
  std::vector<Event> events(10000, MakeEvent("message", 1, "{}"));
  ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
  ASSERT_OK(AppendEvents(*tx, events));
  ASSERT_OK(tx->Commit());
  EXPECT_EQ(events.front().id, 1);
  EXPECT_EQ(events.back().id, 10000);
  ASSERT_OK_AND_ASSIGN(PgResult r, conn->Exec("SELECT count(*), min(id), max(id) FROM events"));
  EXPECT_EQ(r.Text(0, 0) + " " + r.Text(0, 1) + " " + r.Text(0, 2), "10000 1 10000");
}

TEST(PgEventLogTest, TextWithANulByteIsRefusedNotTruncated) {
  PARLEY_PG_CLUSTER(cluster);
  auto conn = MigratedConn(cluster, "nul");
  ASSERT_NE(conn, nullptr);
  std::vector<Event> events = {MakeEvent("message", 1, std::string("a\0b", 3))};
  ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
  EXPECT_ERROR(AppendEvents(*tx, events), Code::kInvalid, "invalid_text");
}

TEST(PgEventLogTest, WithoutTheCounterRowAppendFails) {
  PARLEY_PG_CLUSTER(cluster);
  auto conn = MigratedConn(cluster, "nocounter");
  ASSERT_NE(conn, nullptr);
  ASSERT_OK(conn->Exec("DELETE FROM event_counter").status());
  std::vector<Event> events = {MakeEvent("message", 1, "{}")};
  ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
  EXPECT_ERROR(AppendEvents(*tx, events), Code::kInternal, "internal");
}

}  // namespace
}  // namespace parley::pg
