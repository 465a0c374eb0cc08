// Design note. Workers share one non-blocking listening socket. Each waits
// in ppoll() with SIGTERM/SIGINT unblocked only for the duration of the
// wait, so a stop signal either interrupts the wait or stays pending until
// the current request is answered: it can never land between the "stop?"
// check and a blocking accept() (the window libfcgi's own accept loop has).
// When several workers wake for one connection, the losers' accept gets
// EAGAIN and they go back to waiting.
#include "fcgi/worker.h"

#include <fcgiapp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "fcgi/api.h"
#include "fcgi/input.h"
#include "schema/crypto.h"
#include "schema/log.h"

namespace parley::fcgi {
namespace {

volatile sig_atomic_t g_stop = 0;
void OnStop(int) { g_stop = 1; }

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

}  // namespace

int RunWorker(const WorkerConfig& cfg) {
  SetLogRole("fcgi worker");
  // Die with the master rather than linger as an orphan holding the socket.
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  struct sigaction sa {};
  sa.sa_handler = OnStop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGCHLD, SIG_DFL);
  sigset_t stop_signals, wait_mask;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigprocmask(SIG_SETMASK, &stop_signals, nullptr);  // blocked except inside ppoll
  sigemptyset(&wait_mask);

  if (!CryptoInit().ok()) return 1;
  auto db = Db::Open(cfg.db_path);
  if (!db.ok()) {
    LOG_ERROR("cannot open the database %s: %s", cfg.db_path.c_str(), db.status().message().c_str());
    return 1;
  }
  Limits limits;
  if (!cfg.limits) limits.sends_per_second = 0;
  Store store(**db, limits);
  Notifier notifier(cfg.events_socket);
  Api api(store, notifier);

  if (FCGX_Init() != 0) return 1;
  FCGX_Request fr;
  FCGX_InitRequest(&fr, cfg.listen_fd, 0);
  LOG_DEBUG("worker ready");
  while (!g_stop) {
    pollfd p{cfg.listen_fd, POLLIN, 0};
    int n = ppoll(&p, 1, nullptr, &wait_mask);
    if (n < 0) {
      if (errno == EINTR) continue;
      LOG_ERROR("ppoll: %s", std::strerror(errno));
      return 1;
    }
    if (FCGX_Accept_r(&fr) < 0) continue;  // another worker took it (EAGAIN), or the peer left
    Request req = ReadRequest(fr);
    Response resp = api.Handle(req);
    WriteResponse(fr, resp);
    FCGX_Finish_r(&fr);
    LOG_DEBUG("%s %s -> %d", req.method.c_str(), req.path.c_str(), resp.status);
  }
  LOG_DEBUG("worker stopping");
  FCGX_Free(&fr, 1);
  return 0;
}

}  // namespace parley::fcgi
