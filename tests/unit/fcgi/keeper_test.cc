#include "fcgi/keeper.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <future>
#include <string>
#include <thread>

#include "schema/listen_address.h"

namespace parley::fcgi {
namespace {

using namespace std::chrono_literals;

// A real listening unix socket in a temporary directory, and clients of it.
class KeeperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/parley-keeper-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ListenAddress address;
    address.path = dir_ + "/fcgi.sock";
    auto fd = ListenOn(address, /*nonblocking=*/false);
    ASSERT_TRUE(fd.ok()) << fd.status().message();
    listen_ = std::move(fd).value();
  }
  void TearDown() override {
    unlink((dir_ + "/fcgi.sock").c_str());
    rmdir(dir_.c_str());
  }

  std::unique_ptr<Keeper> Open(KeeperLimits limits, Metrics* metrics = nullptr) {
    auto k = Keeper::Open(listen_.get(), limits, metrics);
    EXPECT_TRUE(k.ok()) << k.status().message();
    return k.ok() ? std::move(k).value() : nullptr;
  }

  Fd Connect() {
    Fd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::strncpy(sa.sun_path, (dir_ + "/fcgi.sock").c_str(), sizeof sa.sun_path - 1);
    EXPECT_EQ(connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0) << std::strerror(errno);
    return fd;
  }

  // Next() on another thread, so that a test can see it wait.
  static std::future<std::optional<int>> NextAsync(Keeper& k) {
    return std::async(std::launch::async, [&k] { return k.Next(); });
  }

  // The client sends `request`; the connection Next() hands out with it,
  // the request read (nullopt, and a failure, if it is not that).
  static std::optional<int> Serve(Keeper& k, int client, const std::string& request);

  std::string dir_;
  Fd listen_;
};

void Send(int fd, const std::string& s) { ASSERT_EQ(write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size())); }

std::string Receive(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 5000) != 1) return "(nothing within 5 s)";
  char buf[64];
  ssize_t n = read(fd, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : (n == 0 ? "(closed)" : "(error)");
}

std::optional<int> KeeperTest::Serve(Keeper& k, int client, const std::string& request) {
  Send(client, request);
  std::optional<int> fd = k.Next();
  EXPECT_TRUE(fd) << "no connection handed out";
  if (!fd) return fd;
  EXPECT_EQ(Receive(*fd), request);
  return fd;
}

// Whether the peer closed the connection, within a bound.
bool Closed(int fd) { return Receive(fd) == "(closed)"; }

TEST_F(KeeperTest, ANewConnectionIsHandedOutOnlyOnceItSendsAndKeptOnesComeBackTheSameWay) {
  std::unique_ptr<Metrics> metrics(Metrics::CreatePrivate());
  auto k = Open({}, metrics.get());
  ASSERT_TRUE(k);
  Fd client = Connect();
  auto next = NextAsync(*k);
  // Connected, silent: accepted into the set, but no thread gets it.
  ASSERT_EQ(next.wait_for(300ms), std::future_status::timeout);
  EXPECT_EQ(k->held(), 1u);
  Send(client.get(), "one");
  ASSERT_EQ(next.wait_for(5s), std::future_status::ready);
  std::optional<int> fd = next.get();
  ASSERT_TRUE(fd);
  EXPECT_EQ(k->held(), 0u);
  EXPECT_EQ(Receive(*fd), "one");
  Send(*fd, "answer");
  EXPECT_EQ(Receive(client.get()), "answer");

  // Kept: idle again until its next request, then the same connection.
  k->Keep(*fd);
  EXPECT_EQ(k->held(), 1u);
  next = NextAsync(*k);
  ASSERT_EQ(next.wait_for(300ms), std::future_status::timeout);
  Send(client.get(), "two");
  ASSERT_EQ(next.wait_for(5s), std::future_status::ready);
  std::optional<int> again = next.get();
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, *fd);
  EXPECT_EQ(Receive(*again), "two");
  EXPECT_NE(metrics->Json().find("\"connections_accepted\":1"), std::string::npos) << metrics->Json();
  close(*again);
}

TEST_F(KeeperTest, AnIdleConnectionThatHangsUpIsClosedAndARequestBeforeAHangUpIsStillHandedOut) {
  auto k = Open({});
  ASSERT_TRUE(k);
  Fd quiet = Connect();
  Fd last_words = Connect();
  auto next = NextAsync(*k);
  ASSERT_EQ(next.wait_for(300ms), std::future_status::timeout);
  EXPECT_EQ(k->held(), 2u);
  quiet.Reset();  // nginx let it go: nothing to hand out
  ASSERT_EQ(next.wait_for(300ms), std::future_status::timeout);
  Send(last_words.get(), "request");
  shutdown(last_words.get(), SHUT_WR);
  ASSERT_EQ(next.wait_for(5s), std::future_status::ready);
  std::optional<int> fd = next.get();
  ASSERT_TRUE(fd);
  EXPECT_EQ(Receive(*fd), "request");
  EXPECT_EQ(k->held(), 0u) << "the one that hung up is still kept";
  close(*fd);
}

TEST_F(KeeperTest, PastMaxHeldNoneIsClosedAndNewConnectionsWaitInTheBacklogUntilOneIsHandedOut) {
  auto k = Open({.max_held = 2, .silent_ms = 10000});
  ASSERT_TRUE(k);
  Fd first = Connect();
  Fd second = Connect();
  Fd third = Connect();  // completes in the kernel's backlog, behind the two
  Send(third.get(), "c");
  auto next = NextAsync(*k);
  // Two silent ones are held; the third, with its request, is not taken
  // from the backlog, and neither held one is closed to make room for it.
  ASSERT_EQ(next.wait_for(300ms), std::future_status::timeout);
  EXPECT_EQ(k->held(), 2u);
  Send(first.get(), "a");
  ASSERT_EQ(next.wait_for(5s), std::future_status::ready);
  std::optional<int> a = next.get();
  ASSERT_TRUE(a);
  EXPECT_EQ(Receive(*a), "a");
  // Handing it out made room: the third is accepted and served.
  std::optional<int> c = k->Next();
  ASSERT_TRUE(c);
  EXPECT_EQ(Receive(*c), "c");
  Send(second.get(), "b");
  std::optional<int> b = k->Next();
  ASSERT_TRUE(b);
  EXPECT_EQ(Receive(*b), "b");
  for (int fd : {*a, *b, *c}) close(fd);
}

TEST_F(KeeperTest, ANewConnectionSilentPastTheLimitIsClosedAndAKeptOneIsNot) {
  auto k = Open({.max_held = 8, .silent_ms = 200});
  ASSERT_TRUE(k);
  Fd used = Connect();
  std::optional<int> fd = Serve(*k, used.get(), "r");
  ASSERT_TRUE(fd);
  k->Keep(*fd);
  Fd silent = Connect();
  auto next = NextAsync(*k);
  EXPECT_TRUE(Closed(silent.get())) << "a connection that never sent is still held";
  EXPECT_EQ(k->held(), 1u) << "the kept connection (nginx's to close) is gone";
  Send(used.get(), "again");
  ASSERT_EQ(next.wait_for(5s), std::future_status::ready);
  std::optional<int> again = next.get();
  ASSERT_TRUE(again);
  EXPECT_EQ(Receive(*again), "again");
  close(*again);
}

TEST_F(KeeperTest, StopEndsEveryWaitAndWhenThePoolStopsKeepClosesTheConnection) {
  auto k = Open({});
  ASSERT_TRUE(k);
  Fd client = Connect();
  std::optional<int> fd = Serve(*k, client.get(), "r");
  ASSERT_TRUE(fd);
  auto next = NextAsync(*k);
  ASSERT_EQ(next.wait_for(200ms), std::future_status::timeout);
  k->Stop();
  ASSERT_EQ(next.wait_for(5s), std::future_status::ready);
  EXPECT_FALSE(next.get());
  EXPECT_FALSE(k->Next()) << "a later wait must end at once too";
  // The master made the socket non-blocking: the whole pool stops.
  ASSERT_EQ(fcntl(listen_.get(), F_SETFL, fcntl(listen_.get(), F_GETFL) | O_NONBLOCK), 0);
  k->Keep(*fd);
  EXPECT_EQ(k->held(), 0u);
  EXPECT_TRUE(k->Release().empty()) << "nothing is handed over when the pool stops";
  EXPECT_TRUE(Closed(client.get()));
}

// A reload: what is given back after Stop() is parked, not watched (a
// stopping worker serves no new request on it), and Release() hands it
// over, open, with the idle ones held.
TEST_F(KeeperTest, OnAReloadKeepParksTheConnectionAndReleaseHandsOverEveryOneHeld) {
  auto k = Open({});
  ASSERT_TRUE(k);
  Fd served = Connect();
  std::optional<int> fd = Serve(*k, served.get(), "r");
  ASSERT_TRUE(fd);
  Fd idle = Connect();
  EXPECT_FALSE(k->Next(false));  // accepted into the set
  ASSERT_EQ(k->held(), 1u);
  k->Stop();
  k->Keep(*fd);
  EXPECT_EQ(k->held(), 2u);
  Send(served.get(), "next");  // nginx's next request on it
  EXPECT_FALSE(k->Leftover()) << "a parked connection is the successor's to serve";
  std::vector<int> released = k->Release();
  ASSERT_EQ(released.size(), 2u);
  EXPECT_EQ(k->held(), 0u);
  EXPECT_NE(std::find(released.begin(), released.end(), *fd), released.end());
  k.reset();  // the keeper's end: the released ones stay open
  EXPECT_EQ(Receive(*fd), "next");
  Send(*fd, "answer");
  EXPECT_EQ(Receive(served.get()), "answer");
  for (int r : released) close(r);
  EXPECT_TRUE(Closed(idle.get()));
}

// What a predecessor handed over is watched like a kept connection: a
// request already waiting on it is handed out at once.
TEST_F(KeeperTest, AnAdoptedConnectionIsHandedOutWithTheRequestWaitingOnIt) {
  auto k = Open({});
  ASSERT_TRUE(k);
  int ends[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends), 0);
  Fd nginx(ends[0]);
  Send(nginx.get(), "waiting");
  k->Adopt(ends[1]);
  EXPECT_EQ(k->held(), 1u);
  std::optional<int> fd = k->Next();
  ASSERT_TRUE(fd);
  EXPECT_EQ(*fd, ends[1]);
  EXPECT_EQ(Receive(*fd), "waiting");
  k->Keep(*fd);
  Send(nginx.get(), "again");
  std::optional<int> again = k->Next();
  ASSERT_TRUE(again);
  EXPECT_EQ(Receive(*again), "again");
  close(*again);
}

TEST_F(KeeperTest, ALookWithoutWaitingHandsOutOnlyARequestAlreadyThereAndLeavesTheStopForAWait) {
  auto k = Open({});
  ASSERT_TRUE(k);
  // Nothing connected: it returns at once, where Next() would wait.
  auto look = std::async(std::launch::async, [&k] { return k->Next(false); });
  ASSERT_EQ(look.wait_for(5s), std::future_status::ready);
  EXPECT_FALSE(look.get());
  // A look accepts a new connection, but hands it out only once it sends.
  Fd client = Connect();
  EXPECT_FALSE(k->Next(false));
  EXPECT_EQ(k->held(), 1u);
  Send(client.get(), "r");
  std::optional<int> fd;
  for (int i = 0; i < 100 && !fd; ++i) {  // the bytes are there at once; a few looks at most
    fd = k->Next(false);
    if (!fd) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(fd);
  EXPECT_EQ(Receive(*fd), "r");
  EXPECT_FALSE(k->Next(false)) << "handed out once";
  // After Stop a look finds nothing, and the wait after it ends at once.
  k->Stop();
  EXPECT_FALSE(k->Next(false));
  auto next = NextAsync(*k);
  ASSERT_EQ(next.wait_for(5s), std::future_status::ready);
  EXPECT_FALSE(next.get());
  close(*fd);
}

TEST_F(KeeperTest, LeftoversAreWaitingRequestsAndWhenThePoolStopsTheQueuedConnections) {
  auto k = Open({});
  ASSERT_TRUE(k);
  Fd waiting = Connect();
  std::optional<int> fd = Serve(*k, waiting.get(), "first");
  ASSERT_TRUE(fd);
  k->Keep(*fd);
  Fd silent = Connect();
  Send(waiting.get(), "second");  // arrives as the worker stops
  k->Stop();
  // A reload: the queue is the other workers'; only the kept request.
  std::optional<int> left = k->Leftover();
  ASSERT_TRUE(left);
  EXPECT_EQ(Receive(*left), "second");
  close(*left);
  EXPECT_FALSE(k->Leftover());
  // The pool stops: the master made the socket non-blocking.
  ASSERT_EQ(fcntl(listen_.get(), F_SETFL, fcntl(listen_.get(), F_GETFL) | O_NONBLOCK), 0);
  std::optional<int> queued = k->Leftover();
  ASSERT_TRUE(queued) << "the connection queued on the socket";
  close(*queued);
  EXPECT_TRUE(Closed(silent.get()));
  EXPECT_FALSE(k->Leftover());
}

}  // namespace
}  // namespace parley::fcgi
