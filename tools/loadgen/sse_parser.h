// An incremental Server-Sent Events parser (the WHATWG "event stream"
// interpretation): bytes in, events out. Pure: no sockets, no libevent, so it
// is unit-tested byte by byte and split at every possible position.
//
// Contract: Feed() may be called with any split of the stream, including one
// byte at a time and a CR/LF pair split across two calls. Each complete event
// (a blank line after at least one data line) is handed to the sink; the
// SseEvent it receives is reused after the call returns, so a sink copies what
// it keeps. Events without data are not dispatched (as in a browser), but
// their id still moves last_event_id(). A line longer than kMaxLine puts the
// parser in an error state: a stream that never ends a line is a broken
// stream, not something to buffer forever.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::loadgen {

struct SseEvent {
  std::string type;   // "message" when the block had no event: line
  std::string data;   // data lines joined by '\n'
  std::string id;     // the last event id in force when it was dispatched
  bool has_id = false;  // this block itself carried an id: line
};

class SseSink {
 public:
  virtual ~SseSink() = default;
  virtual void OnEvent(const SseEvent& event) = 0;
};

class SseParser {
 public:
  static constexpr size_t kMaxLine = 1 << 20;

  // Returns false once the stream is malformed (over-long line); the parser
  // then ignores further input.
  bool Feed(std::string_view bytes, SseSink& sink);

  const std::string& last_event_id() const { return last_id_; }
  int retry_ms() const { return retry_ms_; }  // -1 until the server sent one
  uint64_t comments() const { return comments_; }
  uint64_t events() const { return events_; }
  bool failed() const { return failed_; }

 private:
  void Line(std::string_view line, SseSink& sink);
  void Dispatch(SseSink& sink);

  std::string partial_;     // an unfinished line carried between Feed() calls
  bool skip_lf_ = false;    // the last byte seen was CR: a following LF belongs to it
  bool started_ = false;    // past the optional byte-order mark
  bool failed_ = false;
  SseEvent ev_;
  bool have_data_ = false;
  bool block_id_ = false;
  std::string last_id_;
  int retry_ms_ = -1;
  uint64_t comments_ = 0;
  uint64_t events_ = 0;
};

}  // namespace parley::loadgen
