#include "tools/loadgen/subscriber.h"

#include <event2/event.h>

#include <algorithm>

namespace parley::loadgen {

namespace {
void RetryCb(evutil_socket_t, short, void* self) { static_cast<Subscriber*>(self)->OnRetryTimer(); }
constexpr int kHeadTimeoutS = 20;
constexpr int kParleyIdleS = 60;   // the daemon sends a comment every 15 s
constexpr int kDefaultRetryMs = 1000;
}  // namespace

Subscriber::Subscriber(Context& ctx, std::string token)
    : ctx_(ctx), token_(std::move(token)), conn_(ctx.base, ctx.opt->nchan ? ctx.sub : ctx.parley, this) {}

void Subscriber::Start() {
  state_ = State::kQueued;
  ctx_.pacer->Enqueue(this);
}

void Subscriber::Stop() {
  conn_.Close();
  retry_ev_.reset();
  if (state_ != State::kGaveUp) state_ = State::kIdle;
}

void Subscriber::Connect() {
  if (ctx_.stopping || state_ != State::kQueued) return;
  const Options& o = *ctx_.opt;
  std::string req = "GET ";
  if (o.nchan) {
    req += o.nchan_sub.path;
    req += " HTTP/1.1\r\nHost: " + o.nchan_sub.host_header;
  } else {
    req += JoinPath(o.url, "/events/stream");
    req += " HTTP/1.1\r\nHost: " + o.url.host_header;
    req += "\r\nAuthorization: Bearer " + token_;
  }
  req += "\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n";
  if (!last_id_.empty()) req += "Last-Event-ID: " + last_id_ + "\r\n";
  req += "\r\n";
  parser_ = SseParser();
  state_ = State::kOpening;
  if (!conn_.Request(req, kHeadTimeoutS, o.nchan ? 0 : kParleyIdleS)) {
    ctx_.Error("socket");
    Retry(true);
  }
}

void Subscriber::OnHead(const ResponseParser& r) {
  if (r.status() != 200 || r.content_type().find("text/event-stream") == std::string::npos) {
    ctx_.Error("http_" + std::to_string(r.status()));
    conn_.Close();
    Retry(true);
    return;
  }
  // Nchan has no hello: the subscription is in place once the head is sent.
  if (ctx_.opt->nchan) BecomeLive();
}

void Subscriber::OnBody(std::string_view bytes) {
  if (!parser_.Feed(bytes, *this)) {
    ctx_.Error("sse_malformed");
    conn_.Close();
    Retry(state_ != State::kLive);
  }
}

void Subscriber::OnEvent(const SseEvent& ev) {
  if (ev.has_id) last_id_ = ev.id;
  if (ev.type == "hello") {
    if (state_ == State::kOpening) BecomeLive();
    return;
  }
  size_t pos = 0;
  while (auto s = NextStamp(ev.data, &pos)) ctx_.Deliver(receipts_, *s, conn_.arrival_ns());
}

void Subscriber::BecomeLive() {
  if (receipts_.since_ns < 0) {
    receipts_.since_ns = WallNs();
  } else {
    ++ctx_.c.reconnects;
  }
  state_ = State::kLive;
  failures_ = 0;
  dropped_ns_ = -1;
}

void Subscriber::OnDone(const ResponseParser&) {
  // The server ended the stream (lifetime rotation, shutdown): resume.
  Retry(state_ != State::kLive);
}

void Subscriber::OnFail(HttpFailure f) {
  if (ctx_.stopping) return;
  ctx_.Error(std::string(state_ == State::kLive ? "dropped_" : "") + FailureName(f));
  Retry(state_ != State::kLive);
}

void Subscriber::Retry(bool failure) {
  if (ctx_.stopping) return;
  if (state_ == State::kLive) dropped_ns_ = WallNs();
  if (failure && ++failures_ > ctx_.opt->retries) {
    state_ = State::kGaveUp;
    if (receipts_.since_ns >= 0 && dropped_ns_ >= 0) receipts_.until_ns = dropped_ns_;
    return;
  }
  state_ = State::kRetrying;
  int ms = parser_.retry_ms() >= 0 ? std::min(parser_.retry_ms(), 2000) : kDefaultRetryMs;
  // Back off on repeated failures: 1x, 2x, 4x ... up to 8 s.
  if (failures_ > 1) ms = std::min(ms << std::min(failures_ - 1, 3), 8000);
  if (!retry_ev_) retry_ev_.reset(evtimer_new(ctx_.base, &RetryCb, this));
  timeval tv{ms / 1000, (ms % 1000) * 1000};
  evtimer_add(retry_ev_.get(), &tv);
}

void Subscriber::OnRetryTimer() {
  if (ctx_.stopping || state_ != State::kRetrying) return;
  state_ = State::kQueued;
  ctx_.pacer->Enqueue(this);
}

void Subscriber::SealWindow() {
  if (state_ != State::kLive && receipts_.since_ns >= 0 && dropped_ns_ >= 0) receipts_.until_ns = dropped_ns_;
}

}  // namespace parley::loadgen
