// parley-events: one libevent loop that authenticates subscribers, tails
// the event log and fans events out (DESIGN sections 1, 2 and 4).
//
// Design note. The database is the only source of truth; the daemon keeps
// one cursor, head_, the last event id it has fanned out. A wake-up (a
// datagram from parley-fcgi, or PRAGMA data_version moving) reads the
// events after head_ in one short statement, applies membership changes
// as they pass, and appends each event to the pending buffer of every
// connection that may see it. The pending buffers are flushed once, at the
// end of the pass: many events share one write under load, a lone event
// goes out at once. No timer batches anything.
// A resuming stream is replayed from the database up to head_ and only then
// joins the live fan-out, so it sees every id once, in order, with no gap.
// Connections are closed only at the reap point after a pass, never while a
// loop walks the registry.
//
// Threading: single-threaded. Every callback runs on the loop.
// Limits: memory per idle stream is a Conn plus libevent's connection
// (measured in tools/bench); a client that lets more than output_cap bytes
// queue up is disconnected and resumes from its Last-Event-ID.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "events/config.h"
#include "events/conn.h"
#include "events/registry.h"
#include "events/stats.h"
#include "schema/db.h"
#include "schema/model.h"
#include "schema/store.h"

struct event_base;
struct event;
struct evhttp;
struct evhttp_request;
struct evhttp_connection;
struct evbuffer;

namespace parley::events {

struct EventBaseFree { void operator()(event_base* b) const; };
struct EventFree { void operator()(event* e) const; };
struct EvhttpFree { void operator()(evhttp* h) const; };
struct EvbufferFree { void operator()(evbuffer* b) const; };
using EventPtr = std::unique_ptr<event, EventFree>;

class Server {
 public:
  explicit Server(Config cfg) : cfg_(std::move(cfg)) {}
  ~Server();
  // Opens the database, sockets and timers; then Run() until stopped.
  Status Start();
  int Run();

 private:
  // server.cc: HTTP
  static void OnRequest(evhttp_request* req, void* self);
  void HandleStream(evhttp_request* req);
  void HandlePoll(evhttp_request* req);
  void HandleStats(evhttp_request* req);
  // `cache`: trust a session read less than revoke_check_s ago, and keep
  // this one. Polls do (they come back every few seconds); streams do not
  // (one lookup per stream, then CheckSessions watches it), which keeps
  // idle subscribers from paying memory for it.
  Result<Session> Authenticate(evhttp_request* req, bool cache);
  // The connection cap and authentication; answers the request itself (503,
  // 401) and returns nullopt when it may not go on.
  std::optional<Session> Admit(evhttp_request* req, bool cache_session);
  // Why a cursor cannot be served without a gap (nullptr: it can).
  const char* ResetReason(int64_t cursor, const char* epoch);
  std::string ResetData(const char* reason) const;
  Conn* Register(std::unique_ptr<Conn> conn);
  static void OnConnectionClosed(evhttp_connection* evcon, void* arg);
  void ReplyError(evhttp_request* req, int status, const char* code, const std::string& message);
  // Answers a poll with what it has collected, then forgets it.
  void AnswerPoll(Conn& c);
  // Ends a stream with a goodbye (retry + comment) and forgets it.
  void EndStream(Conn& c, CloseCause cause);
  void Close(Conn& c, CloseCause cause);
  void Forget(Conn& c);

  // fanout.cc: the log tail and fan-out
  void Wake();                 // coalesced: one read per loop turn
  static void OnWake(int, short, void* self);
  void Pump();                 // read new events, dispatch, flush
  void Dispatch(const Event& e);
  void ApplyMembership(const Event& e);
  void Deliver(Conn& c, const Event& e, const std::string& sse);
  void Ephemeral(const char* type, const std::string& data, int64_t room_id, int64_t except_user,
                 const std::vector<int64_t>* users);
  void Flush();
  void ReplayPage(Conn& c);
  static void OnChunkWritten(evhttp_connection* evcon, void* arg);
  void Reap();

  // notify.cc: datagrams from parley-fcgi
  Status OpenNotifySocket();
  static void OnDatagram(int fd, short, void* self);
  void HandleDatagram(const char* data, size_t len);

  // sweep.cc: timers
  static void OnTick(int, short, void* self);
  static void OnDataVersion(int, short, void* self);
  static void OnSignal(int sig, short, void* self);
  void Tick();
  void Heartbeat();
  void CheckSessions();
  void UserOnline(int64_t user_id);
  void UserOffline(int64_t user_id);
  void Shutdown();

  // libevent callbacks carry a connection id, not a pointer, and find the
  // server here: one Server per process.
  static Server* instance_;

  Config cfg_;
  std::unique_ptr<Db> db_;
  std::unique_ptr<Store> store_;
  std::string epoch_;
  int64_t head_ = 0;           // last event id fanned out
  int64_t data_version_ = 0;
  std::unique_ptr<event_base, EventBaseFree> base_;
  std::unique_ptr<evhttp, EvhttpFree> http_;
  EventPtr wake_ev_, notify_ev_, tick_ev_, dv_ev_;
  std::vector<EventPtr> signal_evs_;
  std::unique_ptr<evbuffer, EvbufferFree> scratch_;
  int notify_fd_ = -1;
  bool wake_pending_ = false;
  bool stopping_ = false;

  Registry registry_;
  uint64_t next_conn_id_ = 1;
  std::vector<uint64_t> dirty_;                  // conns with pending output this pass
  std::vector<std::pair<uint64_t, CloseCause>> to_close_;  // reaped after the pass
  std::unordered_map<int64_t, int64_t> offline_at_;  // user -> when to announce offline
  std::unordered_map<int64_t, std::string> user_json_;  // connected users' {"id","username"}
  // Token hash -> session, trusted for revoke_check_s after it was read:
  // long-pollers come back several times a second, and each lookup is a
  // read transaction (file locks included). Revocation reaches open
  // connections on the same schedule (CheckSessions).
  struct CachedSession {
    Session session;
    int64_t checked_ms = 0;
  };
  std::unordered_map<std::string, CachedSession> session_cache_;
  int64_t last_heartbeat_ms_ = 0;
  int64_t last_session_check_ms_ = 0;
  int64_t last_prune_ms_ = 0;
  int64_t last_trim_ms_ = 0;
  Stats stats_;
};

}  // namespace parley::events
