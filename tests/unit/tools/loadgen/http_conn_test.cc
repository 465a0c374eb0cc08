#include "tools/loadgen/http_conn.h"

#include <event2/event.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "tools/loadgen/clock.h"
#include "tools/loadgen/handles.h"

namespace parley::loadgen {
namespace {

using namespace std::chrono_literals;

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

struct Recorder : HttpHandler {
  const HttpConn* conn = nullptr;
  bool done = false;
  bool failed = false;
  std::string body;
  int64_t arrival_ns = -2;  // conn->arrival_ns() when the response completed
  int64_t read_ns = 0;      // the wall clock then
  void OnHead(const ResponseParser&) override {}
  void OnBody(std::string_view b) override { body.append(b); }
  void OnDone(const ResponseParser&) override {
    done = true;
    arrival_ns = conn->arrival_ns();
    read_ns = WallNs();
  }
  void OnFail(HttpFailure) override { failed = true; }
};

// Runs the loop without blocking until until() holds or 5 s pass.
bool RunUntil(event_base* base, const std::function<bool()>& until) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!until()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    event_base_loop(base, EVLOOP_NONBLOCK);
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// A receiver's latency to the kernel's arrival must not include the time the
// bytes then waited for the load generator's loop: here they wait 50 ms in
// the socket, as they would behind a burst of other deliveries.
TEST(HttpConnTest, ArrivalIsWhenTheKernelQueuedTheBytesNotWhenTheLoopReadThem) {
  Fd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_GE(listener.fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener.fd, 1), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(listener.fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);

  EventBasePtr base(event_base_new());
  ASSERT_TRUE(base);
  Target target;
  target.ip = "127.0.0.1";
  target.port = ntohs(addr.sin_port);
  Recorder rec;
  HttpConn conn(base.get(), ResolveTarget(target), &rec);
  rec.conn = &conn;
  EXPECT_EQ(conn.arrival_ns(), -1);
  ASSERT_TRUE(conn.Request("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 5, 5));

  pollfd p{listener.fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1);
  Fd server(accept4(listener.fd, nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_GE(server.fd, 0);
  std::string request;
  ASSERT_TRUE(RunUntil(base.get(), [&] {
    char buf[512];
    const ssize_t n = recv(server.fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) request.append(buf, static_cast<size_t>(n));
    return request.find("\r\n\r\n") != std::string::npos;
  }));

  const int64_t before = WallNs();
  const std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
  ASSERT_EQ(write(server.fd, response.data(), response.size()), static_cast<ssize_t>(response.size()));
  const int64_t written = WallNs();
  std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(RunUntil(base.get(), [&] { return rec.done || rec.failed; }));

  ASSERT_TRUE(rec.done);
  EXPECT_EQ(rec.body, "ok");
  // Loopback queues the segment inside write(); a little slack for a slow
  // machine, far short of the 50 ms the bytes then waited.
  EXPECT_GE(rec.arrival_ns, before);
  EXPECT_LE(rec.arrival_ns, written + 20'000'000);
  EXPECT_GE(rec.read_ns - rec.arrival_ns, 45'000'000);
}

}  // namespace
}  // namespace parley::loadgen
