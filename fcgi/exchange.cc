#include "fcgi/exchange.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include "fcgi/input.h"

namespace parley::fcgi {
namespace {

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
  req.request_id = Param(r, "PARLEY_REQUEST_ID");
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
  bool typed = false;
  bool cached = false;
  for (const auto& h : resp.headers) {
    typed = typed || h.first == "Content-Type";
    cached = cached || h.first == "Cache-Control";
  }
  if (!resp.body.empty() && !typed) head += "Content-Type: application/json; charset=utf-8\r\n";
  // nginx compresses only what it knows to be 1 KiB or more
  // (gzip_min_length in nginx/parley.conf), by this header alone.
  if (!resp.body.empty()) head += "Content-Length: " + std::to_string(resp.body.size()) + "\r\n";
  // Nothing the API answers may be kept, but for what a handler says
  // otherwise (a download: handlers_uploads.cc).
  if (!cached) head += "Cache-Control: no-store\r\n";
  head += "\r\n";
  FCGX_PutStr(head.data(), static_cast<int>(head.size()), r.out);
  if (!resp.body.empty()) FCGX_PutStr(resp.body.data(), static_cast<int>(resp.body.size()), r.out);
}

// Ends the request: libfcgi writes its end record, then closes the
// connection unless nginx asked to keep it and nothing failed; a kept one
// goes back to the keeper for its next request.
//
// libfcgi closes a connection "politely": shutdown(SHUT_WR), then up to 2 s
// of select() and read() until the peer closes. nginx closes only once it
// has processed the reply, so under load every worker sat in that wait for
// tens of milliseconds per request (strace). We read the rest of the
// request ourselves (it is at most a few records: nginx caps bodies at
// 16 KiB) so that nothing unread is left to reset the connection, or to be
// taken for the next request on a kept one, and mark the request detached,
// which makes libfcgi close the socket at once.
void Finish(FCGX_Request& r, Keeper* keeper) {
  char sink[4096];
  for (int budget = 64; budget > 0 && FCGX_GetStr(sink, sizeof sink, r.in) > 0; --budget) {
  }
  r.detached = 1;
  FCGX_Finish_r(&r);
  r.detached = 0;
  if (r.ipcFd < 0) return;  // closed
  const int fd = std::exchange(r.ipcFd, -1);
  if (keeper) {
    keeper->Keep(fd);
  } else {
    close(fd);
  }
}

}  // namespace

int64_t NowUs() {
  using namespace std::chrono;
  return duration_cast<microseconds>(steady_clock::now().time_since_epoch()).count();
}

// libfcgi accepts connections itself; ours come from the Keeper. So the
// request is given its connection (ipcFd) and no listening socket: when the
// connection ends without a request, FCGX_Accept_r closes it and fails at
// once instead of blocking in accept(). keepConnection is set because
// FCGX_Accept_r first finishes the previous request on the connection and
// would close it otherwise; the begin record then sets it as nginx asks.
// Both fields are libfcgi 2.4's FCGX_Request, whose layout is its ABI
// (fcgiapp.h); tests/e2e/pool_test.cc checks that connections are kept.
Exchange::Exchange(int fd, Keeper* keeper) : keeper_(keeper) {
  FCGX_InitRequest(&fr_, -1, 0);
  fr_.ipcFd = fd;
  fr_.keepConnection = 1;
}

// After Answer() libfcgi has freed everything and closed the socket; this
// frees what an exchange that was never answered still holds.
Exchange::~Exchange() { FCGX_Free(&fr_, 1); }

bool Exchange::Open() {
  if (FCGX_Accept_r(&fr_) < 0) return false;
  accepted_ = true;
  start_us = NowUs();
  return true;
}

void Exchange::Read() { req = ReadRequest(fr_); }

void Exchange::Answer(const Response& answer, Metrics& metrics) {
  if (!accepted_) return;
  accepted_ = false;
  WriteResponse(fr_, answer);
  std::optional<RouteId> counted;
  if (route.kind == RouteMatch::Kind::kFound) counted = route.id;
  metrics.Request(counted, answer.status, NowUs() - start_us);
  Finish(fr_, keeper_);
}

}  // namespace parley::fcgi
