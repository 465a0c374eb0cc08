#include "events/pacer.h"

#include <event2/event.h>

#include <algorithm>
#include <cmath>

#include "schema/storage.h"

namespace parley::events {

PageBucket::PageBucket(double pages_per_s, int64_t now_ms)
    : rate_(pages_per_s), burst_(2 * pages_per_s), pages_(2 * pages_per_s), at_ms_(now_ms) {}

double PageBucket::Level(int64_t now_ms) const {
  return std::min(burst_, pages_ + static_cast<double>(std::max<int64_t>(0, now_ms - at_ms_)) * rate_ / 1000);
}

int64_t PageBucket::Take(int64_t now_ms) {
  pages_ = Level(now_ms);
  at_ms_ = std::max(at_ms_, now_ms);
  pages_ -= 1;
  if (pages_ >= 0) return 0;
  return static_cast<int64_t>(std::ceil(-pages_ * 1000 / rate_));
}

void PageBucket::Refund(double pages) { pages_ = std::min(burst_, pages_ + std::clamp(pages, 0.0, 1.0)); }

bool PageBucket::Full(int64_t now_ms) const { return Level(now_ms) >= burst_; }

Pacer::Pacer(event_base* base, const Config& cfg, Stats& stats, std::function<void(uint64_t)> due)
    : cfg_(cfg), stats_(stats), due_(std::move(due)) {
  timer_.reset(evtimer_new(base, &Pacer::OnTimer, this));
}

int64_t Pacer::Take(int64_t user) {
  if (cfg_.catchup_pages_per_s == 0) return 0;
  const int64_t now = NowMs();
  if (now - pruned_ms_ >= 10 * 1000) {
    // Buckets of users who have caught up (refilled) are forgotten.
    std::erase_if(buckets_, [&](const auto& e) { return e.second.Full(now); });
    pruned_ms_ = now;
  }
  auto it = buckets_.try_emplace(user, static_cast<double>(cfg_.catchup_pages_per_s), now).first;
  return it->second.Take(now);
}

void Pacer::Hold(uint64_t conn, int64_t wait_ms) {
  ++stats_.polls_paced;
  held_.emplace(NowMs() + wait_ms, conn);
  Arm();
}

void Pacer::Built(int64_t user, size_t events) {
  auto it = buckets_.find(user);
  if (it == buckets_.end()) return;
  it->second.Refund(1.0 - static_cast<double>(std::min(events, kPollMax)) / static_cast<double>(kPollMax));
}

void Pacer::OnTimer(int, short, void* self) { static_cast<Pacer*>(self)->RunDue(); }

void Pacer::RunDue() {
  const int64_t now = NowMs();
  // Taken out first: building a page may hold another poll.
  std::vector<uint64_t> due;
  while (!held_.empty() && held_.begin()->first <= now) {
    due.push_back(held_.begin()->second);
    held_.erase(held_.begin());
  }
  for (uint64_t id : due) due_(id);
  Arm();
}

void Pacer::Arm() {
  if (held_.empty()) return;
  const int64_t wait = std::max<int64_t>(0, held_.begin()->first - NowMs());
  timeval tv{static_cast<time_t>(wait / 1000), static_cast<suseconds_t>((wait % 1000) * 1000)};
  evtimer_add(timer_.get(), &tv);
}

}  // namespace parley::events
