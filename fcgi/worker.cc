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
#include "fcgi/worker.h"

#include <fcgiapp.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "fcgi/api.h"
#include "fcgi/input.h"
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

std::string Param(FCGX_Request& r, const char* name) {
  const char* v = FCGX_GetParam(name, r.envp);
  return v ? std::string(v) : std::string();
}

Request ReadRequest(FCGX_Request& r) {
  Request req;
  req.method = Param(r, "REQUEST_METHOD");
  req.path = Param(r, "DOCUMENT_URI");
  if (req.path.empty()) {
    req.path = Param(r, "REQUEST_URI");
    req.path = req.path.substr(0, req.path.find('?'));
  }
  req.query = Param(r, "QUERY_STRING");
  req.content_type = Param(r, "CONTENT_TYPE");
  req.cookie = Param(r, "HTTP_COOKIE");
  req.authorization = Param(r, "HTTP_AUTHORIZATION");
  req.origin = Param(r, "HTTP_ORIGIN");
  req.sec_fetch_site = Param(r, "HTTP_SEC_FETCH_SITE");
  req.host = Param(r, "HTTP_HOST");
  req.https = Param(r, "HTTPS") == "on" || Param(r, "REQUEST_SCHEME") == "https";
  req.remote_addr = Param(r, "REMOTE_ADDR");
  req.upload_file = Param(r, "PARLEY_UPLOAD_FILE");
  // Read at most one byte more than allowed: enough for the API to answer
  // 413 without buffering whatever an attacker declared.
  std::optional<int64_t> length = ParseId(Param(r, "CONTENT_LENGTH"));
  if (length && *length > 0) {
    size_t want = std::min<size_t>(static_cast<size_t>(*length), kMaxBody + 1);
    req.body.resize(want);
    int got = FCGX_GetStr(req.body.data(), static_cast<int>(want), r.in);
    req.body.resize(got > 0 ? static_cast<size_t>(got) : 0);
  }
  return req;
}

void WriteResponse(FCGX_Request& r, const Response& resp) {
  std::string head = "Status: " + std::to_string(resp.status) + " " + ReasonPhrase(resp.status) + "\r\n";
  for (const auto& [name, value] : resp.headers) head += name + ": " + value + "\r\n";
  if (!resp.body.empty()) head += "Content-Type: application/json; charset=utf-8\r\n";
  head += "Cache-Control: no-store\r\n\r\n";
  FCGX_PutStr(head.data(), static_cast<int>(head.size()), r.out);
  if (!resp.body.empty()) FCGX_PutStr(resp.body.data(), static_cast<int>(resp.body.size()), r.out);
}

// libfcgi closes a connection "politely": shutdown(SHUT_WR), then up to 2 s
// of select() and read() until the peer closes. nginx closes only once it
// has processed the reply, so under load every worker sat in that wait for
// tens of milliseconds per request (strace). We read the rest of the
// request ourselves (it is at most a few records: nginx caps bodies at
// 16 KiB) so that nothing unread is left to reset the connection, and mark
// the request detached, which makes libfcgi close the socket at once.
void FinishWithoutLinger(FCGX_Request& r) {
  char sink[4096];
  for (int budget = 64; budget > 0 && FCGX_GetStr(sink, sizeof sink, r.in) > 0; --budget) {
  }
  r.detached = 1;
  FCGX_Finish_r(&r);
  r.detached = 0;
}

void Serve(FCGX_Request& fr, Api& api) {
  Request req = ReadRequest(fr);
  Response resp = api.Handle(req);
  WriteResponse(fr, resp);
  FinishWithoutLinger(fr);
  LOG_DEBUG("%s %s -> %d", req.method.c_str(), req.path.c_str(), resp.status);
}

// Answers the connections queued on a pool that is stopping (see the design
// note). accept() on the non-blocking socket fails with EAGAIN once the
// backlog is empty, whichever worker took the last one.
void DrainBacklog(int listen_fd, Api& api) {
  int flags = fcntl(listen_fd, F_GETFL);
  if (flags < 0 || !(flags & O_NONBLOCK)) return;  // a reload: others serve the queue
  FCGX_Request fr;
  FCGX_InitRequest(&fr, listen_fd, 0);
  int served = 0;
  while (FCGX_Accept_r(&fr) >= 0) {
    Serve(fr, api);
    ++served;
  }
  FCGX_Free(&fr, 1);
  if (served > 0) LOG_DEBUG("answered %d queued request(s) before stopping", served);
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
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGCHLD, SIG_DFL);

  if (!CryptoInit().ok()) return 1;
  auto db = Db::Open(cfg.db_path);
  if (!db.ok()) {
    LOG_ERROR("cannot open the database %s: %s", cfg.db_path.c_str(), db.status().message().c_str());
    return 1;
  }
  Store store(**db, cfg.limits);
  Notifier notifier(cfg.events_socket);
  // Uploads sit beside the database (DESIGN: PARLEY_VAR holds them), in the
  // spool and uploads directories that nginx/parley.conf names too.
  size_t slash = cfg.db_path.rfind('/');
  std::string data_dir = slash == std::string::npos ? "." : cfg.db_path.substr(0, slash);
  // Absolute and without symlinks, as nginx names the spooled files
  // (tools/nginx-conf resolves PARLEY_VAR with pwd -P).
  if (std::unique_ptr<char, decltype(&free)> real(realpath(data_dir.c_str(), nullptr), &free); real) {
    data_dir = real.get();
  }
  UploadDirs uploads{data_dir + "/spool", data_dir + "/uploads"};
  if (mkdir(uploads.files.c_str(), 0700) != 0 && errno != EEXIST) {
    LOG_WARN("cannot create %s: %s", uploads.files.c_str(), std::strerror(errno));
  }
  Api api(store, notifier, uploads);

  if (FCGX_Init() != 0) return 1;
  FCGX_Request fr;
  FCGX_InitRequest(&fr, g_accept_fd, 0);
  LOG_DEBUG("worker ready");
  while (!g_stop) {
    if (FCGX_Accept_r(&fr) < 0) {
      if (g_stop) break;
      // accept() failed for a reason other than a stop (EMFILE, ENOBUFS):
      // pause instead of spinning, then try again.
      LOG_WARN("accept failed: %s", std::strerror(errno));
      usleep(100 * 1000);
      continue;
    }
    Serve(fr, api);
    // After the response has gone: the WAL checkpoint this worker's commit
    // may have made due (schema/db.h) costs no request its latency.
    if (Status st = (*db)->CheckpointIfDue(); !st.ok()) LOG_WARN("checkpoint: %s", st.message().c_str());
  }
  LOG_DEBUG("worker stopping");
  FCGX_Free(&fr, 1);
  DrainBacklog(cfg.listen_fd, api);
  return 0;
}

}  // namespace parley::fcgi
