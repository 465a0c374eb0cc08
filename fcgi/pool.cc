// Design note. The master never touches SQLite after start-up (it migrates,
// then closes the connection before the first fork: SQLite connections must
// not cross fork()). It waits for signals synchronously with sigtimedwait(),
// so there is no handler code and no async-signal-safety to get wrong. A
// worker that exits while the pool runs is replaced; one that dies within a
// second of starting is replaced after a one-second pause, so a broken
// configuration does not fork in a tight loop. Each worker has a channel to
// the master for its kept connections (handoff.h): what a worker stopped by
// a reload hands over, the next worker forked inherits. The start-up
// migration, which a reload's exec runs again, waits (bounded) for a
// database that is unavailable for now rather than stop a serving pool
// (start_retry.h). The queue gauge of a worker that died goes with it
// (Metrics::WorkerGone): nothing else would take its queued writes out.
#include "fcgi/pool.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <vector>

#include "fcgi/handoff.h"
#include "schema/start_retry.h"
#include "fcgi/worker.h"
#include "schema/listen_address.h"
#include "schema/log.h"
#include "schema/migrate.h"
#include "schema/posix.h"

namespace parley::fcgi {
namespace {

using Clock = std::chrono::steady_clock;

struct WorkerSlot {
  pid_t pid = 0;
  Clock::time_point started;
  Clock::time_point respawn_at;  // when pid == 0
  Fd channel;                    // the master's end of the worker's handoff channel
};

// Forks the worker of slot s, which inherits the connections in *adopted
// (the master's copies are closed once it has them).
pid_t Spawn(const PoolConfig& cfg, int listen_fd, Metrics* metrics, std::vector<WorkerSlot>& slots, WorkerSlot& s,
            std::vector<Fd>* adopted) {
  auto channel = OpenHandoffChannel();
  if (!channel.ok()) LOG_WARN("no handoff channel: %s", channel.status().message().c_str());
  pid_t master = getpid();
  pid_t pid = fork();
  if (pid > 0) {
    if (channel.ok()) s.channel = std::move(channel->master);
    adopted->clear();
  }
  if (pid != 0) return pid;  // parent, or -1
  // The worker asks for SIGTERM when the master dies (RunWorker does too);
  // a master killed with SIGKILL before that request leaves an orphan that
  // would wait on the unlinked socket forever, so ask at once and check.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (getppid() != master) _exit(0);
  // The child: the master's blocked signal set must not leak into it.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  WorkerConfig wc{cfg.db, cfg.data_dir, cfg.events_socket, listen_fd, cfg.limits, cfg.sync, cfg.threads, cfg.running, metrics};
  wc.slot = static_cast<size_t>(&s - slots.data());
  // The other workers' channels are the master's to read.
  for (WorkerSlot& other : slots) other.channel.Reset();
  if (channel.ok()) {
    channel->master.Reset();
    wc.handoff_fd = channel->worker.get();
  }
  for (const Fd& fd : *adopted) wc.adopted.push_back(fd.get());
  _exit(RunWorker(wc));
}

}  // namespace

int RunPool(const PoolConfig& cfg, Inherited inherited) {
  SetLogRole("fcgi master");
  // Blocked before the migration, whose retries wait for a stop (after a
  // reload's exec they are blocked already: exec keeps the mask).
  sigset_t sigs;
  sigemptyset(&sigs);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&sigs, s);
  sigprocmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);
  {
    // A database unavailable for now (down, busy) is waited for, bounded
    // (start_retry.h): after a reload, exiting here would stop the pool
    // that was serving. A stop signal meanwhile ends the wait.
    sigset_t stop;
    sigemptyset(&stop);
    for (int s : {SIGTERM, SIGINT}) sigaddset(&stop, s);
    bool stopped = false;
    const std::string action = "migrating the database " + Redacted(cfg.db) + " at start-up";
    auto version = RetryWhileUnavailable(
        action.c_str(), StartRetry{}, [&cfg] { return MigrateStorage(cfg.db); },
        [&stop, &stopped](std::chrono::milliseconds delay) {
          const auto s = std::chrono::duration_cast<std::chrono::seconds>(delay);
          timespec wait{static_cast<time_t>(s.count()), static_cast<long>((delay - s).count() * 1000 * 1000)};
          stopped = sigtimedwait(&stop, nullptr, &wait) > 0;
          return !stopped;
        });
    if (stopped) {
      LOG_INFO("stopped before start-up");
      return 0;
    }
    if (!version.ok()) {
      LOG_ERROR("database %s: %s", Redacted(cfg.db).c_str(), version.status().message().c_str());
      return 1;
    }
    LOG_INFO("database %s at schema version %d", Redacted(cfg.db).c_str(), *version);
  }  // closed before any fork

  // A blocking stream socket (see worker.cc), reachable by the web server.
  // main() validated the address; a TCP one has no file to unlink.
  auto address = ParseListenAddress("--listen", cfg.listen_path);
  if (!address.ok()) {
    LOG_ERROR("%s", address.status().message().c_str());
    return 1;
  }
  // After a reload's exec, the socket nginx connects to is the one it had.
  const bool reloaded = inherited.listen.valid();
  Fd listen_fd = std::move(inherited.listen);
  if (!listen_fd.valid()) {
    auto listening = ListenOn(*address, /*nonblocking=*/false);
    if (!listening.ok()) {
      LOG_ERROR("%s", listening.status().message().c_str());
      return 1;
    }
    listen_fd = std::move(listening).value();
  }
  // Counters every worker adds to, whichever answers GET /api/_stats.
  auto metrics = Metrics::CreateShared();
  if (!metrics.ok()) {
    LOG_ERROR("%s", metrics.status().message().c_str());
    return 1;
  }
  // Workers inherit the socket across fork; CLOEXEC only keeps it from exec'd programs.

  std::vector<WorkerSlot> slots(static_cast<size_t>(cfg.workers));
  // By workers that stopped (or the image before this one), for the next
  // one forked.
  std::vector<Fd> handed_over = std::move(inherited.kept);
  bool stopping = false;
  bool reloading = false;  // waiting for the workers to stop, then exec
  Clock::time_point deadline;
  int exit_code = 0;
  LOG_INFO("listening on %s%s with %d workers of %d request threads (%d at once), synchronous=%s",
           cfg.listen_path.c_str(), reloaded ? " (kept across the reload)" : "", cfg.workers, cfg.threads,
           cfg.running, cfg.sync == Sync::kFull ? "full" : "normal");

  for (;;) {
    Clock::time_point now = Clock::now();
    if (!stopping && !reloading) {
      for (WorkerSlot& s : slots) {
        if (s.pid != 0 || now < s.respawn_at) continue;
        s.pid = Spawn(cfg, listen_fd.get(), *metrics, slots, s, &handed_over);
        s.started = now;
        if (s.pid < 0) {
          LOG_ERROR("%s", PosixError("fork", errno).message().c_str());
          s.pid = 0;
          s.respawn_at = now + std::chrono::seconds(1);
        }
      }
    }
    size_t alive = 0;
    for (const WorkerSlot& s : slots) alive += s.pid != 0;
    if (stopping && alive == 0) break;
    if (reloading && alive == 0) {
      LOG_INFO("reloading: running %s again, with the socket and %zu kept connection(s)", cfg.exe.c_str(),
               handed_over.size());
      Status st = ExecAgain(cfg.exe, cfg.argv, listen_fd.get(), handed_over);
      // Only on failure: the running binary goes on, with new workers forked at once.
      LOG_ERROR("reload: %s; going on with the binary running", st.message().c_str());
      reloading = false;
      continue;
    }
    if ((stopping || reloading) && alive > 0 && now >= deadline) {
      LOG_WARN("drain timeout: killing %zu worker(s)", alive);
      for (WorkerSlot& s : slots) {
        if (s.pid != 0) kill(s.pid, SIGKILL);
      }
      deadline = now + std::chrono::hours(1);
      if (stopping) exit_code = 1;
    }

    timespec tick{0, 200 * 1000 * 1000};
    int sig = sigtimedwait(&sigs, nullptr, &tick);
    if (sig == SIGTERM || sig == SIGINT) {
      if (!stopping) {
        LOG_INFO("stopping: draining %zu worker(s)", alive);
        stopping = true;
        reloading = false;
        // No new connection from here on; what is queued gets answered by
        // the workers (worker.cc), which see the non-blocking flag. A
        // connect() that found the path just before the unlink may still
        // be on its way into the backlog (we saw one land 2 ms later, with
        // nginx preempted, and be reset when the socket closed): the
        // workers go on serving for a moment before they drain and stop.
        // Over TCP there is no path to take away: connections that arrive
        // while the workers drain are served, or reset when they stop.
        if (!address->tcp) unlink(cfg.listen_path.c_str());
        int flags = fcntl(listen_fd.get(), F_GETFL);
        if (flags >= 0) fcntl(listen_fd.get(), F_SETFL, flags | O_NONBLOCK);
        usleep(100 * 1000);
        deadline = Clock::now() + std::chrono::seconds(cfg.drain_timeout_s);
        for (WorkerSlot& s : slots) {
          if (s.pid != 0) kill(s.pid, SIGTERM);
        }
      }
    } else if (sig == SIGHUP && !stopping && !reloading) {
      // Each worker finishes its requests and hands its kept connections
      // over; then the binary installed now takes over (reexec.h), or,
      // without one, each worker is replaced as it exits.
      LOG_INFO("reloading workers");
      reloading = !cfg.exe.empty();
      deadline = Clock::now() + std::chrono::seconds(cfg.drain_timeout_s);
      for (WorkerSlot& s : slots) {
        if (s.pid != 0) kill(s.pid, SIGTERM);
      }
    }
    // Reap on every turn, whatever woke us: SIGCHLD signals can merge.
    for (;;) {
      int status = 0;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      for (WorkerSlot& s : slots) {
        if (s.pid != pid) continue;
        s.pid = 0;
        // What it had queued and counted, it will never take back out.
        (*metrics)->WorkerGone(static_cast<size_t>(&s - slots.data()));
        // Queued on the channel, they outlived the worker.
        if (s.channel.valid()) {
          if (Status st = TakeOver(s.channel.get(), &handed_over); !st.ok()) {
            LOG_WARN("kept connections of worker %d: %s", static_cast<int>(pid), st.message().c_str());
          }
          s.channel.Reset();
        }
        Clock::time_point t = Clock::now();
        bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!stopping && !clean) {
          LOG_WARN("worker %d %s %d; restarting", static_cast<int>(pid),
                   WIFSIGNALED(status) ? "killed by signal" : "exited with", 
                   WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        }
        s.respawn_at = t - s.started < std::chrono::seconds(1) && !clean ? t + std::chrono::seconds(1) : t;
      }
    }
  }
  if (!address->tcp) unlink(cfg.listen_path.c_str());
  LOG_INFO("stopped");
  return exit_code;
}

}  // namespace parley::fcgi
