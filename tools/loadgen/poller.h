// A long-poll subscriber: GET /events/poll without a cursor (answered at
// once with next = head: from then on it is established), then again and
// again with since=next, on one kept-alive connection. Every completed poll
// is counted; every stamp goes to the ledger, so a gap between two polls
// shows up as missing and an overlap as duplicates.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "tools/loadgen/context.h"
#include "tools/loadgen/handles.h"
#include "tools/loadgen/http_conn.h"
#include "tools/loadgen/ledger.h"
#include "tools/loadgen/pacer.h"

namespace parley::loadgen {

class Poller : public HttpHandler, public Connectable {
 public:
  enum class State { kIdle, kQueued, kPolling, kRetrying, kGaveUp };

  Poller(Context& ctx, std::string token);
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  void Start();
  void Stop();
  void Connect() override;

  bool established() const { return receipts_.since_ns >= 0; }
  bool gave_up() const { return state_ == State::kGaveUp; }
  // Established and with a poll outstanding (or about to be).
  bool live() const { return established() && state_ == State::kPolling; }
  bool settled() const { return live() || state_ == State::kGaveUp; }
  void SealWindow();
  const Receipts& receipts() const { return receipts_; }

  void OnRetryTimer();

 private:
  void OnHead(const ResponseParser& r) override;
  void OnBody(std::string_view bytes) override;
  void OnDone(const ResponseParser& r) override;
  void OnFail(HttpFailure f) override;

  void Poll();
  void Retry();

  Context& ctx_;
  std::string token_;
  HttpConn conn_;
  State state_ = State::kIdle;
  Receipts receipts_;
  std::optional<int64_t> cursor_;
  int status_ = 0;
  std::string body_;
  int failures_ = 0;
  int64_t dropped_ns_ = -1;
  EventPtr retry_ev_;
};

}  // namespace parley::loadgen
