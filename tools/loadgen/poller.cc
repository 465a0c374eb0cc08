#include "tools/loadgen/poller.h"

#include <event2/event.h>

#include <algorithm>

namespace parley::loadgen {

namespace {
void PollRetryCb(evutil_socket_t, short, void* self) { static_cast<Poller*>(self)->OnRetryTimer(); }
constexpr size_t kMaxBody = 8 << 20;
}  // namespace

Poller::Poller(Context& ctx, std::string token) : ctx_(ctx), token_(std::move(token)), conn_(ctx.base, ctx.parley, this) {}

void Poller::Start() {
  state_ = State::kQueued;
  ctx_.pacer->Enqueue(this);
}

void Poller::Stop() {
  conn_.Close();
  retry_ev_.reset();
  if (state_ != State::kGaveUp) state_ = State::kIdle;
}

void Poller::Connect() {
  if (ctx_.stopping || state_ != State::kQueued) return;
  state_ = State::kPolling;
  Poll();
}

void Poller::Poll() {
  const Options& o = *ctx_.opt;
  std::string req = "GET " + JoinPath(o.url, "/events/poll");
  if (cursor_) {
    req += "?since=" + std::to_string(*cursor_) + "&timeout=" + std::to_string(o.poll_timeout_s);
  }
  req += " HTTP/1.1\r\nHost: " + o.url.host_header + "\r\nAuthorization: Bearer " + token_ + "\r\n\r\n";
  status_ = 0;
  body_.clear();
  if (!conn_.Request(req, o.poll_timeout_s + 30, o.poll_timeout_s + 30)) {
    ctx_.Error("socket");
    Retry();
  }
}

void Poller::OnHead(const ResponseParser& r) { status_ = r.status(); }

void Poller::OnBody(std::string_view bytes) {
  if (body_.size() + bytes.size() > kMaxBody) return;  // flagged in OnDone by the missing cursor
  body_.append(bytes);
}

void Poller::OnDone(const ResponseParser&) {
  if (ctx_.stopping) return;
  std::optional<int64_t> next = status_ == 200 ? PollNext(body_) : std::nullopt;
  if (!next) {
    ctx_.Error(status_ == 200 ? "poll_malformed" : "http_" + std::to_string(status_));
    conn_.Close();
    ++failures_;
    Retry();
    return;
  }
  ++ctx_.c.polls_completed;
  if (ctx_.sending) ++ctx_.c.polls_in_window;
  if (!established()) {
    receipts_.since_ns = WallNs();
  } else if (dropped_ns_ >= 0) {
    ++ctx_.c.reconnects;
  }
  dropped_ns_ = -1;
  failures_ = 0;
  size_t pos = 0;
  while (auto s = NextStamp(body_, &pos)) ctx_.Deliver(receipts_, *s, conn_.arrival_ns());
  cursor_ = next;
  Poll();
}

void Poller::OnFail(HttpFailure f) {
  if (ctx_.stopping) return;
  ctx_.Error(std::string(established() ? "poll_" : "") + FailureName(f));
  ++failures_;
  Retry();
}

void Poller::Retry() {
  if (ctx_.stopping) return;
  if (established() && dropped_ns_ < 0) dropped_ns_ = WallNs();
  if (failures_ > ctx_.opt->retries) {
    state_ = State::kGaveUp;
    if (established()) receipts_.until_ns = dropped_ns_;
    return;
  }
  state_ = State::kRetrying;
  int ms = std::min(1000 << std::min(std::max(failures_ - 1, 0), 3), 8000);
  if (!retry_ev_) retry_ev_.reset(evtimer_new(ctx_.base, &PollRetryCb, this));
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  evtimer_add(retry_ev_.get(), &tv);
}

void Poller::OnRetryTimer() {
  if (ctx_.stopping || state_ != State::kRetrying) return;
  state_ = State::kQueued;
  ctx_.pacer->Enqueue(this);
}

void Poller::SealWindow() {
  if (state_ != State::kPolling && established() && dropped_ns_ >= 0) receipts_.until_ns = dropped_ns_;
}

}  // namespace parley::loadgen
