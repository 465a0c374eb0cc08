// The rows of one room (or one user) by id, written so that PostgreSQL can
// only read them through the (key, id) index.
//
// Design note. `WHERE room_id = $1 AND id > $2 ORDER BY id LIMIT n` has two
// plans: the (room_id, id) index, which reads the room's rows alone, or the
// primary key walked in id order, keeping the rows of the room. The planner
// takes the second whenever the statistics say the room holds a good share
// of the table, assuming its rows are spread evenly over the ids. A real
// log is not even: a room busy last year and quiet now, or one busy only
// lately, has its rows at one end, and the walk reads the rest of the table
// first. On 40,000 rows (tests/unit/schema/pg_store_plans_test.cc) the
// latest page of such a room read 30,052 index entries instead of 51; on a
// million, 356 ms instead of 0.5.
//
// So the range is written as row comparisons on (key, id), with no plain
// `key = $1`, and ordered by (key, id). Equal to `key = $1` with `id` in the
// range, but the key is no longer a constant for the planner: ordering by
// id alone is not ordering by (key, id), so the primary key gives neither
// the order nor (a row comparison is not one on id) the range, and the
// (key, id) index is the one plan that reads just the range, in order,
// whatever the statistics.
//
// Both bounds are inclusive (>=, <=). The planner estimates a row
// comparison by its first column alone: `(key, id) >= (k, lo)` as
// `key >= k`, so the pair comes out as the key's share of the table or
// more. With > and < it came out as no rows at all, and the joins around
// the page were planned as if for one row (seq scans of small tables once
// per row: 0.5 ms a page instead of 0.26).
//
// And `key = ANY (ARRAY[k])` besides: the estimate of an equality (the
// key's share), which like the row comparisons leaves the key no constant.
// It is for the prepared statement's generic plan: without it, parameters
// of unknown value made the row comparisons a ninth of the table, the
// generic plan looked dearer than any custom one, and each execution was
// planned anew (~0.3 ms of server CPU per history read, by tools/bench/api:
// 629-680 µs a read against 295-338). With it, the plan cache settles on
// the generic plan after five executions, as it did for `key = $1`.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace parley::pg {

// The largest id (INT64_MAX), as hi for every row of a key.
inline constexpr std::string_view kMaxId = "9223372036854775807";

// The first id after `id` and the last before it, for the inclusive bounds
// of a range given as exclusive cursors; saturated, so a hostile cursor
// cannot overflow (no id is INT64_MIN or INT64_MAX: the counter row starts
// at 1 and would overflow first).
inline int64_t IdAfter(int64_t id) { return id == std::numeric_limits<int64_t>::max() ? id : id + 1; }
inline int64_t IdBefore(int64_t id) { return id == std::numeric_limits<int64_t>::min() ? id : id - 1; }

// "key = ANY (ARRAY[k::bigint]) AND (key, id) >= (k, lo) AND (key, id) <=
// (k, hi)": each argument a column, a parameter or an expression
// ("m.room_id", "$1"). Order the rows by both columns ("ORDER BY key, id",
// or both DESC).
inline std::string KeyRange(std::string_view key, std::string_view id, std::string_view k, std::string_view lo,
                            std::string_view hi) {
  std::string row = "(";
  row.append(key).append(", ").append(id).append(")");
  std::string out(key);
  out.append(" = ANY (ARRAY[").append(k).append("::bigint]) AND ").append(row);
  out.append(" >= (").append(k).append(", ").append(lo).append(") AND ").append(row);
  out.append(" <= (").append(k).append(", ").append(hi).append(")");
  return out;
}

// The place of room k's newest message (messages.seq: the room's count of
// messages, tombstones included, as none is ever removed; 0 for a room
// with none), from the room's last entry in messages_room.
inline std::string LastPlaceInRoom(std::string_view k) {
  return "COALESCE((SELECT x.seq FROM messages x WHERE " + KeyRange("x.room_id", "x.id", k, "0", kMaxId) +
         " ORDER BY x.room_id DESC, x.id DESC LIMIT 1), 0)";
}

}  // namespace parley::pg
