#include "fcgi/gate.h"

namespace parley::fcgi {

Gate::Gate(int slots) {
  for (int seat = (slots < 1 ? 1 : slots) - 1; seat >= 0; --seat) free_.push_back(seat);
}

Gate::Pass& Gate::Pass::operator=(Pass&& o) noexcept {
  if (this != &o) {
    Leave();
    gate_ = o.gate_;
    seat_ = o.seat_;
    o.gate_ = nullptr;
  }
  return *this;
}

void Gate::Pass::Leave() {
  if (gate_ == nullptr) return;
  gate_->Release(seat_);
  gate_ = nullptr;
}

Gate::Pass Gate::Acquire(bool first) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!free_.empty() && first_.empty() && (first || queue_.empty())) {
    int seat = free_.back();
    free_.pop_back();
    return Pass(this, seat);
  }
  Waiter me;
  (first ? first_ : queue_).push_back(&me);
  me.cv.wait(lock, [&me] { return me.seat >= 0; });
  return Pass(this, me.seat);
}

size_t Gate::Waiting() {
  std::lock_guard<std::mutex> lock(mu_);
  return first_.size() + queue_.size();
}

void Gate::Release(int seat) {
  std::lock_guard<std::mutex> lock(mu_);
  std::deque<Waiter*>& from = first_.empty() ? queue_ : first_;
  if (from.empty()) {
    free_.push_back(seat);
    return;
  }
  Waiter* next = from.front();
  from.pop_front();
  next->seat = seat;
  // Under the lock: the waiter's stack frame lives until it has seen its
  // seat, which it can only do once we release the lock.
  next->cv.notify_one();
}

}  // namespace parley::fcgi
