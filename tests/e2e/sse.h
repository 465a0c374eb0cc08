// Server-Sent Events for end-to-end tests: an incremental parser of the
// text/event-stream format (the WHATWG "event stream interpretation"), and
// a streaming HTTP/1.1 client over a raw TCP socket to 127.0.0.1.
//
// Why a raw socket rather than libcurl: a test must be able to hold a stream
// open without reading it (the slow-reader test sets a tiny receive buffer
// and never reads), to drop it abruptly at any moment, and to see the exact
// bytes of the body (the 2 KiB padding comment). The client speaks just
// enough HTTP/1.1 for that: one GET, a status line, headers, and a body that
// is chunked, sized by Content-Length, or read until the server closes.
//
// Threading: an SseStream reads on a thread of its own and keeps what it has
// parsed behind a mutex; the test thread waits on it with deadlines
// (WaitUntil and friends). Nothing blocks without a bound.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "client.h"
#include "json.h"

namespace parley::e2e {

// One dispatched event.
struct SseEvent {
  std::optional<int64_t> id;  // set only when this event had its own "id:" line
  std::string type;           // "message" when no "event:" line (as a browser does)
  std::string data;           // data lines joined with "\n"
  Json json() const { return Json::Parse(data); }
};

// Everything a stream carried, in order: comments, retry lines and events.
struct SseItem {
  enum class Kind { kComment, kRetry, kEvent };
  Kind kind = Kind::kComment;
  std::string text;  // comment text (after ':'), or the retry value
  SseEvent event;    // kEvent only
};

// Incremental: Feed() any split of the bytes, items come out as each one
// completes. A field line counts once its terminator arrives; an event once
// its blank line does (an event cut off by a closed connection never counts).
class SseParser {
 public:
  void Feed(std::string_view bytes);
  std::vector<SseItem>& items() { return items_; }
  const std::vector<SseItem>& items() const { return items_; }

 private:
  void Line(std::string_view line);
  std::vector<SseItem> items_;
  std::string line_;
  bool after_cr_ = false;
  // The event being assembled.
  std::optional<int64_t> id_;
  std::string type_;
  std::string data_;
  bool has_data_ = false;
};

// The response as far as it has arrived. Guarded by SseStream's mutex.
struct SseState {
  long status = 0;                                            // 0 until the status line
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  bool headers_done = false;
  std::string body;       // the de-chunked body, capped at kBodyKeep bytes
  SseParser parser;
  bool complete = false;  // the response ended properly (last chunk, or Content-Length)
  bool eof = false;       // the connection is gone (after `complete`, or abruptly)
  std::string error;      // a malformed response, or a socket error

  static constexpr size_t kBodyKeep = 1 << 20;
  std::string Header(const std::string& lower_name) const;
  const std::vector<SseItem>& items() const { return parser.items(); }
  // Events only, in order.
  std::vector<SseEvent> Events() const;
  // The id of the last event that had one.
  std::optional<int64_t> LastId() const;
};

class SseStream {
 public:
  struct Options {
    std::string path = "/events/stream";  // with the query, if any
    HeaderList headers;                   // "Name: value", added to Host
    int rcvbuf = 0;                       // SO_RCVBUF set before connect; 0: the default
    bool start_reading = true;            // false: hold the socket unread until StartReading()
    std::string unix_socket;              // set: connect here (a daemon's own socket), not to the port
  };
  // Connects to 127.0.0.1:port (or options.unix_socket) and sends the request. Null, with *error set,
  // if the connection or the write fails.
  static std::unique_ptr<SseStream> Open(int port, Options options, std::string* error);
  SseStream(const SseStream&) = delete;
  SseStream& operator=(const SseStream&) = delete;
  ~SseStream();

  void StartReading();
  // Drops the connection at once (as a closed tab or a lost network would)
  // and stops the reader. What was parsed stays readable.
  void Close();

  // Waits until pred(state) holds (evaluated under the lock after every read)
  // or the timeout passes; returns whether it held.
  bool WaitUntil(const std::function<bool(const SseState&)>& pred, std::chrono::milliseconds timeout);
  bool WaitHeaders(std::chrono::milliseconds timeout);
  // Until an event of this type has arrived (after `skip` such events).
  // Returns false at once if the connection ends without one.
  bool WaitForEvent(const std::string& type, std::chrono::milliseconds timeout, size_t skip = 0);
  // Until an event with an id >= `id` has arrived (false at once if the
  // connection ends first).
  bool WaitForId(int64_t id, std::chrono::milliseconds timeout);
  // Until the connection has ended.
  bool WaitEof(std::chrono::milliseconds timeout);

  // Copies, under the lock.
  long status();
  std::string Header(const std::string& lower_name);
  std::string Body();
  std::vector<SseItem> Items();
  std::vector<SseEvent> Events();
  std::optional<int64_t> LastId();
  bool eof();
  bool complete();
  // Applies fn to the state under the lock (to read several things at once).
  void With(const std::function<void(const SseState&)>& fn);

 private:
  explicit SseStream(int fd) : fd_(fd) {}
  void ReadLoop();
  void Consume(const char* data, size_t n);  // with mu_ held
  bool Body(std::string_view bytes);         // with mu_ held; false: malformed

  int fd_;
  std::thread reader_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::mutex mu_;
  std::condition_variable cv_;
  SseState state_;  // GUARDED_BY(mu_)
  // HTTP decoding, reader thread only.
  std::string head_;            // bytes of the status line and headers
  enum class Framing { kUntilClose, kLength, kChunked } framing_ = Framing::kUntilClose;
  int64_t remaining_ = 0;       // kLength: body bytes; kChunked: bytes left in this chunk
  std::string chunk_line_;      // kChunked: the size line (or a CRLF) being read
  enum class ChunkState { kSize, kData, kDataEnd, kTrailer } chunk_state_ = ChunkState::kSize;
};

// Ids of durable message events of one room, in arrival order.
std::vector<int64_t> MessageIds(const std::vector<SseEvent>& events, int64_t room);
// Ids of every event that carried one, in arrival order.
std::vector<int64_t> DurableIds(const std::vector<SseEvent>& events);

}  // namespace parley::e2e
