// schema/writer_lock.cc: the flock() beside the database file.
#include "schema/writer_lock.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
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

// The lock was keyed on the path as given: a second name for the database
// (a symlink to it, a symlinked directory on the way) had a lock file of its
// own, and two writers through the two names did not exclude each other.
// It is keyed on the file: beside the file the names resolve to.
TEST(WriterLockTest, ASymlinkToTheDatabaseSharesItsLock) {
  test::TempDir dir;
  const std::string db = dir.File("db.sqlite"), link = dir.File("link.sqlite");
  std::ofstream(db).close();
  std::filesystem::create_symlink("db.sqlite", link);
  std::filesystem::create_directory(dir.File("real"));
  std::filesystem::create_directory_symlink("real", dir.File("alias"));
  ASSERT_OK_AND_ASSIGN(WriterLock by_path, WriterLock::Open(db));
  ASSERT_OK_AND_ASSIGN(WriterLock by_link, WriterLock::Open(link));
  ASSERT_OK_AND_ASSIGN(bool got, by_path.TryLock());
  EXPECT_TRUE(got);
  ASSERT_OK_AND_ASSIGN(got, by_link.TryLock());
  EXPECT_FALSE(got) << "a writer through the symlink was not excluded";
  EXPECT_FALSE(std::filesystem::exists(link + "-writer"));
  by_path.Unlock();
  ASSERT_OK_AND_ASSIGN(got, by_link.TryLock());
  EXPECT_TRUE(got);

  // A database not made yet, in a directory reached through a symlink:
  // the lock of the name it will have.
  ASSERT_OK_AND_ASSIGN(WriterLock through_alias, WriterLock::Open(dir.File("alias/new.sqlite")));
  ASSERT_OK_AND_ASSIGN(WriterLock direct, WriterLock::Open(dir.File("real/new.sqlite")));
  ASSERT_OK_AND_ASSIGN(got, through_alias.TryLock());
  EXPECT_TRUE(got);
  ASSERT_OK_AND_ASSIGN(got, direct.TryLock());
  EXPECT_FALSE(got);
  EXPECT_EQ(WriterLock::PathFor(dir.File("alias/new.sqlite")), WriterLock::PathFor(dir.File("real/new.sqlite")));
}

TEST(WriterLockTest, OpenInMissingDirectoryFails) {
  test::TempDir dir;
  EXPECT_EQ(WriterLock::Open(dir.File("no/such/db.sqlite")).status().code(), Code::kInternal);
}

}  // namespace
}  // namespace parley
