#include "tools/loadgen/ledger.h"

#include <algorithm>

namespace parley::loadgen {

bool Receipts::Mark(uint64_t g) {
  size_t word = g / 64;
  if (word >= bits_.size()) bits_.resize(word + 1 + bits_.size() / 2, 0);
  uint64_t bit = uint64_t{1} << (g % 64);
  if (bits_[word] & bit) return false;
  bits_[word] |= bit;
  ++unique_;
  return true;
}

bool Receipts::Has(uint64_t g) const {
  size_t word = g / 64;
  return word < bits_.size() && (bits_[word] & (uint64_t{1} << (g % 64))) != 0;
}

uint64_t Ledger::Add(int64_t send_ns, uint32_t sender) {
  sent_.push_back(Sent{send_ns, sender, State::kPending});
  senders_ = std::max<size_t>(senders_, size_t{sender} + 1);
  return sent_.size() - 1;
}

void Ledger::Ack(uint64_t g) {
  if (g >= sent_.size() || sent_[g].state != State::kPending) return;
  sent_[g].state = State::kAcked;
  ++acked_;
}

void Ledger::Fail(uint64_t g) {
  if (g >= sent_.size() || sent_[g].state != State::kPending) return;
  sent_[g].state = State::kFailed;
  ++failed_;
}

Ledger::Owed Ledger::Check(const Receipts& r) const {
  Owed o;
  if (r.since_ns < 0) return o;
  // Newest first: once a sender's message has been seen, every older owed
  // message of that sender that is absent was skipped.
  std::vector<bool> seen_later(senders_, false);
  for (uint64_t g = sent_.size(); g-- > 0;) {
    const Sent& s = sent_[g];
    bool got = r.Has(g);
    if (got) seen_later[s.sender] = true;
    if (s.state != State::kAcked || s.send_ns < r.since_ns || s.send_ns >= r.until_ns) continue;
    ++o.expected;
    if (got) continue;
    if (seen_later[s.sender]) {
      ++o.missing;
    } else {
      ++o.undelivered;
    }
  }
  return o;
}

}  // namespace parley::loadgen
