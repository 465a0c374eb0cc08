// An EventSource subscriber: GET /events/stream (or an Nchan EventSource
// location), parse the stream, hand every stamp to the ledger, and resume
// with Last-Event-ID when the stream drops, as a browser would.
//
// States: kQueued (waiting for the pacer) -> kOpening (request sent) ->
// kLive (Parley: after `hello`; Nchan: after the 200 head) -> kRetrying
// (a timer) -> kQueued ... ; kGaveUp after too many failed attempts in a
// row. A subscriber that was live once and dropped keeps its receipt window
// open: its resumed stream must still deliver everything.
#pragma once

#include <cstdint>
#include <string>

#include "tools/loadgen/context.h"
#include "tools/loadgen/handles.h"
#include "tools/loadgen/http_conn.h"
#include "tools/loadgen/ledger.h"
#include "tools/loadgen/pacer.h"
#include "tools/loadgen/sse_parser.h"

namespace parley::loadgen {

class Subscriber : public HttpHandler, public SseSink, public Connectable {
 public:
  enum class State { kIdle, kQueued, kOpening, kLive, kRetrying, kGaveUp };

  Subscriber(Context& ctx, std::string token);
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  void Start();       // queue for the pacer
  void Stop();        // close, never reconnect
  void Connect() override;

  State state() const { return state_; }
  bool live() const { return state_ == State::kLive; }
  bool established() const { return receipts_.since_ns >= 0; }
  bool gave_up() const { return state_ == State::kGaveUp; }
  // Settled for the connect phase: live, or given up.
  bool settled() const { return state_ == State::kLive || state_ == State::kGaveUp; }
  // Closes the receipt window of a subscriber that is not live (end of run).
  void SealWindow();
  const Receipts& receipts() const { return receipts_; }

  void OnRetryTimer();  // libevent callback target

 private:
  void OnHead(const ResponseParser& r) override;
  void OnBody(std::string_view bytes) override;
  void OnDone(const ResponseParser& r) override;
  void OnFail(HttpFailure f) override;
  void OnEvent(const SseEvent& ev) override;

  void BecomeLive();
  // The stream ended or failed; counts a failure unless it had been live.
  void Retry(bool failure);

  Context& ctx_;
  std::string token_;
  HttpConn conn_;
  SseParser parser_;
  State state_ = State::kIdle;
  Receipts receipts_;
  std::string last_id_;
  int failures_ = 0;        // failed attempts in a row
  int64_t dropped_ns_ = -1; // wall time the live stream last dropped
  EventPtr retry_ev_;
};

}  // namespace parley::loadgen
