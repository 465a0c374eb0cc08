#include "tools/loadgen/sender.h"

#include "schema/json.h"

namespace parley::loadgen {

namespace {
constexpr int kRequestTimeoutS = 30;
}

Sender::Sender(Context& ctx, uint64_t index, std::string token)
    : ctx_(ctx), index_(index), token_(std::move(token)), conn_(ctx.base, ctx.opt->nchan ? ctx.pub : ctx.parley, this) {}

void Sender::Start() { ctx_.pacer->Enqueue(this); }

void Sender::Connect() {
  // Warm the kept-alive connection up with a request that changes nothing,
  // so the first timed send does not pay for the TCP handshake.
  const Options& o = *ctx_.opt;
  std::string req;
  if (o.nchan) {
    // GET on a publisher location returns channel information (404 when
    // the channel does not exist yet); it publishes nothing.
    req = "GET " + o.nchan_pub.path + " HTTP/1.1\r\nHost: " + o.nchan_pub.host_header + "\r\nAccept: text/json\r\n\r\n";
  } else {
    req = "GET " + JoinPath(o.url, "/api/me") + " HTTP/1.1\r\nHost: " + o.url.host_header +
          "\r\nAuthorization: Bearer " + token_ + "\r\n\r\n";
  }
  warming_ = true;
  if (!conn_.Request(req, kRequestTimeoutS, kRequestTimeoutS)) {
    warming_ = false;
    ready_ = true;  // sends will try again on their own
    ctx_.Error("socket");
  }
}

void Sender::Due() {
  if (conn_.busy()) {
    ++backlog_;
    ++ctx_.c.sends_late;
    return;
  }
  SendNext();
}

void Sender::SendNext() {
  const Options& o = *ctx_.opt;
  Stamp s;
  s.t_ns = WallNs();
  s.sender = index_;
  s.seq = seq_++;
  s.run = ctx_.run_id;
  g_ = ctx_.ledger.Add(s.t_ns, static_cast<uint32_t>(index_));
  s.g = g_;
  std::string text = FormatStamp(s);
  if (static_cast<int>(text.size()) < o.size) text.append(static_cast<size_t>(o.size) - text.size(), '.');
  if (ctx_.first_send_mono == 0) ctx_.first_send_mono = MonoNs();

  std::string body;
  std::string head;
  if (o.nchan) {
    body = std::move(text);
    head = "POST " + o.nchan_pub.path + " HTTP/1.1\r\nHost: " + o.nchan_pub.host_header +
           "\r\nContent-Type: text/plain\r\nAccept: text/json\r\n";
  } else {
    JsonWriter w;
    w.BeginObject().Key("text").String(text);
    w.Key("client_id").String("lg-" + std::to_string(ctx_.run_id) + "-" + std::to_string(g_)).EndObject();
    body = w.Take();
    head = "POST " + JoinPath(o.url, "/api/rooms/" + std::to_string(o.room) + "/messages") +
           " HTTP/1.1\r\nHost: " + o.url.host_header + "\r\nAuthorization: Bearer " + token_ +
           "\r\nContent-Type: application/json\r\n";
  }
  request_ = head + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  attempts_ = 0;
  Write();
}

void Sender::Write() {
  ++attempts_;
  status_ = 0;
  sent_mono_ = MonoNs();
  if (!conn_.Request(request_, kRequestTimeoutS, kRequestTimeoutS)) {
    ctx_.Error("socket");
    ctx_.ledger.Fail(g_);
    ++ctx_.c.sends_failed;
  }
}

void Sender::OnHead(const ResponseParser& r) { status_ = r.status(); }

void Sender::OnDone(const ResponseParser&) {
  if (warming_) {
    warming_ = false;
    ready_ = true;
    if (status_ >= 500 || status_ == 401) ctx_.Error("warmup_http_" + std::to_string(status_));
    return;
  }
  bool ok = ctx_.opt->nchan ? (status_ == 201 || status_ == 202) : (status_ == 201 || status_ == 200);
  if (ok) {
    ctx_.ledger.Ack(g_);
    ++ctx_.c.sends_ok;
    ctx_.send_rtt_us.Record(static_cast<uint64_t>((MonoNs() - sent_mono_) / 1000));
  } else {
    ctx_.ledger.Fail(g_);
    ++ctx_.c.sends_failed;
    ctx_.Error("send_http_" + std::to_string(status_));
  }
  Finished();
}

void Sender::OnFail(HttpFailure f) {
  if (warming_) {
    warming_ = false;
    ready_ = true;
    ctx_.Error(std::string("warmup_") + FailureName(f));
    return;
  }
  if ((f == HttpFailure::kReset || f == HttpFailure::kConnect) && attempts_ < 2 && !ctx_.stopping) {
    ++ctx_.c.sends_retried;
    Write();
    return;
  }
  ctx_.ledger.Fail(g_);
  ++ctx_.c.sends_failed;
  ctx_.Error(std::string("send_") + FailureName(f));
  Finished();
}

void Sender::Finished() {
  if (backlog_ > 0 && ctx_.sending) {
    --backlog_;
    SendNext();
  }
}

}  // namespace parley::loadgen
