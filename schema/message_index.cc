#include "schema/message_index.h"

#include <algorithm>

namespace parley {

MessageIndex::MessageIndex(std::vector<Message>& messages) {
  by_id_.reserve(messages.size());
  for (Message& m : messages) by_id_.emplace_back(m.id, &m);
  std::sort(by_id_.begin(), by_id_.end());
  for (const auto& [id, m] : by_id_) {
    if (ranges_.empty() || id - ranges_.back().hi > kRunGap) {
      ranges_.push_back(Range{id, id});
    } else {
      ranges_.back().hi = id;
    }
  }
}

std::vector<MessageIndex::Entry>::const_iterator MessageIndex::Lower(int64_t id) const {
  return std::lower_bound(by_id_.begin(), by_id_.end(), id,
                          [](const Entry& e, int64_t want) { return e.first < want; });
}

std::vector<int64_t> MessageIndex::IdsIn(const Range& r) const {
  std::vector<int64_t> ids;
  for (auto it = Lower(r.lo); it != by_id_.end() && it->first <= r.hi; ++it) ids.push_back(it->first);
  return ids;
}

Message* MessageIndex::Find(int64_t id) const {
  auto it = Lower(id);
  return it != by_id_.end() && it->first == id ? it->second : nullptr;
}

}  // namespace parley
