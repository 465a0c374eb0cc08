#include "tools/loadgen/pacer.h"

#include <event2/event.h>

#include <algorithm>

#include "tools/loadgen/clock.h"

namespace parley::loadgen {

namespace {
void RefillCb(evutil_socket_t, short, void* self) { static_cast<Pacer*>(self)->OnTick(); }
constexpr int kRefillMs = 5;
}  // namespace

Pacer::Pacer(event_base* base, double rate) : rate_(rate), last_ns_(MonoNs()) {
  tick_.reset(event_new(base, -1, EV_PERSIST, &RefillCb, this));
  timeval tv{0, kRefillMs * 1000};
  event_add(tick_.get(), &tv);
}

void Pacer::Enqueue(Connectable* c) { queue_.push_back(c); }

void Pacer::OnTick() {
  int64_t now = MonoNs();
  // A burst allowance of one tick's worth (at least one connection), so a
  // slow tick does not turn into a later burst.
  double cap = std::max(1.0, rate_ * kRefillMs / 1000.0);
  tokens_ = std::min(cap, tokens_ + rate_ * static_cast<double>(now - last_ns_) / 1e9);
  last_ns_ = now;
  while (tokens_ >= 1 && !queue_.empty()) {
    Connectable* c = queue_.front();
    queue_.pop_front();
    tokens_ -= 1;
    c->Connect();
  }
}

}  // namespace parley::loadgen
