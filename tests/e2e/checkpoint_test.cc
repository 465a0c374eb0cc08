// parley-fcgi's checkpointer under a steady stream of sends: the WAL file
// stays bounded (without it, it grew by every commit: 330 MB in ten seconds
// of the send benchmark), and a checkpointer that dies is replaced.
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "fixture.h"

namespace parley::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kRestartPages = 256;

class CheckpointTest : public StackTest {
 protected:
  StackOptions Options() const override {
    StackOptions o;
    o.fcgi_flags = {"--wal-restart-pages", std::to_string(kRestartPages)};
    return o;
  }
  std::vector<pid_t> Checkpointers() {
    std::vector<pid_t> out;
    for (pid_t p : ChildrenOf(stack().fcgi().pid())) {
      if (ReadText("/proc/" + std::to_string(p) + "/comm").rfind("parley-ckpt", 0) == 0) out.push_back(p);
    }
    return out;
  }
  int64_t WalBytes() {
    struct stat st;
    return stat((stack().db_path() + "-wal").c_str(), &st) == 0 ? st.st_size : 0;
  }
};

TEST_F(CheckpointTest, WalStaysBoundedUnderSteadySends) {
  constexpr int kThreads = 4;
  constexpr int kSends = 250;  // each: about 7 WAL pages
  std::vector<User> users;
  for (int i = 0; i < kThreads; ++i) users.push_back(Register("wal"));
  int64_t room = CreateRoom(users[0], "wal", "public");
  for (int i = 1; i < kThreads; ++i) Join(users[i], room);

  std::atomic<bool> done{false};
  std::atomic<int64_t> max_wal{0};
  std::thread sampler([&] {
    while (!done.load()) {
      max_wal = std::max<int64_t>(max_wal.load(), WalBytes());
      std::this_thread::sleep_for(5ms);
    }
  });
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Client c(stack().base_url(), Client::Cookies::kOff);
      c.set_bearer(users[t].token);
      for (int n = 0; n < kSends; ++n) {
        Response r = c.Post(RoomPath(room, "/messages"), "{\"text\":\"page filler " + std::to_string(n) + "\"}");
        if (r.status != 201) ++failed;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  done = true;
  sampler.join();

  EXPECT_EQ(failed.load(), 0);
  // 1,000 sends write some 5,000 pages: with passive checkpoints only, the
  // WAL never starts over and ends at about 21 MB (measured). The
  // checkpointer restarts it past 256 pages; what it holds meanwhile is
  // what arrives during one of its 50 ms turns and a restart (4.7 MB here).
  constexpr int64_t kBound = 10 << 20;
  EXPECT_LT(max_wal.load(), kBound) << "the WAL reached " << max_wal.load() << " bytes";
  EXPECT_EQ(Checkpointers().size(), 1u);
}

TEST_F(CheckpointTest, KilledCheckpointerIsReplaced) {
  std::vector<pid_t> before = Checkpointers();
  ASSERT_EQ(before.size(), 1u);
  ASSERT_EQ(kill(before[0], SIGKILL), 0);
  auto deadline = Clock::now() + 5s;
  std::vector<pid_t> after;
  while (Clock::now() < deadline) {
    after = Checkpointers();
    if (after.size() == 1 && after[0] != before[0]) break;
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after[0], before[0]);
  // Requests were never involved.
  User u = Register("after");
  EXPECT_FALSE(u.token.empty());
}

}  // namespace
}  // namespace parley::e2e
