// Raw HTTP/1.x over a TCP socket to 127.0.0.1, for the tests that must send
// what no HTTP library will: malformed request lines, NUL bytes, bodies on a
// GET, headers trickled one byte at a time.
//
// Threading: free functions and a move-only fd owner; use from any thread.
// Nothing blocks without a bound: every read and write has a deadline.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "json.h"

namespace parley::e2e {

// A TCP socket connected to 127.0.0.1:port, or -1 with *error set. SO_RCVBUF
// is set before connecting when rcvbuf > 0. Writes and the connect itself are
// bounded (5 s): loopback answers at once or not at all.
int ConnectLoopback(int port, int rcvbuf, std::string* error);

// ASCII lower case (header names compare that way).
std::string Lower(std::string s);

// An owned socket; closed on destruction.
class RawSocket {
 public:
  RawSocket() = default;
  explicit RawSocket(int fd) : fd_(fd) {}
  RawSocket(RawSocket&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  RawSocket& operator=(RawSocket&& o) noexcept {
    std::swap(fd_, o.fd_);  // o's destructor closes what we held
    return *this;
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;
  ~RawSocket();

  // A connected TCP socket to 127.0.0.1:port (blocking connect, 5 s at most),
  // or an invalid one with *error set.
  static RawSocket Connect(int port, std::string* error);
  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  // Gives up ownership.
  int Release() { return std::exchange(fd_, -1); }
  // Writes all of `bytes` within `timeout`; false if the peer is gone.
  bool Send(const std::string& bytes, std::chrono::milliseconds timeout);
  void Close();

 private:
  int fd_ = -1;
};

struct RawResponse {
  long status = 0;       // 0: no status line arrived
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  bool timed_out = false;  // the response did not complete within the deadline
  std::string error;       // connect or socket error

  std::string Header(const std::string& lower_name) const;
  Json json() const { return Json::Parse(body); }
  // A one-line summary for assertion messages.
  std::string Describe() const;
};

// Reads one response (status line, headers, a Content-Length, chunked or
// until-close body) from `socket` within `timeout`.
RawResponse ReadResponse(RawSocket& socket, std::chrono::milliseconds timeout);

// Connects, sends `request` verbatim, reads one response.
RawResponse RawExchange(int port, const std::string& request,
                        std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

}  // namespace parley::e2e
