// An incremental HTTP/1.1 response parser for the load generator: status
// line, headers, and a body framed by Content-Length, chunked encoding or
// the end of the connection. Pure: bytes in, body bytes out, so chunked
// framing is unit-tested at every split. Only what a client of nginx needs:
// no pipelining (bytes after a complete response are an error), no trailers
// kept, 1xx interim responses skipped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::loadgen {

class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual void OnBody(std::string_view bytes) = 0;
};

class ResponseParser {
 public:
  enum class Result {
    kNeedMore,  // everything consumed; the response is not complete
    kHead,      // the status line and headers are complete (returned once)
    kDone,      // the response is complete
    kError,     // malformed; the connection must be closed
  };
  static constexpr size_t kMaxHead = 16 * 1024;

  // Consumes bytes from `in` (advancing it) until the head completes, the
  // response completes or the input runs out. Body bytes go to sink as they
  // are decoded. Call again with the rest of `in` after kHead.
  Result Feed(std::string_view& in, BodySink& sink);
  // The peer closed the connection: completes a body delimited by close.
  Result Eof();
  // Ready for the next response on the same connection.
  void Reset();

  int status() const { return status_; }
  bool chunked() const { return chunked_; }
  int64_t content_length() const { return content_length_; }  // -1: none
  bool keep_alive() const { return keep_alive_; }
  const std::string& content_type() const { return content_type_; }
  bool head_done() const { return state_ > State::kHeaders; }

 private:
  enum class State { kStatus, kHeaders, kBody, kChunkSize, kChunkData, kChunkDataEnd, kTrailers, kUntilClose, kDone, kError };
  bool HeaderLine(std::string_view line);
  bool StatusLine(std::string_view line);
  // Takes one CRLF- or LF-terminated line from in (buffering partial lines).
  // Returns false when no full line is available yet.
  bool TakeLine(std::string_view& in, std::string_view* line);
  Result StartBody();

  State state_ = State::kStatus;
  std::string line_;
  std::string head_line_;   // the line handed out by TakeLine
  size_t head_bytes_ = 0;
  int status_ = 0;
  bool chunked_ = false;
  bool keep_alive_ = true;
  int64_t content_length_ = -1;
  uint64_t remaining_ = 0;
  std::string content_type_;
};

}  // namespace parley::loadgen
