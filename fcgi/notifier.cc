#include "fcgi/notifier.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "schema/json.h"
#include "schema/log.h"

namespace parley::fcgi {

Notifier::Notifier(std::string path) : path_(std::move(path)) {
  if (path_.empty()) return;
  if (path_.size() >= sizeof(sockaddr_un::sun_path)) {
    LOG_WARN("events socket path too long, notifications off: %s", path_.c_str());
    path_.clear();
    return;
  }
  fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) LOG_WARN("cannot create the notification socket: %s", std::strerror(errno));
}

Notifier::~Notifier() {
  if (fd_ >= 0) close(fd_);
}

void Notifier::Send(const std::string& datagram) {
  if (fd_ < 0) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  if (sendto(fd_, datagram.data(), datagram.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&addr),
             sizeof addr) < 0) {
    ++dropped_;
    if (errno != ENOENT && errno != ECONNREFUSED && errno != EAGAIN) {
      LOG_DEBUG("notify %s dropped: %s", path_.c_str(), std::strerror(errno));
    }
  }
}

void Notifier::Head(int64_t head) {
  if (fd_ < 0 || head <= 0) return;
  Send("{\"head\":" + std::to_string(head) + "}");
}

void Notifier::Typing(int64_t room_id, const User& user) {
  if (fd_ < 0) return;
  JsonWriter w;
  w.BeginObject().Key("typing").BeginObject().Key("room_id").Int(room_id).Key("user");
  Write(w, user);
  w.EndObject().EndObject();
  Send(w.str());
}

}  // namespace parley::fcgi
