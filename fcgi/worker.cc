// Design note. Workers share one listening socket. Each keeps the
// connections nginx opened to it, and keeps open between requests, in a
// Keeper (keeper.h), which also accepts new ones (the listening socket is in
// its epoll set, exclusive: one worker is woken per connection). A stop
// signal (SIGTERM, SIGINT) sets a flag and stops the keeper, which wakes its
// wait at once (an eventfd: async-signal-safe). The handler is installed
// with SA_RESTART, so a request in progress is not disturbed and is
// answered. A stopping worker then answers the requests already waiting on
// its kept connections. On a reload it hands them all to the master for its
// successor (handoff.h), and the other workers (old or new) serve what is
// queued on the socket; when the pool stops it closes them, and nginx takes
// a closed cached connection for an error and tries again (upstream
// parley_fcgi).
// When the whole pool stops, the master first unlinks the socket path (no
// new connection can arrive) and makes the socket non-blocking; a stopping
// worker that sees that answers the connections still queued in the backlog
// before it exits, since closing the last descriptor would reset them.
//
// Threads (issue 9). A worker runs cfg.threads request threads, taking
// turns to wait for the keeper's next connection with a request, one
// Exchange (exchange.h) per request; one Writer thread (writer.h) that runs
// every authenticated unsafe request in a group-committed batch; and one
// Responder thread (responder.h) that answers those once their batch is
// durable. A request thread hands a write over and goes back for the next
// request, so a few threads suffice (2 by default, one per seat). Of the
// request threads, at most cfg.running compute at once (gate.h), each on the
// read connection of its seat (a Lane: WAL readers never wait for the
// writer). Register and login stay on their request thread, in transactions
// of their own: their password hash
// takes tens of milliseconds that a batch must not wait for. Only the main
// thread takes the stop signals, so no request thread is ever interrupted.
#include "fcgi/worker.h"

#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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
#include "fcgi/handoff.h"
#include "fcgi/keeper.h"
#include "fcgi/responder.h"
#include "fcgi/response.h"
#include "fcgi/thread_name.h"
#include "fcgi/uploads_dir.h"
#include "fcgi/writer.h"
#include "schema/crypto.h"
#include "schema/log.h"

namespace parley::fcgi {
namespace {

volatile sig_atomic_t g_stop = 0;
Keeper* g_keeper = nullptr;  // set before the stop signals are unblocked
void OnStop(int) {
  g_stop = 1;
  if (g_keeper) g_keeper->Stop();  // async-signal-safe
}

// What a computing thread uses: a read connection and the Api over it. One
// per seat of the gate, and one for the writer.
struct Lane {
  std::unique_ptr<OpenStorage> db;
  Storage* store = nullptr;  // db's
  std::unique_ptr<Notifier> notifier;
  std::unique_ptr<Api> api;
};

using Lanes = std::vector<std::unique_ptr<Lane>>;

// On SQLite, whether the lane's file is still the one at the database's
// path. A worker whose file was moved, deleted or replaced refuses writes
// (Db::StillAtItsPath); its reads went on from the file it has open, so
// one worker answered from the old file what another, started since,
// answered from the new one, or answered reads with health at 503. Now
// they are refused alike, 503 storage_unavailable. It costs a read one
// stat() of the path (about a microsecond, of the ~100 a read takes).
Status ReadsFromItsFile(const Lane& lane) {
  return lane.store->remote() ? Status::Ok() : lane.store->Writable();
}

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
  const bool write = ex->route.kind == RouteMatch::Kind::kFound && ex->route.runs == RunsOn::kBatch;
  // On PostgreSQL a write's checks (its body parsed, its session read: a
  // round trip) run here, beside the other request threads, not in the
  // writer's turn that every write of the process, and every pool's batch
  // behind the counter row, waits for. On SQLite the session read is a call
  // into the process, cheaper in the writer's turn than a pass of the gate
  // (which reads then wait for): measured both ways (tools/bench/HISTORY.md,
  // fortieth session). Like a request that a server has begun, a write
  // admitted here goes on if its session ends while it waits for its batch
  // (a few milliseconds); the next request is refused.
  if (write && !lanes.front()->store->remote()) {
    writer.Submit(std::move(ex));
    return;
  }
  Gate::Pass pass = gate.Enter();
  Lane& lane = *lanes[static_cast<size_t>(pass.seat())];
  if (write) {
    std::variant<Response, Admitted> admitted = lane.api->Admit(req, ex->route);
    pass.Leave();
    if (Response* refused = std::get_if<Response>(&admitted)) {
      ex->Answer(*refused, metrics);
      return;
    }
    ex->admitted = std::move(std::get<Admitted>(admitted));
    writer.Submit(std::move(ex));
    return;
  }
  if (Status st = ReadsFromItsFile(lane); !st.ok()) {
    ex->Answer(ErrorResponse(st), metrics);
    return;
  }
  const uint64_t commits = lane.store->commits();
  Response resp = lane.api->Handle(req, ex->route);
  metrics.Syncs(lane.store->commits() - commits);
  ex->Answer(resp, metrics);
  LOG_DEBUG("%s %s -> %d", req.method.c_str(), req.path.c_str(), resp.status);
  // Logins and registrations commit on the seat's connection: the checkpoint
  // they may have made due, after the response (schema/db.h).
  if (Status st = lane.store->MaintainIfDue(); !st.ok()) LOG_WARN("checkpoint: %s", st.message().c_str());
}

// Answers what reached this worker before it stopped (see the design note).
void ServeLeftovers(Keeper& keeper, const Lanes& lanes, Writer& writer, Gate& gate, Metrics& metrics) {
  int served = 0;
  while (std::optional<int> fd = keeper.Leftover()) {
    auto ex = std::make_unique<Exchange>(*fd, &keeper);
    if (!ex->Open()) continue;
    Serve(std::move(ex), lanes, writer, gate, metrics);
    ++served;
  }
  if (served > 0) LOG_DEBUG("answered %d waiting request(s) before stopping", served);
}

// On a reload: the connections nginx keeps, to the worker that replaces
// this one (handoff.h). Closed if they cannot be sent.
void HandOverKept(Keeper& keeper, int channel) {
  std::vector<int> fds = keeper.Release();
  if (fds.empty()) return;
  Status st = channel >= 0 ? HandOver(channel, fds) : Status::Internal("no channel to the master");
  for (int fd : fds) close(fd);
  if (st.ok()) {
    LOG_INFO("handed %zu kept connection(s) to the next worker", fds.size());
  } else {
    LOG_WARN("closed %zu kept connection(s): %s", fds.size(), st.message().c_str());
  }
}

// One request thread of a process at a time waits for the keeper: the
// listening socket is level-triggered, and two threads woken by one
// connection would both accept(). Under load the next request is often
// ready at once: the thread takes it without waiting, and keeps its name
// (thread_name.h).
void RunRequestThread(Keeper& keeper, std::mutex& turn, const Lanes& lanes, Writer& writer, Gate& gate,
                      Metrics& metrics) {
  ThreadName name("fcgi-req");
  for (;;) {
    std::optional<int> fd;
    {
      std::unique_lock<std::mutex> lock(turn, std::try_to_lock);
      if (lock.owns_lock()) fd = keeper.Next(false);
      if (!fd) {
        name.Waiting();
        if (!lock.owns_lock()) lock.lock();
        fd = keeper.Next();
      }
    }
    if (!fd) break;  // stopping
    auto ex = std::make_unique<Exchange>(*fd, &keeper);
    if (!ex->Open()) continue;
    name.Serving();
    Serve(std::move(ex), lanes, writer, gate, metrics);
  }
}

Result<std::unique_ptr<Lane>> OpenLane(const WorkerConfig& cfg, const UploadDirs& uploads, ReadQuota& reads) {
  auto lane = std::make_unique<Lane>();
  PARLEY_ASSIGN_OR_RETURN(lane->db, OpenStorage::Open(cfg.db, StorageOptions{cfg.limits, cfg.sync}));
  lane->store = &lane->db->storage();
  lane->notifier =
      std::make_unique<Notifier>(cfg.events_socket, lane->store->carries_wakeups() ? lane->store : nullptr);
  lane->api = std::make_unique<Api>(*lane->store, *lane->notifier, uploads, &reads);
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

// Every connection a worker computes on: the writer's, and one per seat of
// the gate. Opened all or none: a worker short of one would serve fewer
// requests at once than its gate lets in.
struct LaneSet {
  std::unique_ptr<Lane> writer;
  Lanes seats;
};
Result<LaneSet> OpenLanes(const WorkerConfig& cfg, const UploadDirs& uploads, ReadQuota& reads, int seats) {
  LaneSet set;
  PARLEY_ASSIGN_OR_RETURN(set.writer, OpenLane(cfg, uploads, reads));
  for (int i = 0; i < seats; ++i) {
    PARLEY_ASSIGN_OR_RETURN(auto lane, OpenLane(cfg, uploads, reads));
    set.seats.push_back(std::move(lane));
  }
  return set;
}

// Until the database opens: each request answered with why it cannot
// (503 storage_unavailable: an SQLite file gone or failing, a PostgreSQL
// server down or at its max_connections), the open tried again before a
// request at most once a second, each failed attempt logged. A worker
// restarted after its database file was moved or deleted used to create an
// empty one and answer every request 500; now only a start-up's migration
// creates the file (schema/backend.h). On PostgreSQL such a worker used to
// exit, and the master started another each second: the requests waited in
// the listening socket's backlog, which a socket keeps accepting, until
// nginx's read timeout (504 after 30 s). Now nginx gets an answer at once.
// Returns the lanes once they opened, with the request that found them open
// (to be served once the worker runs), or nothing when the worker was
// stopped first.
// Single-threaded: the worker's threads start only after it returns.
struct Opened {
  LaneSet lanes;
  std::unique_ptr<Exchange> first;
};
std::optional<Opened> ServeUntilTheDatabaseOpens(const WorkerConfig& cfg, const UploadDirs& uploads, ReadQuota& reads,
                                                 int seats, Keeper& keeper, Metrics& metrics, Status why) {
  using Clock = std::chrono::steady_clock;
  Clock::time_point next_attempt = Clock::now() + std::chrono::seconds(1);
  auto answer = [&why, &metrics](Exchange& ex) {
    ex.Read();
    ex.Answer(IsStatsPath(ex.req.path) ? StatsResponse(ex.req, metrics) : ErrorResponse(why), metrics);
  };
  while (std::optional<int> fd = keeper.Next()) {
    auto ex = std::make_unique<Exchange>(*fd, &keeper);
    if (!ex->Open()) continue;
    if (Clock::now() >= next_attempt) {
      auto lanes = OpenLanes(cfg, uploads, reads, seats);
      if (lanes.ok()) {
        LOG_INFO("the database %s opened: serving", Redacted(cfg.db).c_str());
        return Opened{std::move(lanes).value(), std::move(ex)};
      }
      why = lanes.status();
      next_attempt = Clock::now() + std::chrono::seconds(1);
      LOG_ERROR("cannot open the database %s: %s; answering 503 until it opens", Redacted(cfg.db).c_str(),
                why.message().c_str());
    }
    answer(*ex);
  }
  // Stopped: what is waiting gets the same answer.
  while (std::optional<int> fd = keeper.Leftover()) {
    Exchange ex(*fd, &keeper);
    if (ex.Open()) answer(ex);
  }
  return std::nullopt;
}

}  // namespace

int RunWorker(const WorkerConfig& cfg) {
  SetLogRole("fcgi worker");
  // Die with the master rather than linger as an orphan holding the socket.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  struct sigaction sa {};
  sa.sa_handler = OnStop;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGCHLD, SIG_DFL);
  // Every thread starts with these blocked; only this one takes stop
  // signals (sigsuspend below).
  sigset_t blocked, waiting;
  sigemptyset(&blocked);
  for (int sig : {SIGTERM, SIGINT}) sigaddset(&blocked, sig);
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
  // Before the responder, which gives connections back to it: destroyed
  // after it, closing the idle ones.
  auto keeper = Keeper::Open(cfg.listen_fd, KeeperLimits{}, &metrics);
  if (!keeper.ok()) {
    LOG_ERROR("cannot watch the listening socket: %s", keeper.status().message().c_str());
    return 1;
  }
  g_keeper = keeper->get();
  for (int fd : cfg.adopted) (*keeper)->Adopt(fd);
  metrics.ConnectionsHandedOver(cfg.adopted.size());
  if (FCGX_Init() != 0) return 1;  // before any exchange, those answered before the database opens too
  const int running = std::max(1, std::min(cfg.running, cfg.threads));
  // Every lane's Api counts its user's reads here (read_quota.h).
  ReadQuota reads(cfg.limits.reads_per_user);
  auto opened_lanes = OpenLanes(cfg, uploads, reads, running);
  std::unique_ptr<Exchange> first;
  // The database unavailable (an SQLite file gone, an I/O error; no
  // connection to PostgreSQL): answered 503 until it opens (above). For any
  // other error the worker exits and the master starts another after a
  // pause.
  if (!opened_lanes.ok() && opened_lanes.status().code() == Code::kUnavailable) {
    LOG_ERROR("cannot open the database %s: %s; answering 503 until it opens", Redacted(cfg.db).c_str(),
              opened_lanes.status().message().c_str());
    // The stop signals reach this thread while it serves alone; blocked
    // again before any other thread starts (they inherit the mask).
    pthread_sigmask(SIG_SETMASK, &waiting, nullptr);
    std::optional<Opened> opened =
        ServeUntilTheDatabaseOpens(cfg, uploads, reads, running, **keeper, metrics, opened_lanes.status());
    pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
    if (!opened) {
      HandOverKept(**keeper, cfg.handoff_fd);
      return 0;
    }
    opened_lanes = std::move(opened->lanes);
    first = std::move(opened->first);
  }
  if (!opened_lanes.ok()) return open_error(opened_lanes.status());
  Lane& w = *opened_lanes->writer;
  // parley-events removes files only from a directory with this mark.
  MarkUploadsDir(*w.store, uploads.files);
  const Lanes& lanes = opened_lanes->seats;
  Gate gate(running);
  Responder responder(metrics);
  Writer writer(*w.store, *w.api, *w.notifier, gate, metrics, responder, cfg.slot);
  responder.Start();
  writer.Start();
  Keeper& k = **keeper;
  std::mutex turn;
  std::vector<std::thread> threads;
  for (int i = 0; i < std::max(1, cfg.threads); ++i) {
    threads.emplace_back([&k, &turn, &lanes, &writer, &gate, &metrics] {
      RunRequestThread(k, turn, lanes, writer, gate, metrics);
    });
  }
  // The request that found the database open again (above).
  if (first) Serve(std::move(first), lanes, writer, gate, metrics);
  LOG_DEBUG("worker ready with %zu request threads, %d at once", threads.size(), running);
  while (!g_stop) sigsuspend(&waiting);
  LOG_DEBUG("worker stopping");
  for (auto& t : threads) t.join();  // OnStop stopped the keeper: each returns after its request
  ServeLeftovers(k, lanes, writer, gate, metrics);
  writer.Stop();
  responder.Stop();  // its last answers gave their connections back
  HandOverKept(k, cfg.handoff_fd);
  return 0;
}

}  // namespace parley::fcgi
