#include "schema/message_index.h"

#include <gtest/gtest.h>

#include <vector>

namespace parley {
namespace {

std::vector<Message> WithIds(const std::vector<int64_t>& ids) {
  std::vector<Message> out;
  for (int64_t id : ids) {
    Message m;
    m.id = id;
    out.push_back(m);
  }
  return out;
}

TEST(MessageIndexTest, NearbyIdsShareOneRangeAndFarOnesStartAnother) {
  const int64_t gap = MessageIndex::kRunGap;
  std::vector<Message> list = WithIds({90, 10, 10 + gap + 100, 40, 5000, 5000 + gap});
  MessageIndex index(list);
  ASSERT_EQ(index.ranges().size(), 3u);
  EXPECT_EQ(index.ranges()[0].lo, 10);
  EXPECT_EQ(index.ranges()[0].hi, 90);
  EXPECT_EQ(index.ranges()[1].lo, 10 + gap + 100);
  EXPECT_EQ(index.ranges()[1].hi, 10 + gap + 100);
  EXPECT_EQ(index.ranges()[2].lo, 5000);
  EXPECT_EQ(index.ranges()[2].hi, 5000 + gap);
}

TEST(MessageIndexTest, FindsListedMessagesOnly) {
  std::vector<Message> list = WithIds({7, 3, 12});
  MessageIndex index(list);
  EXPECT_EQ(index.Find(3), &list[1]);
  EXPECT_EQ(index.Find(7), &list[0]);
  EXPECT_EQ(index.Find(12), &list[2]);
  EXPECT_EQ(index.Find(5), nullptr);  // inside the range, another room's
  EXPECT_EQ(index.Find(13), nullptr);
}

TEST(MessageIndexTest, AnEmptyListHasNoRange) {
  std::vector<Message> none;
  MessageIndex index(none);
  EXPECT_TRUE(index.empty());
  EXPECT_TRUE(index.ranges().empty());
}

}  // namespace
}  // namespace parley
