// One FastCGI worker process: opens its own SQLite connections (after fork,
// never inherited) and serves several requests at once on threads, reads on
// each thread's own connection and writes through one Writer (writer.h),
// until told to stop.
#pragma once

#include <string>
#include <vector>

#include "fcgi/metrics.h"
#include "schema/backend/backend.h"

namespace parley::fcgi {

struct WorkerConfig {
  std::string db;        // PARLEY_DB: an SQLite path or a postgresql:// URL (schema/backend)
  std::string data_dir;  // uploads: spool/ and uploads/ under it
  std::string events_socket;  // empty: no wake-ups
  int listen_fd = -1;         // non-blocking, shared by all workers
  Limits limits;              // per-user write quotas (fcgi/limits_config.h)
  Sync sync = Sync::kFull;    // PARLEY_SYNC
  int threads = 2;            // request threads (writes do not hold one while they wait)
  int running = 2;            // of those, how many compute at once (gate.h)
  Metrics* metrics = nullptr; // shared by the pool; null: this process's own
  size_t slot = 0;            // this worker's index in the pool (< Metrics::kWorkerSlots)
  int handoff_fd = -1;        // where a reload sends the kept connections (handoff.h)
  std::vector<int> adopted;   // kept connections of the predecessor, now this worker's
};

// Runs in the forked child; returns the process exit code. SIGTERM or
// SIGINT lets the requests in progress finish, then returns 0.
int RunWorker(const WorkerConfig& cfg);

}  // namespace parley::fcgi
