#include "fcgi/reexec.h"
#include "tests/unit/inherited_socket.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace parley::fcgi {
namespace {

TEST(ReexecTest, TheSpecRoundTrips) {
  for (const InheritSpec& spec : {InheritSpec{3, {}}, InheritSpec{7, {4, 9, 1000}}}) {
    const std::string text = FormatInherit(spec);
    auto back = ParseInherit(text);
    ASSERT_TRUE(back.ok()) << text << ": " << back.status().message();
    EXPECT_EQ(back->listen_fd, spec.listen_fd) << text;
    EXPECT_EQ(back->kept, spec.kept) << text;
  }
  EXPECT_EQ(FormatInherit({5, {6, 7}}), "listen=5;kept=6,7");
}

// The variable comes from the environment: anything but our own format is
// refused whole, before a descriptor is touched.
TEST(ReexecTest, AnythingElseIsRefused) {
  for (const char* text : {"", "listen=", "listen=3", "listen=3;", "listen=3;kept", "kept=4;listen=3",
                           "listen=abc;kept=", "listen=-3;kept=", "listen=2;kept=", "listen=0;kept=",
                           "listen=+3;kept=", "listen= 3;kept=", "listen=3;kept=4,", "listen=3;kept=,4",
                           "listen=3;kept=4,,5", "listen=3;kept=4;", "listen=3;kept=3", "listen=3;kept=4,4",
                           "listen=99999999999;kept=", "listen=2147483648;kept=", "listen=3;kept=1",
                           "listen=3;kept=4x", "LISTEN=3;kept="}) {
    EXPECT_FALSE(ParseInherit(text).ok()) << "'" << text << "' was taken";
  }
  InheritSpec many{3, {}};
  for (int fd = 4; fd < 4 + static_cast<int>(kMaxInherited) + 1; ++fd) many.kept.push_back(fd);
  EXPECT_FALSE(ParseInherit(FormatInherit(many)).ok()) << "more kept descriptors than kMaxInherited";
}

bool CloseOnExec(int fd) { return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

class TakeInheritedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    listening_ = InheritedListeningSocket("parley-reexec");
    ASSERT_TRUE(listening_.valid());
    int ends[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, ends), 0);
    kept_ = Fd(ends[0]);
    peer_ = Fd(ends[1]);
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    pipe_read_ = Fd(p[0]);
    pipe_write_ = Fd(p[1]);
  }
  void TearDown() override { unsetenv(kInheritVar); }

  Fd listening_, kept_, peer_, pipe_read_, pipe_write_;
};

TEST_F(TakeInheritedTest, UnsetIsNothing) {
  unsetenv(kInheritVar);
  auto in = TakeInherited();
  ASSERT_TRUE(in.ok());
  EXPECT_FALSE(in->has_value());
}

// The sockets are taken, close-on-exec again; a kept descriptor that is not
// a connected socket (a pipe here) is not ours and is left alone.
TEST_F(TakeInheritedTest, TakesTheSocketsAndLeavesTheRest) {
  const int listen_fd = listening_.Release(), kept_fd = kept_.Release();
  ASSERT_EQ(setenv(kInheritVar, FormatInherit({listen_fd, {kept_fd, pipe_read_.get()}}).c_str(), 1), 0);
  auto in = TakeInherited();
  ASSERT_TRUE(in.ok()) << in.status().message();
  ASSERT_TRUE(in->has_value());
  Inherited& got = **in;
  EXPECT_EQ(std::getenv(kInheritVar), nullptr) << "not for the workers";
  EXPECT_EQ(got.listen.get(), listen_fd);
  ASSERT_EQ(got.kept.size(), 1u);
  EXPECT_EQ(got.kept[0].get(), kept_fd);
  EXPECT_TRUE(CloseOnExec(listen_fd));
  EXPECT_TRUE(CloseOnExec(kept_fd));
  EXPECT_GE(fcntl(pipe_read_.get(), F_GETFD), 0) << "the pipe was closed";
  EXPECT_FALSE(CloseOnExec(pipe_read_.get())) << "the pipe was touched";
}

TEST_F(TakeInheritedTest, AListenDescriptorThatIsNotListeningIsAnErrorAndNothingIsTaken) {
  for (int fd : {kept_.get(), pipe_read_.get(), 1000}) {
    ASSERT_EQ(setenv(kInheritVar, FormatInherit({fd, {}}).c_str(), 1), 0);
    auto in = TakeInherited();
    EXPECT_FALSE(in.ok()) << "descriptor " << fd << " taken as the listening socket";
    EXPECT_EQ(std::getenv(kInheritVar), nullptr);
  }
  EXPECT_GE(fcntl(kept_.get(), F_GETFD), 0) << "closed";
  EXPECT_GE(fcntl(pipe_read_.get(), F_GETFD), 0) << "closed";
}

// An exec that fails leaves everything as it was: the running binary goes on.
TEST_F(TakeInheritedTest, AFailedExecChangesNothing) {
  ASSERT_EQ(fcntl(listening_.get(), F_SETFD, FD_CLOEXEC), 0);
  ASSERT_EQ(fcntl(kept_.get(), F_SETFD, FD_CLOEXEC), 0);
  std::vector<Fd> kept;
  kept.emplace_back(kept_.Release());
  Status st = ExecAgain("/nonexistent/parley-fcgi", {"parley-fcgi"}, listening_.get(), kept);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/nonexistent/parley-fcgi"), std::string::npos) << st.message();
  EXPECT_EQ(std::getenv(kInheritVar), nullptr);
  EXPECT_TRUE(CloseOnExec(listening_.get()));
  EXPECT_TRUE(CloseOnExec(kept[0].get()));
}

TEST(SelfPathTest, IsThisTestBinary) {
  const std::string self = SelfPath();
  ASSERT_FALSE(self.empty());
  EXPECT_EQ(self[0], '/');
  EXPECT_NE(self.find("fcgi_unit_test"), std::string::npos) << self;
}

}  // namespace
}  // namespace parley::fcgi
