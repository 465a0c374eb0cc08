#include "tools/loadgen/url.h"

#include <arpa/inet.h>

namespace parley::loadgen {

Result<Target> ParseLoopbackUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  auto bad = [&](const std::string& why) {
    return Status::Invalid("bad_url", std::string(url) + ": " + why);
  };
  if (url.substr(0, kScheme.size()) != kScheme) return bad("only http:// URLs are supported");
  std::string_view rest = url.substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  Target t;
  t.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  t.host_header = std::string(authority);
  if (authority.find('@') != std::string_view::npos) return bad("user information is not supported");

  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad("unterminated [ in host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after ]");
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (!port.empty() || authority.find(':') != std::string_view::npos) {
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) {
      return bad("bad port");
    }
    int p = std::stoi(std::string(port));
    if (p < 1 || p > 65535) return bad("bad port");
    t.port = static_cast<uint16_t>(p);
  }

  std::string h(host);
  in_addr a4;
  in6_addr a6;
  if (h == "localhost") {
    t.ip = "127.0.0.1";
  } else if (inet_pton(AF_INET, h.c_str(), &a4) == 1) {
    if ((ntohl(a4.s_addr) >> 24) != 127) return bad("refusing a non-loopback host");
    t.ip = h;
  } else if (inet_pton(AF_INET6, h.c_str(), &a6) == 1) {
    if (!IN6_IS_ADDR_LOOPBACK(&a6)) return bad("refusing a non-loopback host");
    t.ip = h;
    t.v6 = true;
  } else {
    return bad("refusing a non-loopback host (use 127.0.0.1, [::1] or localhost)");
  }
  return t;
}

std::string JoinPath(const Target& base, std::string_view suffix) {
  std::string p = base.path;
  while (!p.empty() && p.back() == '/') p.pop_back();
  p += suffix;
  return p;
}

}  // namespace parley::loadgen
