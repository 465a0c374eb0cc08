// MessageIndex: what the queries that complete a list of messages share.
//
// A page of history, a search result or one message is completed by three
// kinds of detail rows (mentions, reactions, attachments), each read by
// primary-key ranges of message ids: one range per run of nearly adjacent
// ids, so a page of a busy room costs one range query per kind, and the
// page of a room whose messages lie among others' costs one probe per
// message, never a sweep over the rows of the messages between them. Rows
// of messages not listed (other rooms') are skipped; each row finds its
// message by binary search: no map to allocate per page. (Binding the ids as a JSON array for
// `IN (SELECT value FROM json_each(?))` was measured slower than the
// per-message subquery it was to replace: an ephemeral index per query.)
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "schema/db.h"
#include "schema/model.h"
#include "schema/status.h"

namespace parley {

class MessageIndex {
 public:
  // `messages` must outlive the index and keep its size.
  explicit MessageIndex(std::vector<Message>& messages);

  // Ids at most this far apart share a range. A range reads the detail rows
  // of the unlisted messages inside it too, fewer than kRunGap of them for
  // each listed one, so a page reads a bounded multiple of the rows its own
  // messages can hold (up to 20 mentions, 50 reactions, 10 attachments a
  // message), whoever wrote the messages between. At 512 a quiet room's
  // 200-message page among busy rooms' messages, each mentioning 20
  // people, read 2 million mention rows (280 ms, an audit in the
  // forty-seventh session); a probe costs a few microseconds.
  static constexpr int64_t kRunGap = 8;

  struct Range {
    int64_t lo, hi;  // inclusive
  };

  bool empty() const { return by_id_.empty(); }
  // Ascending, disjoint, covering every listed id.
  const std::vector<Range>& ranges() const { return ranges_; }
  // The listed message with that id, or null.
  Message* Find(int64_t id) const;

  // Runs `s` once per range, ?1 and ?2 bound to its first and last id and
  // bind_more(s) binding the rest (a reset clears every binding), and calls
  // fill(message, s) for each row whose column 0 is a listed message's id
  // (rows of unlisted messages inside a range are skipped). Templates: no
  // std::function allocation on the history page's path.
  template <typename Fill>
  Status ForEachRow(Statement& s, Fill fill) const {
    return ForEachRow(s, [](Statement&) {}, fill);
  }
  template <typename BindMore, typename Fill>
  Status ForEachRow(Statement& s, BindMore bind_more, Fill fill) const {
    for (const Range& r : ranges_) {
      s.Bind(1, r.lo).Bind(2, r.hi);
      bind_more(s);
      for (;;) {
        PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        if (Message* m = Find(s.Int(0))) fill(*m, s);
      }
      s.Reset();
    }
    return Status::Ok();
  }

 private:
  std::vector<std::pair<int64_t, Message*>> by_id_;  // sorted by id
  std::vector<Range> ranges_;
};

}  // namespace parley
