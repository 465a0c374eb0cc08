// One FastCGI worker process: opens its own SQLite connection (after fork,
// never inherited) and serves requests one at a time until told to stop.
#pragma once

#include <string>

#include "schema/store.h"

namespace parley::fcgi {

struct WorkerConfig {
  std::string db_path;
  std::string events_socket;  // empty: no wake-ups
  int listen_fd = -1;         // non-blocking, shared by all workers
  Limits limits;              // per-user write quotas (fcgi/limits_config.h)
};

// Runs in the forked child; returns the process exit code. SIGTERM or
// SIGINT lets the request in progress finish, then returns 0.
int RunWorker(const WorkerConfig& cfg);

}  // namespace parley::fcgi
