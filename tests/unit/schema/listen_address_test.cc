// schema/listen_address.cc: the one rule both daemons' --listen follows (a
// '/' makes a socket path, else a numeric HOST:PORT), every class of bad
// value refused with a message, and a TCP listener that really accepts.
#include "schema/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(ListenAddressTest, APathHasASlash) {
  auto a = ParseListenAddress("--listen", "/run/parley/fcgi.sock");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_FALSE(a->tcp);
  EXPECT_EQ(a->path, "/run/parley/fcgi.sock");
  auto relative = ParseListenAddress("--listen", "./fcgi.sock");
  ASSERT_TRUE(relative.ok());
  EXPECT_FALSE(relative->tcp);
}

TEST(ListenAddressTest, IPv4AndBracketedIPv6) {
  auto v4 = ParseListenAddress("--listen", "10.77.1.2:9000");
  ASSERT_TRUE(v4.ok()) << v4.status().message();
  EXPECT_TRUE(v4->tcp);
  EXPECT_FALSE(v4->ipv6);
  EXPECT_EQ(v4->host, "10.77.1.2");
  EXPECT_EQ(v4->port, 9000);
  auto v6 = ParseListenAddress("--listen", "[::1]:65535");
  ASSERT_TRUE(v6.ok()) << v6.status().message();
  EXPECT_TRUE(v6->tcp);
  EXPECT_TRUE(v6->ipv6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 65535);
}

// Each class of bad value, with the part of the message that says why.
TEST(ListenAddressTest, BadValuesSayWhy) {
  struct Case {
    const char* text;
    const char* why;
  } cases[] = {
      {"", "empty"},
      {"fcgi.sock", "no :PORT"},               // a bare file name: the rule wants ./fcgi.sock
      {"127.0.0.1", "no :PORT"},               // missing port
      {"127.0.0.1:", "the port must be a number"},
      {"127.0.0.1:http", "the port must be a number"},
      {"127.0.0.1:0", "the port must be 1 to 65535"},
      {"127.0.0.1:65536", "the port must be 1 to 65535"},
      {"127.0.0.1:123456", "the port must be a number"},
      {"127.0.0.1:-1", "the port must be a number"},
      {"localhost:9000", "not an IPv4 literal"},  // names are not resolved
      {"300.1.1.1:9000", "not an IPv4 literal"},
      {"::1:9000", "needs brackets"},
      {"[::1]9000", "no :PORT after ']'"},
      {"[::1:9000", "no ']'"},
      {"[nonsense]:9000", "not an IPv6 literal"},
  };
  for (const Case& c : cases) {
    auto a = ParseListenAddress("--listen", c.text);
    ASSERT_FALSE(a.ok()) << "'" << c.text << "' was accepted";
    EXPECT_EQ(a.status().reason(), "invalid_flag");
    EXPECT_NE(a.status().message().find(c.why), std::string::npos) << c.text << ": " << a.status().message();
    EXPECT_NE(a.status().message().find("--listen"), std::string::npos) << a.status().message();
  }
}

// A real listener on 127.0.0.1 (port 0 is refused by the parser, so the
// test binds a port the kernel picked, then binds it again through the
// parser's path: SO_REUSEADDR lets a restarted daemon do the same).
TEST(ListenAddressTest, TcpListenerAccepts) {
  Fd probe(socket(AF_INET, SOCK_STREAM, 0));
  ASSERT_TRUE(probe.valid());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(probe.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(probe.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  int port = ntohs(addr.sin_port);
  probe.Reset();

  auto parsed = ParseListenAddress("--listen", "127.0.0.1:" + std::to_string(port));
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  auto listener = ListenOn(*parsed, /*nonblocking=*/false);
  ASSERT_TRUE(listener.ok()) << listener.status().message();
  Fd client(socket(AF_INET, SOCK_STREAM, 0));
  ASSERT_EQ(connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  Fd accepted(accept(listener->get(), nullptr, nullptr));
  ASSERT_TRUE(accepted.valid());
  // Small frames leave at once: the listener's TCP_NODELAY is inherited.
  int nodelay = 0;
  socklen_t size = sizeof nodelay;
  ASSERT_EQ(getsockopt(accepted.get(), IPPROTO_TCP, TCP_NODELAY, &nodelay, &size), 0);
  EXPECT_EQ(nodelay, 1);
  // A second listener on the same port is a clear error, not a crash.
  auto again = ListenOn(*parsed, false);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.status().message().find("bind 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << again.status().message();
}

}  // namespace
}  // namespace parley
