#include "schema/listen_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdlib>

namespace parley {

namespace {

Status Bad(const std::string& flag, const std::string& text, const std::string& why) {
  return Status::Invalid("invalid_flag", flag + " " + text + ": " + why +
                                             " (a socket path has a '/'; a TCP address is IPV4:PORT or [IPV6]:PORT)");
}

}  // namespace

Result<ListenAddress> ParseListenAddress(const std::string& flag, const std::string& text) {
  ListenAddress a;
  if (text.empty()) return Bad(flag, "''", "empty");
  if (text.find('/') != std::string::npos) {
    a.path = text;
    return a;
  }
  std::string host, port;
  if (text[0] == '[') {
    size_t close = text.find(']');
    if (close == std::string::npos) return Bad(flag, text, "no ']' after the IPv6 address");
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') return Bad(flag, text, "no :PORT after ']'");
    port = text.substr(close + 2);
    in6_addr v6;
    if (inet_pton(AF_INET6, host.c_str(), &v6) != 1) return Bad(flag, text, "not an IPv6 literal");
    a.ipv6 = true;
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string::npos) return Bad(flag, text, "no :PORT");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) return Bad(flag, text, "an IPv6 address needs brackets");
    in_addr v4;
    // inet_pton takes only the dotted quad, so a name never gets here.
    if (inet_pton(AF_INET, host.c_str(), &v4) != 1) return Bad(flag, text, "not an IPv4 literal (names are not resolved)");
  }
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) {
    return Bad(flag, text, "the port must be a number");
  }
  long n = std::strtol(port.c_str(), nullptr, 10);
  if (n < 1 || n > 65535) return Bad(flag, text, "the port must be 1 to 65535");
  a.tcp = true;
  a.host = host;
  a.port = static_cast<int>(n);
  return a;
}

Result<Fd> ListenOn(const ListenAddress& address, bool nonblocking) {
  if (!address.tcp) return UnixBind(address.path, SocketKind::kStream, nonblocking);
  return TcpBind(address.host, address.port, address.ipv6, nonblocking);
}

}  // namespace parley
