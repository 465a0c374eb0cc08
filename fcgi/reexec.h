// Re-exec (schema/reexec.h): a reload (SIGHUP) runs the binary installed
// now, in place.
//
// Design note. Workers are forked from the master, so replacing them ran
// the code the master was started with: a new binary took a restart, and a
// restart is a gap with no socket, every request in it a 502. Instead, once
// a reload's workers have stopped and handed their kept connections over
// (handoff.h), the master execs the path it was started from, keeping the
// listening socket and those connections. The new image migrates the
// database as any start does, takes the descriptors back and forks its
// workers, which adopt the connections. Requests that arrive meanwhile
// wait in the socket's backlog or on their connection. What a reload
// cannot do:
// - settings come from the arguments and environment, the same across the
//   exec: new ones still take a restart;
// - a new binary that cannot start (a database newer than it, arguments it
//   refuses) exits, as it would on a restart; one that cannot be run at all
//   (gone, not executable) leaves the running one in place, which logs why;
// - the counters of /api/_stats start again from zero.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "schema/posix.h"
#include "schema/reexec.h"
#include "schema/status.h"

namespace parley::fcgi {

// The variable, read and removed at start-up (TakeInherited).
inline constexpr const char* kInheritVar = "PARLEY_FCGI_INHERIT";
// More kept connections than a worker may hold are not passed on (their
// numbers must fit one environment string, at most 128 KiB).
inline constexpr size_t kMaxInherited = 8192;

// "listen=3;kept=5,6,7" (kept may be empty): descriptors 3 and up, distinct.
struct InheritSpec {
  int listen_fd = -1;
  std::vector<int> kept;
};
std::string FormatInherit(const InheritSpec& spec);
Result<InheritSpec> ParseInherit(const std::string& text);

struct Inherited {
  Fd listen;
  std::vector<Fd> kept;
};
// Reads and removes kInheritVar: nullopt when it is not set. The listening
// descriptor must be a listening stream socket, else an error (and none of
// the descriptors is touched: they may not be ours); a kept one that is not
// a connected stream socket is left alone. What is taken is close-on-exec.
Result<std::optional<Inherited>> TakeInherited();

// Runs exe with argv, this environment and kInheritVar naming listen_fd and
// kept (at most kMaxInherited). Returns only if the exec failed, with the
// descriptors and the environment as they were.
Status ExecAgain(const std::string& exe, const std::vector<std::string>& argv, int listen_fd,
                 const std::vector<Fd>& kept);

}  // namespace parley::fcgi
