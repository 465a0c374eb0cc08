// Re-exec: a daemon runs the binary installed now, in place, keeping its
// sockets (fcgi/reexec.h and events/reexec.h say what each one keeps).
//
// Design note. A restart is a gap with no socket: nginx answers every
// request in it with a 502. Instead the running image execs the path it
// was started from, with the same arguments and environment plus one
// variable naming the descriptors it passes on ("listen=3;kept=5,6"), left
// open across the exec. The process, its pid (which systemd and tools/run
// watch) and its sockets live on; clients wait in a socket's backlog, not
// in front of a refused connect(). This is nginx's binary upgrade (its
// listening sockets in an environment variable across execve), without a
// second process: ours hand on descriptors, no other state.
//
// The variable comes from the environment, so it is input like any other:
// anything but the exact format is refused whole, before a descriptor is
// touched, and each daemon checks that every descriptor is the kind of
// socket it expects (they may not be ours).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "schema/status.h"

namespace parley {

// One name of the variable's value and how many descriptors it may list.
struct InheritSlot {
  std::string_view name;
  size_t min = 1;
  size_t max = 1;
};

// One list of descriptors per slot, in the slots' order.
using InheritedFds = std::vector<std::vector<int>>;

// "listen=3;kept=5,6,7": every slot once, in order, each list within its
// bounds (a list of none is "kept=").
std::string FormatInherit(const std::vector<InheritSlot>& slots, const InheritedFds& fds);
// The reverse: descriptors 3 and up (past stdio), in decimal, none named
// twice. `var` names the variable in the error.
Result<InheritedFds> ParseInherit(std::string_view var, const std::vector<InheritSlot>& slots,
                                  const std::string& text);

// Reads and removes `var` (not for children, nor a later exec): nullopt
// when it is not set.
std::optional<std::string> TakeEnv(const char* var);

// Whether fd is a socket of this type (SOCK_STREAM, SOCK_DGRAM), and
// listening (SO_ACCEPTCONN) or not, as asked.
bool IsSocket(int fd, int type, bool listening);
// IsSocket, as an error naming `var` and the descriptor when it is not.
Status ExpectSocket(std::string_view var, int fd, int type, bool listening);
void SetCloseOnExec(int fd, bool on);

// The absolute path of the running binary, read at start-up, before
// anything could replace the file.
std::string SelfPath();

// Runs exe with argv, this environment and var=value, with `fds` left open
// across the exec. Returns only if the exec failed, with the descriptors
// (close-on-exec again) and the environment as they were.
Status ExecWith(const std::string& exe, const std::vector<std::string>& argv, const char* var,
                const std::string& value, const std::vector<int>& fds);

}  // namespace parley
