// Target URLs of the load generator. Loopback only, on purpose: a load
// generator that opens 12,000 connections must never be pointed at someone
// else's server by a typo. Pure and unit-tested.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "schema/status.h"

namespace parley::loadgen {

struct Target {
  std::string ip;           // numeric: "127.0.0.1" or "::1"
  bool v6 = false;
  uint16_t port = 80;
  std::string host_header;  // as the URL spelled it: "127.0.0.1:8080"
  std::string path;         // path and query, at least "/"
};

// Accepts http://HOST[:PORT][/PATH] where HOST is an address in 127.0.0.0/8,
// [::1] or localhost; anything else (https, other hosts) is refused.
Result<Target> ParseLoopbackUrl(std::string_view url);

// base.path without a trailing slash, then suffix ("/api/rooms/1/messages").
std::string JoinPath(const Target& base, std::string_view suffix);

}  // namespace parley::loadgen
