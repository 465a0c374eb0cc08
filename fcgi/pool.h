// The parley-fcgi master: prepares the database and the listening socket,
// forks the workers, restarts any that die, replaces them and itself with
// the binary installed now on SIGHUP (reexec.h) and drains them on
// SIGTERM/SIGINT.
#pragma once

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "fcgi/reexec.h"
#include "schema/backend/backend.h"

namespace parley::fcgi {

// The cores, and at least 2.
inline int OnePerCore() { return std::max(2, static_cast<int>(std::thread::hardware_concurrency())); }

struct PoolConfig {
  std::string db;        // PARLEY_DB: an SQLite path or a postgresql:// URL (schema/backend)
  std::string data_dir;  // uploads: spool/ and uploads/ under it
  std::string listen_path;    // unix socket or TCP address nginx connects to (schema/listen_address.h)
  std::string events_socket;  // parley-events' datagram socket
  // One worker, whose threads use every core: each worker has a writer of
  // its own, and writers of one database only take turns (SQLite's writer
  // lock, PostgreSQL's counter row), so a second worker adds waiting, not
  // throughput. On 2 cores, tools/bench/api: 6,411 / 5,864 sends/s, p99 19 /
  // 22 ms, with one worker; 4,591 / 4,078, p99 30 / 33 ms, with two; history
  // 6,075 / 6,034 against 5,714 / 5,497 reads/s.
  int workers = 1;
  int drain_timeout_s = 10;   // then stragglers are killed
  Limits limits;              // write quotas (fcgi/limits_config.h)
  Sync sync = Sync::kFull;    // PARLEY_SYNC: full (durable answers) or normal
  int threads = OnePerCore();  // request threads per worker (fcgi/worker.cc)
  int running = OnePerCore();  // of those, computing at once (fcgi/gate.h)
  // A reload runs this binary again, with these arguments (reexec.h);
  // empty: it forks new workers of the code running.
  std::string exe;
  std::vector<std::string> argv;
};

// Returns the process exit code. inherited: what the image before this one
// kept across its exec (reexec.h), or nothing.
int RunPool(const PoolConfig& cfg, Inherited inherited = {});

}  // namespace parley::fcgi
