// parley-events: one libevent loop that authenticates subscribers, tails
// the event log and fans events out (DESIGN sections 1, 2 and 4).
//
// Server only puts the modules together and owns what they share; each
// module is a part the loop uses:
//   conns.h     connection lifecycle and output: one flush pass per loop
//               turn, every close at its reap point, the caps and budget
//   fanout.h    the log tail, replay of old cursors, ephemeral events
//   pacer.h     per-user and per-address pacing of catch-up polls and resumes
//   http.h      the endpoints; request.h decides what a request asks for
//   sessions.h  authentication and revocation
//   presence.h  online/offline announcements
//   notify.h    wake-up datagrams from parley-fcgi
//   sweep.h     the 1 s timer and the data_version safety net
//
// Threading: single-threaded. Every callback runs on the loop.
#pragma once

#include <memory>
#include <vector>

#include "events/config.h"
#include "events/conns.h"
#include "events/fanout.h"
#include "events/http.h"
#include "events/notify.h"
#include "events/pacer.h"
#include "events/pg_wakeups.h"
#include "events/presence.h"
#include "events/reexec.h"
#include "events/sessions.h"
#include "events/stats.h"
#include "events/sweep.h"
#include "schema/backend/backend.h"

struct event_base;

namespace parley::events {

struct EventBaseFree { void operator()(event_base* b) const; };

class Server {
 public:
  // binary: what SIGHUP compares with the file installed now (reexec.h);
  // inherited: the sockets an upgrade kept, if any.
  Server(Config cfg, Binary binary, Sockets inherited)
      : cfg_(std::move(cfg)), binary_(std::move(binary)), inherited_(std::move(inherited)) {}
  ~Server();
  // Opens the database, sockets and timers; then Run() until stopped.
  Status Start();
  int Run();
  // After Run(): whether it stopped for an upgrade, and copies of the
  // sockets the next image keeps.
  bool upgrading() const { return upgrading_; }
  Result<Sockets> CopySockets() const;

 private:
  static void OnSignal(int sig, short, void* self);
  // Ends every stream and poll with a retry hint, then the loop. An
  // upgrade keeps the sockets (no new connection is accepted meanwhile).
  void Shutdown(bool upgrade);
  // Raises the open-file limit and lowers --max-connections below it.
  void HoldWithinOpenFiles();
  // Descriptors kept for what is not a client: the database's files, the
  // sockets, the log, libevent's own, and requests read but not yet held.
  static constexpr uint64_t kReservedFiles = 64;

  // Declared in the order they are built; destroyed in reverse.
  Config cfg_;
  Binary binary_;
  Sockets inherited_;  // until Start() takes them
  std::unique_ptr<OpenStorage> db_;
  Storage* store_ = nullptr;  // db_'s
  std::unique_ptr<event_base, EventBaseFree> base_;
  Stats stats_;
  std::unique_ptr<Conns> conns_;
  std::unique_ptr<Fanout> fanout_;
  std::unique_ptr<Pacer> pacer_;
  std::unique_ptr<Presence> presence_;
  std::unique_ptr<Sessions> sessions_;
  std::unique_ptr<Http> http_;
  std::unique_ptr<Notify> notify_;
  std::unique_ptr<PgWakeups> pg_wakeups_;
  std::unique_ptr<Sweep> sweep_;
  std::vector<EventPtr> signal_evs_;
  bool stopping_ = false;
  bool upgrading_ = false;
};

}  // namespace parley::events
