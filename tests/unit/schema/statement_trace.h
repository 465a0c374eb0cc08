// A test's view of the work SQLite does: the statements that finish on a
// connection and the VM steps each took (store_event_reads_test.cc,
// retention_test.cc), and the plan of a statement.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <memory>
#include <string>
#include <vector>

#include "schema/db.h"

namespace parley::test {

// Records every statement that finishes on a connection, with the VM steps
// it took, while it is alive (sqlite3_trace_v2, SQLITE_TRACE_PROFILE).
class StatementTrace {
 public:
  struct Run {
    std::string sql;  // as prepared, with its ? parameters
    int steps = 0;
  };
  explicit StatementTrace(Db& db) : db_(db) {
    sqlite3_trace_v2(db_.raw(), SQLITE_TRACE_PROFILE, &StatementTrace::OnTrace, this);
  }
  ~StatementTrace() { sqlite3_trace_v2(db_.raw(), 0, nullptr, nullptr); }
  StatementTrace(const StatementTrace&) = delete;
  StatementTrace& operator=(const StatementTrace&) = delete;

  const std::vector<Run>& runs() const { return runs_; }
  int steps() const {
    int n = 0;
    for (const Run& r : runs_) n += r.steps;
    return n;
  }

 private:
  static int OnTrace(unsigned, void* self, void* p, void*) {
    auto* stmt = static_cast<sqlite3_stmt*>(p);
    static_cast<StatementTrace*>(self)->runs_.push_back(
        Run{sqlite3_sql(stmt), sqlite3_stmt_status(stmt, SQLITE_STMTSTATUS_VM_STEP, /*reset=*/1)});
    return 0;
  }
  Db& db_;
  std::vector<Run> runs_;
};

// The detail column of `EXPLAIN QUERY PLAN sql`, a line a step of the plan
// ("SEARCH t USING INDEX i (a=?)"), or an empty string after a failure.
// Through SQLite's own API: Statement refuses to step the plan of a write
// outside a write transaction, though the plan writes nothing.
inline std::string QueryPlan(Db& db, const std::string& sql) {
  sqlite3_stmt* raw = nullptr;
  const std::string explain = "EXPLAIN QUERY PLAN " + sql;
  EXPECT_EQ(sqlite3_prepare_v2(db.raw(), explain.c_str(), -1, &raw, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db.raw()) << ": " << sql;
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> plan(raw, sqlite3_finalize);
  std::string lines;
  while (plan != nullptr && sqlite3_step(plan.get()) == SQLITE_ROW) {
    lines += reinterpret_cast<const char*>(sqlite3_column_text(plan.get(), 3));
    lines += "\n";
  }
  return lines;
}

}  // namespace parley::test
