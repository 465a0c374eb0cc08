// events/config.cc: the presence grace from the environment
// (PARLEY_PRESENCE_GRACE, as tools/cluster's daemons take it) and from the
// flag, which wins; a bad value is a clear error, not a silent default.
#include "events/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

namespace parley::events {
namespace {

// `args`, then those of the flags every daemon needs that `args` lacks (a
// flag given twice is refused); nothing is opened while parsing.
Result<Config> Parse(const std::vector<std::string>& args) {
  std::vector<std::string> all = {"parley-events"};
  all.insert(all.end(), args.begin(), args.end());
  for (const auto& [flag, value] : std::vector<std::pair<std::string, std::string>>{
           {"--db", "/nonexistent/parley.db"},
           {"--listen", "/nonexistent/events.sock"},
           {"--notify", "/nonexistent/notify.sock"}}) {
    if (std::find(args.begin(), args.end(), flag) == args.end()) all.insert(all.end(), {flag, value});
  }
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  return ParseConfig(static_cast<int>(argv.size()), argv.data());
}

class ConfigTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const char* name : {"PARLEY_PRESENCE_GRACE", "PARLEY_CATCHUP_PAGES", "PARLEY_CATCHUP_ADDRESS_PAGES"}) {
      unsetenv(name);
    }
  }
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

// SQLite reads a --db beginning with "file:" as a URI (Debian builds it
// so): 'file:other.db?mode=ro' opened other.db, while the writer lock and
// the path checks looked at the name as typed. Refused, as parleyctl and
// parley-fcgi refuse it; such a file is reached as ./file:...
TEST_F(ConfigTest, ADatabaseNameIsAPlainPathNeverAnSqliteUri) {
  for (const char* db : {"file:/nonexistent/parley.db", "file:parley.db?mode=ro", "file:"}) {
    auto c = Parse({"--db", db});
    ASSERT_FALSE(c.ok()) << db;
    EXPECT_EQ(c.status().code(), Code::kInvalid);
    EXPECT_NE(c.status().message().find("a plain path"), std::string::npos) << c.status().message();
  }
  EXPECT_TRUE(Parse({"--db", "./file:parley.db"}).ok());
  EXPECT_TRUE(Parse({"--db", "/nonexistent/file:parley.db"}).ok());
}

// strtoll took leading white space and a sign: "--heartbeat ' 5'",
// "--revoke-check +3" and PARLEY_CATCHUP_PAGES=' 4' all started. Digits
// only now (no flag of this daemon takes a negative number).
TEST_F(ConfigTest, NumbersAreDigitsOnly) {
  for (const char* bad : {" 5", "+3", "5 ", "\t5", "-0", "0x10", "1e2", "", "5\n", "99999999999999999999"}) {
    for (const char* flag : {"--heartbeat", "--revoke-check", "--catchup-pages", "--output-cap"}) {
      auto c = Parse({flag, bad});
      ASSERT_FALSE(c.ok()) << flag << " '" << bad << "'";
      EXPECT_EQ(c.status().code(), Code::kInvalid);
      EXPECT_NE(c.status().message().find(std::string(flag) + " must be an integer from"), std::string::npos)
          << c.status().message();
      auto joined = Parse({std::string(flag) + "=" + bad});
      EXPECT_FALSE(joined.ok()) << flag << "=" << bad;
    }
    for (const char* name : {"PARLEY_CATCHUP_PAGES", "PARLEY_CATCHUP_ADDRESS_PAGES", "PARLEY_PRESENCE_GRACE"}) {
      if (!*bad) continue;  // unset or empty: the default
      setenv(name, bad, 1);
      auto c = Parse({});
      unsetenv(name);
      ASSERT_FALSE(c.ok()) << name << "='" << bad << "'";
      EXPECT_NE(c.status().message().find(name), std::string::npos) << c.status().message();
    }
  }
  auto good = Parse({"--heartbeat", "5", "--revoke-check=3", "--catchup-pages", "0"});
  ASSERT_TRUE(good.ok()) << good.status().message();
  EXPECT_EQ(good->heartbeat_s, 5);
  EXPECT_EQ(good->revoke_check_s, 3);
  EXPECT_EQ(good->catchup_pages_per_s, 0);
  setenv("PARLEY_CATCHUP_PAGES", "7", 1);
  auto env = Parse({});
  ASSERT_TRUE(env.ok()) << env.status().message();
  EXPECT_EQ(env->catchup_pages_per_s, 7);
}

// A send's client_id is remembered 7 days by default (schema/key_expiry.h),
// its own setting beside --retention-days; a day at least (a window of 0
// would forget a key at the next pass, and a retry would store twice).
TEST_F(ConfigTest, TheClientIdWindowIsSevenDaysUnlessSet) {
  auto plain = Parse({});
  ASSERT_TRUE(plain.ok()) << plain.status().message();
  EXPECT_EQ(plain->client_key_keep_ms, 7LL * 24 * 3600 * 1000);
  auto set = Parse({"--client-id-days", "30", "--retention-days", "2"});
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set->client_key_keep_ms, 30LL * 24 * 3600 * 1000);
  EXPECT_EQ(set->retention_ms, 2LL * 24 * 3600 * 1000);
  for (const char* bad : {"0", "36501", "1.5"}) {
    auto c = Parse({"--client-id-days", bad});
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_NE(c.status().message().find("--client-id-days must be an integer from 1"), std::string::npos)
        << c.status().message();
  }
}

// A flag given twice was taken, the last one silently winning: in a unit
// file or a script, the operator meant one of them.
TEST_F(ConfigTest, AFlagGivenTwiceIsRefused) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--heartbeat", "5", "--heartbeat", "6"},
                                             {"--heartbeat=5", "--heartbeat", "5"},
                                             {"--db", "/nonexistent/a.db", "--db=/nonexistent/b.db"},
                                             {"--listen", "/nonexistent/a.sock", "--listen", "/nonexistent/b.sock"},
                                             {"--log-level", "info", "--log-level", "debug"}}) {
    auto c = Parse(args);
    ASSERT_FALSE(c.ok()) << args[0];
    EXPECT_EQ(c.status().code(), Code::kInvalid);
    const std::string flag = args[0].substr(0, args[0].find('='));
    EXPECT_NE(c.status().message().find(flag + " is given twice"), std::string::npos) << c.status().message();
  }
  // The flag over the environment is no repetition.
  setenv("PARLEY_PRESENCE_GRACE", "1000", 1);
  auto c = Parse({"--presence-grace", "300"});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->presence_grace_ms, 300);
}

}  // namespace
}  // namespace parley::events
