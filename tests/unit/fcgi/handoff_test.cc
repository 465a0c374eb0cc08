#include "fcgi/handoff.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace parley::fcgi {
namespace {

struct Pair {
  Fd near, far;
};

Pair Connected() {
  int ends[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends), 0);
  return Pair{Fd(ends[0]), Fd(ends[1])};
}

// More than one message holds (253 each), sent by a "worker" that closes its
// copies and its end before the "master" reads: each arrives, in order, and
// still reaches its peer.
TEST(HandoffTest, EveryConnectionArrivesInOrderAfterTheSenderHasGone) {
  auto channel = OpenHandoffChannel();
  ASSERT_TRUE(channel.ok()) << channel.status().message();
  constexpr int kCount = 600;
  std::vector<Pair> pairs;
  std::vector<int> handed;
  for (int i = 0; i < kCount; ++i) {
    pairs.push_back(Connected());
    handed.push_back(pairs.back().near.get());
  }
  ASSERT_TRUE(HandOver(channel->worker.get(), handed).ok());
  for (Pair& p : pairs) p.near.Reset();
  channel->worker.Reset();

  std::vector<Fd> taken;
  ASSERT_TRUE(TakeOver(channel->master.get(), &taken).ok());
  ASSERT_EQ(taken.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) {
    const std::string word = std::to_string(i);
    ASSERT_EQ(write(taken[i].get(), word.data(), word.size()), static_cast<ssize_t>(word.size()));
    char buf[16];
    ssize_t n = read(pairs[i].far.get(), buf, sizeof buf);
    ASSERT_EQ(std::string(buf, n > 0 ? static_cast<size_t>(n) : 0), word) << "connection " << i;
  }
  std::vector<Fd> again;
  EXPECT_TRUE(TakeOver(channel->master.get(), &again).ok());
  EXPECT_TRUE(again.empty());
}

TEST(HandoffTest, TakeOverReturnsAtOnceWhenNothingIsQueued) {
  auto channel = OpenHandoffChannel();
  ASSERT_TRUE(channel.ok());
  std::vector<Fd> taken;
  EXPECT_TRUE(TakeOver(channel->master.get(), &taken).ok());  // the worker's end still open
  EXPECT_TRUE(taken.empty());
}

// The master is gone: an error to log, not a SIGPIPE.
TEST(HandoffTest, HandingOverToAClosedChannelIsAnError) {
  auto channel = OpenHandoffChannel();
  ASSERT_TRUE(channel.ok());
  channel->master.Reset();
  Pair p = Connected();
  Status st = HandOver(channel->worker.get(), {p.near.get()});
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("sendmsg"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace parley::fcgi
