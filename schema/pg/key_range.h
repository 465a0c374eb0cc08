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
// latest page of such a room read 60,104 rows and index entries instead of
// ~100; on a million, 356 ms instead of 0.5.
//
// So the range is written as row comparisons on (key, id), with no plain
// `key = $1`, and ordered by (key, id). Equal to `key = $1` with `id` in the
// range, but the key is no longer a constant for the planner: ordering by
// id alone is not ordering by (key, id), so the primary key gives neither
// the order nor (a row comparison is not one on id) the range, and the
// (key, id) index is the one plan that reads just the range, in order,
// whatever the statistics.
#pragma once

#include <string>
#include <string_view>

namespace parley::pg {

// The largest id (INT64_MAX), as hi for every row of a key.
inline constexpr std::string_view kMaxId = "9223372036854775807";

// "(key, id) > (k, lo) AND (key, id) < (k, hi)" ("<=" when hi_inclusive):
// each argument a column or a parameter ("m.room_id", "$1"). Order the rows
// by both columns ("ORDER BY key, id", or both DESC).
inline std::string KeyRange(std::string_view key, std::string_view id, std::string_view k, std::string_view lo,
                            std::string_view hi, bool hi_inclusive) {
  std::string row = "(";
  row.append(key).append(", ").append(id).append(")");
  std::string out = row;
  out.append(" > (").append(k).append(", ").append(lo).append(") AND ").append(row);
  out.append(hi_inclusive ? " <= (" : " < (").append(k).append(", ").append(hi).append(")");
  return out;
}

}  // namespace parley::pg
