#include "fcgi/reexec.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdlib>

namespace parley::fcgi {
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

// A stream socket, listening or not, as asked.
bool IsStreamSocket(int fd, bool listening) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
  return SocketOption(fd, SO_TYPE) == SOCK_STREAM && SocketOption(fd, SO_ACCEPTCONN) == (listening ? 1 : 0);
}

void SetCloseOnExec(int fd, bool on) {
  int flags = fcntl(fd, F_GETFD);
  if (flags >= 0) fcntl(fd, F_SETFD, on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC);
}

}  // namespace

std::string FormatInherit(const InheritSpec& spec) {
  std::string s = "listen=" + std::to_string(spec.listen_fd) + ";kept=";
  for (size_t i = 0; i < spec.kept.size(); ++i) {
    if (i > 0) s += ',';
    s += std::to_string(spec.kept[i]);
  }
  return s;
}

Result<InheritSpec> ParseInherit(const std::string& text) {
  auto bad = [&text](const char* why) {
    return Status::Invalid("invalid_inherit", std::string(kInheritVar) + ": " + why + " in '" + text.substr(0, 64) + "'");
  };
  constexpr std::string_view kListen = "listen=", kKept = ";kept=";
  std::string_view s = text;
  if (s.substr(0, kListen.size()) != kListen) return bad("no listen=");
  s.remove_prefix(kListen.size());
  const size_t semi = s.find(';');
  if (semi == std::string_view::npos) return bad("no ;kept=");
  InheritSpec spec;
  if (!ParseFd(s.substr(0, semi), &spec.listen_fd)) return bad("not a descriptor after listen=");
  s.remove_prefix(semi);
  if (s.substr(0, kKept.size()) != kKept) return bad("no ;kept=");
  s.remove_prefix(kKept.size());
  while (!s.empty()) {
    const size_t comma = s.find(',');
    int fd;
    if (!ParseFd(s.substr(0, comma), &fd)) return bad("not a descriptor in kept=");
    if (spec.kept.size() == kMaxInherited) return bad("too many kept descriptors");
    spec.kept.push_back(fd);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
    if (s.empty()) return bad("a trailing comma");
  }
  std::vector<int> all = spec.kept;
  all.push_back(spec.listen_fd);
  std::sort(all.begin(), all.end());
  if (std::adjacent_find(all.begin(), all.end()) != all.end()) return bad("a descriptor named twice");
  return spec;
}

Result<std::optional<Inherited>> TakeInherited() {
  const char* value = std::getenv(kInheritVar);
  if (value == nullptr) return std::optional<Inherited>();
  const std::string text = value;
  unsetenv(kInheritVar);  // not for the workers, nor a later exec
  PARLEY_ASSIGN_OR_RETURN(InheritSpec spec, ParseInherit(text));
  if (!IsStreamSocket(spec.listen_fd, /*listening=*/true)) {
    return Status::Invalid("invalid_inherit", std::string(kInheritVar) + ": descriptor " + std::to_string(spec.listen_fd) +
                                   " is not a listening socket");
  }
  Inherited in;
  in.listen = Fd(spec.listen_fd);
  SetCloseOnExec(spec.listen_fd, true);
  for (int fd : spec.kept) {
    if (!IsStreamSocket(fd, /*listening=*/false)) continue;
    SetCloseOnExec(fd, true);
    in.kept.emplace_back(fd);
  }
  return std::optional<Inherited>(std::move(in));
}

std::string SelfPath() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

Status ExecAgain(const std::string& exe, const std::vector<std::string>& argv, int listen_fd,
                 const std::vector<Fd>& kept) {
  InheritSpec spec{listen_fd, {}};
  for (size_t i = 0; i < kept.size() && i < kMaxInherited; ++i) spec.kept.push_back(kept[i].get());
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  SetCloseOnExec(listen_fd, false);
  for (int fd : spec.kept) SetCloseOnExec(fd, false);
  if (setenv(kInheritVar, FormatInherit(spec).c_str(), 1) != 0) return PosixError("setenv", errno);
  execv(exe.c_str(), args.data());
  const int err = errno;
  unsetenv(kInheritVar);
  SetCloseOnExec(listen_fd, true);
  for (int fd : spec.kept) SetCloseOnExec(fd, true);
  return PosixError("execv " + exe, err);
}

}  // namespace parley::fcgi
