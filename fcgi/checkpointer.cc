// Design note. SQLite in WAL mode appends every commit to the WAL file;
// a checkpoint copies those pages back into the database file, and the
// WAL starts over from its beginning only when a checkpoint has copied
// everything and no reader still uses it. By default the connection that
// commits the 1000th page runs a passive checkpoint right there: that
// request pays for copying and two fsyncs (we measured p99 send latency
// of 150-250 ms from it), and under a steady stream of commits from two
// workers a passive checkpoint never catches up, so the WAL never starts
// over: it reached 330 MB in ten seconds of sends.
//
// Here one process does all checkpointing: a passive checkpoint every
// interval (it never blocks anyone; most pages get copied and synced this
// way), and once the WAL holds restart_frames frames a RESTART checkpoint,
// which holds new writers back only while it copies what the last passive
// run left and waits for the readers of the moment (all short) to finish.
// Workers and the events daemon keep a fallback auto-checkpoint far above
// restart_frames in case this process is down (the master restarts it).
#include "fcgi/checkpointer.h"

#include <signal.h>
#include <sys/prctl.h>
#include <time.h>

#include <chrono>

#include "schema/db.h"
#include "schema/log.h"

namespace parley::fcgi {
namespace {

volatile sig_atomic_t g_stop = 0;
void OnStop(int) { g_stop = 1; }

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

}  // namespace

int RunCheckpointer(const CheckpointerConfig& cfg) {
  SetLogRole("fcgi checkpointer");
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  prctl(PR_SET_NAME, "parley-ckpt");  // tells it from the workers in ps and tests
  struct sigaction sa {};
  sa.sa_handler = OnStop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);  // no SA_RESTART: the sleep ends at once
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGHUP, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);

  // A short busy timeout: a RESTART that cannot get its locks in time is
  // simply tried again on a later turn, and writers wait for it meanwhile.
  auto db = Db::Open(cfg.db_path, 200);
  if (!db.ok()) {
    LOG_ERROR("cannot open the database %s: %s", cfg.db_path.c_str(), db.status().message().c_str());
    return 1;
  }
  (*db)->SetAutoCheckpoint(0);
  Clock::time_point warned{};
  while (!g_stop) {
    timespec pause{cfg.interval_ms / 1000, (cfg.interval_ms % 1000) * 1000000L};
    nanosleep(&pause, nullptr);
    if (g_stop) break;
    auto wal = (*db)->Checkpoint(Db::CheckpointMode::kPassive);
    if (wal.ok() && wal->frames >= cfg.restart_frames) {
      Clock::time_point t = Clock::now();
      int frames = wal->frames;
      wal = (*db)->Checkpoint(Db::CheckpointMode::kRestart);
      if (wal.ok()) LOG_DEBUG("restarted the WAL after %d frames in %.1f ms", frames, MsSince(t));
    }
    // Busy is routine (a RESTART that met a long reader); anything else
    // is worth a line, at most one a minute.
    if (!wal.ok() && wal.status().code() != Code::kUnavailable &&
        Clock::now() - warned > std::chrono::minutes(1)) {
      warned = Clock::now();
      LOG_WARN("checkpoint failed: %s", wal.status().message().c_str());
    }
  }
  auto last = (*db)->Checkpoint(Db::CheckpointMode::kPassive);
  (void)last;
  LOG_DEBUG("checkpointer stopping");
  return 0;
}

}  // namespace parley::fcgi
