#include "fcgi/reexec.h"

#include <sys/socket.h>

namespace parley::fcgi {
namespace {

const std::vector<InheritSlot>& Slots() {
  static const std::vector<InheritSlot> slots{{"listen", 1, 1}, {"kept", 0, kMaxInherited}};
  return slots;
}

}  // namespace

std::string FormatInherit(const InheritSpec& spec) {
  return parley::FormatInherit(Slots(), {{spec.listen_fd}, spec.kept});
}

Result<InheritSpec> ParseInherit(const std::string& text) {
  PARLEY_ASSIGN_OR_RETURN(InheritedFds fds, parley::ParseInherit(kInheritVar, Slots(), text));
  return InheritSpec{fds[0][0], std::move(fds[1])};
}

Result<std::optional<Inherited>> TakeInherited() {
  std::optional<std::string> text = TakeEnv(kInheritVar);  // not for the workers, nor a later exec
  if (!text) return std::optional<Inherited>();
  PARLEY_ASSIGN_OR_RETURN(InheritSpec spec, ParseInherit(*text));
  PARLEY_RETURN_IF_ERROR(ExpectSocket(kInheritVar, spec.listen_fd, SOCK_STREAM, /*listening=*/true));
  Inherited in;
  in.listen = Fd(spec.listen_fd);
  SetCloseOnExec(spec.listen_fd, true);
  for (int fd : spec.kept) {
    if (!IsSocket(fd, SOCK_STREAM, /*listening=*/false)) continue;
    SetCloseOnExec(fd, true);
    in.kept.emplace_back(fd);
  }
  return std::optional<Inherited>(std::move(in));
}

Status ExecAgain(const std::string& exe, const std::vector<std::string>& argv, int listen_fd,
                 const std::vector<Fd>& kept) {
  InheritSpec spec{listen_fd, {}};
  for (size_t i = 0; i < kept.size() && i < kMaxInherited; ++i) spec.kept.push_back(kept[i].get());
  std::vector<int> fds = spec.kept;
  fds.push_back(listen_fd);
  return ExecWith(exe, argv, kInheritVar, FormatInherit(spec), fds);
}

}  // namespace parley::fcgi
