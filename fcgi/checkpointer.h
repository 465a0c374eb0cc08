// The checkpointer: one process beside the workers that moves the WAL into
// the database file, so that no request ever pays for a checkpoint and the
// WAL file stays bounded under a steady stream of writes.
#pragma once

#include <string>

namespace parley::fcgi {

struct CheckpointerConfig {
  std::string db_path;
  int interval_ms = 50;          // a passive checkpoint this often
  int restart_frames = 16384;    // a restart once the WAL holds this many (64 MiB of 4 KiB pages)
};

// Runs in the forked child until SIGTERM or SIGINT; returns the exit code.
int RunCheckpointer(const CheckpointerConfig& cfg);

}  // namespace parley::fcgi
