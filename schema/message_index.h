// MessageIndex: what the queries that complete a list of messages share.
//
// A page of history, a search result or one message is completed by three
// kinds of detail rows (mentions, reactions, attachments), each read by
// primary-key ranges of message ids: one range per run of nearby ids, so a
// page of a room (ids close together, other rooms' messages between them)
// costs one range query per kind, and scattered search hits a few, never a
// sweep over everything between the first and the last. Rows of messages not
// listed (other rooms') are skipped; each row finds its message by binary
// search: no map to allocate per page. A range that meets more of those
// rows than its budget (kForeignRowsPerMessage for each listed message in
// it) is given up where it stands, and its listed ids after that point are
// read one by one: so a page reads a bounded multiple of its own rows,
// whoever wrote the messages between. (Binding the ids as a JSON array for
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

  // Ids closer than this share a range: the detail tables are sparse (a
  // few rows per hundred messages), so a range over a gap this wide reads
  // fewer rows than a query more would cost.
  static constexpr int64_t kRunGap = 512;
  // Rows of unlisted messages a range may read, for each listed message in
  // it, before it is given up for one probe a listed id. Without it a quiet
  // room's 200-message page among a busy room's messages, each mentioning
  // 20 people, read 2 million mention rows (280 ms; an audit in the
  // forty-seventh session); its messages' own rows are at most 80 a message
  // (20 mentions, 50 reactions, 10 attachments).
  static constexpr int64_t kForeignRowsPerMessage = 8;

  struct Range {
    int64_t lo, hi;  // inclusive
  };

  bool empty() const { return by_id_.empty(); }
  // Ascending, disjoint, covering every listed id.
  const std::vector<Range>& ranges() const { return ranges_; }
  // The listed message with that id, or null.
  Message* Find(int64_t id) const;
  // The listed ids in a range, ascending.
  std::vector<int64_t> IdsIn(const Range& r) const;

  // Runs `s` once per range, ?1 and ?2 bound to its first and last id and
  // bind_more(s) binding the rest (a reset clears every binding), and calls
  // fill(message, s) for each row whose column 0 is a listed message's id
  // (rows of unlisted messages inside a range are skipped, up to the
  // range's budget: past it, each listed id left in the range is a range of
  // its own). Rows must come in message id order. Templates: no
  // std::function allocation on the history page's path.
  template <typename Fill>
  Status ForEachRow(Statement& s, Fill fill) const {
    return ForEachRow(s, [](Statement&) {}, fill);
  }
  template <typename BindMore, typename Fill>
  Status ForEachRow(Statement& s, BindMore bind_more, Fill fill) const {
    for (const Range& r : ranges_) {
      const auto last = Lower(r.hi + 1);
      const int64_t budget = kForeignRowsPerMessage * (last - Lower(r.lo));
      PARLEY_ASSIGN_OR_RETURN(int64_t given_up_at, ReadRange(s, r.lo, r.hi, budget, bind_more, fill));
      if (given_up_at == 0) continue;
      // Every listed message below the unlisted row it stopped at is whole
      // (rows come in id order); those above it are read one by one.
      for (auto it = Lower(given_up_at); it != last; ++it) {
        PARLEY_RETURN_IF_ERROR(ReadRange(s, it->first, it->first, -1, bind_more, fill).status());
      }
    }
    return Status::Ok();
  }

 private:
  using Entry = std::pair<int64_t, Message*>;
  // The first listed entry whose id is at least `id`.
  std::vector<Entry>::const_iterator Lower(int64_t id) const;
  // One run of `s` over [lo, hi]; 0 when read to its end, or the id of the
  // unlisted row past `budget` such rows (budget < 0: no limit) at which it
  // stopped.
  template <typename BindMore, typename Fill>
  Result<int64_t> ReadRange(Statement& s, int64_t lo, int64_t hi, int64_t budget, BindMore& bind_more,
                            Fill& fill) const {
    s.Bind(1, lo).Bind(2, hi);
    bind_more(s);
    int64_t stopped_at = 0;
    for (int64_t foreign = 0;;) {
      PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      const int64_t id = s.Int(0);
      if (Message* m = Find(id)) {
        fill(*m, s);
      } else if (budget >= 0 && ++foreign > budget) {
        stopped_at = id;
        break;
      }
    }
    s.Reset();
    return stopped_at;
  }

  std::vector<Entry> by_id_;  // sorted by id
  std::vector<Range> ranges_;
};

}  // namespace parley
