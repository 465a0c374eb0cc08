#include "tools/loadgen/sse_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace parley::loadgen {
namespace {

struct Collect : SseSink {
  std::vector<SseEvent> events;
  void OnEvent(const SseEvent& e) override { events.push_back(e); }
};

std::vector<SseEvent> ParseAll(std::string_view stream, SseParser* p = nullptr) {
  SseParser local;
  SseParser& parser = p ? *p : local;
  Collect c;
  EXPECT_TRUE(parser.Feed(stream, c));
  return c.events;
}

TEST(SseParser, ParleyStream) {
  std::string stream = ":" + std::string(2048, ' ') + "\n\nretry: 2000\n\n";
  stream += "event: hello\ndata: {\"epoch\":\"e\",\"head\":7}\n\n";
  stream += "id: 8\nevent: message\ndata: {\"id\":8,\"text\":\"hi\"}\n\n";
  stream += ": hb\n\n";
  stream += "event: typing\ndata: {\"room_id\":1}\n\n";
  SseParser p;
  auto ev = ParseAll(stream, &p);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].type, "hello");
  EXPECT_FALSE(ev[0].has_id);
  EXPECT_EQ(ev[1].type, "message");
  EXPECT_EQ(ev[1].id, "8");
  EXPECT_TRUE(ev[1].has_id);
  EXPECT_EQ(ev[1].data, "{\"id\":8,\"text\":\"hi\"}");
  EXPECT_EQ(ev[2].type, "typing");
  EXPECT_FALSE(ev[2].has_id);
  EXPECT_EQ(ev[2].id, "8");  // the last event id stays in force
  EXPECT_EQ(p.retry_ms(), 2000);
  EXPECT_EQ(p.comments(), 2u);
  EXPECT_EQ(p.last_event_id(), "8");
}

TEST(SseParser, EverySplitGivesTheSameEvents) {
  const std::string stream =
      "\xEF\xBB\xBF: pad\r\nretry: 1500\r\n\r\nid: 1700000000:0\r\ndata: a\r\ndata:b\r\n\r\n"
      "event: x\rdata: c\r\rid: 9\ndata\n\n";
  auto whole = ParseAll(stream);
  ASSERT_EQ(whole.size(), 3u);
  EXPECT_EQ(whole[0].id, "1700000000:0");
  EXPECT_EQ(whole[0].data, "a\nb");
  EXPECT_EQ(whole[0].type, "message");
  EXPECT_EQ(whole[1].type, "x");
  EXPECT_EQ(whole[1].data, "c");
  EXPECT_EQ(whole[2].data, "");  // "data" without a colon: an empty data line
  EXPECT_EQ(whole[2].id, "9");
  for (size_t a = 0; a <= stream.size(); ++a) {
    for (size_t b = a; b <= stream.size(); b += 7) {
      SseParser p;
      Collect c;
      ASSERT_TRUE(p.Feed(std::string_view(stream).substr(0, a), c));
      ASSERT_TRUE(p.Feed(std::string_view(stream).substr(a, b - a), c));
      ASSERT_TRUE(p.Feed(std::string_view(stream).substr(b), c));
      ASSERT_EQ(c.events.size(), whole.size()) << a << "," << b;
      for (size_t i = 0; i < whole.size(); ++i) {
        EXPECT_EQ(c.events[i].data, whole[i].data);
        EXPECT_EQ(c.events[i].type, whole[i].type);
        EXPECT_EQ(c.events[i].id, whole[i].id);
      }
      EXPECT_EQ(p.retry_ms(), 1500);
    }
  }
}

TEST(SseParser, OneByteAtATime) {
  const std::string stream = "id: 3\nevent: message\ndata: x\n\n";
  SseParser p;
  Collect c;
  for (char ch : stream) ASSERT_TRUE(p.Feed(std::string_view(&ch, 1), c));
  ASSERT_EQ(c.events.size(), 1u);
  EXPECT_EQ(c.events[0].id, "3");
}

TEST(SseParser, NoDataNoEventButTheIdMoves) {
  SseParser p;
  auto ev = ParseAll("id: 5\nevent: nothing\n\nevent: y\ndata: z\n\n", &p);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, "y");  // the type of the empty block does not leak
  EXPECT_EQ(p.last_event_id(), "5");
}

TEST(SseParser, IgnoresBadRetryAndUnknownFields) {
  SseParser p;
  auto ev = ParseAll("retry: 12x\nfoo: bar\ndata: d\n\n", &p);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(p.retry_ms(), -1);
}

TEST(SseParser, IncompleteEventIsNotDispatched) {
  auto ev = ParseAll("data: half\n");
  EXPECT_TRUE(ev.empty());
}

TEST(SseParser, OverlongLineFails) {
  SseParser p;
  Collect c;
  std::string big(SseParser::kMaxLine + 10, 'a');
  EXPECT_FALSE(p.Feed(big, c));
  EXPECT_TRUE(p.failed());
  EXPECT_FALSE(p.Feed("\n\n", c));
}

}  // namespace
}  // namespace parley::loadgen
