// The parley-fcgi master: prepares the database and the listening socket,
// forks the workers, restarts any that die, rolls them on SIGHUP and drains
// them on SIGTERM/SIGINT.
#pragma once

#include <string>

#include "schema/backend/backend.h"

namespace parley::fcgi {

struct PoolConfig {
  std::string db;        // PARLEY_DB: an SQLite path or a postgresql:// URL (schema/backend)
  std::string data_dir;  // uploads: spool/ and uploads/ under it
  std::string listen_path;    // unix socket or TCP address nginx connects to (schema/listen_address.h)
  std::string events_socket;  // parley-events' datagram socket
  int workers = 1;
  int drain_timeout_s = 10;   // then stragglers are killed
  Limits limits;              // write quotas (fcgi/limits_config.h)
  Sync sync = Sync::kFull;    // PARLEY_SYNC: full (durable answers) or normal
  int threads = 2;            // request threads per worker (fcgi/worker.cc; main: one per core)
  int running = 2;            // of those, computing at once (fcgi/gate.h; main: one per core)
};

// Returns the process exit code.
int RunPool(const PoolConfig& cfg);

}  // namespace parley::fcgi
