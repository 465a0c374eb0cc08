#include "schema/wakeup.h"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(WakeupTest, HeadRoundTrips) {
  auto w = DecodeWakeup(EncodeHead(12345));
  ASSERT_TRUE(w);
  EXPECT_EQ(w->kind, Wakeup::Kind::kHead);
  EXPECT_EQ(w->head, 12345);
}

TEST(WakeupTest, TypingRoundTrips) {
  auto w = DecodeWakeup(EncodeTyping(7, User{42, "alice.b-c_d"}, 300));
  ASSERT_TRUE(w);
  EXPECT_EQ(w->kind, Wakeup::Kind::kTyping);
  EXPECT_EQ(w->room_id, 7);
  EXPECT_EQ(w->user.id, 42);
  EXPECT_EQ(w->user.username, "alice.b-c_d");
  EXPECT_EQ(w->head, 300);
  EXPECT_EQ(DecodeWakeup(EncodeTyping(7, User{42, "a"}, 0))->head, 0) << "an empty log's head";
}

// A sender from before the head was carried (an upgrade rolling through the
// pools) is still heard, as one that saw nothing; a head that is no id is not.
TEST(WakeupTest, ANoticeWithoutAHeadCountsAsZeroAndABadHeadIsRefused) {
  auto w = DecodeWakeup("{\"typing\":{\"room_id\":1,\"user\":{\"id\":1,\"username\":\"a\"}}}");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->head, 0);
  for (const char* bad : {
           "{\"typing\":{\"room_id\":1,\"user\":{\"id\":1,\"username\":\"a\"},\"head\":-1}}",
           "{\"typing\":{\"room_id\":1,\"user\":{\"id\":1,\"username\":\"a\"},\"head\":1.5}}",
           "{\"typing\":{\"room_id\":1,\"user\":{\"id\":1,\"username\":\"a\"},\"head\":\"7\"}}",
           "{\"typing\":{\"room_id\":1,\"user\":{\"id\":1,\"username\":\"a\"},\"head\":1e300}}",
           "{\"receipt\":{\"room_id\":1,\"user\":{\"id\":1,\"username\":\"a\"},\"event_id\":5,\"head\":null}}",
       }) {
    EXPECT_FALSE(DecodeWakeup(bad).has_value()) << bad;
  }
}

TEST(WakeupTest, ReceiptRoundTrips) {
  auto w = DecodeWakeup(EncodeReceipt(7, User{42, "bob"}, 9001, 9002));
  ASSERT_TRUE(w);
  EXPECT_EQ(w->kind, Wakeup::Kind::kReceipt);
  EXPECT_EQ(w->room_id, 7);
  EXPECT_EQ(w->user.id, 42);
  EXPECT_EQ(w->user.username, "bob");
  EXPECT_EQ(w->event_id, 9001);
  EXPECT_EQ(w->head, 9002);
  for (const char* bad : {
           "{\"receipt\":{\"room_id\":1,\"user\":{\"id\":1,\"username\":\"a\"}}}",
           "{\"receipt\":{\"room_id\":1,\"user\":{\"id\":1,\"username\":\"a\"},\"event_id\":0}}",
           "{\"receipt\":{\"room_id\":1,\"user\":{\"id\":1,\"username\":\"a b\"},\"event_id\":5}}",
           "{\"receipt\":{\"room_id\":1,\"user\":{\"id\":1,\"username\":\"a\"},\"event_id\":5},"
           "\"typing\":{\"room_id\":1,\"user\":{\"id\":1,\"username\":\"a\"}}}",
       }) {
    EXPECT_FALSE(DecodeWakeup(bad).has_value()) << bad;
  }
}

TEST(WakeupTest, PresenceRoundTrips) {
  for (bool online : {true, false}) {
    auto w = DecodeWakeup(EncodePresence(User{42, "carol"}, online));
    ASSERT_TRUE(w);
    EXPECT_EQ(w->kind, Wakeup::Kind::kPresence);
    EXPECT_EQ(w->user.id, 42);
    EXPECT_EQ(w->user.username, "carol");
    EXPECT_EQ(w->online, online);
  }
  for (const char* bad : {
           "{\"presence\":{}}",
           "{\"presence\":{\"user\":{\"id\":1,\"username\":\"a\"}}}",
           "{\"presence\":{\"user\":{\"id\":1,\"username\":\"a\"},\"online\":1}}",
           "{\"presence\":{\"user\":{\"id\":0,\"username\":\"a\"},\"online\":true}}",
           "{\"presence\":{\"user\":{\"id\":1,\"username\":\"a b\"},\"online\":true}}",
           "{\"presence\":{\"online\":false}}",
       }) {
    EXPECT_FALSE(DecodeWakeup(bad).has_value()) << bad;
  }
}

TEST(WakeupTest, RefusesWhatParleyFcgiNeverSends) {
  for (const char* bad : {
           "", "{", "[]", "42", "{}", "{\"head\":0}", "{\"head\":-1}", "{\"head\":1.5}", "{\"head\":1e300}",
           "{\"head\":\"5\"}", "{\"head\":90071992547409920}", "{\"typing\":{}}",
           "{\"typing\":{\"room_id\":1,\"user\":{\"id\":1}}}",
           "{\"typing\":{\"room_id\":0,\"user\":{\"id\":1,\"username\":\"a\"}}}",
           "{\"typing\":{\"room_id\":1,\"user\":{\"id\":1,\"username\":\"\"}}}",
           "{\"typing\":{\"room_id\":1,\"user\":{\"id\":1,\"username\":\"a b\"}}}",
           "{\"typing\":{\"room_id\":1,\"user\":{\"id\":1,\"username\":\"<script>\"}}}",
           "{\"typing\":{\"room_id\":1,\"user\":{\"id\":1,\"username\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}}",
       }) {
    EXPECT_FALSE(DecodeWakeup(bad).has_value()) << bad;
  }
  std::string huge = "{\"head\":1,\"pad\":\"" + std::string(kMaxWakeupBytes, 'x') + "\"}";
  EXPECT_FALSE(DecodeWakeup(huge).has_value());
}

}  // namespace
}  // namespace parley
