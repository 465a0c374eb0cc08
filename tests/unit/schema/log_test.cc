// schema/log.cc: the throttle of repeated failure lines.
#include "schema/log.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "tests/unit/temp_db.h"

namespace parley {
namespace {

TEST(LogEverySecondTest, TheFirstIsLoggedThenOneASecondCountingThoseBetween) {
  LogEverySecond log;
  uint64_t since = 0;
  ASSERT_TRUE(log.Due(&since));
  EXPECT_EQ(since, 1u);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(log.Due(&since));
  std::this_thread::sleep_for(std::chrono::milliseconds(1050));
  ASSERT_TRUE(log.Due(&since));
  EXPECT_EQ(since, 6u);  // the five held back, and this one
  EXPECT_FALSE(log.Due(&since));
}

// What LogLine writes to stderr while f runs: stderr is a file meanwhile.
template <typename F>
std::string StderrOf(F f) {
  test::TempDir dir;
  const std::string path = dir.File("stderr");
  const int file = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  EXPECT_GE(file, 0);
  const int saved = dup(STDERR_FILENO);
  dup2(file, STDERR_FILENO);
  f();
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(file);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// An audit: libpq's errors hold "\n\t", so each refusal that quoted one was
// two physical lines, and a message quoting a client could carry a
// terminal's escape sequences. One entry is one line, control characters
// written out.
TEST(LogLineTest, ControlCharactersAreEscapedSoAnEntryIsOneLine) {
  const std::string out = StderrOf([] {
    LogLine(LogLevel::kWarn, "GET /api/me: %s", "could not connect\n\tIs the server running?\r\x1b[31mred\x7f\x01");
  });
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.find('\n'), out.size() - 1) << out;  // the one newline ends it
  EXPECT_NE(out.find("GET /api/me: could not connect\\n\\tIs the server running?\\r\\x1b[31mred\\x7f\\x01\n"),
            std::string::npos)
      << out;
  for (char c : out.substr(0, out.size() - 1)) EXPECT_FALSE(c < 0x20 || c == 0x7f) << static_cast<int>(c);
}

TEST(LogLineTest, ALongMessageIsCutBetweenEscapesNeverInOne) {
  char out[5];
  EXPECT_EQ(EscapeControls("ab\x1b", out, sizeof out), 2u);  // "\x1b" needs 4 more
  EXPECT_EQ(std::string(out, 2), "ab");
  EXPECT_EQ(EscapeControls("a\nb", out, sizeof out), 4u);
  EXPECT_EQ(std::string(out, 4), "a\\nb");
  const std::string out2 = StderrOf([] { LogLine(LogLevel::kError, "%s", std::string(5000, '\n').c_str()); });
  EXPECT_EQ(out2.find('\n'), out2.size() - 1);
  EXPECT_LE(out2.size(), 2048u);
}

}  // namespace
}  // namespace parley
