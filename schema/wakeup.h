// The wake-up datagram from parley-fcgi to parley-events: its encoder and
// its decoder side by side, so the two cannot drift (round-trip tested in
// tests/unit/schema/wakeup_test.cc, fuzzed in tests/fuzz/).
//
// One JSON object per datagram, at most kMaxWakeupBytes:
//   {"head":N}                                          new events up to N
//   {"typing":{"room_id":R,"user":{"id":U,"username":"..."},"head":H}}
//   {"receipt":{"room_id":R,"user":{...},"event_id":E,"head":H}}   a read marker moved
//   {"presence":{"user":{...},"online":B}}               a user came or went
//     (PostgreSQL only, sent by the daemon that decided it: schema/storage.h)
// A typing notice's or a receipt's H is the log's head as the sender read it
// after its membership check: the daemon fans the log out up to H before it
// hands the notice to the room, so a kick or a leave committed before the
// check has already taken the member out of the room's recipients (a notice
// without "head", from a sender older than this, counts as 0).
// Only the service's own processes can send one (the socket is 0660 under a
// 0700 directory, and the daemon checks the sender's uid), yet the decoder
// treats it as hostile input: every number is range-checked, every name
// length-checked, and anything else is dropped.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "schema/model.h"

namespace parley {

constexpr size_t kMaxWakeupBytes = 1024;

struct Wakeup {
  enum class Kind { kHead, kTyping, kReceipt, kPresence };
  Kind kind = Kind::kHead;
  int64_t head = 0;     // kHead; kTyping, kReceipt: the log's head after the sender's check
  int64_t room_id = 0;  // kTyping, kReceipt
  User user;            // kTyping, kReceipt, kPresence
  int64_t event_id = 0;  // kReceipt
  bool online = false;   // kPresence
};

std::string EncodeHead(int64_t head);
std::string EncodeTyping(int64_t room_id, const User& user, int64_t head);
std::string EncodeReceipt(int64_t room_id, const User& user, int64_t event_id, int64_t head);
std::string EncodePresence(const User& user, bool online);
// nullopt for anything malformed, out of range or too long.
std::optional<Wakeup> DecodeWakeup(std::string_view datagram);

}  // namespace parley
