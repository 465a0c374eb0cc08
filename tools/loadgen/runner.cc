#include "tools/loadgen/runner.h"

#include <event2/event.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <random>

#include "schema/json.h"

namespace parley::loadgen {

namespace {

void TickCb(evutil_socket_t, short, void* self) { static_cast<Runner*>(self)->OnTick(); }
constexpr int kTickMs = 5;

double Seconds(int64_t ns) { return static_cast<double>(ns) / 1e9; }

// JsonWriter has no doubles: numbers with three decimals go in raw.
std::string Num(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3f", std::isfinite(v) ? v : 0.0);
  return buf;
}

std::string Ms(uint64_t us) { return Num(static_cast<double>(us) / 1000.0); }

}  // namespace

Runner::~Runner() {
  // Clients (and their bufferevents and timers) go before the loop they use.
  subs_.clear();
  pollers_.clear();
  senders_.clear();
  tick_.reset();
  pacer_.reset();
}

double Runner::Bound() const {
  return connect_bound_s_ + opt_.duration_s + (opt_.hold_only ? 0 : opt_.drain_s) + 10;
}

int Runner::Run(const std::vector<std::string>& tokens) {
  base_.reset(event_base_new());
  if (!base_) {
    std::fprintf(stderr, "parley-loadgen: event_base_new failed\n");
    return 1;
  }
  ctx_.base = base_.get();
  ctx_.opt = &opt_;
  if (!opt_.nchan) ctx_.parley = ResolveTarget(opt_.url);
  if (opt_.nchan) {
    ctx_.pub = ResolveTarget(opt_.nchan_pub);
    ctx_.sub = ResolveTarget(opt_.nchan_sub);
  }
  std::random_device rd;
  ctx_.run_id = (uint64_t{rd()} << 20 ^ rd()) % 1000000000000ULL;
  pacer_ = std::make_unique<Pacer>(base_.get(), opt_.connect_rate);
  ctx_.pacer = pacer_.get();

  auto token = [&](size_t i) { return tokens.empty() ? std::string() : tokens[i % tokens.size()]; };
  for (int i = 0; i < opt_.sse; ++i) subs_.push_back(std::make_unique<Subscriber>(ctx_, token(i)));
  for (int i = 0; i < opt_.pollers; ++i) pollers_.push_back(std::make_unique<Poller>(ctx_, token(opt_.sse + i)));
  if (!opt_.hold_only) {
    for (int i = 0; i < opt_.senders; ++i) senders_.push_back(std::make_unique<Sender>(ctx_, i, token(i)));
  }

  size_t conns = subs_.size() + pollers_.size() + senders_.size();
  connect_bound_s_ = opt_.connect_timeout_s >= 0 ? opt_.connect_timeout_s
                                                 : static_cast<double>(conns) / opt_.connect_rate + 20;
  alarm(static_cast<unsigned>(std::ceil(Bound())));

  start_mono_ = phase_mono_ = MonoNs();
  // SSE subscribers and pollers interleaved in proportion, so a limit hit
  // half-way (nginx out of connections) does not fall on one kind only.
  for (size_t i = 0, j = 0; i < subs_.size() || j < pollers_.size();) {
    if (j >= pollers_.size() || (i < subs_.size() && i * pollers_.size() <= j * subs_.size())) {
      subs_[i++]->Start();
    } else {
      pollers_[j++]->Start();
    }
  }
  for (auto& s : senders_) s->Start();
  tick_.reset(event_new(base_.get(), -1, EV_PERSIST, &TickCb, this));
  timeval tv{0, kTickMs * 1000};
  event_add(tick_.get(), &tv);
  event_base_dispatch(base_.get());

  std::string line = Report();
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  return 0;
}

bool Runner::ConnectSettled() const {
  for (auto& s : subs_) {
    if (!s->settled()) return false;
  }
  for (auto& p : pollers_) {
    if (!p->settled()) return false;
  }
  for (auto& s : senders_) {
    if (!s->ready()) return false;
  }
  return true;
}

bool Runner::Drained() const {
  if (ctx_.ledger.pending() > 0) return false;
  for (auto& s : senders_) {
    if (!s->idle()) return false;
  }
  for (auto& s : subs_) {
    Ledger::Owed o = ctx_.ledger.Check(s->receipts());
    if (o.missing + o.undelivered > 0) return false;
  }
  for (auto& p : pollers_) {
    Ledger::Owed o = ctx_.ledger.Check(p->receipts());
    if (o.missing + o.undelivered > 0) return false;
  }
  return true;
}

void Runner::Enter(Phase p) {
  phase_ = p;
  phase_mono_ = MonoNs();
  switch (p) {
    case Phase::kConnect:
      break;
    case Phase::kHold:
    case Phase::kSend:
      connected_mono_ = phase_mono_;
      ctx_.sending = p == Phase::kSend;
      break;
    case Phase::kDrain:
      ctx_.sending = false;
      send_end_mono_ = phase_mono_;
      for (auto& s : senders_) s->StopSending();
      break;
    case Phase::kDone:
      ctx_.sending = false;
      for (auto& s : subs_) held_sse_ += s->live() ? 1 : 0;
      for (auto& q : pollers_) held_poll_ += q->live() ? 1 : 0;
      ctx_.stopping = true;
      pacer_->Clear();
      for (auto& s : subs_) s->SealWindow();
      for (auto& q : pollers_) q->SealWindow();
      event_base_loopbreak(base_.get());
      break;
  }
}

void Runner::SendDue() {
  if (senders_.empty()) return;
  double elapsed = Seconds(MonoNs() - phase_mono_);
  auto target = static_cast<uint64_t>(std::min(elapsed, opt_.duration_s) * opt_.rate);
  while (due_ < target) {
    ++due_;
    senders_[next_sender_]->Due();
    next_sender_ = (next_sender_ + 1) % senders_.size();
  }
}

void Runner::OnTick() {
  int64_t now = MonoNs();
  double in_phase = Seconds(now - phase_mono_);
  switch (phase_) {
    case Phase::kConnect:
      if (ConnectSettled() || in_phase >= connect_bound_s_) Enter(opt_.hold_only ? Phase::kHold : Phase::kSend);
      break;
    case Phase::kHold:
      if (in_phase >= opt_.duration_s) Enter(Phase::kDone);
      break;
    case Phase::kSend:
      SendDue();
      if (in_phase >= opt_.duration_s) Enter(Phase::kDrain);
      break;
    case Phase::kDrain:
      // Drained() walks the ledger for every receiver: only a few times a
      // second, and only once deliveries have paused (while they still flow
      // the answer is almost surely no).
      if (now - drain_check_mono_ >= 250'000'000 && now - ctx_.last_delivery_mono >= 100'000'000) {
        drain_check_mono_ = now;
        if (Drained()) {
          Enter(Phase::kDone);
          break;
        }
      }
      if (in_phase >= opt_.drain_s) Enter(Phase::kDone);
      break;
    case Phase::kDone:
      break;
  }
}

std::string Runner::Report() const {
  const Counters& c = ctx_.c;
  JsonWriter w;
  w.BeginObject();
  if (!opt_.label.empty()) w.Key("label").String(opt_.label);
  w.Key("target").String(opt_.nchan ? "nchan" : "parley");
  w.Key("transport").String(opt_.pollers == 0 ? "sse" : opt_.sse == 0 ? "poll" : "mixed");

  w.Key("settings").BeginObject();
  w.Key("sse").Int(opt_.sse).Key("pollers").Int(opt_.pollers).Key("senders").Int(opt_.senders);
  w.Key("rate").Raw(Num(opt_.rate)).Key("room").Int(opt_.room);
  w.Key("duration_s").Raw(Num(opt_.duration_s)).Key("drain_s").Raw(Num(opt_.drain_s));
  w.Key("connect_rate").Raw(Num(opt_.connect_rate)).Key("poll_timeout_s").Int(opt_.poll_timeout_s);
  w.Key("size").Int(opt_.size).Key("hold_only").Bool(opt_.hold_only);
  w.EndObject();

  // established: live at least once; failed: gave up without ever being
  // live; pending: neither (still connecting when the phase bound hit).
  size_t sse_est = 0, sse_failed = 0, poll_est = 0, poll_failed = 0;
  Ledger::Owed owed;
  auto add = [&owed](const Ledger::Owed& o) {
    owed.expected += o.expected;
    owed.missing += o.missing;
    owed.undelivered += o.undelivered;
  };
  for (auto& s : subs_) {
    sse_est += s->established() ? 1 : 0;
    sse_failed += !s->established() && s->gave_up() ? 1 : 0;
    add(ctx_.ledger.Check(s->receipts()));
  }
  for (auto& p : pollers_) {
    poll_est += p->established() ? 1 : 0;
    poll_failed += !p->established() && p->gave_up() ? 1 : 0;
    add(ctx_.ledger.Check(p->receipts()));
  }
  double connect_s = Seconds((connected_mono_ ? connected_mono_ : MonoNs()) - start_mono_);
  w.Key("connect_s").Raw(Num(connect_s));
  w.Key("subscribers").BeginObject();
  w.Key("requested").Int(opt_.sse).Key("established").Int(sse_est).Key("failed").Int(sse_failed);
  w.Key("pending").Int(opt_.sse - static_cast<int64_t>(sse_est + sse_failed));
  w.Key("live_at_end").Int(held_sse_).EndObject();
  w.Key("pollers").BeginObject();
  w.Key("requested").Int(opt_.pollers).Key("established").Int(poll_est).Key("failed").Int(poll_failed);
  w.Key("pending").Int(opt_.pollers - static_cast<int64_t>(poll_est + poll_failed));
  w.Key("live_at_end").Int(held_poll_);
  w.Key("polls_completed").Int(c.polls_completed);
  double send_window = send_end_mono_ ? Seconds(send_end_mono_ - connected_mono_) : 0;
  w.Key("polls_per_s").Raw(Num(send_window > 0 ? static_cast<double>(c.polls_in_window) / send_window : 0));
  w.EndObject();
  w.Key("reconnects").Int(c.reconnects);

  if (opt_.hold_only) {
    w.Key("held").Int(held_sse_ + held_poll_);
    w.Key("held_s").Raw(Num(opt_.duration_s));
  } else {
    w.Key("sends").BeginObject();
    w.Key("due").Int(due_).Key("ok").Int(c.sends_ok).Key("failed").Int(c.sends_failed);
    w.Key("late").Int(c.sends_late).Key("retried").Int(c.sends_retried);
    w.Key("unanswered").Int(ctx_.ledger.pending());
    w.Key("rtt_ms").BeginObject();
    w.Key("p50").Raw(Ms(ctx_.send_rtt_us.Percentile(50))).Key("p99").Raw(Ms(ctx_.send_rtt_us.Percentile(99)));
    w.Key("max").Raw(Ms(ctx_.send_rtt_us.max())).EndObject();
    w.EndObject();
    w.Key("send_window_s").Raw(Num(send_window));
    w.Key("deliveries").Int(c.deliveries);
    w.Key("expected").Int(owed.expected);
    double span = ctx_.first_send_mono && ctx_.last_delivery_mono > ctx_.first_send_mono
                      ? Seconds(ctx_.last_delivery_mono - ctx_.first_send_mono)
                      : 0;
    w.Key("deliveries_per_s").Raw(Num(span > 0 ? static_cast<double>(c.deliveries) / span : 0));
    w.Key("missing").Int(owed.missing).Key("undelivered").Int(owed.undelivered);
    w.Key("duplicates").Int(c.duplicates).Key("foreign").Int(c.foreign);
    const Histogram& h = ctx_.latency_us;
    w.Key("latency_ms").BeginObject();
    w.Key("p50").Raw(Ms(h.Percentile(50))).Key("p90").Raw(Ms(h.Percentile(90)));
    w.Key("p99").Raw(Ms(h.Percentile(99))).Key("max").Raw(Ms(h.max()));
    w.Key("mean").Raw(Num(h.mean() / 1000.0)).EndObject();
    // The same deliveries, to when the kernel queued them: the latency less
    // the wait for this process's loop (HttpConn::arrival_ns).
    const Histogram& a = ctx_.arrival_us;
    w.Key("arrival_latency_ms").BeginObject();
    w.Key("count").Int(static_cast<int64_t>(a.count()));
    w.Key("p50").Raw(Ms(a.Percentile(50))).Key("p90").Raw(Ms(a.Percentile(90)));
    w.Key("p99").Raw(Ms(a.Percentile(99))).Key("max").Raw(Ms(a.max()));
    w.Key("mean").Raw(Num(a.mean() / 1000.0)).EndObject();
  }
  w.Key("errors").BeginObject();
  for (const auto& [what, n] : c.errors) w.Key(what).Int(static_cast<int64_t>(n));
  w.EndObject();
  w.Key("elapsed_s").Raw(Num(Seconds(MonoNs() - start_mono_)));
  w.EndObject();
  return w.Take();
}

}  // namespace parley::loadgen
