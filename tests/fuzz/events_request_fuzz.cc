// Fuzz target: what parley-events decides from a request (events/request.h):
// the route and shared checks, stream and poll parameters (cursors from the
// Last-Event-ID header or the query, epochs, timeouts), the stats access
// rule and the reset rule, over arbitrary bytes.
//
// Oracles: a cursor that parses is a non-negative id of at most 18 digits
// that prints back to the input; a poll's timeout is within its bounds; a
// refused request carries a 4xx code; the reset rule never resets a cursor
// that is inside [oldest - 1, head] with the same epoch.
#include <fuzzer/FuzzedDataProvider.h>

#include <string>

#include "events/request.h"
#include "tests/fuzz/check.h"

using namespace parley;
using namespace parley::events;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const std::string method = in.ConsumeRandomLengthString(8);
  const std::string path = in.ConsumeRandomLengthString(32);
  const std::string header = in.ConsumeRandomLengthString(32);
  const std::string xff = in.ConsumeRandomLengthString(48);
  RawRequest r;
  r.method = method;
  r.path = path;
  if (in.ConsumeBool()) r.last_event_id = header;
  if (in.ConsumeBool()) r.forwarded_for = xff;
  r.body_bytes = in.ConsumeIntegralInRange<size_t>(0, 2);
  for (int i = in.ConsumeIntegralInRange(0, 4); i > 0; --i) {
    static const char* const kKeys[] = {"since", "timeout", "epoch", "last_event_id", "lastEventId", "format"};
    std::string key = in.ConsumeBool() ? kKeys[in.ConsumeIntegralInRange<size_t>(0, 5)] : in.ConsumeRandomLengthString(8);
    r.query.emplace_back(key, in.ConsumeRandomLengthString(24));
  }

  if (auto c = ParseCursor(header)) {
    FUZZ_CHECK(*c >= 0 && header.size() <= 18 && std::to_string(*c).size() <= header.size());
    FUZZ_CHECK(header.find_first_not_of("0123456789") == std::string::npos);
  }
  Status st = CheckRequest(r);
  if (!st.ok()) FUZZ_CHECK(HttpStatus(st.code()) >= 400 && HttpStatus(st.code()) < 500);
  auto stream = ParseStream(r);
  if (stream.ok() && stream->cursor) FUZZ_CHECK(*stream->cursor >= 0);
  if (!stream.ok()) FUZZ_CHECK(HttpStatus(stream.status().code()) == 400);
  auto poll = ParsePoll(r, 25, 55);
  if (poll.ok()) FUZZ_CHECK(poll->timeout_s >= 0 && poll->timeout_s <= 55);
  (void)StatsAllowed(r);

  const int64_t head = in.ConsumeIntegralInRange<int64_t>(0, 1000);
  const int64_t floor = in.ConsumeIntegralInRange<int64_t>(0, head);
  const int64_t cursor = in.ConsumeIntegralInRange<int64_t>(0, 2000);
  const char* reason = ResetReason(cursor, std::nullopt, "e", head, floor);
  FUZZ_CHECK((reason == nullptr) == (cursor >= floor && cursor <= head));
  return 0;
}
