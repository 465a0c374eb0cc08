// Wakes parley-events after a commit: one unix datagram, best effort; or,
// when the storage carries wake-ups itself (PostgreSQL's NOTIFY, to every
// daemon on every host), through it: appends then announce their head in
// their own transaction, and typing and receipts go by Storage::Announce.
//
// Contract: never blocks and never fails the request. If nobody listens
// (ENOENT, ECONNREFUSED) or the daemon's queue is full (EAGAIN), the
// datagram is dropped; the daemon's PRAGMA data_version poll catches up.
// Wire format: schema/wakeup.h.
#pragma once

#include <cstdint>
#include <string>

#include "schema/model.h"
#include "schema/posix.h"
#include "schema/storage.h"

namespace parley::fcgi {

class Notifier {
 public:
  // An empty path disables the datagrams (unit tests, no daemon). store:
  // one whose carries_wakeups() is true, used from the same thread, or null.
  explicit Notifier(std::string path, Storage* store = nullptr);
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  void Head(int64_t head);
  // head: the log's head read after the request's membership check
  // (schema/wakeup.h says why the daemon needs it).
  void Typing(int64_t room_id, const User& user, int64_t head);
  void Receipt(int64_t room_id, const User& user, int64_t event_id, int64_t head);
  uint64_t dropped() const { return dropped_; }

 private:
  void Send(const std::string& datagram);
  std::string path_;
  Storage* store_;
  Fd fd_;
  uint64_t dropped_ = 0;
};

}  // namespace parley::fcgi
