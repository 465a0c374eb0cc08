// One HTTP/1.1 client connection: sends a request, parses the response as
// it streams in (http_response.h), and keeps the connection for the next
// request when the server allows it.
//
// Connecting and writing go through a bufferevent; reading does not. A
// bufferevent reads with evbuffer_read, which asks the kernel how much is
// waiting (ioctl FIONREAD) before every read: a second system call per
// delivery, a third of the load generator's system call time in a
// 1,000-subscriber fan-out, on the same cores as the server it measures.
// So the connection reads with one recv() per readiness into a shared
// buffer, on an event of its own whose timeout is the read timeout.
//
// Each recv also asks for the kernel's receive timestamp (SO_TIMESTAMPNS),
// so a receiver can tell when the bytes reached this host from when this
// loop got round to them (arrival_ns()).
//
// Design note. A client (subscriber, poller, sender) owns one HttpConn for
// its whole life and reuses it across reconnects; the HttpConn owns the
// bufferevent. Handler callbacks may call Close() or Request() on the same
// HttpConn, even from inside the read loop: a close requested there is
// deferred until the loop lets go of the input buffer, and a generation
// counter tells the loop that its bufferevent is gone. Handlers must not
// destroy the HttpConn from a callback; clients live until the run ends.
//
// Threading: single-threaded, on the run's event_base.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "tools/loadgen/handles.h"
#include "tools/loadgen/http_response.h"
#include "tools/loadgen/url.h"

namespace parley::loadgen {

enum class HttpFailure {
  kConnect,    // could not connect
  kReset,      // closed or reset before any byte of the response
  kClosed,     // closed in the middle of a response
  kTimeout,
  kMalformed,  // not HTTP, or bytes after a complete response
};
const char* FailureName(HttpFailure f);

class HttpHandler : public BodySink {
 public:
  // Status line and headers are in.
  virtual void OnHead(const ResponseParser& response) = 0;
  // The response is complete; the connection stays open if it may be reused.
  virtual void OnDone(const ResponseParser& response) = 0;
  // The request failed; the connection is already closed.
  virtual void OnFail(HttpFailure failure) = 0;
};

// A resolved loopback address.
struct Address {
  sockaddr_storage addr{};
  socklen_t len = 0;
};
Address ResolveTarget(const Target& t);

class HttpConn : private BodySink {
 public:
  HttpConn(event_base* base, const Address& address, HttpHandler* handler)
      : base_(base), address_(address), handler_(handler) {}
  HttpConn(const HttpConn&) = delete;
  HttpConn& operator=(const HttpConn&) = delete;

  // Sends a request (connecting first when no connection is open).
  // head_timeout_s bounds connecting, writing and waiting for the response
  // head; body_idle_s bounds the silence between two reads of the body
  // (0: unbounded, for a stream that may legitimately stay quiet).
  // False if no socket could be created (out of descriptors).
  bool Request(std::string_view bytes, int head_timeout_s, int body_idle_s);
  // Drops the connection; nothing more is reported for it.
  void Close();

  bool open() const { return bev_ != nullptr; }
  bool busy() const { return busy_; }
  // When the kernel queued the bytes being handled now (CLOCK_REALTIME, ns):
  // the receive timestamp (SO_TIMESTAMPNS) of the newest segment the last
  // recv took, or -1 when the kernel gave none. Valid inside a handler's
  // callback. A delivery's latency to here leaves out the time the bytes
  // waited for this single-threaded loop, which shares the server's cores.
  int64_t arrival_ns() const { return arrival_ns_; }

  // libevent callbacks; they only forward here.
  void OnReadable(short what);
  void OnEvent(short what);

 private:
  void OnBody(std::string_view bytes) override;
  bool Open();
  void Teardown();
  void Fail(HttpFailure f);
  // Feeds n bytes of the shared read buffer to the parser and handler.
  void OnBytes(size_t n);
  void OnEof();
  // What a failed socket means, by how far the exchange got.
  HttpFailure SocketFailure() const;
  // Arms the read event: the silence allowed before the next byte (0: none).
  void ReadTimeout(int seconds);

  event_base* base_;
  Address address_;
  HttpHandler* handler_;
  BuffereventPtr bev_;  // the socket (closed with it), connect and writes
  EventPtr read_ev_;    // reads on bev_'s socket, freed before it
  ResponseParser parser_;
  uint64_t gen_ = 0;          // bumped whenever bev_ is freed
  bool connected_ = false;    // the TCP handshake completed
  bool busy_ = false;         // a request is outstanding
  bool got_bytes_ = false;    // some of the current response has arrived
  bool in_read_ = false;
  bool close_pending_ = false;
  int body_idle_s_ = 0;
  int64_t arrival_ns_ = -1;
};

}  // namespace parley::loadgen
