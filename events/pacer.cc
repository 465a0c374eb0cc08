#include "events/pacer.h"

#include <event2/event.h>

#include <algorithm>
#include <cmath>

#include "events/clock.h"

namespace parley::events {

PageBucket::PageBucket(double pages_per_s, int64_t now_ms)
    : rate_(pages_per_s), burst_(2 * pages_per_s), pages_(2 * pages_per_s), at_ms_(now_ms) {}

double PageBucket::Level(int64_t now_ms) const {
  return std::min(burst_, pages_ + static_cast<double>(std::max<int64_t>(0, now_ms - at_ms_)) * rate_ / 1000);
}

int64_t PageBucket::Wait(int64_t now_ms) const {
  const double after = Level(now_ms) - 1;
  if (after >= 0) return 0;
  return static_cast<int64_t>(std::ceil(-after * 1000 / rate_));
}

int64_t PageBucket::Take(int64_t now_ms) {
  const int64_t wait = Wait(now_ms);
  if (wait > kMaxWaitMs) return kNoRoom;  // so the debt never passes the bound
  pages_ = Level(now_ms) - 1;
  at_ms_ = std::max(at_ms_, now_ms);
  return wait;
}

void PageBucket::Refund(double pages) { pages_ = std::min(burst_, pages_ + std::clamp(pages, 0.0, 1.0)); }

bool PageBucket::Full(int64_t now_ms) const { return Level(now_ms) >= burst_; }

int64_t PageBudgets::Take(const PaceKey& key, int64_t now_ms) {
  PageBucket* user = user_rate_ > 0 ? &users_.try_emplace(key.user, user_rate_, now_ms).first->second : nullptr;
  PageBucket* address = address_rate_ > 0 && key.address != 0
                            ? &addresses_.try_emplace(key.address, address_rate_, now_ms).first->second
                            : nullptr;
  // Both or neither: a page refused by one bucket must not cost the other.
  const int64_t wait = std::max(user ? user->Wait(now_ms) : 0, address ? address->Wait(now_ms) : 0);
  if (wait > kMaxWaitMs) return kNoRoom;
  if (user) user->Take(now_ms);
  if (address) address->Take(now_ms);
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

Pacer::Pacer(event_base* base, const Config& cfg, std::function<bool(uint64_t)> due)
    : due_(std::move(due)),
      budgets_(static_cast<double>(cfg.catchup_pages_per_s),
               cfg.catchup_pages_per_s == 0            ? 0.0
               : cfg.catchup_address_pages_per_s < 0   ? 4.0 * cfg.catchup_pages_per_s
                                                       : static_cast<double>(cfg.catchup_address_pages_per_s)) {
  timer_.reset(evtimer_new(base, &Pacer::OnTimer, this));
}

int64_t Pacer::Take(const PaceKey& key) {
  const int64_t now = MonoMs();
  if (now - pruned_ms_ >= 10 * 1000) {
    budgets_.Prune(now);
    pruned_ms_ = now;
  }
  return budgets_.Take(key, now);
}

void Pacer::Hold(uint64_t conn, const PaceKey& key, int64_t wait_ms) {
  const bool taken = wait_ms != kNoRoom;
  Release(conn);  // held once at a time; were it held already, that page was never built
  auto at = due_at_.emplace(MonoMs() + (taken ? wait_ms : kMaxWaitMs), conn);
  held_.emplace(conn, Held{key, taken, at});
  Arm();
}

void Pacer::Release(uint64_t conn) {
  auto it = held_.find(conn);
  if (it == held_.end()) return;
  // Nothing was read for it: the whole page goes back, or the one that
  // went (an aborted poll, a closed tab) would stay owed, and owed again by
  // the next, until every other client of the address waited minutes.
  if (it->second.taken) budgets_.Built(it->second.key, 0.0);
  due_at_.erase(it->second.at);
  held_.erase(it);
}

void Pacer::Built(const PaceKey& key, double used) { budgets_.Built(key, used); }

void Pacer::OnTimer(int, short, void* self) { static_cast<Pacer*>(self)->RunDue(); }

void Pacer::RunDue() {
  const int64_t now = MonoMs();
  // Taken out first: building a page may hold another poll.
  std::vector<std::pair<uint64_t, Held>> due;
  while (!due_at_.empty() && due_at_.begin()->first <= now) {
    if (auto it = held_.find(due_at_.begin()->second); it != held_.end()) {
      due.emplace_back(it->first, it->second);
      held_.erase(it);
    }
    due_at_.erase(due_at_.begin());
  }
  for (const auto& [id, h] : due) {
    if (!h.taken) {
      // Found no room when it asked: asks again now, held again if need be.
      if (int64_t wait = budgets_.Take(h.key, now); wait != 0) {
        Hold(id, h.key, wait);
        continue;
      }
    }
    if (!due_(id)) budgets_.Built(h.key, 0.0);  // answered while held: nothing read
  }
  Arm();
}

void Pacer::Arm() {
  if (due_at_.empty()) return;
  const int64_t wait = std::max<int64_t>(0, due_at_.begin()->first - MonoMs());
  timeval tv{static_cast<time_t>(wait / 1000), static_cast<suseconds_t>((wait % 1000) * 1000)};
  evtimer_add(timer_.get(), &tv);
}

}  // namespace parley::events
