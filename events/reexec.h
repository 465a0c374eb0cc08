// Upgrade in place (schema/reexec.h): SIGHUP, which reopens the log, also
// runs the binary installed now when the file at the daemon's path is no
// longer the one it runs.
//
// Design note. A restart of the push daemon is a gap with no socket: every
// browser that reconnects in it gets nginx's 502 (an EventSource given an
// error status stops for good), and a long-poll fails. On an upgrade the
// daemon ends every stream and poll as a shutdown does (a `retry:` hint,
// each client resumes from its last id and loses nothing), stops accepting,
// and execs itself, keeping two sockets: the listening one, where nginx's
// reconnects wait in the backlog until the new image accepts them, and the
// wake-up socket, whose datagrams wait in its queue. Held streams cannot be
// handed on: each is libevent's and evhttp's state, not a descriptor alone.
// A SIGHUP with the same binary (logrotate's) only reopens the log, so no
// stream is dropped for it. Presence rows are kept across the exec, and
// the new image gives their users the grace period to come back
// (Presence::Adopt): an upgrade announces nobody offline or online again. What an upgrade cannot do:
// - settings come from the arguments, the same across the exec: new ones
//   take a restart;
// - a binary that cannot be run leaves the running one serving, which says
//   why in the log;
// - /events/stats counters start again from zero.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "schema/posix.h"
#include "schema/status.h"

namespace parley::events {

// Read and removed at start-up: "listen=3;notify=4".
inline constexpr const char* kInheritVar = "PARLEY_EVENTS_INHERIT";

struct Sockets {
  Fd listen;  // a listening stream socket (unix or TCP)
  Fd notify;  // the bound datagram socket of wake-ups
};

// Reads and removes kInheritVar: nullopt when it is not set. Each
// descriptor must be the socket it is named as, else an error, and none is
// touched (they may not be ours). What is taken is close-on-exec.
Result<std::optional<Sockets>> TakeInherited();

// Runs exe with argv and kInheritVar naming the sockets. Returns only if
// the exec failed, with everything as it was.
Status ExecAgain(const std::string& exe, const std::vector<std::string>& argv, const Sockets& sockets);

// The running binary: its path, read at start-up, and the file it is.
class Binary {
 public:
  static Binary Running();
  // The file at `path` now, taken as the one running (tests).
  static Binary At(const std::string& path);
  const std::string& path() const { return path_; }
  // Whether the path now names another file than the one running (a new
  // inode, as install(1) and package managers make, or a rewrite of this
  // one). False when the path cannot be read: there is nothing to run.
  bool Replaced() const;

 private:
  struct Identity {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const Identity&) const = default;
  };
  static std::optional<Identity> Of(const std::string& path);
  std::string path_;
  std::optional<Identity> running_;
};

}  // namespace parley::events
