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

int64_t PageBudgets::Take(const PaceKey& key, int64_t now_ms) {
  int64_t wait = 0;
  if (user_rate_ > 0) wait = users_.try_emplace(key.user, user_rate_, now_ms).first->second.Take(now_ms);
  if (address_rate_ > 0 && key.address != 0) {
    wait = std::max(wait, addresses_.try_emplace(key.address, address_rate_, now_ms).first->second.Take(now_ms));
  }
  return wait;
}

void PageBudgets::Built(const PaceKey& key, double used) {
  const double unused = 1.0 - std::clamp(used, 0.0, 1.0);
  if (auto it = users_.find(key.user); it != users_.end()) it->second.Refund(unused);
  if (auto it = addresses_.find(key.address); it != addresses_.end()) it->second.Refund(unused);
}

void PageBudgets::Prune(int64_t now_ms) {
  std::erase_if(users_, [&](const auto& e) { return e.second.Full(now_ms); });
  std::erase_if(addresses_, [&](const auto& e) { return e.second.Full(now_ms); });
}

double PageUsed(size_t events, size_t bytes, size_t page_bytes) {
  const double by_events = static_cast<double>(events) / static_cast<double>(kPollMax);
  const double by_bytes = page_bytes ? static_cast<double>(bytes) / static_cast<double>(page_bytes) : 0;
  return std::min(1.0, std::max(by_events, by_bytes));
}

Pacer::Pacer(event_base* base, const Config& cfg, std::function<void(uint64_t)> due)
    : due_(std::move(due)),
      budgets_(static_cast<double>(cfg.catchup_pages_per_s),
               cfg.catchup_pages_per_s == 0            ? 0.0
               : cfg.catchup_address_pages_per_s < 0   ? 4.0 * cfg.catchup_pages_per_s
                                                       : static_cast<double>(cfg.catchup_address_pages_per_s)) {
  timer_.reset(evtimer_new(base, &Pacer::OnTimer, this));
}

int64_t Pacer::Take(const PaceKey& key) {
  const int64_t now = NowMs();
  if (now - pruned_ms_ >= 10 * 1000) {
    budgets_.Prune(now);
    pruned_ms_ = now;
  }
  return budgets_.Take(key, now);
}

void Pacer::Hold(uint64_t conn, int64_t wait_ms) {
  held_.emplace(NowMs() + wait_ms, conn);
  Arm();
}

void Pacer::Built(const PaceKey& key, double used) { budgets_.Built(key, used); }

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
