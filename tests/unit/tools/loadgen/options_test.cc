#include "tools/loadgen/options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace parley::loadgen {
namespace {

Result<Options> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "parley-loadgen");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return ParseOptions(static_cast<int>(argv.size()), argv.data());
}

TEST(Options, MixOfSseAndPollers) {
  auto o = Parse({"--url", "http://127.0.0.1:8080", "--tokens", "t", "--subscribers", "10000", "--pollers=2000",
                  "--hold-only", "--duration", "30"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->sse, 10000);
  EXPECT_EQ(o->pollers, 2000);
  EXPECT_TRUE(o->hold_only);
  EXPECT_DOUBLE_EQ(o->duration_s, 30);
}

TEST(Options, PollTransportAndPerSenderRate) {
  auto o = Parse({"--url", "http://127.0.0.1:1", "--tokens", "t", "--subscribers", "50", "--transport", "poll",
                  "--senders", "4", "--per-sender-rate", "2.5"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->sse, 0);
  EXPECT_EQ(o->pollers, 50);
  EXPECT_DOUBLE_EQ(o->rate, 10);
}

TEST(Options, Nchan) {
  auto o = Parse({"--nchan", "http://127.0.0.1:2/pub", "http://127.0.0.1:2/sub", "--subscribers", "5", "--senders",
                  "1", "--rate", "20"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_TRUE(o->nchan);
  EXPECT_EQ(o->nchan_sub.path, "/sub");
}

TEST(Options, Refusals) {
  EXPECT_FALSE(Parse({"--url", "http://192.168.1.1:80", "--tokens", "t", "--subscribers", "1"}).ok());
  EXPECT_FALSE(Parse({"--tokens", "t", "--subscribers", "1"}).ok());                         // no --url
  EXPECT_FALSE(Parse({"--url", "http://127.0.0.1:1", "--subscribers", "1"}).ok());           // no tokens
  EXPECT_FALSE(Parse({"--url", "http://127.0.0.1:1", "--tokens", "t", "--senders", "1"}).ok());  // no rate
  EXPECT_FALSE(Parse({"--url", "http://127.0.0.1:1", "--tokens", "t", "--subscribers", "x"}).ok());
  EXPECT_FALSE(Parse({"--url", "http://127.0.0.1:1", "--tokens", "t", "--bogus"}).ok());
  EXPECT_FALSE(Parse({"--url", "http://127.0.0.1:1", "--tokens", "t", "--senders", "1", "--rate", "1",
                      "--per-sender-rate", "1"})
                   .ok());
  EXPECT_FALSE(Parse({"--nchan", "http://127.0.0.1:2/pub", "http://127.0.0.1:2/sub", "--pollers", "1"}).ok());
}

TEST(Options, Tokens) {
  auto t = ParseTokens("# comment\nlg1 abc\r\n\nlg2 def\nbare\n");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(*t, (std::vector<std::string>{"abc", "def", "bare"}));
  EXPECT_FALSE(ParseTokens("a b\"c\n").ok());
}

}  // namespace
}  // namespace parley::loadgen
