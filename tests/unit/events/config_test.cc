// events/config.cc: the presence grace from the environment
// (PARLEY_PRESENCE_GRACE, as tools/cluster's daemons take it) and from the
// flag, which wins; a bad value is a clear error, not a silent default.
#include "events/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <vector>

namespace parley::events {
namespace {

// The flags every daemon needs, then `args`; nothing is opened while parsing.
Result<Config> Parse(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"parley-events", "--db", "/nonexistent/parley.db", "--listen",
                                  "/nonexistent/events.sock", "--notify", "/nonexistent/notify.sock"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  return ParseConfig(static_cast<int>(argv.size()), argv.data());
}

class ConfigTest : public ::testing::Test {
 protected:
  void TearDown() override { unsetenv("PARLEY_PRESENCE_GRACE"); }
};

TEST_F(ConfigTest, PresenceGraceFromTheEnvironmentAndTheFlag) {
  auto plain = Parse({});
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_EQ(plain->presence_grace_ms, 5000);
  setenv("PARLEY_PRESENCE_GRACE", "1000", 1);
  auto env = Parse({});
  ASSERT_TRUE(env.ok()) << env.status().message();
  EXPECT_EQ(env->presence_grace_ms, 1000);
  auto flag = Parse({"--presence-grace", "300"});
  ASSERT_TRUE(flag.ok()) << flag.status().message();
  EXPECT_EQ(flag->presence_grace_ms, 300);
}

TEST_F(ConfigTest, ABadPresenceGraceInTheEnvironmentIsRefused) {
  for (const char* bad : {"-1", "soon", "1.5", "600001", "1000ms"}) {
    setenv("PARLEY_PRESENCE_GRACE", bad, 1);
    auto c = Parse({});
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_EQ(c.status().code(), Code::kInvalid) << bad;
    EXPECT_NE(c.status().message().find("PARLEY_PRESENCE_GRACE"), std::string::npos) << c.status().message();
  }
}

// --listen takes a socket path or a TCP address (schema/listen_address.h);
// a bad address is refused while parsing, before anything is opened.
TEST_F(ConfigTest, ListenTakesATcpAddressAndRefusesGarbage) {
  auto tcp = Parse({"--listen", "127.0.0.1:9001"});
  ASSERT_TRUE(tcp.ok()) << tcp.status().message();
  EXPECT_EQ(tcp->listen_path, "127.0.0.1:9001");
  for (const char* bad : {"127.0.0.1", "127.0.0.1:0", "localhost:9001", "events.sock"}) {
    auto c = Parse({"--listen", bad});
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_EQ(c.status().code(), Code::kInvalid) << bad;
    EXPECT_NE(c.status().message().find("--listen"), std::string::npos) << c.status().message();
  }
}

// One path for both sockets used to start a daemon nginx could not reach:
// the wake-up socket replaced the HTTP listener bound there a moment before.
TEST_F(ConfigTest, ListenAndNotifyOnOnePathAreRefused) {
  auto c = Parse({"--notify", "/nonexistent/events.sock"});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Code::kInvalid);
  EXPECT_NE(c.status().message().find("--listen and --notify must be different"), std::string::npos)
      << c.status().message();
  auto apart = Parse({"--notify", "/nonexistent/other.sock"});
  EXPECT_TRUE(apart.ok()) << apart.status().message();
}

}  // namespace
}  // namespace parley::events
