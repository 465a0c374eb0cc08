// MessageIndex: what the queries that complete a list of messages share.
//
// A page of history, a search result or one message is completed by three
// kinds of detail rows (mentions, reactions, attachments), each read by
// primary-key ranges of message ids: one range per run of nearby ids, so a
// page of a room (ids close together, other rooms' messages between them)
// costs one range query per kind, and scattered search hits a few, never a
// sweep over everything between the first and the last. Rows of messages not
// listed (other rooms') are skipped; each row finds its message by binary
// search: no map to allocate per page. (Binding the ids as a JSON array for
// `IN (SELECT value FROM json_each(?))` was measured slower than the
// per-message subquery it was to replace: an ephemeral index per query.)
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "schema/model.h"

namespace parley {

class MessageIndex {
 public:
  // `messages` must outlive the index and keep its size.
  explicit MessageIndex(std::vector<Message>& messages);

  // Ids closer than this share a range: the detail tables are sparse (a
  // few rows per hundred messages), so a range over a gap this wide reads
  // fewer rows than a query more would cost.
  static constexpr int64_t kRunGap = 512;

  struct Range {
    int64_t lo, hi;  // inclusive
  };

  bool empty() const { return by_id_.empty(); }
  // Ascending, disjoint, covering every listed id.
  const std::vector<Range>& ranges() const { return ranges_; }
  // The listed message with that id, or null.
  Message* Find(int64_t id) const;

 private:
  std::vector<std::pair<int64_t, Message*>> by_id_;  // sorted by id
  std::vector<Range> ranges_;
};

}  // namespace parley
