// The wire formats of DESIGN section 4, as pure functions: no sockets, no
// libevent, unit-tested byte for byte.
//
// Every payload is one line of JSON produced by schema/json.cc, whose
// string escaping turns any newline in user text into "\n"; so no message
// can end an SSE event early or forge an "id:" line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace parley::events {

constexpr size_t kPaddingBytes = 2048;
constexpr int kRetryMs = 2000;

// The opening of a stream: a 2 KiB comment (old proxies and polyfills
// buffer until they have seen that much), the retry interval, and `hello`.
std::string SsePreamble(std::string_view epoch, int64_t head, std::string_view user_json);
// One durable event: id, event type, data.
std::string SseEvent(int64_t id, std::string_view type, std::string_view data);
// An ephemeral event (typing, presence, reset): no id line, so it never
// moves the client's Last-Event-ID.
std::string SseEphemeral(std::string_view type, std::string_view data);
// A comment line: heartbeats and the goodbye before a rotation.
std::string SseComment(std::string_view text);
// Tells the browser to reconnect after ms and closes nothing by itself.
std::string SseRetry(int ms);

struct PollEvent {
  int64_t id = 0;  // 0 for ephemeral events (no "id" member)
  std::string type;
  std::string data;  // JSON
};
std::string PollBody(std::string_view epoch, const std::vector<PollEvent>& events, int64_t next, bool more);

}  // namespace parley::events
