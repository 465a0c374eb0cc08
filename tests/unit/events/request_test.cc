#include "events/request.h"

#include <gtest/gtest.h>

namespace parley::events {
namespace {

RawRequest Get(std::string_view path, std::vector<std::pair<std::string, std::string>> query = {}) {
  RawRequest r;
  r.method = "GET";
  r.path = path;
  r.query = std::move(query);
  return r;
}

TEST(RequestTest, CursorsAreDecimalIdsOnly) {
  EXPECT_EQ(ParseCursor("0"), 0);
  EXPECT_EQ(ParseCursor("42"), 42);
  EXPECT_EQ(ParseCursor("999999999999999999"), 999999999999999999LL);
  for (const char* bad : {"", "-1", "+1", "1.5", " 1", "1 ", "0x10", "1e3", "abc", "9999999999999999999"}) {
    EXPECT_FALSE(ParseCursor(bad).has_value()) << bad;
  }
  EXPECT_FALSE(ParseCursor(std::string_view("1\0", 2)).has_value());
}

TEST(RequestTest, RoutesAndTheChecksEveryRouteShares) {
  EXPECT_EQ(RouteOf("/events/stream"), Route::kStream);
  EXPECT_EQ(RouteOf("/events/poll"), Route::kPoll);
  EXPECT_EQ(RouteOf("/events/stats"), Route::kStats);
  EXPECT_EQ(RouteOf("/events/streamx"), Route::kNotFound);
  EXPECT_EQ(RouteOf("/events/stream/"), Route::kNotFound);

  EXPECT_TRUE(CheckRequest(Get("/events/poll")).ok());
  EXPECT_EQ(CheckRequest(Get("/nope")).code(), Code::kNotFound);
  RawRequest post = Get("/events/stream");
  post.method = "POST";
  Status st = CheckRequest(post);
  EXPECT_EQ(st.code(), Code::kMethodNotAllowed);
  EXPECT_EQ(HttpStatus(st.code()), 405);
  RawRequest body = Get("/events/poll");
  body.body_bytes = 3;
  EXPECT_EQ(HttpStatus(CheckRequest(body).code()), 413);
}

TEST(RequestTest, StreamCursorFromHeaderThenQueryNames) {
  RawRequest r = Get("/events/stream", {{"last_event_id", "7"}, {"since", "9"}});
  EXPECT_EQ(ParseStream(r)->cursor, 7);
  r.last_event_id = "5";
  EXPECT_EQ(ParseStream(r)->cursor, 5);  // the header wins
  r.last_event_id = "";                  // an empty header falls back to the query
  EXPECT_EQ(ParseStream(r)->cursor, 7);
  EXPECT_EQ(ParseStream(Get("/events/stream", {{"lastEventId", "3"}}))->cursor, 3);
  EXPECT_FALSE(ParseStream(Get("/events/stream"))->cursor.has_value());
  auto bad = ParseStream(Get("/events/stream", {{"since", "-4"}}));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().reason(), "invalid_field");
  EXPECT_EQ(ParseStream(Get("/events/stream", {{"epoch", "ab12"}}))->epoch, "ab12");
}

TEST(RequestTest, PollTimeoutIsBounded) {
  auto p = ParsePoll(Get("/events/poll", {{"since", "4"}}), 25, 55);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->since, 4);
  EXPECT_EQ(p->timeout_s, 25);
  EXPECT_EQ(ParsePoll(Get("/events/poll", {{"timeout", "0"}}), 25, 55)->timeout_s, 0);
  EXPECT_EQ(ParsePoll(Get("/events/poll", {{"timeout", "55"}}), 25, 55)->timeout_s, 55);
  for (const char* bad : {"56", "-1", "x", "", "99999999999999999999"}) {
    EXPECT_FALSE(ParsePoll(Get("/events/poll", {{"timeout", bad}}), 25, 55).ok()) << bad;
  }
  EXPECT_FALSE(ParsePoll(Get("/events/poll", {{"since", "1;2"}}), 25, 55).ok());
}

TEST(RequestTest, StatsOnlyToLoopback) {
  RawRequest r = Get("/events/stats");
  EXPECT_TRUE(StatsAllowed(r));  // straight to the unix socket, from this host
  r.forwarded_for = "127.0.0.1";
  EXPECT_TRUE(StatsAllowed(r));
  r.forwarded_for = "::1";
  EXPECT_TRUE(StatsAllowed(r));
  r.forwarded_for = "203.0.113.9";
  EXPECT_FALSE(StatsAllowed(r));
  // A client's own X-Forwarded-For comes first; nginx appends the address it saw.
  r.forwarded_for = "127.0.0.1, 203.0.113.9";
  EXPECT_FALSE(StatsAllowed(r));
  r.forwarded_for = "203.0.113.9, 127.0.0.1";
  EXPECT_TRUE(StatsAllowed(r));
  r.forwarded_for = "";
  EXPECT_FALSE(StatsAllowed(r));
}

TEST(RequestTest, ClientAddressKeyIsTheLastHopAndAnIpv6Slash64) {
  auto key = [](std::optional<std::string_view> xff) {
    RawRequest r;
    r.forwarded_for = xff;
    return ClientAddressKey(r);
  };
  EXPECT_EQ(key(std::nullopt), 0u) << "straight to the socket: no address";
  EXPECT_EQ(key("junk"), 0u);
  EXPECT_NE(key("203.0.113.9"), 0u);
  EXPECT_EQ(key("203.0.113.9"), key("1.2.3.4, 203.0.113.9")) << "only nginx's hop counts";
  EXPECT_NE(key("203.0.113.9"), key("203.0.113.10"));
  EXPECT_EQ(key("::ffff:203.0.113.9"), key("203.0.113.9"));
  EXPECT_EQ(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff::7")) << "one /64";
  EXPECT_NE(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
  EXPECT_NE(key("::1"), key("127.0.0.1"));
  EXPECT_NE(key("::1"), 0u);
}

TEST(RequestTest, TheResetRule) {
  const std::string epoch = "e1";
  EXPECT_EQ(ResetReason(10, std::nullopt, epoch, 20, 1), nullptr);
  EXPECT_EQ(ResetReason(20, std::string("e1"), epoch, 20, 1), nullptr);
  EXPECT_STREQ(ResetReason(10, std::string("e0"), epoch, 20, 1), "epoch_changed");
  EXPECT_STREQ(ResetReason(21, std::nullopt, epoch, 20, 1), "cursor_ahead");
  // Events 1..4 pruned: cursor 4 still continues at 5, cursor 3 would skip 4.
  // The floor: the highest id gone. A cursor at it misses nothing.
  EXPECT_EQ(ResetReason(4, std::nullopt, epoch, 20, 4), nullptr);
  EXPECT_STREQ(ResetReason(3, std::nullopt, epoch, 20, 4), "cursor_too_old");
  EXPECT_EQ(ResetReason(0, std::nullopt, epoch, 0, 0), nullptr);  // an empty log
}

}  // namespace
}  // namespace parley::events
