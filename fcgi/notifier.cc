#include "fcgi/notifier.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>

#include "schema/log.h"
#include "schema/wakeup.h"

namespace parley::fcgi {

Notifier::Notifier(std::string path, Storage* store) : path_(std::move(path)), store_(store) {
  if (store_ != nullptr) path_.clear();  // the storage carries everything
  if (path_.empty()) return;
  sockaddr_un addr;
  if (!UnixAddress(path_, &addr)) {
    LOG_WARN("events socket path too long, notifications off: %s", path_.c_str());
    path_.clear();
    return;
  }
  auto fd = UnixDatagramSender();
  if (!fd.ok()) {
    LOG_WARN("notifications off: %s", fd.status().message().c_str());
    return;
  }
  fd_ = std::move(fd).value();
}

void Notifier::Send(const std::string& datagram) {
  if (store_ != nullptr) {
    if (Status st = store_->Announce(datagram); !st.ok()) {
      ++dropped_;
      LOG_DEBUG("announce dropped: %s", st.message().c_str());
    }
    return;
  }
  sockaddr_un addr;
  if (!fd_.valid() || !UnixAddress(path_, &addr)) return;
  if (sendto(fd_.get(), datagram.data(), datagram.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&addr),
             sizeof addr) < 0) {
    ++dropped_;
    if (errno != ENOENT && errno != ECONNREFUSED && errno != EAGAIN) {
      LOG_DEBUG("notify %s dropped: %s", path_.c_str(), PosixError("sendto", errno).message().c_str());
    }
  }
}

void Notifier::Head(int64_t head) {
  // With a store, the append's own NOTIFY announced it at COMMIT.
  if (head > 0 && store_ == nullptr) Send(EncodeHead(head));
}

void Notifier::Typing(int64_t room_id, const User& user, int64_t head) {
  Send(EncodeTyping(room_id, user, head));
}

void Notifier::Receipt(int64_t room_id, const User& user, int64_t event_id, int64_t head) {
  Send(EncodeReceipt(room_id, user, event_id, head));
}

}  // namespace parley::fcgi
