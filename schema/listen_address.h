// Where a daemon listens for nginx: a unix socket (the default, one host) or
// a TCP address (pools and daemons on other hosts than nginx).
//
// The rule, one for both daemons: a value with a '/' is a socket path
// ("./x.sock" for one in the current directory); a value without one is
// HOST:PORT, HOST an IPv4 literal ("10.0.0.5:9000") or a bracketed IPv6
// literal ("[::1]:9000"), PORT 1 to 65535. Names are not resolved (no DNS
// at start-up, so a listener never depends on a resolver): anything else is
// an error that says so.
//
// A TCP listener has no file permissions to guard it: it belongs on a
// private network that only nginx reaches. parley-fcgi also honours
// libfcgi's FCGI_WEB_SERVER_ADDRS (comma-separated IPv4 addresses allowed to
// connect) on it.
#pragma once

#include <string>

#include "schema/posix.h"
#include "schema/status.h"

namespace parley {

struct ListenAddress {
  bool tcp = false;
  std::string path;  // unix socket, when !tcp
  std::string host;  // numeric, without brackets, when tcp
  int port = 0;
  bool ipv6 = false;
};

// Pure: the rule above. Errors are Status::Invalid("invalid_flag", ...)
// naming flag ("--listen").
Result<ListenAddress> ParseListenAddress(const std::string& flag, const std::string& text);

// The listening socket (close-on-exec; nonblocking for an event loop).
Result<Fd> ListenOn(const ListenAddress& address, bool nonblocking);

}  // namespace parley
