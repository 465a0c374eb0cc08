// parley-events: the push daemon behind nginx's /events/ location.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "events/config.h"
#include "events/server.h"
#include "schema/log.h"

int main(int argc, char** argv) {
  // The database (session hashes), its -wal and -shm and the --log-file are
  // the service's alone, also when started by hand under a umask of 022:
  // tools/run and the unit (UMask=0077) set the same. The sockets nginx
  // reaches are made 0660 explicitly (schema/posix.h, UnixBind).
  umask(077);
  parley::SetLogRole("events");
  // Until the loop handles them (server.cc), and between two images of an
  // upgrade, these would end the daemon by default: a second SIGHUP sent
  // during an upgrade must not. Ignored dispositions survive the exec, and
  // libevent puts this one back when it lets go of a signal.
  for (int sig : {SIGHUP, SIGUSR1, SIGUSR2}) signal(sig, SIG_IGN);
  // What an upgrade runs (events/reexec.h): read before anything could
  // replace the file, and the sockets the image before this one kept.
  const parley::events::Binary binary = parley::events::Binary::Running();
  auto inherited = parley::events::TakeInherited();
  auto cfg = parley::events::ParseConfig(argc, argv);
  if (!cfg.ok()) {
    std::fprintf(stderr, "parley-events: %s\n%s", cfg.status().message().c_str(), parley::events::Usage());
    return 2;
  }
  if (!cfg->log_file.empty()) {
    // Not freopen: when it fails it has already closed stderr, and the
    // message saying why went nowhere (exit 2, silently). Opened first,
    // then put in stderr's place, as SIGHUP reopens it (server.cc).
    const int fd = open(cfg->log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
      std::fprintf(stderr, "parley-events: --log-file %s: %s\n", cfg->log_file.c_str(), std::strerror(errno));
      return 2;
    }
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  parley::events::Sockets sockets;
  if (!inherited.ok()) {
    // Not ours to close: listen anew (refused if the socket is still live).
    LOG_ERROR("%s", inherited.status().message().c_str());
  } else if (inherited->has_value()) {
    sockets = std::move(**inherited);
  }
  const std::vector<std::string> args(argv, argv + argc);
  for (;;) {
    std::optional<parley::Result<parley::events::Sockets>> kept;  // set when it stopped for an upgrade
    {
      parley::events::Server server(*cfg, binary, std::move(sockets));
      if (parley::Status st = server.Start(); !st.ok()) {
        LOG_ERROR("cannot start: %s", st.message().c_str());
        return 1;
      }
      const int rc = server.Run();
      if (!server.upgrading()) return rc;
      kept = server.CopySockets();
    }  // the database and the loop closed before the exec
    if (!kept->ok()) {
      LOG_ERROR("cannot upgrade: %s; stopping", kept->status().message().c_str());
      return 1;
    }
    parley::Status st = parley::events::ExecAgain(binary.path(), args, **kept);
    // Still here: the same binary serves on with the same sockets.
    LOG_ERROR("upgrade: %s; going on with the binary running", st.message().c_str());
    sockets = std::move(*kept).value();
  }
}
