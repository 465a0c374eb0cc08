// parley-events: the push daemon behind nginx's /events/ location.
#include <cstdio>

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
  if (!cfg->log_file.empty() && !std::freopen(cfg->log_file.c_str(), "a", stderr)) {
    std::perror("parley-events: --log-file");
    return 2;
  }
  parley::events::Server server(std::move(cfg).value());
  if (parley::Status st = server.Start(); !st.ok()) {
    LOG_ERROR("cannot start: %s", st.message().c_str());
    return 1;
  }
  return server.Run();
}
