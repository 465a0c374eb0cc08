#include "events/request.h"

#include <arpa/inet.h>

#include <cstring>

namespace parley::events {
namespace {

// The last comma-separated element, without surrounding spaces.
std::string_view LastHop(std::string_view xff) {
  size_t comma = xff.rfind(',');
  std::string_view hop = comma == std::string_view::npos ? xff : xff.substr(comma + 1);
  while (!hop.empty() && hop.front() == ' ') hop.remove_prefix(1);
  while (!hop.empty() && hop.back() == ' ') hop.remove_suffix(1);
  return hop;
}

std::optional<std::string> Epoch(const RawRequest& r) {
  auto e = r.Query("epoch");
  if (!e) return std::nullopt;
  return std::string(*e);
}

}  // namespace

std::optional<std::string_view> RawRequest::Query(std::string_view key) const {
  for (const auto& [k, v] : query) {
    if (k == key) return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<int64_t> ParseCursor(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

Route RouteOf(std::string_view path) {
  if (path == "/events/stream") return Route::kStream;
  if (path == "/events/poll") return Route::kPoll;
  if (path == "/events/stats") return Route::kStats;
  return Route::kNotFound;
}

Status CheckRequest(const RawRequest& r) {
  if (RouteOf(r.path) == Route::kNotFound) return Status::NotFound("not_found", "no such endpoint");
  if (r.method != "GET") return {Code::kMethodNotAllowed, "method_not_allowed", "only GET is allowed here"};
  if (r.body_bytes > 0) return {Code::kTooLarge, "body_not_allowed", "requests to /events/ take no body"};
  return Status::Ok();
}

Result<StreamParams> ParseStream(const RawRequest& r) {
  StreamParams p;
  std::optional<std::string_view> raw = r.last_event_id;
  for (const char* key : {"last_event_id", "lastEventId", "since"}) {
    if (!raw || raw->empty()) raw = r.Query(key);
  }
  if (raw && !raw->empty()) {
    p.cursor = ParseCursor(*raw);
    if (!p.cursor) return Status::Invalid("invalid_field", "the last event id must be a non-negative integer");
  }
  p.epoch = Epoch(r);
  return p;
}

Result<PollParams> ParsePoll(const RawRequest& r, int default_timeout_s, int max_timeout_s) {
  PollParams p;
  p.timeout_s = default_timeout_s;
  if (auto raw = r.Query("since")) {
    p.since = ParseCursor(*raw);
    if (!p.since) return Status::Invalid("invalid_field", "since must be a non-negative integer");
  }
  if (auto raw = r.Query("timeout")) {
    std::optional<int64_t> t = ParseCursor(*raw);
    if (!t || *t > max_timeout_s) {
      return Status::Invalid("invalid_field", "timeout must be 0 to " + std::to_string(max_timeout_s) + " seconds");
    }
    p.timeout_s = *t;
  }
  p.epoch = Epoch(r);
  return p;
}

bool StatsAllowed(const RawRequest& r) {
  if (!r.forwarded_for) return true;
  std::string_view hop = LastHop(*r.forwarded_for);
  return hop == "127.0.0.1" || hop == "::1";
}

uint64_t ClientAddressKey(const RawRequest& r) {
  if (!r.forwarded_for) return 0;
  const std::string hop(LastHop(*r.forwarded_for));
  unsigned char a[16];
  if (inet_pton(AF_INET, hop.c_str(), a) == 1) {
    uint32_t v4;
    std::memcpy(&v4, a, 4);
    return (uint64_t{1} << 32) | ntohl(v4);  // tagged: never equal to an IPv6 key or 0
  }
  if (inet_pton(AF_INET6, hop.c_str(), a) != 1) return 0;
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a, kMapped, 12) == 0) {
    uint32_t v4;
    std::memcpy(&v4, a + 12, 4);
    return (uint64_t{1} << 32) | ntohl(v4);  // ::ffff:a.b.c.d is that IPv4 client
  }
  uint64_t prefix = 0;
  for (int i = 0; i < 8; ++i) prefix = prefix << 8 | a[i];
  // The /64 with its top bit set; IPv4 keys stay below 2^33, and a /64 whose
  // key would collide with one is not a routable unicast prefix.
  return prefix | (uint64_t{1} << 63);
}

const char* ResetReason(int64_t cursor, const std::optional<std::string>& client_epoch, std::string_view epoch,
                        int64_t db_head, int64_t log_floor) {
  if (client_epoch && *client_epoch != epoch) return "epoch_changed";
  if (cursor > db_head) return "cursor_ahead";
  if (cursor < log_floor) return "cursor_too_old";
  return nullptr;
}

}  // namespace parley::events
