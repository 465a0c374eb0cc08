// schema/pg/conn.h against a real PostgreSQL server (pg_cluster.h).
#include "schema/pg/conn.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "schema/json.h"
#include "tests/unit/schema/pg_cluster.h"

namespace parley::pg {
namespace {

using test::PgCluster;

// A connection to a fresh schema of the test's own, with one table made by
// ddl in it.
std::unique_ptr<PgConn> FreshConn(PgCluster* cluster, const std::string& prefix, const std::string& ddl) {
  auto url = cluster->NewSchema(prefix);
  auto conn = url.ok() ? PgConn::Connect(*url) : Result<std::unique_ptr<PgConn>>(url.status());
  Status st = conn.ok() ? (*conn)->ExecScript(ddl) : conn.status();
  if (!st.ok()) {
    ADD_FAILURE() << st.ToString();
    return nullptr;
  }
  return std::move(conn).value();
}

// The values of t.n, ascending, comma separated.
std::string Ns(PgConn& conn) {
  Result<PgResult> r = conn.Exec("SELECT string_agg(n::text, ',' ORDER BY n) FROM t");
  return r.ok() ? r->Text(0, 0) : r.status().ToString();
}

// No server needed: the parts pg_dump gets from parleyctl backup.
TEST(SplitConninfoTest, ThePasswordGoesToTheEnvironmentAndWhatHasNoVariableToTheRest) {
  auto parts = SplitConninfo("postgresql://ann:s%20cret@db.example:6543/chat?options=-csearch_path%3Dx&keepalives=1");
  ASSERT_TRUE(parts.ok()) << parts.status().message();
  std::vector<std::string> want = {"PGHOST=db.example", "PGPORT=6543", "PGDATABASE=chat", "PGUSER=ann",
                                   "PGPASSWORD=s cret", "PGOPTIONS=-csearch_path=x"};
  for (const std::string& w : want) {
    EXPECT_NE(std::find(parts->env.begin(), parts->env.end(), w), parts->env.end()) << w;
  }
  EXPECT_EQ(parts->rest, "keepalives='1'");
  for (const std::string& e : parts->env) EXPECT_EQ(e.find("keepalives"), std::string::npos) << e;

  auto quoted = SplitConninfo("dbname=chat keepalives_idle='it\\'s'");
  ASSERT_TRUE(quoted.ok()) << quoted.status().message();
  EXPECT_EQ(quoted->rest, "keepalives_idle='it\\'s'");

  auto bad = SplitConninfo("postgresql://ann@host/db?nosuch=1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalid);
}

TEST(PgConnTest, ParametersRoundTripAsTextWithNulls) {
  PARLEY_PG_CLUSTER(cluster);
  ASSERT_OK_AND_ASSIGN(auto conn, PgConn::Connect(cluster->url()));
  const std::string tricky = "it's \"quoted\"; DROP TABLE x; -- é 😀";
  std::optional<int64_t> none;
  ASSERT_OK_AND_ASSIGN(PgResult r, conn->Exec("SELECT $1::bigint, $2::text, $3::bigint, $4::text",
                                              {int64_t{-9007199254740993}, tricky, none, std::nullopt}));
  ASSERT_EQ(r.Rows(), 1);
  ASSERT_EQ(r.Columns(), 4);
  ASSERT_OK_AND_ASSIGN(int64_t big, r.Int(0, 0));
  EXPECT_EQ(big, -9007199254740993);
  EXPECT_EQ(r.Text(0, 1), tricky);
  EXPECT_TRUE(r.IsNull(0, 2));
  EXPECT_EQ(r.OptionalInt(0, 2), std::nullopt);
  EXPECT_TRUE(r.IsNull(0, 3));
}

TEST(PgConnTest, ANonIntegerColumnReadAsIntegerIsAnError) {
  PARLEY_PG_CLUSTER(cluster);
  ASSERT_OK_AND_ASSIGN(auto conn, PgConn::Connect(cluster->url()));
  ASSERT_OK_AND_ASSIGN(PgResult r, conn->Exec("SELECT 'twelve', NULL::bigint"));
  EXPECT_ERROR(r.Int(0, 0), Code::kInternal, "internal");
  EXPECT_ERROR(r.Int(0, 1), Code::kInternal, "internal");
}

TEST(PgConnTest, AMalformedUrlIsInvalid) {
  auto conn = PgConn::Connect("postgresql:///parley?no_such_option=1");
  EXPECT_ERROR(conn, Code::kInvalid, "invalid_database_url");
  EXPECT_NE(conn.status().message().find("no_such_option"), std::string::npos) << conn.status().message();
}

TEST(PgConnTest, AServerThatIsNotThereIsUnavailable) {
  test::TempDir empty;  // a socket directory with no server in it
  auto conn = PgConn::Connect("postgresql://parley@/parley?host=" + empty.path());
  EXPECT_ERROR(conn, Code::kUnavailable, "busy");
  // libpq's words name the socket: the log's, never a client's.
  EXPECT_NE(conn.status().message().find(empty.path()), std::string::npos) << conn.status().message();
  EXPECT_TRUE(conn.status().message_is_private());
  EXPECT_EQ(ErrorJson(conn.status()).find(empty.path()), std::string::npos) << ErrorJson(conn.status());
}

TEST(PgConnTest, SqlErrorsBecomeStatusesBySqlstate) {
  PARLEY_PG_CLUSTER(cluster);
  auto conn = FreshConn(cluster, "errors", "CREATE TABLE t (k text PRIMARY KEY, n bigint NOT NULL)");
  ASSERT_NE(conn, nullptr);
  EXPECT_ERROR(conn->Exec("SELEC 1"), Code::kInternal, "internal");  // syntax error 42601
  ASSERT_OK(conn->Exec("INSERT INTO t VALUES ($1, $2)", {"a", 1}).status());
  Status duplicate = conn->Exec("INSERT INTO t VALUES ($1, $2)", {"a", 2}).status();
  EXPECT_ERROR(duplicate, Code::kConflict, "conflict");
  EXPECT_NE(duplicate.message().find("duplicate key"), std::string::npos) << duplicate.message();
  EXPECT_EQ(ErrorJson(duplicate).find("duplicate key"), std::string::npos) << ErrorJson(duplicate);
  EXPECT_EQ(ErrorJson(duplicate).find("INSERT"), std::string::npos) << ErrorJson(duplicate);
  EXPECT_ERROR(conn->Exec("INSERT INTO t VALUES ($1, $2)", {"b", std::nullopt}), Code::kConflict, "conflict");
  // A parameter that is not of the column's type (22P02) is the caller's bug.
  EXPECT_ERROR(conn->Exec("INSERT INTO t VALUES ($1, $2)", {"c", "x"}), Code::kInternal, "internal");
  // Too few parameters for the statement.
  EXPECT_ERROR(conn->Exec("INSERT INTO t VALUES ($1, $2)", {"d"}), Code::kInternal, "internal");
  ASSERT_OK_AND_ASSIGN(PgResult r, conn->Exec("SELECT count(*) FROM t"));
  EXPECT_EQ(r.Int(0, 0).value(), 1);
}

TEST(PgConnTest, ALostConnectionIsUnavailable) {
  PARLEY_PG_CLUSTER(cluster);
  ASSERT_OK_AND_ASSIGN(auto victim, PgConn::Connect(cluster->url()));
  ASSERT_OK_AND_ASSIGN(auto admin, PgConn::Connect(cluster->url()));
  ASSERT_OK_AND_ASSIGN(PgResult pid, victim->Exec("SELECT pg_backend_pid()"));
  ASSERT_OK_AND_ASSIGN(PgResult killed, admin->Exec("SELECT pg_terminate_backend($1::int, 10000)",
                                                    {pid.Text(0, 0)}));
  EXPECT_EQ(killed.Text(0, 0), "t");
  EXPECT_ERROR(victim->Exec("SELECT 1"), Code::kUnavailable, "busy");
  EXPECT_FALSE(victim->ok());
}

// Kills the server process behind `victim` (what a PostgreSQL restart does
// to every connection).
void TerminateBackendOf(PgConn& victim, PgConn& admin) {
  ASSERT_OK_AND_ASSIGN(PgResult pid, victim.Exec("SELECT pg_backend_pid()"));
  ASSERT_OK_AND_ASSIGN(PgResult killed,
                       admin.Exec("SELECT pg_terminate_backend($1::int, 10000)", {pid.Text(0, 0)}));
  ASSERT_EQ(killed.Text(0, 0), "t");
}

// The chaos test's finding (issue 10 item 6): a worker or daemon outlives a
// server restart. The statement that finds the connection lost fails
// (kUnavailable: the client retries); the next one reconnects, with the
// session's settings and its prepared statements made again.
TEST(PgConnTest, TheStatementAfterALostConnectionReconnects) {
  PARLEY_PG_CLUSTER(cluster);
  ASSERT_OK_AND_ASSIGN(auto victim, PgConn::Connect(cluster->url()));
  ASSERT_OK_AND_ASSIGN(auto admin, PgConn::Connect(cluster->url()));
  ASSERT_OK(victim->SetSession("SET application_name = 'chaos'"));
  TerminateBackendOf(*victim, *admin);
  EXPECT_ERROR(victim->Exec("SELECT pg_backend_pid()"), Code::kUnavailable, "busy");
  ASSERT_OK_AND_ASSIGN(PgResult pid, victim->Exec("SELECT pg_backend_pid()"));  // prepared again
  EXPECT_TRUE(victim->ok());
  ASSERT_OK_AND_ASSIGN(PgResult name, victim->Exec("SELECT current_setting('application_name')"));
  EXPECT_EQ(name.Text(0, 0), "chaos");
}

// The options libpq connected with, by keyword.
std::map<std::string, std::string> ConnOptions(PgConn& conn) {
  std::map<std::string, std::string> out;
  PQconninfoOption* all = PQconninfo(conn.raw());
  for (PQconninfoOption* o = all; o && o->keyword; ++o) {
    if (o->val) out[o->keyword] = o->val;
  }
  PQconninfoFree(all);
  return out;
}

// What keeps a vanished host from holding locks for hours (conn.h,
// kIdleInTransactionS): every session, and every reconnected one, has the
// server end it after 10 s idle inside a transaction; libpq keeps TCP
// keepalives and a user timeout unless the URL says otherwise.
TEST(PgConnTest, EverySessionIsGuardedAgainstAVanishedPeerAlsoAfterAReconnect) {
  PARLEY_PG_CLUSTER(cluster);
  ASSERT_OK_AND_ASSIGN(auto conn, PgConn::Connect(cluster->url()));
  ASSERT_OK_AND_ASSIGN(auto admin, PgConn::Connect(cluster->url()));
  auto idle_timeout = [&]() -> std::string {
    auto r = conn->Exec("SELECT current_setting('idle_in_transaction_session_timeout')");
    return r.ok() ? r->Text(0, 0) : r.status().ToString();
  };
  auto lock_timeout = [](PgConn& c) -> std::string {
    auto r = c.Exec("SELECT current_setting('lock_timeout')");
    return r.ok() ? r->Text(0, 0) : r.status().ToString();
  };
  EXPECT_EQ(idle_timeout(), "10s");
  EXPECT_EQ(lock_timeout(*conn), "5s");
  TerminateBackendOf(*conn, *admin);
  EXPECT_ERROR(conn->Exec("SELECT 1"), Code::kUnavailable, "busy");
  EXPECT_EQ(idle_timeout(), "10s") << "the reconnected session";
  EXPECT_EQ(lock_timeout(*conn), "5s") << "the reconnected session";
  // A lock_timeout that the URL sets is kept.
  ASSERT_OK_AND_ASSIGN(auto patient, PgConn::Connect(cluster->url() + "&options=-clock_timeout%3D1min"));
  EXPECT_EQ(lock_timeout(*patient), "1min");

  std::map<std::string, std::string> options = ConnOptions(*conn);
  EXPECT_EQ(options["keepalives"], "1");
  EXPECT_EQ(options["keepalives_idle"], "5");
  EXPECT_EQ(options["tcp_user_timeout"], "10000");
  // The URL's own setting wins.
  ASSERT_OK_AND_ASSIGN(auto own, PgConn::Connect(cluster->url() + "&keepalives_idle=30"));
  EXPECT_EQ(ConnOptions(*own)["keepalives_idle"], "30");
}

// A statement that waits for a lock longer than lock_timeout fails as
// kUnavailable (the client retries), and its transaction with it; the lock
// holder is unaffected. The URL shortens the timeout for the test.
TEST(PgConnTest, AWaitForALockEndsAtTheLockTimeoutAsUnavailable) {
  PARLEY_PG_CLUSTER(cluster);
  ASSERT_OK_AND_ASSIGN(std::string url, cluster->NewSchema("lock_wait"));
  ASSERT_OK_AND_ASSIGN(auto holder, PgConn::Connect(url));
  ASSERT_OK(holder->ExecScript("CREATE TABLE t (n bigint PRIMARY KEY); INSERT INTO t VALUES (1)"));
  ASSERT_OK_AND_ASSIGN(auto waiter, PgConn::Connect(PgCluster::WithShortLockTimeout(url)));
  {
    ASSERT_OK_AND_ASSIGN(auto held, PgTx::Begin(*holder));
    ASSERT_OK(holder->Exec("SELECT n FROM t WHERE n = 1 FOR UPDATE").status());
    const auto start = std::chrono::steady_clock::now();
    {
      ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*waiter));
      EXPECT_ERROR(waiter->Exec("UPDATE t SET n = 2 WHERE n = 1"), Code::kUnavailable, "busy");
    }
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_GE(waited, std::chrono::milliseconds(150));
    EXPECT_LT(waited, std::chrono::seconds(3));
    ASSERT_OK(holder->Exec("UPDATE t SET n = 3 WHERE n = 1").status());
    ASSERT_OK(held->Commit());
  }
  EXPECT_EQ(Ns(*waiter), "3");
}

// Inside a transaction a lost connection is not made again: the server
// rolled the transaction back, and its remaining statements must not run
// on their own. The next transaction reconnects.
TEST(PgConnTest, ALostConnectionInsideATransactionFailsItsRemainingStatements) {
  PARLEY_PG_CLUSTER(cluster);
  auto victim = FreshConn(cluster, "lost_tx", "CREATE TABLE t (k text)");
  ASSERT_NE(victim, nullptr);
  ASSERT_OK_AND_ASSIGN(auto admin, PgConn::Connect(cluster->url()));
  {
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*victim));
    ASSERT_OK(victim->Exec("INSERT INTO t VALUES ('first')").status());
    TerminateBackendOf(*victim, *admin);
    EXPECT_ERROR(victim->Exec("INSERT INTO t VALUES ('second')"), Code::kUnavailable, "busy");
    EXPECT_ERROR(victim->Exec("INSERT INTO t VALUES ('third')"), Code::kUnavailable, "busy");
    EXPECT_FALSE(tx->Commit().ok());
  }
  ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*victim));
  ASSERT_OK_AND_ASSIGN(PgResult rows, victim->Exec("SELECT count(*) FROM t"));
  EXPECT_EQ(rows.Text(0, 0), "0");
  ASSERT_OK(tx->Commit());
}

TEST(PgTxTest, RollsBackUnlessCommitted) {
  PARLEY_PG_CLUSTER(cluster);
  auto conn = FreshConn(cluster, "tx", "CREATE TABLE t (n bigint)");
  ASSERT_NE(conn, nullptr);
  {
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
    ASSERT_OK(conn->Exec("INSERT INTO t VALUES ($1)", {1}).status());
    EXPECT_TRUE(conn->in_transaction());
  }
  EXPECT_FALSE(conn->in_transaction());
  {
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
    ASSERT_OK(conn->Exec("INSERT INTO t VALUES ($1)", {2}).status());
    ASSERT_OK(tx->Commit());
  }
  ASSERT_OK_AND_ASSIGN(PgResult r, conn->Exec("SELECT n FROM t"));
  ASSERT_EQ(r.Rows(), 1);
  EXPECT_EQ(r.Int(0, 0).value(), 2);
}

TEST(PgTxTest, ATransactionWithAFailedStatementDoesNotCommit) {
  PARLEY_PG_CLUSTER(cluster);
  auto conn = FreshConn(cluster, "failedtx", "CREATE TABLE t (n bigint PRIMARY KEY)");
  ASSERT_NE(conn, nullptr);
  {
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
    ASSERT_OK(conn->Exec("INSERT INTO t VALUES ($1)", {1}).status());
    EXPECT_ERROR(conn->Exec("INSERT INTO t VALUES ($1)", {1}), Code::kConflict, "conflict");
    // The server answers COMMIT with ROLLBACK: that must not read as success.
    EXPECT_ERROR(tx->Commit(), Code::kInternal, "internal");
  }
  EXPECT_FALSE(conn->in_transaction());
  ASSERT_OK_AND_ASSIGN(PgResult r, conn->Exec("SELECT count(*) FROM t"));
  EXPECT_EQ(r.Int(0, 0).value(), 0);
}

// A write whose statement is new to the connection is prepared first, which
// the server does at once, ahead of the write's queued SAVEPOINT. When that
// PREPARE fails (here behind another session's table lock, past the
// session's lock_timeout), the write fails alone and the batch commits the
// others, as when the statement itself fails.
// A connection of lock_timeout 200 ms to a fresh schema with tables t and
// `locked`, the statements of `warm` prepared on it, and another session
// that holds `locked` (ACCESS EXCLUSIVE) until it goes.
struct LockedTable {
  std::unique_ptr<PgConn> conn;
  std::unique_ptr<PgConn> dba;
};
LockedTable WithALockedTable(PgCluster* cluster, const std::string& prefix, const std::string& warm = "") {
  LockedTable out;
  Status st = [&]() -> Status {
    PARLEY_ASSIGN_OR_RETURN(std::string url, cluster->NewSchema(prefix));
    PARLEY_ASSIGN_OR_RETURN(out.conn, PgConn::Connect(PgCluster::WithShortLockTimeout(url)));
    PARLEY_ASSIGN_OR_RETURN(out.dba, PgConn::Connect(url));
    PARLEY_RETURN_IF_ERROR(out.conn->ExecScript("CREATE TABLE t (n bigint); CREATE TABLE locked (n bigint)"));
    if (!warm.empty()) PARLEY_RETURN_IF_ERROR(out.conn->Exec(warm).status());
    return out.dba->ExecScript("BEGIN; LOCK TABLE locked IN ACCESS EXCLUSIVE MODE");
  }();
  if (!st.ok()) {
    ADD_FAILURE() << st.ToString();
    return {};
  }
  return out;
}

// The batch's first write, which commits: 1 into t.
void WriteOneInto(PgConn& conn) {
  auto tx = PgTx::Begin(conn);
  ASSERT_OK(tx);
  ASSERT_OK(conn.Exec("INSERT INTO t VALUES ($1) RETURNING n", {1}).status());
  ASSERT_OK((*tx)->Commit());
}

TEST(PgBatchTest, AWriteWhoseStatementCannotBePreparedFailsAlone) {
  PARLEY_PG_CLUSTER(cluster);
  LockedTable l = WithALockedTable(cluster, "prepare_fails");
  ASSERT_NE(l.conn, nullptr);
  PgConn* conn = l.conn.get();
  {
    ASSERT_OK_AND_ASSIGN(auto batch, PgBatch::Begin(*conn));
    WriteOneInto(*conn);
    {
      ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
      EXPECT_ERROR(conn->Exec("INSERT INTO locked VALUES ($1) RETURNING n", {2}), Code::kUnavailable, "busy");
    }
    ASSERT_OK(batch->Commit());
  }
  ASSERT_OK(l.dba->ExecScript("ROLLBACK"));
  EXPECT_EQ(Ns(*conn), "1");
}

// A statement of the batch outside any write's savepoint (the writer reads
// the session that way) aborts the batch's transaction when it fails: the
// COMMIT then fails with that cause, so a busy database is answered 503
// (retry), not 500.
TEST(PgBatchTest, AFailureOutsideAWriteFailsTheBatchWithItsCause) {
  PARLEY_PG_CLUSTER(cluster);
  LockedTable l = WithALockedTable(cluster, "batch_cause", "SELECT n FROM locked");
  ASSERT_NE(l.conn, nullptr);
  PgConn* conn = l.conn.get();
  {
    ASSERT_OK_AND_ASSIGN(auto batch, PgBatch::Begin(*conn));
    WriteOneInto(*conn);
    EXPECT_ERROR(conn->Exec("SELECT n FROM locked"), Code::kUnavailable, "busy");
    EXPECT_ERROR(batch->Commit(), Code::kUnavailable, "busy");
  }
  ASSERT_OK(l.dba->ExecScript("ROLLBACK"));
  EXPECT_EQ(Ns(*conn), "") << "nothing of the failed batch committed";
}

// Group commit: writes inside a batch are savepoints; one that fails rolls
// back alone, the others commit together in the batch's one COMMIT.
TEST(PgBatchTest, AFailedWriteRollsBackAloneAndTheBatchCommitsOnce) {
  PARLEY_PG_CLUSTER(cluster);
  ASSERT_OK_AND_ASSIGN(std::string url, cluster->NewSchema("batch"));
  ASSERT_OK_AND_ASSIGN(auto conn, PgConn::Connect(url));
  ASSERT_OK(conn->ExecScript("CREATE TABLE t (n bigint PRIMARY KEY)"));
  const uint64_t commits = conn->commits();
  {
    ASSERT_OK_AND_ASSIGN(auto batch, PgBatch::Begin(*conn));
    EXPECT_TRUE(conn->in_batch());
    const int values[] = {1, 1, 2};  // the second 1 fails on the primary key
    for (int i = 0; i < 3; ++i) {
      ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
      Status st = conn->Exec("INSERT INTO t VALUES ($1)", {values[i]}).status();
      if (st.ok()) st = tx->Commit();
      EXPECT_EQ(st.ok(), i != 1) << i << ": " << st.ToString();
    }
    EXPECT_EQ(conn->commits(), commits);
    // Released savepoints are not committed yet: another connection sees nothing.
    ASSERT_OK_AND_ASSIGN(auto other, PgConn::Connect(url));
    ASSERT_OK_AND_ASSIGN(PgResult seen, other->Exec("SELECT count(*) FROM t"));
    EXPECT_EQ(seen.Int(0, 0).value(), 0);
    ASSERT_OK(batch->Commit());
  }
  EXPECT_FALSE(conn->in_batch());
  EXPECT_EQ(conn->commits(), commits + 1);
  EXPECT_EQ(Ns(*conn), "1,2");
}

TEST(PgBatchTest, ABatchNotCommittedLeavesNothing) {
  PARLEY_PG_CLUSTER(cluster);
  auto conn = FreshConn(cluster, "batchrb", "CREATE TABLE t (n bigint)");
  ASSERT_NE(conn, nullptr);
  {
    ASSERT_OK_AND_ASSIGN(auto batch, PgBatch::Begin(*conn));
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
    ASSERT_OK(conn->Exec("INSERT INTO t VALUES (1)").status());
    ASSERT_OK(tx->Commit());
  }
  EXPECT_FALSE(conn->in_transaction());
  ASSERT_OK_AND_ASSIGN(PgResult r, conn->Exec("SELECT count(*) FROM t"));
  EXPECT_EQ(r.Int(0, 0).value(), 0);
}

// A committed savepoint's RELEASE rides with the next savepoint statement
// (conn.h): a write nested in another and committed, then the outer one
// failing, must still roll back both, and the batch go on.
TEST(PgBatchTest, AnOuterWriteThatFailsRollsBackTheInnerOneItCommitted) {
  PARLEY_PG_CLUSTER(cluster);
  auto conn = FreshConn(cluster, "batchnest", "CREATE TABLE t (n bigint PRIMARY KEY)");
  ASSERT_NE(conn, nullptr);
  ASSERT_OK_AND_ASSIGN(auto batch, PgBatch::Begin(*conn));
  {
    ASSERT_OK_AND_ASSIGN(auto outer, PgTx::Begin(*conn));
    ASSERT_OK(conn->Exec("INSERT INTO t VALUES (1)").status());
    {
      ASSERT_OK_AND_ASSIGN(auto inner, PgTx::Begin(*conn));
      ASSERT_OK(conn->Exec("INSERT INTO t VALUES (2)").status());
      ASSERT_OK(inner->Commit());
    }
    EXPECT_FALSE(conn->Exec("INSERT INTO t VALUES (1)").ok());  // the outer write fails
    EXPECT_FALSE(outer->Commit().ok());
  }
  {
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
    ASSERT_OK(conn->Exec("INSERT INTO t VALUES (3)").status());
    ASSERT_OK(tx->Commit());
  }
  ASSERT_OK(batch->Commit());
  EXPECT_EQ(Ns(*conn), "3");
}

// What the batch runs before its COMMIT (the store's one wake-up) fails
// the batch as a whole: nothing of it commits.
TEST(PgBatchTest, AFailureBeforeCommitRollsTheBatchBack) {
  PARLEY_PG_CLUSTER(cluster);
  auto conn = FreshConn(cluster, "batchhook", "CREATE TABLE t (n bigint)");
  ASSERT_NE(conn, nullptr);
  {
    PgConn& c = *conn;
    ASSERT_OK_AND_ASSIGN(auto batch, PgBatch::Begin(c, [&c] { return c.Exec("SELECT 1/0").status(); }));
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(c));
    ASSERT_OK(c.Exec("INSERT INTO t VALUES (1)").status());
    ASSERT_OK(tx->Commit());
    EXPECT_FALSE(batch->Commit().ok());
  }
  EXPECT_FALSE(conn->in_transaction());
  EXPECT_FALSE(conn->in_batch());
  EXPECT_EQ(Ns(*conn), "");  // no row
}

// Statements whose result is not read (PgConn::Defer, and BEGIN, SAVEPOINT
// and RELEASE) ride with the next statement that is: a write of a batch
// costs the round trips of its reads alone.
TEST(PgBatchTest, AWriteCostsOnlyTheRoundTripsOfItsReads) {
  PARLEY_PG_CLUSTER(cluster);
  auto conn = FreshConn(cluster, "batchrt", "CREATE TABLE t (n bigint PRIMARY KEY)");
  ASSERT_NE(conn, nullptr);
  const uint64_t before = conn->round_trips();
  ASSERT_OK_AND_ASSIGN(auto batch, PgBatch::Begin(*conn));
  EXPECT_EQ(conn->round_trips(), before) << "BEGIN waits for the first statement";
  for (int n = 1; n <= 3; ++n) {
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
    const uint64_t at = conn->round_trips();
    // Each statement is prepared on its first use (one round trip, once):
    // the SELECT in write 1, the INSERT when write 2 sends it. Write 3
    // shows the cost of a write from then on.
    ASSERT_OK_AND_ASSIGN(PgResult r, conn->Exec("SELECT count(*) FROM t WHERE n < $1", {n}));
    EXPECT_EQ(r.Int(0, 0).value(), n - 1) << "the rows of the writes before are there";
    ASSERT_OK(conn->Defer("INSERT INTO t VALUES ($1)", {n}));
    ASSERT_OK(tx->Commit());
    if (n == 3) {
      EXPECT_EQ(conn->round_trips(), at + 1) << "write " << n;
    }
  }
  const uint64_t at = conn->round_trips();
  ASSERT_OK(batch->Commit());
  EXPECT_EQ(conn->round_trips(), at + 1) << "the last write's statements ride with the COMMIT";
  EXPECT_EQ(Ns(*conn), "1,2,3");
}

// A batch's first lock (the store's event counter row, event_log.h) is
// queued behind its BEGIN: it rides with the first statement, is held from
// then to the COMMIT, a batch that ran nothing sends nothing at all, and a
// wait for it past the lock timeout fails the batch as unavailable.
TEST(PgBatchTest, TheFirstLockRidesWithTheFirstStatementAndItsTimeoutFailsTheBatch) {
  PARLEY_PG_CLUSTER(cluster);
  ASSERT_OK_AND_ASSIGN(std::string url, cluster->NewSchema("firstlock"));
  ASSERT_OK_AND_ASSIGN(auto conn, PgConn::Connect(url));
  ASSERT_OK_AND_ASSIGN(auto other, PgConn::Connect(url));
  ASSERT_OK(conn->ExecScript("CREATE TABLE t (n bigint PRIMARY KEY); CREATE TABLE c (k int); INSERT INTO c VALUES (1)"));
  const std::string lock = "SELECT 1 FROM c FOR NO KEY UPDATE";
  const std::string probe = "SELECT 1 FROM c FOR NO KEY UPDATE NOWAIT";
  {
    const uint64_t at = conn->round_trips();
    ASSERT_OK_AND_ASSIGN(auto batch, PgBatch::Begin(*conn, {}, lock));
    ASSERT_OK(batch->Commit());
    EXPECT_EQ(conn->round_trips(), at) << "a batch that ran nothing";
  }
  ASSERT_OK_AND_ASSIGN(auto batch, PgBatch::Begin(*conn, {}, lock));
  EXPECT_OK(other->Exec(probe).status()) << "nothing is sent before the first statement";
  const uint64_t at = conn->round_trips();
  {
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
    ASSERT_OK(conn->Exec("INSERT INTO t VALUES (1) RETURNING n").status());
    ASSERT_OK(tx->Commit());
  }
  EXPECT_EQ(conn->round_trips(), at + 2) << "the INSERT's prepare, then BEGIN, the lock and the INSERT together";
  Status held = other->Exec(probe).status();
  EXPECT_EQ(held.code(), Code::kUnavailable) << "the lock is held: " << held.ToString();
  ASSERT_OK(batch->Commit());
  EXPECT_OK(other->Exec(probe).status()) << "and let go at the COMMIT";
  EXPECT_EQ(Ns(*conn), "1");

  // Held elsewhere past the lock timeout: the first write fails as
  // unavailable (503, try again), and so does the batch, which stores none.
  ASSERT_OK_AND_ASSIGN(auto waiter, PgConn::Connect(PgCluster::WithShortLockTimeout(url)));
  ASSERT_OK_AND_ASSIGN(auto holder, PgTx::Begin(*other));
  ASSERT_OK(other->Exec(lock).status());
  {
    ASSERT_OK_AND_ASSIGN(auto late, PgBatch::Begin(*waiter, {}, lock));
    {
      ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*waiter));
      EXPECT_ERROR(waiter->Exec("INSERT INTO t VALUES (2) RETURNING n"), Code::kUnavailable, "busy");
    }
    EXPECT_ERROR(late->Commit(), Code::kUnavailable, "busy");
  }
  ASSERT_OK(holder->Commit());
  EXPECT_EQ(Ns(*conn), "1");
}

// A queued statement fails at the next statement sent, which may belong to
// another write: the write it belonged to counted as done, so nothing of
// the batch may commit, even once the failed write is rolled back.
TEST(PgBatchTest, AQueuedStatementThatFailsFailsTheWholeBatch) {
  PARLEY_PG_CLUSTER(cluster);
  auto conn = FreshConn(cluster, "batchdefer", "CREATE TABLE t (n bigint PRIMARY KEY); INSERT INTO t VALUES (7)");
  ASSERT_NE(conn, nullptr);
  {
    ASSERT_OK_AND_ASSIGN(auto batch, PgBatch::Begin(*conn));
    {
      ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
      ASSERT_OK(conn->Exec("INSERT INTO t VALUES (1)").status());
      ASSERT_OK(conn->Defer("INSERT INTO t VALUES (7)"));  // fails on the primary key, later
      ASSERT_OK(tx->Commit());
    }
    {
      ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
      EXPECT_ERROR(conn->Exec("INSERT INTO t VALUES (2)"), Code::kConflict, "conflict");
    }
    {
      ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
      ASSERT_OK(conn->Exec("INSERT INTO t VALUES (3)").status());
      ASSERT_OK(tx->Commit());
    }
    EXPECT_ERROR(batch->Commit(), Code::kConflict, "conflict");
  }
  EXPECT_FALSE(conn->in_transaction());
  EXPECT_EQ(Ns(*conn), "7");
  // The next batch is not affected.
  ASSERT_OK_AND_ASSIGN(auto batch, PgBatch::Begin(*conn));
  ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
  ASSERT_OK(conn->Exec("INSERT INTO t VALUES (8)").status());
  ASSERT_OK(tx->Commit());
  ASSERT_OK(batch->Commit());
  EXPECT_EQ(Ns(*conn), "7,8");
}

// Outside a batch: BEGIN and what is queued go with the first statement or
// the COMMIT, and a transaction that ran nothing sends nothing at all.
TEST(PgTxTest, QueuedStatementsRideWithTheNextOneAndAnEmptyTransactionCostsNothing) {
  PARLEY_PG_CLUSTER(cluster);
  auto conn = FreshConn(cluster, "txrt", "CREATE TABLE t (n bigint PRIMARY KEY)");
  ASSERT_NE(conn, nullptr);
  uint64_t at = conn->round_trips();
  {
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
  }
  {
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
    ASSERT_OK(tx->Commit());
  }
  EXPECT_EQ(conn->round_trips(), at);
  EXPECT_FALSE(conn->in_transaction());
  {
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
    ASSERT_OK(conn->Defer("INSERT INTO t VALUES ($1)", {1}));
    ASSERT_OK(conn->Defer("INSERT INTO t VALUES ($1)", {2}));
    ASSERT_OK(tx->Commit());
  }
  EXPECT_EQ(Ns(*conn), "1,2");
  {
    // Rolled back before anything was sent: the server never saw it.
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
    ASSERT_OK(conn->Defer("INSERT INTO t VALUES ($1)", {3}));
  }
  {
    // A queued statement that fails fails the COMMIT it rode with.
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
    ASSERT_OK(conn->Defer("INSERT INTO t VALUES ($1)", {4}));
    ASSERT_OK(conn->Defer("INSERT INTO t VALUES ($1)", {1}));
    EXPECT_ERROR(tx->Commit(), Code::kConflict, "conflict");
  }
  EXPECT_FALSE(conn->in_transaction());
  EXPECT_EQ(Ns(*conn), "1,2");
  EXPECT_ERROR(conn->Defer("SELECT $1", {std::string("a\0b", 3)}), Code::kInvalid, "invalid_text");
}

TEST(PgConnTest, StatementsReadTogetherTakeOneRoundTripAndAFailureStopsTheRest) {
  PARLEY_PG_CLUSTER(cluster);
  auto conn = FreshConn(cluster, "together", "CREATE TABLE t (n bigint PRIMARY KEY)");
  ASSERT_NE(conn, nullptr);
  // Prepared once, so the round trips counted below are the statements'.
  ASSERT_OK(conn->Exec("INSERT INTO t VALUES ($1)", {0}).status());
  ASSERT_OK(conn->Exec("INSERT INTO t VALUES ($1) RETURNING n", {1}).status());
  ASSERT_OK(conn->Exec("SELECT count(*) FROM t WHERE n >= $1", {0}).status());
  ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
  ASSERT_OK(conn->Defer("INSERT INTO t VALUES ($1)", {2}));
  const uint64_t at = conn->round_trips();
  ASSERT_OK_AND_ASSIGN(auto rows, conn->ExecTogether({{"INSERT INTO t VALUES ($1) RETURNING n", {3}},
                                                      {"SELECT count(*) FROM t WHERE n >= $1", {1}}}));
  EXPECT_EQ(conn->round_trips(), at + 1) << "the queue and both statements in one round trip";
  ASSERT_EQ(rows.size(), 2u);
  ASSERT_OK(rows[0]);
  EXPECT_EQ(rows[0]->Text(0, 0), "3");
  ASSERT_OK(rows[1]);
  EXPECT_EQ(rows[1]->Text(0, 0), "3") << "each statement sees the ones before it";
  // The first fails (a duplicate key): the server skips the second, which
  // answers the same error; the queue before them is not to blame.
  ASSERT_OK_AND_ASSIGN(rows, conn->ExecTogether({{"INSERT INTO t VALUES ($1) RETURNING n", {1}},
                                                 {"SELECT count(*) FROM t WHERE n >= $1", {0}}}));
  EXPECT_ERROR(rows[0].status(), Code::kConflict, "conflict");
  EXPECT_ERROR(rows[1].status(), Code::kConflict, "conflict");
  EXPECT_ERROR(tx->Commit(), Code::kInternal, "internal");  // the transaction had failed
  EXPECT_EQ(Ns(*conn), "0,1");
  EXPECT_ERROR(conn->ExecTogether({{"SELECT $1", {std::string("a\0b", 3)}}}).status(), Code::kInvalid, "invalid_text");
}

// A transaction's last reads and its COMMIT go together (PgTx::CommitAfter,
// History's details): one round trip, the queue with them. A read that fails
// rolls everything back, as does one refused before it is sent, and the
// connection is usable after both.
TEST(PgTxTest, ReadsAndTheCommitTakeOneRoundTripAndAFailedReadRollsBack) {
  PARLEY_PG_CLUSTER(cluster);
  auto conn = FreshConn(cluster, "commitafter", "CREATE TABLE t (n bigint PRIMARY KEY)");
  ASSERT_NE(conn, nullptr);
  // Each statement prepared once, so the round trips counted are theirs.
  ASSERT_OK(conn->Exec("INSERT INTO t VALUES ($1)", {-1}).status());
  ASSERT_OK(conn->Exec("DELETE FROM t WHERE n = $1", {-1}).status());
  ASSERT_OK(conn->Exec("SELECT count(*) FROM t WHERE n >= $1", {0}).status());
  {
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
    ASSERT_OK(conn->Defer("INSERT INTO t VALUES ($1)", {1}));
    const uint64_t at = conn->round_trips();
    ASSERT_OK_AND_ASSIGN(auto rows, tx->CommitAfter({{"SELECT count(*) FROM t WHERE n >= $1", {0}},
                                                     {"SELECT count(*) FROM t WHERE n >= $1", {5}}}));
    EXPECT_EQ(conn->round_trips(), at + 1) << "BEGIN, the insert, both reads and the COMMIT";
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0]->Text(0, 0), "1") << "the reads see the transaction's write";
    EXPECT_EQ(rows[1]->Text(0, 0), "0");
    EXPECT_FALSE(conn->in_transaction());
  }
  EXPECT_EQ(Ns(*conn), "1");
  {
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
    ASSERT_OK(conn->Exec("INSERT INTO t VALUES ($1) RETURNING n", {2}).status());
    EXPECT_ERROR(tx->CommitAfter({{"SELECT 1 / ($1::int)", {0}}}).status(), Code::kInternal, "internal");
    EXPECT_FALSE(conn->in_transaction());
  }
  EXPECT_EQ(Ns(*conn), "1") << "the failed read took the insert with it";
  {
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
    ASSERT_OK(conn->Exec("INSERT INTO t VALUES ($1) RETURNING n", {3}).status());
    EXPECT_ERROR(tx->CommitAfter({{"SELECT $1", {std::string("a\0b", 3)}}}).status(), Code::kInvalid,
                 "invalid_text");
    EXPECT_FALSE(conn->in_transaction());
  }
  EXPECT_EQ(Ns(*conn), "1") << "a read refused before sending rolls back too";
  {
    // A transaction whose BEGIN is still queued: the reads carry it.
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
    ASSERT_OK_AND_ASSIGN(auto rows, tx->CommitAfter({{"SELECT count(*) FROM t WHERE n >= $1", {0}}}));
    EXPECT_EQ(rows[0]->Text(0, 0), "1");
  }
  // Inside a batch it is a savepoint: the reads run, the savepoint is released.
  ASSERT_OK_AND_ASSIGN(auto batch, PgBatch::Begin(*conn));
  {
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn));
    ASSERT_OK(conn->Defer("INSERT INTO t VALUES ($1)", {4}));
    ASSERT_OK_AND_ASSIGN(auto rows, tx->CommitAfter({{"SELECT count(*) FROM t WHERE n >= $1", {0}}}));
    EXPECT_EQ(rows[0]->Text(0, 0), "2");
  }
  ASSERT_OK(batch->Commit());
  EXPECT_EQ(Ns(*conn), "1,4");
}

}  // namespace
}  // namespace parley::pg
