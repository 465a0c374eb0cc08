#include "events/wire.h"

#include <gtest/gtest.h>

namespace parley::events {
namespace {

TEST(WireTest, EventHasIdTypeAndOneDataLine) {
  EXPECT_EQ(SseEvent(42, "message", "{\"a\":1}"), "id: 42\nevent: message\ndata: {\"a\":1}\n\n");
}

TEST(WireTest, EphemeralHasNoIdLine) {
  std::string e = SseEphemeral("typing", "{}");
  EXPECT_EQ(e, "event: typing\ndata: {}\n\n");
  EXPECT_EQ(e.find("id:"), std::string::npos);
}

TEST(WireTest, PreambleHasPaddingRetryAndHello) {
  std::string p = SsePreamble("abcd", 7, "{\"id\":1,\"username\":\"al\"}");
  ASSERT_GE(p.size(), kPaddingBytes);
  EXPECT_EQ(p[0], ':');
  size_t blank = p.find("\n\n");
  ASSERT_NE(blank, std::string::npos);
  EXPECT_GE(blank, kPaddingBytes);  // the comment itself is 2 KiB
  EXPECT_NE(p.find("retry: 2000\n\n"), std::string::npos);
  EXPECT_NE(p.find("event: hello\ndata: {\"epoch\":\"abcd\",\"head\":7,\"user\":{\"id\":1,\"username\":\"al\"}}\n\n"),
            std::string::npos);
}

TEST(WireTest, CommentAndRetry) {
  EXPECT_EQ(SseComment("hb"), ": hb\n\n");
  EXPECT_EQ(SseRetry(2000), "retry: 2000\n\n");
}

TEST(WireTest, PollBodyWithDurableAndEphemeralEvents) {
  std::vector<PollEvent> events = {{5, "message", "{\"id\":5}"}, {0, "typing", "{\"room_id\":1}"}};
  EXPECT_EQ(PollBody("ep", events, 9, true),
            "{\"epoch\":\"ep\",\"events\":[{\"id\":5,\"type\":\"message\",\"data\":{\"id\":5}},"
            "{\"type\":\"typing\",\"data\":{\"room_id\":1}}],\"next\":9,\"more\":true}");
  EXPECT_EQ(PollBody("ep", {}, 3, false), "{\"epoch\":\"ep\",\"events\":[],\"next\":3,\"more\":false}");
}

}  // namespace
}  // namespace parley::events
