// schema/pg/migrate.h against a real PostgreSQL server (pg_cluster.h).
#include "schema/pg/migrate.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <tuple>
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

TEST(PgMigrateTest, TheSchemaFoldsNamesAndIndexesTextAsItNowReads) {
  PARLEY_PG_CLUSTER(cluster);
  ASSERT_OK_AND_ASSIGN(std::string url, cluster->NewSchema("migrate_schema"));
  ASSERT_OK_AND_ASSIGN(auto conn, PgConn::Connect(url));
  ASSERT_OK(MigratePg(*conn));
  ASSERT_OK_AND_ASSIGN(PgResult general, conn->Exec("SELECT id, name, kind FROM rooms"));
  ASSERT_EQ(general.Rows(), 1);
  EXPECT_EQ(general.Text(0, 0) + " " + general.Text(0, 1) + " " + general.Text(0, 2), "1 general public");
  // Names are unique whatever their case, as SQLite's COLLATE NOCASE makes them.
  ASSERT_OK(conn->Exec("INSERT INTO users (username, pw_hash, created_ts) VALUES ('Alice', 'h', 0)"));
  EXPECT_ERROR(conn->Exec("INSERT INTO users (username, pw_hash, created_ts) VALUES ('aLICE', 'h', 0)"),
               Code::kConflict, "conflict");
  EXPECT_ERROR(conn->Exec("INSERT INTO rooms (name, kind, created_ts) VALUES ('GENERAL', 'public', 0)"),
               Code::kConflict, "conflict");
  // Two DMs may share a name; dm_key keeps one per pair.
  ASSERT_OK(conn->Exec("INSERT INTO rooms (name, kind, dm_key, created_ts) VALUES ('x', 'dm', '1:2', 0)"));
  ASSERT_OK(conn->Exec("INSERT INTO rooms (name, kind, dm_key, created_ts) VALUES ('x', 'dm', '1:3', 0)"));
  // Search finds words and prefixes of the text as it reads now (an edit
  // or a delete's '' changes what is found, in the same statement).
  // Accents and the case of accented letters fold (migration 005), in this
  // cluster of LC_CTYPE C too.
  ASSERT_OK(conn->Exec("INSERT INTO messages (id, room_id, user_id, kind, text, ts) "
                       "SELECT 1, 1, id, 'message', 'Hello Wörld, ÉCOLE', 0 FROM users"));
  auto found = [&](const char* query) {
    auto r = conn->Exec("SELECT count(*) FROM messages WHERE search @@ to_tsquery('parley_search', $1)", {query});
    EXPECT_OK(r);
    return r.ok() ? r->Text(0, 0) : "";
  };
  EXPECT_EQ(found("hello"), "1");
  EXPECT_EQ(found("wörld"), "1");
  EXPECT_EQ(found("world"), "1");
  EXPECT_EQ(found("école"), "1");
  EXPECT_EQ(found("ecole"), "1");
  EXPECT_EQ(found("hel:*"), "1");
  EXPECT_EQ(found("bye"), "0");
  ASSERT_OK(conn->Exec("UPDATE messages SET text = 'goodbye' WHERE id = 1"));
  EXPECT_EQ(found("hello"), "0");
  EXPECT_EQ(found("goodbye"), "1");
  ASSERT_OK(conn->Exec("UPDATE messages SET text = '', deleted = 1 WHERE id = 1"));
  EXPECT_EQ(found("goodbye"), "0");
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

// A database that an older binary left at version 4, with messages: 005
// computes their search column again, so they are found without accents.
// Its schema is not the first of the database to make the search
// configuration: it finds the unaccent extension in another schema.
TEST(PgMigrateTest, AnUpgradeFromVersion4FoldsTheAccentsOfOldMessages) {
  PARLEY_PG_CLUSTER(cluster);
  ASSERT_OK_AND_ASSIGN(std::string first, cluster->NewSchema("migrate_first"));
  ASSERT_OK_AND_ASSIGN(auto first_conn, PgConn::Connect(first));
  ASSERT_OK(MigratePg(*first_conn));
  ASSERT_OK_AND_ASSIGN(std::string url, cluster->NewSchema("migrate_v4"));
  ASSERT_OK_AND_ASSIGN(auto conn, PgConn::Connect(url));
  ASSERT_OK_AND_ASSIGN(int old_version, MigratePg(*conn, 4));
  ASSERT_EQ(old_version, 4);
  ASSERT_OK(conn->Exec("INSERT INTO users (username, pw_hash, created_ts) VALUES ('old', 'h', 0)"));
  ASSERT_OK(conn->Exec("INSERT INTO messages (id, room_id, user_id, kind, text, ts) "
                       "SELECT 1, 1, id, 'message', 'Déjà VU', 0 FROM users"));
  auto found = [&](const char* config, const char* query) {
    auto r = conn->Exec(std::string("SELECT count(*) FROM messages WHERE search @@ to_tsquery('") + config + "', $1)",
                        {query});
    EXPECT_OK(r);
    return r.ok() ? r->Text(0, 0) : "";
  };
  EXPECT_EQ(found("simple", "deja"), "0");  // version 4 kept the accents
  ASSERT_OK_AND_ASSIGN(int v, MigratePg(*conn));
  EXPECT_EQ(v, LatestPgSchemaVersion());
  EXPECT_EQ(found("parley_search", "deja"), "1");
  EXPECT_EQ(found("parley_search", "déjà & vu"), "1");
}

// Several deployments may share a database, each in its schema: the
// unaccent extension that their search configurations use lives in a
// schema of none of them, so dropping one deployment (DROP SCHEMA ...
// CASCADE) leaves the others' search whole.
TEST(PgMigrateTest, DroppingOneDeploymentsSchemaLeavesTheOthersSearch) {
  PARLEY_PG_CLUSTER(cluster);
  ASSERT_OK_AND_ASSIGN(std::string a_url, cluster->NewSchema("deployment_a"));
  ASSERT_OK_AND_ASSIGN(std::string b_url, cluster->NewSchema("deployment_b"));
  ASSERT_OK_AND_ASSIGN(auto a, PgConn::Connect(a_url));
  ASSERT_OK_AND_ASSIGN(auto b, PgConn::Connect(b_url));
  ASSERT_OK(MigratePg(*a));
  ASSERT_OK(MigratePg(*b));
  ASSERT_OK_AND_ASSIGN(PgResult where,
                       a->Exec("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'unaccent'"));
  ASSERT_EQ(where.Rows(), 1);
  EXPECT_EQ(where.Text(0, 0), "parley_ext");
  ASSERT_OK_AND_ASSIGN(PgResult schema, a->Exec("SELECT current_schema()"));
  ASSERT_OK(a->ExecScript("SET client_min_messages = warning; DROP SCHEMA " + schema.Text(0, 0) + " CASCADE"));
  ASSERT_OK(b->Exec("INSERT INTO users (username, pw_hash, created_ts) VALUES ('b', 'h', 0)"));
  ASSERT_OK(b->Exec("INSERT INTO messages (id, room_id, user_id, kind, text, ts) "
                    "SELECT 1, 1, id, 'message', 'Crème brûlée', 0 FROM users"));
  ASSERT_OK_AND_ASSIGN(PgResult found, b->Exec("SELECT count(*) FROM messages "
                                               "WHERE search @@ to_tsquery('parley_search', 'creme & brulee')"));
  EXPECT_EQ(found.Text(0, 0), "1");
}

// A starter waits for another one's migrations however long they take (the
// advisory lock is taken without lock_timeout), but a migration whose table
// a long transaction holds fails at the lock timeout, as kUnavailable, and
// leaves the schema as it was; once the table is free it runs. The URL
// shortens the timeout for the test.
TEST(PgMigrateTest, AStarterWaitsForAnotherButAMigrationNotForeverForItsTable) {
  PARLEY_PG_CLUSTER(cluster);
  ASSERT_OK_AND_ASSIGN(std::string url, cluster->NewSchema("migrate_locks"));
  ASSERT_OK_AND_ASSIGN(auto conn, PgConn::Connect(test::PgCluster::WithShortLockTimeout(url)));
  ASSERT_OK_AND_ASSIGN(auto other, PgConn::Connect(url));
  ASSERT_OK(MigratePg(*conn, 4));
  {
    // A long reader of messages: migration 005 rewrites that table.
    ASSERT_OK_AND_ASSIGN(auto reader, PgTx::Begin(*other));
    ASSERT_OK(other->ExecScript("LOCK TABLE messages IN ACCESS SHARE MODE"));
    Result<int> blocked = MigratePg(*conn);
    EXPECT_ERROR(blocked, Code::kUnavailable, "busy");
    EXPECT_NE(blocked.status().message().find("migration 5"), std::string::npos) << blocked.status().ToString();
  }
  ASSERT_OK_AND_ASSIGN(PgResult v, conn->Exec("SELECT version FROM schema_version"));
  EXPECT_EQ(v.Text(0, 0), "4");
  {
    // Another starter migrating, for longer than the lock timeout.
    ASSERT_OK_AND_ASSIGN(auto starter, PgTx::Begin(*other));
    ASSERT_OK(other->Exec("SELECT pg_advisory_xact_lock($1)", {int64_t{0x7061726c6579}}).status());
    std::thread release([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(600));
      EXPECT_OK(starter->Commit());
    });
    Result<int> waited = MigratePg(*conn);
    release.join();
    ASSERT_OK(waited);
    EXPECT_EQ(*waited, LatestPgSchemaVersion());
  }
  ASSERT_OK_AND_ASSIGN(PgResult t, conn->Exec("SELECT current_setting('lock_timeout')"));
  EXPECT_EQ(t.Text(0, 0), "200ms") << "the session's own timeout, after the migration";
}

// Migration 006 carries a schema-5 database's room heads over, and leaves a
// pool of schema 5 working while the others are upgraded: its statements
// (copied from that binary) still run, and what they write reaches
// room_heads, which this binary reads.
TEST(PgMigrateTest, APoolOfSchema5KeepsWorkingAfterMigration6) {
  PARLEY_PG_CLUSTER(cluster);
  ASSERT_OK_AND_ASSIGN(std::string url, cluster->NewSchema("migrate_v5_pool"));
  ASSERT_OK_AND_ASSIGN(auto conn, PgConn::Connect(url));
  ASSERT_OK_AND_ASSIGN(int old_version, MigratePg(*conn, 5));
  ASSERT_EQ(old_version, 5);
  const char* kNewRoom =
      "INSERT INTO rooms (name, kind, owner_id, answers_per_professor, created_ts) VALUES ($1, 'public', NULL, "
      "NULL, 0) RETURNING id";
  ASSERT_OK_AND_ASSIGN(PgResult before, conn->Exec(kNewRoom, {std::string("before")}));
  ASSERT_OK_AND_ASSIGN(int64_t before_id, before.Int(0, 0));
  ASSERT_OK(conn->Exec("UPDATE rooms SET last_event_id = GREATEST(last_event_id, $1) WHERE id = $2",
                       {int64_t{5}, before_id}));
  ASSERT_OK_AND_ASSIGN(int v, MigratePg(*conn));
  EXPECT_EQ(v, LatestPgSchemaVersion());
  auto head = [&](int64_t room) {
    auto r = conn->Exec("SELECT last_event_id FROM room_heads WHERE room_id = $1", {room});
    EXPECT_OK(r);
    return r.ok() && r->Rows() == 1 ? r->Int(0, 0).value() : -1;
  };
  EXPECT_EQ(head(before_id), 5) << "the head of a room from before the migration";
  ASSERT_OK_AND_ASSIGN(PgResult room, conn->Exec(kNewRoom, {std::string("old")}));
  ASSERT_OK_AND_ASSIGN(int64_t id, room.Int(0, 0));
  EXPECT_EQ(head(id), 0);  // the new room has its head row
  ASSERT_OK(conn->Exec("UPDATE rooms SET last_event_id = GREATEST(last_event_id, $1) WHERE id = $2", {int64_t{7}, id}));
  EXPECT_EQ(head(id), 7);
  ASSERT_OK(conn->Exec("UPDATE rooms SET last_event_id = $1 WHERE id = $2", {int64_t{9}, id}));
  EXPECT_EQ(head(id), 9);
  ASSERT_OK(conn->Exec("UPDATE room_heads SET last_event_id = 12 WHERE room_id = $1", {id}));  // a new pool's send
  ASSERT_OK(conn->Exec("UPDATE rooms SET last_event_id = GREATEST(last_event_id, $1) WHERE id = $2", {int64_t{10}, id}));
  EXPECT_EQ(head(id), 12) << "an older id from a schema-5 pool does not move the head back";
  ASSERT_OK(conn->Exec("SELECT r.id, r.last_event_id FROM rooms r WHERE r.last_event_id > $1 "
                       "ORDER BY r.last_event_id DESC, r.id DESC",
                       {int64_t{0}}));
}

TEST(PgMigrateTest, Migration11NumbersEachRoomsMessagesMovesSendersMarkersAndNumbersOldPoolsInserts) {
  PARLEY_PG_CLUSTER(cluster);
  ASSERT_OK_AND_ASSIGN(std::string url, cluster->NewSchema("migrate_v10"));
  ASSERT_OK_AND_ASSIGN(auto conn, PgConn::Connect(url));
  ASSERT_OK_AND_ASSIGN(int old_version, MigratePg(*conn, 10));
  ASSERT_EQ(old_version, 10);
  ASSERT_OK(conn->Exec("INSERT INTO users (username, pw_hash, created_ts) VALUES ('a', 'h', 0), ('b', 'h', 0)"));
  ASSERT_OK(conn->Exec("INSERT INTO rooms (name, kind, owner_id, answers_per_professor, created_ts) "
                       "VALUES ('one', 'public', NULL, NULL, 0), ('two', 'public', NULL, NULL, 0)"));
  // As a pool of schema 10 inserts them (no place): a's, then b's, in both
  // rooms in turn; a's marker in room one behind her last message there.
  const char* kInsert =
      "INSERT INTO messages (id, room_id, user_id, kind, text, ts) SELECT $1::bigint, r.id, u.id, 'message', 'm', 0 "
      "FROM rooms r, users u WHERE r.name = $2 AND u.username = $3";
  const std::vector<std::tuple<int64_t, const char*, const char*>> rows{
      {1, "one", "a"}, {2, "two", "a"}, {3, "one", "b"}, {4, "one", "a"}, {5, "two", "b"}};
  for (const auto& [id, room, user] : rows) {
    ASSERT_OK(conn->Exec(kInsert, {id, std::string(room), std::string(user)}));
  }
  ASSERT_OK(conn->Exec("INSERT INTO read_markers (user_id, room_id, event_id) SELECT u.id, r.id, 1 "
                       "FROM users u, rooms r WHERE u.username = 'a' AND r.name = 'one'"));
  // The log's head past those messages, as their appends left it (013
  // brings markers beyond the head back to it).
  ASSERT_OK(conn->Exec("UPDATE event_counter SET last = 5"));
  ASSERT_OK_AND_ASSIGN(int v, MigratePg(*conn));
  EXPECT_EQ(v, LatestPgSchemaVersion());
  auto text = [&](const std::string& sql) {
    auto r = conn->Exec(sql);
    EXPECT_OK(r) << sql;
    return r.ok() && r->Rows() == 1 ? r->Text(0, 0) : std::string("?");
  };
  const std::string kPlaces =
      "SELECT string_agg(m.id || ':' || m.seq, ' ' ORDER BY m.id) FROM messages m JOIN rooms r ON r.id = m.room_id "
      "WHERE r.name = ";
  EXPECT_EQ(text(kPlaces + "'one'"), "1:1 3:2 4:3");
  EXPECT_EQ(text(kPlaces + "'two'"), "2:1 5:2");
  EXPECT_EQ(text("SELECT string_agg(r.name || ':' || h.message_seq, ' ' ORDER BY r.name) FROM room_heads h "
                 "JOIN rooms r ON r.id = h.room_id"),
            "general:0 one:3 two:2");
  EXPECT_EQ(text("SELECT string_agg(u.username || '@' || r.name || ':' || m.event_id, ' ' ORDER BY u.username, r.name) "
                 "FROM read_markers m JOIN users u ON u.id = m.user_id JOIN rooms r ON r.id = m.room_id"),
            "a@one:4 a@two:2 b@one:3 b@two:5");
  // A pool of schema 10 still running: its inserts take the next place.
  ASSERT_OK(conn->Exec(kInsert, {int64_t{6}, std::string("two"), std::string("a")}));
  EXPECT_EQ(text(kPlaces + "'two'"), "2:1 5:2 6:3");
}

}  // namespace
}  // namespace parley::pg
