#include "schema/reexec.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "schema/posix.h"

namespace parley {
namespace {

const std::vector<InheritSlot> kTwo{{"listen", 1, 1}, {"notify", 1, 1}};
const std::vector<InheritSlot> kListed{{"listen", 1, 1}, {"kept", 0, 3}};

TEST(InheritTest, EachSlotRoundTrips) {
  EXPECT_EQ(FormatInherit(kTwo, {{3}, {4}}), "listen=3;notify=4");
  auto two = ParseInherit("V", kTwo, "listen=3;notify=4");
  ASSERT_TRUE(two.ok()) << two.status().message();
  EXPECT_EQ(*two, (InheritedFds{{3}, {4}}));
  for (const InheritedFds& fds : {InheritedFds{{5}, {}}, InheritedFds{{5}, {6, 7, 1000}}}) {
    const std::string text = FormatInherit(kListed, fds);
    auto back = ParseInherit("V", kListed, text);
    ASSERT_TRUE(back.ok()) << text << ": " << back.status().message();
    EXPECT_EQ(*back, fds) << text;
  }
}

// From the environment: anything but the exact format is refused whole.
TEST(InheritTest, AnythingElseIsRefused) {
  for (const char* text : {"", "listen=3", "listen=3;", "listen=3;notify=", "listen=3;notify=4,5", "listen=3;notify=3",
                           "notify=4;listen=3", "listen=3;notify=4;", "listen=3;notify=4;kept=5", "listen=3,4;notify=5",
                           "listen=;notify=4", "listen=3;notify=2", "listen=3;notify=04x", "listen=3 ;notify=4",
                           "LISTEN=3;notify=4", "listen=3;notify=-4", "listen=3;notify=4294967299"}) {
    EXPECT_FALSE(ParseInherit("V", kTwo, text).ok()) << "'" << text << "' was taken";
  }
  EXPECT_FALSE(ParseInherit("V", kListed, "listen=3;kept=4,5,6,7").ok()) << "more than the slot's most";
  auto st = ParseInherit("PARLEY_X", kTwo, "nonsense").status();
  EXPECT_NE(st.message().find("PARLEY_X"), std::string::npos) << "the error names the variable: " << st.message();
}

TEST(InheritTest, TakeEnvReadsAndRemoves) {
  ASSERT_EQ(setenv("PARLEY_TEST_INHERIT", "listen=3", 1), 0);
  EXPECT_EQ(TakeEnv("PARLEY_TEST_INHERIT"), "listen=3");
  EXPECT_EQ(std::getenv("PARLEY_TEST_INHERIT"), nullptr);
  EXPECT_EQ(TakeEnv("PARLEY_TEST_INHERIT"), std::nullopt);
}

TEST(InheritTest, SocketsAreToldApart) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair), 0);
  Fd a(pair[0]), b(pair[1]);
  EXPECT_TRUE(IsSocket(a.get(), SOCK_DGRAM, /*listening=*/false));
  EXPECT_FALSE(IsSocket(a.get(), SOCK_STREAM, /*listening=*/false));
  EXPECT_FALSE(IsSocket(a.get(), SOCK_DGRAM, /*listening=*/true));
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  Fd r(p[0]), w(p[1]);
  EXPECT_FALSE(IsSocket(r.get(), SOCK_DGRAM, /*listening=*/false)) << "a pipe";
  EXPECT_FALSE(IsSocket(1000000, SOCK_DGRAM, /*listening=*/false)) << "no descriptor";
}

// A failed exec leaves the descriptors close-on-exec and the environment
// without the variable, as they were.
TEST(InheritTest, AFailedExecRestoresEverything) {
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair), 0);
  Fd a(pair[0]), b(pair[1]);
  Status st = ExecWith("/nonexistent/parley", {"parley"}, "PARLEY_TEST_INHERIT", "listen=" + std::to_string(a.get()),
                       {a.get()});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("/nonexistent/parley"), std::string::npos) << st.message();
  EXPECT_EQ(std::getenv("PARLEY_TEST_INHERIT"), nullptr);
  EXPECT_TRUE(fcntl(a.get(), F_GETFD) & FD_CLOEXEC);
}

}  // namespace
}  // namespace parley
