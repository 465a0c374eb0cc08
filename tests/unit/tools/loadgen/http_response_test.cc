#include "tools/loadgen/http_response.h"

#include <gtest/gtest.h>

#include <string>

namespace parley::loadgen {
namespace {

struct Body : BodySink {
  std::string got;
  void OnBody(std::string_view b) override { got.append(b); }
};

// Feeds the whole input in pieces of `step` bytes; returns the final result.
ResponseParser::Result FeedAll(ResponseParser& p, std::string_view in, size_t step, Body& body, bool* saw_head) {
  ResponseParser::Result r = ResponseParser::Result::kNeedMore;
  for (size_t at = 0; at < in.size(); at += step) {
    std::string_view piece = in.substr(at, step);
    while (true) {
      r = p.Feed(piece, body);
      if (r == ResponseParser::Result::kHead) {
        *saw_head = true;
        continue;
      }
      break;
    }
    if (r == ResponseParser::Result::kDone || r == ResponseParser::Result::kError) return r;
  }
  return r;
}

TEST(ResponseParser, ContentLength) {
  const std::string resp = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 5\r\n\r\nhello";
  for (size_t step = 1; step <= resp.size(); ++step) {
    ResponseParser p;
    Body b;
    bool head = false;
    ASSERT_EQ(FeedAll(p, resp, step, b, &head), ResponseParser::Result::kDone) << step;
    EXPECT_TRUE(head);
    EXPECT_EQ(p.status(), 201);
    EXPECT_EQ(b.got, "hello");
    EXPECT_TRUE(p.keep_alive());
    EXPECT_EQ(p.content_type(), "application/json");
  }
}

TEST(ResponseParser, Chunked) {
  const std::string resp =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n"
      "5\r\nhello\r\n1a;ext=1\r\n, world, and then some mor\r\n0\r\nX-Trailer: y\r\n\r\n";
  for (size_t step = 1; step <= resp.size(); ++step) {
    ResponseParser p;
    Body b;
    bool head = false;
    ASSERT_EQ(FeedAll(p, resp, step, b, &head), ResponseParser::Result::kDone) << step;
    EXPECT_EQ(b.got, "hello, world, and then some mor");
    EXPECT_TRUE(p.chunked());
  }
}

TEST(ResponseParser, StreamingChunkedNeverDone) {
  ResponseParser p;
  Body b;
  bool head = false;
  std::string in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n";
  EXPECT_EQ(FeedAll(p, in, 4, b, &head), ResponseParser::Result::kNeedMore);
  EXPECT_TRUE(head);
  EXPECT_EQ(b.got, "abc");
  EXPECT_EQ(p.Eof(), ResponseParser::Result::kError);  // cut mid-stream
}

TEST(ResponseParser, BodyUntilClose) {
  ResponseParser p;
  Body b;
  bool head = false;
  EXPECT_EQ(FeedAll(p, "HTTP/1.0 200 OK\r\n\r\nabc", 3, b, &head), ResponseParser::Result::kNeedMore);
  EXPECT_FALSE(p.keep_alive());
  EXPECT_EQ(p.Eof(), ResponseParser::Result::kDone);
  EXPECT_EQ(b.got, "abc");
}

TEST(ResponseParser, ConnectionCloseAndNoBodyStatuses) {
  ResponseParser p;
  Body b;
  bool head = false;
  EXPECT_EQ(FeedAll(p, "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", 100, b, &head),
            ResponseParser::Result::kDone);
  EXPECT_FALSE(p.keep_alive());
  EXPECT_EQ(p.status(), 204);
}

TEST(ResponseParser, SkipsInterimResponse) {
  ResponseParser p;
  Body b;
  bool head = false;
  EXPECT_EQ(FeedAll(p, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 5, b, &head),
            ResponseParser::Result::kDone);
  EXPECT_EQ(p.status(), 200);
  EXPECT_EQ(b.got, "x");
}

TEST(ResponseParser, Malformed) {
  for (std::string bad : {"SMTP 220 hi\r\n", "HTTP/1.1 2x0 OK\r\n", "HTTP/1.1 200 OK\r\nno colon\r\n",
                          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
                          "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"}) {
    ResponseParser p;
    Body b;
    bool head = false;
    EXPECT_EQ(FeedAll(p, bad, bad.size(), b, &head), ResponseParser::Result::kError) << bad;
  }
}

TEST(ResponseParser, HeadTooLarge) {
  ResponseParser p;
  Body b;
  bool head = false;
  std::string in = "HTTP/1.1 200 OK\r\nX: " + std::string(ResponseParser::kMaxHead, 'a');
  EXPECT_EQ(FeedAll(p, in, 1000, b, &head), ResponseParser::Result::kError);
}

TEST(ResponseParser, ResetForKeepAlive) {
  ResponseParser p;
  Body b;
  bool head = false;
  std::string one = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  ASSERT_EQ(FeedAll(p, one, one.size(), b, &head), ResponseParser::Result::kDone);
  p.Reset();
  ASSERT_EQ(FeedAll(p, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 9, b, &head),
            ResponseParser::Result::kDone);
  EXPECT_EQ(p.status(), 404);
  EXPECT_EQ(b.got, "ok");
}

}  // namespace
}  // namespace parley::loadgen
