// Design note. Workers block in accept() on one shared listening socket; the
// kernel wakes exactly one of them per connection (no thundering herd, no
// extra poll per request). A worker accepts on its own duplicate of that
// descriptor. A stop signal (SIGTERM, SIGINT) sets a flag and closes the
// duplicate. The handler is installed with SA_RESTART, so a request in
// progress is not disturbed and is answered; an accept() that was waiting
// (or is about to wait) fails with EBADF instead of blocking, which closes
// the window between the "stop?" check and accept() that libfcgi's own loop
// has. On a reload the other workers (old or new) serve what is queued.
// When the whole pool stops, the master first unlinks the socket path (no
// new connection can arrive) and makes the socket non-blocking; a stopping
// worker that sees that answers the connections still queued in the backlog
// before it exits, since closing the last descriptor would reset them.
//
// Threads (issue 9). A worker runs cfg.threads request threads, taking
// turns in FCGX_Accept_r on the same duplicate, one Exchange (exchange.h)
// per request; one Writer thread (writer.h) that runs every authenticated
// unsafe request in a group-committed batch; and one Responder thread
// (responder.h) that answers those once their batch is durable. A request
// thread hands a write over and goes back to accept(), so a few threads
// suffice (2 by default, one per seat). Of the request threads, at most
// cfg.running compute at once (gate.h), each on the read connection of its
// seat (a Lane: WAL readers never wait for the writer). Register and login stay on
// their request thread, in transactions of their own: their password hash
// takes tens of milliseconds that a batch must not wait for. Closing the
// descriptor does not wake a thread already blocked in accept() (Linux), so
// the main thread, which alone takes SIGTERM, then sends SIGUSR1 (installed
// without SA_RESTART, and unblocked only around FCGX_Accept_r, which is
// told to fail on EINTR) to every thread still waiting there. A thread that
// is serving has it blocked, so its request is never interrupted.
#include "fcgi/worker.h"

#include <fcgiapp.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "fcgi/api.h"
#include "fcgi/auth.h"
#include "fcgi/exchange.h"
#include "fcgi/gate.h"
#include "fcgi/input.h"
#include "fcgi/responder.h"
#include "fcgi/writer.h"
#include "schema/crypto.h"
#include "schema/log.h"

namespace parley::fcgi {
namespace {

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_accept_fd = -1;
void OnStop(int) {
  if (!g_stop && g_accept_fd >= 0) close(g_accept_fd);  // async-signal-safe
  g_stop = 1;
}
// SIGUSR1 only interrupts an accept() (see the design note).
void OnKick(int) {}

// What a computing thread uses: a read connection and the Api over it. One
// per seat of the gate, and one for the writer.
struct Lane {
  std::unique_ptr<OpenStorage> db;
  Storage* store = nullptr;  // db's
  std::unique_ptr<Notifier> notifier;
  std::unique_ptr<Api> api;
};
using Lanes = std::vector<std::unique_ptr<Lane>>;

// A request thread, as the stopping main thread sees it.
struct RequestThread {
  std::atomic<bool> in_accept{false};
  std::atomic<bool> finished{false};
  std::thread thread;
};


// Serves one accepted exchange: a read (or a login) here, on the seat's
// connection; a write is handed to the writer, which answers it through
// the responder once its batch is durable (exchange.h).
void Serve(std::unique_ptr<Exchange> ex, const Lanes& lanes, Writer& writer, Gate& gate, Metrics& metrics) {
  ex->Read();
  const Request& req = ex->req;
  if (IsStatsPath(req.path)) {
    ex->Answer(StatsResponse(req, metrics), metrics);
    return;
  }
  ex->route = Route(req.method, req.path);
  if (ex->route.kind == RouteMatch::Kind::kFound && ex->route.runs == RunsOn::kBatch) {
    writer.Submit(std::move(ex));
    return;
  }
  Gate::Pass pass = gate.Enter();
  Lane& lane = *lanes[static_cast<size_t>(pass.seat())];
  const uint64_t commits = lane.store->commits();
  Response resp = lane.api->Handle(req, ex->route);
  metrics.Syncs(lane.store->commits() - commits);
  ex->Answer(resp, metrics);
  LOG_DEBUG("%s %s -> %d", req.method.c_str(), req.path.c_str(), resp.status);
  // Logins and registrations commit on the seat's connection: the checkpoint
  // they may have made due, after the response (schema/db.h).
  if (Status st = lane.store->MaintainIfDue(); !st.ok()) LOG_WARN("checkpoint: %s", st.message().c_str());
}

// Answers the connections queued on a pool that is stopping (see the design
// note). accept() on the non-blocking socket fails with EAGAIN once the
// backlog is empty, whichever worker took the last one.
void DrainBacklog(int listen_fd, const Lanes& lanes, Writer& writer, Gate& gate, Metrics& metrics) {
  int flags = fcntl(listen_fd, F_GETFL);
  if (flags < 0 || !(flags & O_NONBLOCK)) return;  // a reload: others serve the queue
  int served = 0;
  for (;;) {
    auto ex = std::make_unique<Exchange>(listen_fd, 0);
    if (!ex->Accept()) break;
    Serve(std::move(ex), lanes, writer, gate, metrics);
    ++served;
  }
  if (served > 0) LOG_DEBUG("answered %d queued request(s) before stopping", served);
}

// One request thread of a process at a time waits in FCGX_Accept_r, as
// libfcgi's own threaded example does: its accept() sits inside an fcntl
// lock on the listening socket, and a POSIX lock belongs to the process,
// not the thread, so every release by one thread woke all the others
// waiting for it (about 100 us of CPU per request with 32 threads, perf);
// a mutex wakes one.
void RunRequestThread(RequestThread& self, std::mutex& accept_turn, const Lanes& lanes, Writer& writer, Gate& gate,
                      Metrics& metrics) {
  pthread_setname_np(pthread_self(), "fcgi-req");  // tests/e2e/stack.cc looks for it
  sigset_t kick;
  sigemptyset(&kick);
  sigaddset(&kick, SIGUSR1);
  while (!g_stop) {
    auto ex = std::make_unique<Exchange>(g_accept_fd, FCGI_FAIL_ACCEPT_ON_INTR);
    std::unique_lock<std::mutex> turn(accept_turn);
    if (g_stop) break;
    self.in_accept = true;
    pthread_sigmask(SIG_UNBLOCK, &kick, nullptr);
    const bool accepted = ex->Accept();
    pthread_sigmask(SIG_BLOCK, &kick, nullptr);
    self.in_accept = false;
    turn.unlock();
    if (!accepted) {
      if (g_stop) break;
      if (errno == EINTR) continue;
      // accept() failed for a reason other than a stop (EMFILE, ENOBUFS):
      // pause instead of spinning, then try again.
      LOG_WARN("accept failed: %s", std::strerror(errno));
      usleep(100 * 1000);
      continue;
    }
    // The name tells a serving thread from a waiting one (top -H; the e2e
    // tests' idleness check, tests/e2e/stack.cc): both may wait on a futex.
    pthread_setname_np(pthread_self(), "fcgi-serve");
    Serve(std::move(ex), lanes, writer, gate, metrics);
    pthread_setname_np(pthread_self(), "fcgi-req");
  }
  self.finished = true;
}

Result<std::unique_ptr<Lane>> OpenLane(const WorkerConfig& cfg, const UploadDirs& uploads) {
  auto lane = std::make_unique<Lane>();
  PARLEY_ASSIGN_OR_RETURN(lane->db, OpenStorage::Open(cfg.db, StorageOptions{cfg.limits, cfg.sync}));
  lane->store = &lane->db->storage();
  lane->notifier =
      std::make_unique<Notifier>(cfg.events_socket, lane->store->carries_wakeups() ? lane->store : nullptr);
  lane->api = std::make_unique<Api>(*lane->store, *lane->notifier, uploads);
  return lane;
}

// Uploads sit beside the database (DESIGN: PARLEY_VAR holds them), in the
// spool and uploads directories that nginx/parley.conf names too.
UploadDirs OpenUploadDirs(const WorkerConfig& cfg) {
  std::string data_dir = cfg.data_dir;
  // Absolute and without symlinks, as nginx names the spooled files
  // (tools/nginx-conf resolves PARLEY_VAR with pwd -P).
  if (std::unique_ptr<char, decltype(&free)> real(realpath(data_dir.c_str(), nullptr), &free); real) {
    data_dir = real.get();
  }
  UploadDirs uploads{data_dir + "/spool", data_dir + "/uploads"};
  if (mkdir(uploads.files.c_str(), 0700) != 0 && errno != EEXIST) {
    LOG_WARN("cannot create %s: %s", uploads.files.c_str(), std::strerror(errno));
  }
  return uploads;
}

}  // namespace

int RunWorker(const WorkerConfig& cfg) {
  SetLogRole("fcgi worker");
  // Die with the master rather than linger as an orphan holding the socket.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  g_accept_fd = fcntl(cfg.listen_fd, F_DUPFD_CLOEXEC, 0);
  if (g_accept_fd < 0) return 1;
  struct sigaction sa {};
  sa.sa_handler = OnStop;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  struct sigaction kick {};
  kick.sa_handler = OnKick;
  kick.sa_flags = 0;  // no SA_RESTART: the point is to interrupt accept()
  sigemptyset(&kick.sa_mask);
  sigaction(SIGUSR1, &kick, nullptr);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGCHLD, SIG_DFL);
  // Every thread starts with these blocked; only this one takes stop
  // signals (sigsuspend below), only a thread in accept() takes SIGUSR1.
  sigset_t blocked, waiting;
  sigemptyset(&blocked);
  for (int sig : {SIGTERM, SIGINT, SIGUSR1}) sigaddset(&blocked, sig);
  pthread_sigmask(SIG_BLOCK, &blocked, &waiting);
  sigdelset(&waiting, SIGTERM);
  sigdelset(&waiting, SIGINT);

  if (!CryptoInit().ok()) return 1;  // checked by main() before the pool started
  std::unique_ptr<Metrics> own_metrics;
  if (!cfg.metrics) own_metrics.reset(Metrics::CreatePrivate());
  Metrics& metrics = cfg.metrics ? *cfg.metrics : *own_metrics;

  auto open_error = [&cfg](const Status& st) {
    LOG_ERROR("cannot open the database %s: %s", Redacted(cfg.db).c_str(), st.message().c_str());
    return 1;
  };
  const UploadDirs uploads = OpenUploadDirs(cfg);
  auto writer_lane = OpenLane(cfg, uploads);
  if (!writer_lane.ok()) return open_error(writer_lane.status());
  Lane& w = **writer_lane;
  const int running = std::max(1, std::min(cfg.running, cfg.threads));
  Gate gate(running);
  Responder responder(metrics);
  Writer writer(*w.store, *w.api, *w.notifier, gate, metrics, responder);
  Lanes lanes;
  for (int i = 0; i < running; ++i) {
    auto lane = OpenLane(cfg, uploads);
    if (!lane.ok()) return open_error(lane.status());
    lanes.push_back(std::move(lane).value());
  }
  std::vector<std::unique_ptr<RequestThread>> threads;
  for (int i = 0; i < std::max(1, cfg.threads); ++i) threads.push_back(std::make_unique<RequestThread>());

  if (FCGX_Init() != 0) return 1;
  responder.Start();
  writer.Start();
  std::mutex accept_turn;
  for (auto& t : threads) {
    RequestThread* self = t.get();
    self->thread = std::thread([self, &accept_turn, &lanes, &writer, &gate, &metrics] {
      RunRequestThread(*self, accept_turn, lanes, writer, gate, metrics);
    });
  }
  LOG_DEBUG("worker ready with %zu request threads, %d at once", threads.size(), running);
  while (!g_stop) sigsuspend(&waiting);
  LOG_DEBUG("worker stopping");
  // The descriptor is closed (OnStop); wake the threads blocked in accept().
  for (;;) {
    bool all = true;
    for (auto& t : threads) {
      if (t->finished) continue;
      all = false;
      if (t->in_accept) pthread_kill(t->thread.native_handle(), SIGUSR1);
    }
    if (all) break;
    usleep(10 * 1000);
  }
  for (auto& t : threads) t->thread.join();
  DrainBacklog(cfg.listen_fd, lanes, writer, gate, metrics);
  writer.Stop();
  responder.Stop();
  return 0;
}

}  // namespace parley::fcgi
