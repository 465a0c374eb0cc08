// parley-events: the push daemon behind nginx's /events/ location.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "events/config.h"
#include "events/server.h"
#include "schema/log.h"

int main(int argc, char** argv) {
  parley::SetLogRole("events");
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
  parley::events::Server server(std::move(cfg).value());
  if (parley::Status st = server.Start(); !st.ok()) {
    LOG_ERROR("cannot start: %s", st.message().c_str());
    return 1;
  }
  return server.Run();
}
