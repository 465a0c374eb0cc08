#include "schema/reexec.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdlib>

#include "schema/posix.h"

namespace parley {
namespace {

// A descriptor number: digits only, 3 (past stdio) to INT_MAX.
bool ParseFd(std::string_view s, int* fd) {
  if (s.empty() || s.size() > 10) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *fd);
  return ec == std::errc() && end == s.data() + s.size() && *fd >= 3;
}

int SocketOption(int fd, int option) {
  int value = -1;
  socklen_t len = sizeof value;
  return getsockopt(fd, SOL_SOCKET, option, &value, &len) == 0 ? value : -1;
}

}  // namespace

std::string FormatInherit(const std::vector<InheritSlot>& slots, const InheritedFds& fds) {
  std::string s;
  for (size_t i = 0; i < slots.size(); ++i) {
    if (i > 0) s += ';';
    s += slots[i].name;
    s += '=';
    const std::vector<int>& list = i < fds.size() ? fds[i] : std::vector<int>();
    for (size_t j = 0; j < list.size(); ++j) {
      if (j > 0) s += ',';
      s += std::to_string(list[j]);
    }
  }
  return s;
}

Result<InheritedFds> ParseInherit(std::string_view var, const std::vector<InheritSlot>& slots,
                                  const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Status::Invalid("invalid_inherit", std::string(var) + ": " + why + " in '" + text.substr(0, 64) + "'");
  };
  std::string_view s = text;
  InheritedFds fds;
  std::vector<int> all;
  for (size_t i = 0; i < slots.size(); ++i) {
    const std::string head = (i > 0 ? ";" : "") + std::string(slots[i].name) + "=";
    if (s.substr(0, head.size()) != head) return bad("no " + head);
    s.remove_prefix(head.size());
    // The list runs to the next slot's ';', or to the end for the last.
    const size_t end = i + 1 < slots.size() ? s.find(';') : s.size();
    if (end == std::string_view::npos) return bad("no ;" + std::string(slots[i + 1].name) + "=");
    std::string_view list = s.substr(0, end);
    s.remove_prefix(end);
    std::vector<int>& mine = fds.emplace_back();
    while (!list.empty()) {
      const size_t comma = list.find(',');
      int fd;
      if (!ParseFd(list.substr(0, comma), &fd)) return bad("not a descriptor after " + head);
      if (mine.size() == slots[i].max) return bad("too many descriptors after " + head);
      mine.push_back(fd);
      all.push_back(fd);
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
      if (list.empty()) return bad("a trailing comma");
    }
    if (mine.size() < slots[i].min) return bad("too few descriptors after " + head);
  }
  if (!s.empty()) return bad("text after the last list");
  std::sort(all.begin(), all.end());
  if (std::adjacent_find(all.begin(), all.end()) != all.end()) return bad("a descriptor named twice");
  return fds;
}

std::optional<std::string> TakeEnv(const char* var) {
  const char* value = std::getenv(var);
  if (value == nullptr) return std::nullopt;
  std::string text = value;
  unsetenv(var);
  return text;
}

bool IsSocket(int fd, int type, bool listening) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  return SocketOption(fd, SO_TYPE) == type && SocketOption(fd, SO_ACCEPTCONN) == (listening ? 1 : 0);
}

Status ExpectSocket(std::string_view var, int fd, int type, bool listening) {
  if (IsSocket(fd, type, listening)) return Status::Ok();
  const char* what = listening ? "a listening socket" : type == SOCK_DGRAM ? "a datagram socket" : "a connected socket";
  return Status::Invalid("invalid_inherit",
                         std::string(var) + ": descriptor " + std::to_string(fd) + " is not " + what);
}

void SetCloseOnExec(int fd, bool on) {
  int flags = fcntl(fd, F_GETFD);
  if (flags >= 0) fcntl(fd, F_SETFD, on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC);
}

std::string SelfPath() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

Status ExecWith(const std::string& exe, const std::vector<std::string>& argv, const char* var,
                const std::string& value, const std::vector<int>& fds) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  if (setenv(var, value.c_str(), 1) != 0) return PosixError("setenv", errno);
  for (int fd : fds) SetCloseOnExec(fd, false);
  execv(exe.c_str(), args.data());
  const int err = errno;
  unsetenv(var);
  for (int fd : fds) SetCloseOnExec(fd, true);
  return PosixError("execv " + exe, err);
}

}  // namespace parley
