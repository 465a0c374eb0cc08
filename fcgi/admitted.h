// Admitted: a request past every check that comes before its handler
// (route, body, credentials, CSRF; api.h), ready to be run.
//
// Api::Admit makes one and Api::Run runs it, on the same Api or not: a
// write is admitted on its request thread, on the read connection of its
// seat, and run by the writer in a batch (worker.cc). So the writer, which
// every write of the process waits for, spends its turn on handlers alone.
#pragma once

#include <optional>

#include "fcgi/auth.h"
#include "schema/json.h"
#include "schema/model.h"

namespace parley::fcgi {

struct Admitted {
  JsonPtr body;  // the parsed JSON body, for the routes that take one
  std::optional<Credentials> creds;
  User user;  // the session's user, for every non-public route
};

}  // namespace parley::fcgi
