// schema/writer_lock.cc: the flock() beside the database file.
#include "schema/writer_lock.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <utility>

#include "tests/unit/temp_db.h"

namespace parley {
namespace {

TEST(WriterLockTest, OneHolderAtATimeAcrossDescriptions) {
  test::TempDir dir;
  const std::string db = dir.File("db.sqlite");
  ASSERT_OK_AND_ASSIGN(WriterLock a, WriterLock::Open(db));
  ASSERT_OK_AND_ASSIGN(WriterLock b, WriterLock::Open(db));
  EXPECT_TRUE(std::filesystem::exists(db + "-writer"));

  ASSERT_OK_AND_ASSIGN(bool got, a.TryLock());
  EXPECT_TRUE(got);
  EXPECT_TRUE(a.held());
  ASSERT_OK_AND_ASSIGN(got, b.TryLock());
  EXPECT_FALSE(got);  // same process, another open: still excluded
  EXPECT_FALSE(b.held());
  EXPECT_FALSE(a.TryLock().ok());  // taking it twice is a bug, not a wait

  a.Unlock();
  EXPECT_FALSE(a.held());
  ASSERT_OK_AND_ASSIGN(got, b.TryLock());
  EXPECT_TRUE(got);
  {
    WriterLock moved = std::move(b);  // the move carries the lock
    EXPECT_TRUE(moved.held());
    EXPECT_FALSE(b.held());
  }  // destroyed: released
  ASSERT_OK_AND_ASSIGN(got, a.TryLock());
  EXPECT_TRUE(got);
}

TEST(WriterLockTest, AnotherProcessIsExcludedAndACrashReleases) {
  test::TempDir dir;
  const std::string db = dir.File("db.sqlite");
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto lock = WriterLock::Open(db);
    if (!lock.ok() || !lock->TryLock().ok()) _exit(1);
    char c = 'x';
    if (write(ready[1], &c, 1) != 1) _exit(1);
    pause();  // holds it until killed
    _exit(0);
  }
  close(ready[1]);
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  close(ready[0]);
  ASSERT_OK_AND_ASSIGN(WriterLock mine, WriterLock::Open(db));
  ASSERT_OK_AND_ASSIGN(bool got, mine.TryLock());
  EXPECT_FALSE(got);
  kill(child, SIGKILL);  // a holder that dies mid-transaction
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_OK_AND_ASSIGN(got, mine.TryLock());
  EXPECT_TRUE(got);
}

TEST(WriterLockTest, OpenInMissingDirectoryFails) {
  test::TempDir dir;
  EXPECT_EQ(WriterLock::Open(dir.File("no/such/db.sqlite")).status().code(), Code::kInternal);
}

}  // namespace
}  // namespace parley
