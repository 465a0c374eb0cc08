// Exchange: one FastCGI request in flight, from its connection's turn to
// its answer (RAII over libfcgi's FCGX_Request).
//
// Design note (issue 9). A read is answered by the request thread that
// read it. A write is handed, exchange and all, to the process's writer
// (writer.h), and its answer goes out from the responder (responder.h) once
// its batch is durable; the reading thread goes back for the next at once.
// So a worker needs no thread per write waiting for an fsync (it had 32),
// and with as many request threads as may compute (worker.h), reads pass no
// thread to thread hand-off on their way. The connection comes from the
// Keeper (keeper.h), and goes back to it after the answer when nginx keeps it.
#pragma once

#include <fcgiapp.h>

#include <cstdint>
#include <optional>

#include "fcgi/admitted.h"
#include "fcgi/http.h"
#include "fcgi/keeper.h"
#include "fcgi/metrics.h"
#include "fcgi/router.h"

namespace parley::fcgi {

class Exchange {
 public:
  // fd: a connection with a request to read (Keeper::Next), owned from
  // here; it goes back to keeper (or is closed, with no keeper) once the
  // answer is written, if nginx keeps it open.
  Exchange(int fd, Keeper* keeper);
  ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // Reads the request's parameters (FCGX_Accept_r on the connection);
  // false when it ended without a whole request (libfcgi closed it).
  bool Open();
  // Reads the request into req: the parameters and at most one byte more of
  // the body than the API allows.
  void Read();
  // Writes resp, counts the request in metrics (before the answer leaves:
  // a client that reads /api/_stats after its answer finds it counted) and
  // ends the request (the connection is kept or closed). Once only.
  void Answer(const Response& resp, Metrics& metrics);

  Request req;
  RouteMatch route;            // set by the accepting thread
  int64_t start_us = 0;        // when the request was read (latency metric)
  std::optional<Admitted> admitted;  // a write admitted by its request thread, if it was
  Response resp;               // a write's answer, set by the writer

 private:
  FCGX_Request fr_;
  Keeper* keeper_;
  bool accepted_ = false;
};

int64_t NowUs();

}  // namespace parley::fcgi
