// The stamp every load-generator message carries in its text, and the scans
// that find stamps and cursors in what comes back. Pure and unit-tested.
//
//   lg t=<send time, unix ns> s=<sender> n=<sender's seq> g=<global seq> r=<run>
//
// The stamp is plain ASCII without quotes or backslashes, so it appears
// verbatim inside a JSON string (Parley's message object) and as the raw
// data of an Nchan event; a receiver finds it with a substring search and
// needs no JSON parser on the hot path. The run id tells this run's messages
// from those of an earlier run on the same server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::loadgen {

struct Stamp {
  int64_t t_ns = 0;
  uint64_t sender = 0;
  uint64_t seq = 0;
  uint64_t g = 0;
  uint64_t run = 0;
};

std::string FormatStamp(const Stamp& s);

// Finds the next stamp in text at or after *pos; on success *pos moves past
// it. Malformed candidates are skipped.
std::optional<Stamp> NextStamp(std::string_view text, size_t* pos);

// The cursor of a long-poll body {"epoch","events":[…],"next":N,"more":bool},
// found without parsing the events: a quote inside a JSON string is always
// escaped, so `,"next":` can only be the top-level member.
std::optional<int64_t> PollNext(std::string_view body);

}  // namespace parley::loadgen
