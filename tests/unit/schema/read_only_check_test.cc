// schema/read_only_check.cc: which read each set of files beside a database
// gets, and that none of them creates a file. (tests/e2e/ops_test.cc runs
// the same through parleyctl, in a directory the check cannot write.)
#include "schema/read_only_check.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <string>

#include "schema/db.h"
#include "tests/unit/temp_db.h"

namespace parley {
namespace {

class ReadOnlyCheckTest : public ::testing::Test {
 protected:
  std::string path() const { return dir_.File("db.sqlite"); }

  // A database with rows in it, through a connection left open: its last
  // commit is in the -wal, and the -shm is there.
  void OpenWithCommitsInTheWal() {
    writer_ = test::OpenDb(path(), /*migrate=*/false);
    ASSERT_NE(writer_, nullptr);
    ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*writer_, Transaction::Mode::kWrite));
    ASSERT_OK(writer_->ExecScript("CREATE TABLE t (x); INSERT INTO t VALUES (1), (2)"));
    ASSERT_OK(tx->Commit());
    ASSERT_GT(std::filesystem::file_size(path() + "-wal"), 0u);
  }

  std::set<std::string> Files() const {
    std::set<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) names.insert(entry.path().filename());
    return names;
  }

  test::TempDir dir_;
  std::unique_ptr<Db> writer_;
};

// Closed cleanly, every commit is in the file: read alone, and not a file
// made beside it (the -writer lock file removed first, as check must not
// need one).
TEST_F(ReadOnlyCheckTest, ACleanlyClosedDatabaseIsReadAloneAndNothingIsMade) {
  OpenWithCommitsInTheWal();
  writer_.reset();
  std::filesystem::remove(path() + "-writer");
  ASSERT_EQ(Files(), std::set<std::string>{"db.sqlite"});
  const auto mtime = std::filesystem::last_write_time(path());
  ASSERT_OK_AND_ASSIGN(ReadOnlyCheck check, ReadOnlyIntegrityCheck(path()));
  EXPECT_EQ(check.problems, "ok");
  EXPECT_EQ(Files(), std::set<std::string>{"db.sqlite"});
  EXPECT_EQ(std::filesystem::last_write_time(path()), mtime);
}

// Beside a connection that writes (a daemon's), through the -wal and -shm.
TEST_F(ReadOnlyCheckTest, BesideAnOpenWriterItReadsThroughTheWal) {
  OpenWithCommitsInTheWal();
  const std::set<std::string> before = Files();
  ASSERT_OK_AND_ASSIGN(ReadOnlyCheck check, ReadOnlyIntegrityCheck(path()));
  EXPECT_EQ(check.problems, "ok");
  EXPECT_EQ(Files(), before);
}

// Commits in a -wal whose -shm is gone: reading them would create one, and
// reading the file without them would check another database. Refused,
// and nothing is made.
TEST_F(ReadOnlyCheckTest, AWalWithoutItsShmIsRefused) {
  OpenWithCommitsInTheWal();
  const std::string copy = dir_.File("copy.sqlite");
  std::filesystem::copy_file(path(), copy);
  std::filesystem::copy_file(path() + "-wal", copy + "-wal");
  EXPECT_ERROR(ReadOnlyIntegrityCheck(copy), Code::kInvalid, "cannot_check");
  EXPECT_FALSE(std::filesystem::exists(copy + "-shm"));
  EXPECT_FALSE(std::filesystem::exists(copy + "-writer"));
}

// A rollback journal beside the file: only a write could roll it back.
TEST_F(ReadOnlyCheckTest, AJournalBesideTheFileIsRefused) {
  OpenWithCommitsInTheWal();
  writer_.reset();
  std::filesystem::remove(path() + "-writer");
  {
    std::FILE* f = std::fopen((path() + "-journal").c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fputs("not empty", f);
    ASSERT_EQ(std::fclose(f), 0);
  }
  EXPECT_ERROR(ReadOnlyIntegrityCheck(path()), Code::kInvalid, "cannot_check");
  EXPECT_EQ(Files(), (std::set<std::string>{"db.sqlite", "db.sqlite-journal"}));
}

}  // namespace
}  // namespace parley
