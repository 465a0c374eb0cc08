#include "events/reexec.h"
#include "tests/unit/inherited_socket.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace parley::events {
namespace {

bool CloseOnExec(int fd) { return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

class EventsInheritTest : public ::testing::Test {
 protected:
  void SetUp() override {
    listening_ = InheritedListeningSocket("parley-events-reexec");
    ASSERT_TRUE(listening_.valid());
    datagram_ = Fd(socket(AF_UNIX, SOCK_DGRAM, 0));
    ASSERT_TRUE(datagram_.valid());
  }
  void TearDown() override { unsetenv(kInheritVar); }
  void Set(int listen_fd, int notify_fd) {
    setenv(kInheritVar, ("listen=" + std::to_string(listen_fd) + ";notify=" + std::to_string(notify_fd)).c_str(), 1);
  }
  Fd listening_, datagram_;
};

TEST_F(EventsInheritTest, NothingSetIsNothingInherited) {
  unsetenv(kInheritVar);
  auto in = TakeInherited();
  ASSERT_TRUE(in.ok());
  EXPECT_FALSE(in->has_value());
}

TEST_F(EventsInheritTest, TheTwoSocketsAreTakenCloseOnExec) {
  Set(listening_.get(), datagram_.get());
  auto in = TakeInherited();
  ASSERT_TRUE(in.ok()) << in.status().message();
  ASSERT_TRUE(in->has_value());
  EXPECT_EQ((*in)->listen.get(), listening_.get());
  EXPECT_EQ((*in)->notify.get(), datagram_.get());
  EXPECT_TRUE(CloseOnExec(listening_.get()));
  EXPECT_TRUE(CloseOnExec(datagram_.get()));
  EXPECT_EQ(std::getenv(kInheritVar), nullptr) << "removed: not for a later exec";
  // Owned by the test's Fds.
  (*in)->listen.Release();
  (*in)->notify.Release();
}

// Descriptors of the wrong kind may not be ours: refused, none touched.
TEST_F(EventsInheritTest, SocketsOfTheWrongKindAreRefused) {
  Set(datagram_.get(), listening_.get());
  EXPECT_FALSE(TakeInherited().ok()) << "swapped";
  Set(listening_.get(), listening_.get() + 1000);
  EXPECT_FALSE(TakeInherited().ok()) << "no such descriptor";
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  Fd r(p[0]), w(p[1]);
  Set(listening_.get(), r.get());
  EXPECT_FALSE(TakeInherited().ok()) << "a pipe as the wake-up socket";
  EXPECT_FALSE(CloseOnExec(listening_.get())) << "a refused variable touches no descriptor";
  EXPECT_GE(fcntl(r.get(), F_GETFD), 0) << "the pipe is still open";
  setenv(kInheritVar, "listen=3", 1);
  EXPECT_FALSE(TakeInherited().ok());
}

// What SIGHUP compares: the file at the path against the one running.
TEST(BinaryTest, ANewFileAtThePathIsAReplacementAndAGoneOneIsNot) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("parley-binary-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string path = (dir / "parley-events").string();
  auto write = [](const std::string& p, const std::string& text) {
    std::ofstream(p, std::ios::trunc) << text;
  };
  write(path, "one");
  Binary b = Binary::At(path);
  EXPECT_EQ(b.path(), path);
  EXPECT_FALSE(b.Replaced()) << "the same file";
  write(path + ".new", "two");
  fs::rename(path + ".new", path);
  EXPECT_TRUE(b.Replaced()) << "a new inode renamed over it";
  Binary c = Binary::At(path);
  write(path, "three, longer");
  EXPECT_TRUE(c.Replaced()) << "rewritten in place";
  fs::remove(path);
  EXPECT_FALSE(c.Replaced()) << "nothing at the path: nothing to run";
  fs::remove_all(dir);
  EXPECT_FALSE(Binary::Running().path().empty());
  EXPECT_FALSE(Binary::Running().Replaced()) << "this test's own binary";
}

}  // namespace
}  // namespace parley::events
