// parley-events: the wake-up datagrams from parley-fcgi (format in
// fcgi/notifier.h). Best effort by design: a lost datagram costs at most
// one data_version interval of latency, never an event.
#include <event2/event.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "events/server.h"
#include "schema/json.h"
#include "schema/log.h"

namespace parley::events {

namespace {
int UnixDatagram(const std::string& path);
}

Status Server::OpenNotifySocket() {
  notify_fd_ = UnixDatagram(cfg_.notify_path);
  if (notify_fd_ < 0) {
    return Status::Internal("cannot bind " + cfg_.notify_path + ": " + std::strerror(errno));
  }
  // A larger receive queue absorbs bursts of wake-ups while a pass runs.
  int size = 1 << 20;
  setsockopt(notify_fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  notify_ev_.reset(event_new(base_.get(), notify_fd_, EV_READ | EV_PERSIST, &Server::OnDatagram, this));
  event_add(notify_ev_.get(), nullptr);
  return Status::Ok();
}

void Server::OnDatagram(int fd, short, void* self) {
  auto* s = static_cast<Server*>(self);
  char buf[2048];
  // Drain everything queued: many heads collapse into one pass.
  for (int i = 0; i < 4096; ++i) {
    ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    if (n < 0) break;
    buf[n] = '\0';
    ++s->stats_.wakeups;
    s->HandleDatagram(buf, static_cast<size_t>(n));
  }
  s->Flush();  // typing notices
  s->Reap();
}

void Server::HandleDatagram(const char* data, size_t len) {
  // Only local processes can reach the socket, but its content is still
  // checked like any input.
  JsonPtr j(cJSON_ParseWithLength(data, len));
  if (!cJSON_IsObject(j.get())) {
    LOG_DEBUG("ignoring a malformed datagram (%zu bytes)", len);
    return;
  }
  const cJSON* head = cJSON_GetObjectItemCaseSensitive(j.get(), "head");
  if (cJSON_IsNumber(head)) {
    if (static_cast<int64_t>(head->valuedouble) > head_) Wake();
    return;
  }
  const cJSON* typing = cJSON_GetObjectItemCaseSensitive(j.get(), "typing");
  const cJSON* room = cJSON_GetObjectItemCaseSensitive(typing, "room_id");
  const cJSON* user = cJSON_GetObjectItemCaseSensitive(typing, "user");
  const cJSON* uid = cJSON_GetObjectItemCaseSensitive(user, "id");
  const cJSON* uname = cJSON_GetObjectItemCaseSensitive(user, "username");
  if (cJSON_IsNumber(room) && cJSON_IsNumber(uid) && cJSON_IsString(uname)) {
    JsonWriter w;
    w.BeginObject().Key("room_id").Int(static_cast<int64_t>(room->valuedouble)).Key("user");
    w.BeginObject().Key("id").Int(static_cast<int64_t>(uid->valuedouble)).Key("username").String(uname->valuestring);
    w.EndObject().EndObject();
    Ephemeral("typing", w.str(), static_cast<int64_t>(room->valuedouble), static_cast<int64_t>(uid->valuedouble),
              nullptr);
  }
}

namespace {
int UnixDatagram(const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    errno = ENAMETOOLONG;
    return -1;
  }
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  struct stat st;
  if (lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path.c_str());
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  chmod(path.c_str(), 0666);
  return fd;
}
}  // namespace

}  // namespace parley::events
