// A private PostgreSQL cluster for one test program (tools/pg in a temporary
// directory), and fresh databases in it. Tests of schema/pg run against a
// real server, never a mock.
//
// One cluster per process: starting one costs seconds (initdb), so the pg
// tests are one ctest entry (tests/unit/CMakeLists.txt) sharing it. It is
// stopped and removed when the program exits; a watchdog process stops it
// too if the program dies first (a crash, ctest's timeout), so no server
// outlives its test.
#pragma once

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "schema/pg/conn.h"
#include "schema/pg/migrate.h"
#include "tests/unit/temp_db.h"

namespace parley::test {

class PgCluster {
 public:
  // The process's cluster, started on first use; null when it could not be
  // started, with why in skip_reason() (binaries missing) or error().
  static PgCluster* Get() {
    static std::unique_ptr<PgCluster> cluster = Start();
    return cluster && cluster->url_.empty() ? nullptr : cluster.get();
  }
  static std::string& skip_reason() {
    static std::string reason;
    return reason;
  }
  static std::string& error() {
    static std::string error;
    return error;
  }

  ~PgCluster() {
    if (!dir_.path().empty()) Run("stop");
  }

  // `tools/pg stop` or `tools/pg start` on this cluster, for tests of what
  // survives a server restart; the exit code (0: done).
  int Control(const char* verb) const { return Run(verb); }

  // The URL of the cluster's `parley` database.
  const std::string& url() const { return url_; }

  // The URL of a new, empty schema of the `parley` database, first in the
  // search path of every connection made with it: each test gets its own
  // tables. A schema, not a database: a CREATE DATABASE copies thousands
  // of files that the server then syncs at every checkpoint.
  Result<std::string> NewSchema(const std::string& prefix) {
    static std::atomic<int> next{0};
    std::string name = prefix + "_" + std::to_string(next++);
    PARLEY_ASSIGN_OR_RETURN(auto conn, pg::PgConn::Connect(url_));
    // CREATE SCHEMA takes no parameters; the name is ours.
    PARLEY_RETURN_IF_ERROR(conn->ExecScript("CREATE SCHEMA " + name));
    return url_ + "&options=-csearch_path%3D" + name;
  }

  // A URL of NewSchema's whose sessions wait at most 200 ms for a lock
  // (lock_timeout, added to its options), for tests of what a lock timeout
  // does without waiting out PgConn::kLockTimeoutS.
  static std::string WithShortLockTimeout(const std::string& schema_url) {
    return schema_url + "%20-clock_timeout%3D200ms";
  }

  // The URL of a migrated schema holding only what the migrations wrote, for
  // one test at a time. Made and migrated on the first call; each later call
  // empties it back to those rows (TRUNCATE, then the rows and sequence
  // values saved after migrating). Migrating costs ~0.45 s per test, the
  // reset a few milliseconds; the store suites run ~80 tests on it.
  Result<std::string> ResetMigratedSchema() {
    if (migrated_url_.empty()) {
      PARLEY_ASSIGN_OR_RETURN(std::string url, NewSchema("migrated"));
      PARLEY_ASSIGN_OR_RETURN(auto conn, pg::PgConn::Connect(url));
      PARLEY_RETURN_IF_ERROR(pg::MigratePg(*conn).status());
      PARLEY_RETURN_IF_ERROR(conn->ExecScript(kSaveSeed));
      migrated_url_ = url;
      return url;
    }
    PARLEY_ASSIGN_OR_RETURN(auto conn, pg::PgConn::Connect(migrated_url_));
    PARLEY_RETURN_IF_ERROR(conn->ExecScript(kRestoreSeed));
    return migrated_url_;
  }

 private:
  // Copies every table of the current schema, and its sequences' values,
  // into the schema <current>_seed.
  static constexpr const char* kSaveSeed = R"sql(
    DO $$
    DECLARE
      here text := current_schema();
      seed text := current_schema() || '_seed';
      t text;
    BEGIN
      EXECUTE format('CREATE SCHEMA %I', seed);
      FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = here LOOP
        EXECUTE format('CREATE TABLE %I.%I AS TABLE %I.%I', seed, t, here, t);
      END LOOP;
      EXECUTE format('CREATE TABLE %I.sequence_values AS SELECT sequencename AS name, last_value '
                     'FROM pg_sequences WHERE schemaname = %L', seed, here);
    END $$)sql";
  // Empties the current schema and puts the saved rows back, in one
  // transaction. DELETE, not TRUNCATE: a test leaves a few rows, and
  // TRUNCATE makes new files for every table and index (several times
  // slower here). Foreign keys go unchecked (replica role: the rows were
  // consistent when saved), so any order does.
  static constexpr const char* kRestoreSeed = R"sql(
    DO $$
    DECLARE
      here text := current_schema();
      seed text := current_schema() || '_seed';
      t text;
      has_rows boolean;
      s record;
    BEGIN
      PERFORM set_config('session_replication_role', 'replica', true);
      FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = here LOOP
        EXECUTE format('DELETE FROM %I', t);
        -- Only tables with saved rows: an INSERT into one with a generated
        -- column (messages.search) fails even when it selects nothing.
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I)', seed, t) INTO has_rows;
        IF has_rows THEN
          EXECUTE format('INSERT INTO %I SELECT * FROM %I.%I', t, seed, t);
        END IF;
      END LOOP;
      FOR s IN EXECUTE format('SELECT name, last_value FROM %I.sequence_values', seed) LOOP
        -- A sequence never used has no last_value: its next is its start.
        PERFORM setval(format('%I', s.name), coalesce(s.last_value, 1), s.last_value IS NOT NULL);
      END LOOP;
    END $$)sql";

  static std::unique_ptr<PgCluster> Start() {
    std::unique_ptr<PgCluster> c(new PgCluster());
    if (c->dir_.path().empty()) return c;
    int rc = c->Run("start");
    if (rc == 4) {
      skip_reason() = "PostgreSQL server binaries are not installed (tools/deps installs them)";
      return nullptr;
    }
    if (rc != 0) {
      error() = "tools/pg start failed (exit " + std::to_string(rc) + ")";
      return c;
    }
    c->Watch();
    FILE* f = popen((c->Command("url") + " 2>&1").c_str(), "r");
    char buf[512] = {};
    std::string out;
    while (f && fgets(buf, sizeof buf, f)) out += buf;
    if (f) pclose(f);
    while (!out.empty() && out.back() == '\n') out.pop_back();
    c->url_ = out;
    return c;
  }

  std::string Command(const char* verb) const {
    // A throwaway cluster (tools/pg): no syncs, an immediate stop.
    return std::string("PARLEY_PG_THROWAWAY=1 timeout 120 ") + PARLEY_SOURCE_DIR "/tools/pg " + verb + " '" +
           dir_.path() + "'";
  }
  int Run(const char* verb) const {
    int st = std::system(Command(verb).c_str());
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  }
  // Stops the cluster once this process is gone, however it ended. Its
  // output goes nowhere, so ctest does not wait for it.
  void Watch() const {
    std::string cmd = "setsid bash -c 'while kill -0 " + std::to_string(getpid()) +
                      " 2>/dev/null; do sleep 1; done; " + Command("stop") + "; rm -rf \"" + dir_.path() +
                      "\"' </dev/null >/dev/null 2>&1 &";
    (void)std::system(cmd.c_str());
  }

  PgCluster() = default;
  TempDir dir_;
  std::string url_;
  std::string migrated_url_;  // ResetMigratedSchema()
};

// In a test body: the cluster, or skip (binaries missing) or fail.
#define PARLEY_PG_CLUSTER(var)                                                   \
  ::parley::test::PgCluster* var = ::parley::test::PgCluster::Get();             \
  if (var == nullptr && !::parley::test::PgCluster::skip_reason().empty()) {     \
    GTEST_SKIP() << ::parley::test::PgCluster::skip_reason();                    \
  }                                                                              \
  ASSERT_NE(var, nullptr) << ::parley::test::PgCluster::error()

}  // namespace parley::test
