// Slowloris (issue 8, item 18): 3,000 connections that trickle their request
// headers one byte at a time, reconnecting when nginx gives up on them, do
// not stop another client from registering and sending, each within 2 s
// (or four times its time without the attack, on a machine that busy).
// nginx holds the half-open connections cheaply (an event each, no worker
// process or thread per connection); what must hold is that the local
// config has the connection slots and descriptors for them
// (tools/nginx-conf: worker_connections, worker_rlimit_nofile) and that
// client_header_timeout reaps them.
// Where a slow probe's time goes (measured 2026-12-01 with the phases and
// the listen-queue overflows this test prints, machine at load 15-18, the
// full suite running): the register, an Argon2id hash of ~0.1 s CPU, takes
// 634-1,665 ms, and as long before the attack starts (676-1,195 ms) as
// during it; room list + send 10-50 ms (once 751 ms); no listen-queue
// overflow (accept queue and worker_connections are not the limit). A
// probe past 2 s is the CPU-starved hash, which the 4x-baseline bound
// allows for.
#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fixture.h"
#include "raw_http.h"

namespace parley::e2e {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kAttackers = 3000;
// What each attacker trickles; it never reaches the blank line that ends
// the headers.
const std::string kTrickle =
    "GET /api/me HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slowloris\r\nX-Pad: " +
    std::string(4096, 'a');

class SlowlorisTest : public StackTest {
 protected:
  StackOptions Options() const override {
    StackOptions o;
    o.limits = true;  // the shipped configuration
    return o;
  }
};

// Non-blocking connect to the stack; -1 on failure.
int OpenAttacker(int port) {
  std::string error;
  int fd = ConnectLoopback(port, 0, &error);
  if (fd < 0) return -1;
  // Never block the trickle loop.
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

// True once nginx is done with this connection: closed, reset, or answered
// (an answer to a request that never ended is an error, then a close).
bool ClosedByPeer(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  if (p.revents & (POLLHUP | POLLERR)) return true;
  char buf[512];
  ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  return !(n < 0 && (errno == EAGAIN || errno == EINTR));
}

// The kernel's count of connections dropped because a listen queue was full
// (TcpExt ListenOverflows), for the report: a dropped SYN costs the client
// a 1 s retransmission. Machine-wide (other tests count too); -1 unknown.
long ListenOverflows() {
  std::istringstream in(ReadText("/proc/net/netstat"));
  std::string names, values;
  while (std::getline(in, names) && std::getline(in, values)) {
    if (names.rfind("TcpExt:", 0) != 0) continue;
    std::istringstream n(names), v(values);
    std::string name, value;
    while (n >> name && v >> value) {
      if (name == "ListenOverflows") return std::stol(value);
    }
  }
  return -1;
}

TEST_F(SlowlorisTest, ThreeThousandTricklingConnectionsDoNotStopAnotherClient) {
  rlimit lim{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
  const rlim_t need = kAttackers + 512;
  if (lim.rlim_cur < need) {
    if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < need) {
      GTEST_SKIP() << "this process may open only " << lim.rlim_max << " files, the test needs " << need;
    }
    lim.rlim_cur = need;
    ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lim), 0);
  }

  // The same register + send before the attack: on a machine shared with
  // other work a password hash alone can take a second, and the bound must
  // catch the attack, not the load. Slowloris harm is a request stuck until
  // nginx's 10 s header timeout, or refused; the bound is 2 s, or four times
  // the unhindered time when the machine is that slow.
  // Where each probe's time goes, for the report: the register (an
  // Argon2id hash, CPU-bound) and the rest (a room list and a send with
  // its fsync).
  std::string phases;
  auto register_and_send = [&](const std::string& who) {
    auto t0 = Clock::now();
    User u = Register(who);
    auto t1 = Clock::now();
    Send(u, General(u), "served " + who);
    auto t2 = Clock::now();
    char line[96];
    std::snprintf(line, sizeof line, " %s: register %.0f ms, room+send %.0f ms;", who.c_str(),
                  std::chrono::duration<double, std::milli>(t1 - t0).count(),
                  std::chrono::duration<double, std::milli>(t2 - t1).count());
    phases += line;
    return std::chrono::duration<double, std::milli>(t2 - t0).count();
  };
  const double baseline_ms = std::max(register_and_send("calm0"), register_and_send("calm1"));
  const double bound_ms = std::max(2000.0, 4 * baseline_ms);

  const long overflows_before = ListenOverflows();
  const int port = stack().port();
  std::vector<int> fds(kAttackers, -1);
  std::vector<size_t> sent(kAttackers, 0);
  for (int i = 0; i < kAttackers; ++i) {
    fds[i] = OpenAttacker(port);
    ASSERT_GE(fds[i], 0) << "attacker " << i << " could not connect";
  }
  std::atomic<bool> stop{false};
  std::atomic<int> reconnects{0};
  std::atomic<int> rounds{0};
  std::atomic<int> open_now{kAttackers};
  // One byte per connection per round, about every 500 ms; a connection
  // nginx closed is opened again, as a real attacker would.
  std::thread attacker([&] {
    while (!stop.load()) {
      int open = 0;
      for (int i = 0; i < kAttackers && !stop.load(); ++i) {
        if (fds[i] >= 0 && ClosedByPeer(fds[i])) {
          close(fds[i]);
          fds[i] = OpenAttacker(port);
          sent[i] = 0;
          reconnects.fetch_add(1);
        }
        if (fds[i] < 0) continue;
        ++open;
        if (sent[i] < kTrickle.size() &&
            send(fds[i], kTrickle.data() + sent[i], 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) {
          ++sent[i];
        }
      }
      open_now.store(open);
      rounds.fetch_add(1);
      for (int t = 0; t < 10 && !stop.load(); ++t) std::this_thread::sleep_for(milliseconds(50));
    }
  });

  // Stops and joins the attacker and closes its connections however the
  // probes below end (a failed setup step throws).
  struct Cleanup {
    std::atomic<bool>& stop;
    std::thread& thread;
    std::vector<int>& fds;
    ~Cleanup() {
      stop.store(true);
      thread.join();
      for (int fd : fds) {
        if (fd >= 0) close(fd);
      }
    }
  } cleanup{stop, attacker, fds};

  // Register and send as a newcomer, a few times across the attack: at once,
  // and after nginx's client_header_timeout (10 s) has reaped and the
  // attacker reconnected.
  std::vector<double> took_ms;
  auto attack_started = Clock::now();
  for (int probe = 0; probe < 3; ++probe) {
    while (rounds.load() < 2 + probe * 12) std::this_thread::sleep_for(milliseconds(20));
    double ms = register_and_send("probe" + std::to_string(probe));
    took_ms.push_back(ms);
    EXPECT_LT(ms, bound_ms) << "probe " << probe << " took " << ms << " ms with " << open_now.load()
                            << " attackers connected (" << baseline_ms << " ms without them)";
    EXPECT_GE(open_now.load(), kAttackers * 9 / 10) << "the attack was not in place";
  }
  double attack_s = std::chrono::duration<double>(Clock::now() - attack_started).count();
  std::printf("slowloris: %d trickling connections for %.1f s (%d reconnects); register+send took"
              " %.0f ms before the attack, during it:",
              kAttackers, attack_s, reconnects.load(), baseline_ms);
  for (double ms : took_ms) std::printf(" %.0f ms", ms);
  std::printf("\nslowloris phases:%s\nslowloris: listen queue overflows during the attack: %ld\n",
              phases.c_str(), ListenOverflows() - overflows_before);
  ExpectHealthy();
}

}  // namespace
}  // namespace parley::e2e
