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

 private:
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
    return std::string("timeout 120 ") + PARLEY_SOURCE_DIR "/tools/pg " + verb + " '" + dir_.path() + "'";
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
};

// In a test body: the cluster, or skip (binaries missing) or fail.
#define PARLEY_PG_CLUSTER(var)                                                   \
  ::parley::test::PgCluster* var = ::parley::test::PgCluster::Get();             \
  if (var == nullptr && !::parley::test::PgCluster::skip_reason().empty()) {     \
    GTEST_SKIP() << ::parley::test::PgCluster::skip_reason();                    \
  }                                                                              \
  ASSERT_NE(var, nullptr) << ::parley::test::PgCluster::error()

}  // namespace parley::test
