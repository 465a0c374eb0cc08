#include "tools/loadgen/stamp.h"

#include <gtest/gtest.h>

namespace parley::loadgen {
namespace {

TEST(Stamp, RoundTripInsideJson) {
  Stamp s{1700000000123456789, 12, 34, 56, 789};
  std::string text = FormatStamp(s);
  std::string json = "{\"id\":9,\"room_id\":1,\"text\":\"" + text + "....\",\"client_id\":\"lg-789-56\"}";
  size_t pos = 0;
  auto got = NextStamp(json, &pos);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->t_ns, s.t_ns);
  EXPECT_EQ(got->sender, 12u);
  EXPECT_EQ(got->seq, 34u);
  EXPECT_EQ(got->g, 56u);
  EXPECT_EQ(got->run, 789u);
  EXPECT_FALSE(NextStamp(json, &pos));
}

TEST(Stamp, SeveralInOnePollBodyAndJunkSkipped) {
  std::string body = "{\"events\":[{\"data\":{\"text\":\"lg t=1 s=2\"}},{\"data\":{\"text\":\"" +
                     FormatStamp({5, 1, 1, 1, 7}) + "\"}},{\"data\":{\"text\":\"" + FormatStamp({6, 1, 2, 2, 7}) +
                     "\"}}],\"next\":12,\"more\":false}";
  size_t pos = 0;
  std::vector<uint64_t> gs;
  while (auto s = NextStamp(body, &pos)) gs.push_back(s->g);
  EXPECT_EQ(gs, (std::vector<uint64_t>{1, 2}));
}

TEST(Stamp, PollCursor) {
  EXPECT_EQ(PollNext("{\"epoch\":\"x\",\"events\":[],\"next\":42,\"more\":false}"), 42);
  // A "next" inside a message text is escaped, so it never matches.
  EXPECT_EQ(PollNext("{\"events\":[{\"data\":{\"text\":\"a\\\",\\\"next\\\":7\"}}],\"next\":43,\"more\":true}"), 43);
  EXPECT_FALSE(PollNext("{\"error\":{\"code\":\"busy\"}}"));
  EXPECT_FALSE(PollNext("{\"next\":}"));
}

}  // namespace
}  // namespace parley::loadgen
