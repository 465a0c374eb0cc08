// Fuzz target: the wake-up datagram decoder (schema/wakeup.h), over
// arbitrary bytes, and the encoder/decoder round trip.
//
// Oracles: whatever decodes is in range (positive ids below 2^53, a
// username of 1-32 [A-Za-z0-9_.-]) and re-encodes to a datagram that
// decodes to the same value.
#include <string>
#include <string_view>

#include "schema/wakeup.h"
#include "tests/fuzz/check.h"

using namespace parley;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view dgram(reinterpret_cast<const char*>(data), size);
  std::optional<Wakeup> w = DecodeWakeup(dgram);
  if (!w) return 0;
  FUZZ_CHECK(size <= kMaxWakeupBytes);
  std::string again;
  if (w->kind == Wakeup::Kind::kHead) {
    FUZZ_CHECK(w->head >= 1 && w->head <= (int64_t{1} << 53));
    again = EncodeHead(w->head);
  } else {
    FUZZ_CHECK(w->user.id >= 1);
    FUZZ_CHECK(!w->user.username.empty() && w->user.username.size() <= 32);
    FUZZ_CHECK(w->user.username.find_first_not_of(
                   "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == std::string::npos);
    if (w->kind == Wakeup::Kind::kPresence) {
      again = EncodePresence(w->user, w->online);
    } else {
      FUZZ_CHECK(w->room_id >= 1 && w->head >= 0 && w->head <= (int64_t{1} << 53));
      if (w->kind == Wakeup::Kind::kReceipt) {
        FUZZ_CHECK(w->event_id >= 1);
        again = EncodeReceipt(w->room_id, w->user, w->event_id, w->head);
      } else {
        again = EncodeTyping(w->room_id, w->user, w->head);
      }
    }
  }
  std::optional<Wakeup> back = DecodeWakeup(again);
  FUZZ_CHECK(back && back->kind == w->kind && back->head == w->head && back->room_id == w->room_id &&
             back->user.id == w->user.id && back->user.username == w->user.username &&
             back->event_id == w->event_id && back->online == w->online);
  return 0;
}
