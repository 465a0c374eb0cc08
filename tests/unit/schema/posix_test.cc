// schema/posix.cc: what the daemons do with this process's limits.
#include "schema/posix.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace parley {
namespace {

// In a child, so the test process keeps its own limits: a soft limit of
// 256 under a hard one of 512 is raised to 512, and said so.
TEST(PosixTest, RaiseOpenFileLimitTakesTheSoftLimitToTheHardOne) {
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const rlimit low{256, 512};
    if (setrlimit(RLIMIT_NOFILE, &low) != 0) _exit(10);
    Result<uint64_t> raised = RaiseOpenFileLimit();
    if (!raised.ok()) _exit(11);
    if (*raised != 512) _exit(12);
    rlimit now{};
    if (getrlimit(RLIMIT_NOFILE, &now) != 0 || now.rlim_cur != 512 || now.rlim_max != 512) _exit(13);
    // Already at the hard limit: nothing to do, the same answer.
    Result<uint64_t> again = RaiseOpenFileLimit();
    _exit(again.ok() && *again == 512 ? 0 : 14);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's check that failed: " << WEXITSTATUS(status);
}

}  // namespace
}  // namespace parley
