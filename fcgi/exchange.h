// Exchange: one FastCGI request in flight, from its accept to its answer
// (RAII over libfcgi's FCGX_Request).
//
// Design note (issue 9). A read is answered by the request thread that
// accepted it. A write is handed, exchange and all, to the process's writer
// (writer.h), and its answer goes out from the responder (responder.h) once
// its batch is durable; the accepting thread goes back to accept() at once.
// So a worker needs no thread per write waiting for an fsync (it had 32),
// and with as many request threads as may compute (worker.h), reads pass no
// thread to thread hand-off on their way.
#pragma once

#include <fcgiapp.h>

#include <cstdint>
#include <optional>

#include "fcgi/http.h"
#include "fcgi/metrics.h"
#include "fcgi/router.h"

namespace parley::fcgi {

class Exchange {
 public:
  // flags: FCGX_InitRequest's (FCGI_FAIL_ACCEPT_ON_INTR).
  Exchange(int listen_fd, int flags);
  ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // Waits for a connection (FCGX_Accept_r reads its parameters); false,
  // with errno set, when accept() failed.
  bool Accept();
  // Reads the request into req: the parameters and at most one byte more of
  // the body than the API allows.
  void Read();
  // Writes resp, counts the request in metrics (before the answer leaves:
  // a client that reads /api/_stats after its answer finds it counted) and
  // closes the connection. Once only.
  void Answer(const Response& resp, Metrics& metrics);

  Request req;
  RouteMatch route;            // set by the accepting thread
  int64_t start_us = 0;        // when the request was accepted (latency metric)
  Response resp;               // a write's answer, set by the writer

 private:
  FCGX_Request fr_;
  bool accepted_ = false;
};

int64_t NowUs();

}  // namespace parley::fcgi
