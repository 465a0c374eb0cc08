// Wakes parley-events after a commit: one unix datagram, best effort.
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

namespace parley::fcgi {

class Notifier {
 public:
  // An empty path disables notification (unit tests, no daemon).
  explicit Notifier(std::string path);
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  void Head(int64_t head);
  void Typing(int64_t room_id, const User& user);
  void Receipt(int64_t room_id, const User& user, int64_t event_id);
  uint64_t dropped() const { return dropped_; }

 private:
  void Send(const std::string& datagram);
  std::string path_;
  Fd fd_;
  uint64_t dropped_ = 0;
};

}  // namespace parley::fcgi
