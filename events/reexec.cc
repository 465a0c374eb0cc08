#include "events/reexec.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include "schema/reexec.h"

namespace parley::events {
namespace {

const std::vector<InheritSlot>& Slots() {
  static const std::vector<InheritSlot> slots{{"listen", 1, 1}, {"notify", 1, 1}};
  return slots;
}

}  // namespace

Result<std::optional<Sockets>> TakeInherited() {
  std::optional<std::string> text = TakeEnv(kInheritVar);
  if (!text) return std::optional<Sockets>();
  PARLEY_ASSIGN_OR_RETURN(InheritedFds fds, ParseInherit(kInheritVar, Slots(), *text));
  const int listen_fd = fds[0][0], notify_fd = fds[1][0];
  PARLEY_RETURN_IF_ERROR(ExpectSocket(kInheritVar, listen_fd, SOCK_STREAM, /*listening=*/true));
  PARLEY_RETURN_IF_ERROR(ExpectSocket(kInheritVar, notify_fd, SOCK_DGRAM, /*listening=*/false));
  SetCloseOnExec(listen_fd, true);
  SetCloseOnExec(notify_fd, true);
  Sockets s;
  s.listen = Fd(listen_fd);
  s.notify = Fd(notify_fd);
  return std::optional<Sockets>(std::move(s));
}

Status ExecAgain(const std::string& exe, const std::vector<std::string>& argv, const Sockets& sockets) {
  const int listen_fd = sockets.listen.get(), notify_fd = sockets.notify.get();
  return ExecWith(exe, argv, kInheritVar, FormatInherit(Slots(), {{listen_fd}, {notify_fd}}), {listen_fd, notify_fd});
}

Binary Binary::Running() {
  Binary b;
  b.path_ = SelfPath();
  // The file this process runs, even if the path was replaced already.
  b.running_ = Of("/proc/self/exe");
  return b;
}

Binary Binary::At(const std::string& path) {
  Binary b;
  b.path_ = path;
  b.running_ = Of(path);
  return b;
}

bool Binary::Replaced() const {
  if (path_.empty() || !running_) return false;
  std::optional<Identity> now = Of(path_);
  return now && !(*now == *running_);
}

std::optional<Binary::Identity> Binary::Of(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return std::nullopt;
  return Identity{st.st_dev, st.st_ino, st.st_size, int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec};
}

}  // namespace parley::events
