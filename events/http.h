// The HTTP side of parley-events: evhttp on a unix socket, the three
// endpoints, admission (the connection caps, authentication) and the start
// of a stream or a poll. What a request asks for is decided by the pure
// functions of request.h; this file only reads it off the wire and acts.
//
// Threading: single-threaded, on the loop.
#pragma once

#include <event2/util.h>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "events/config.h"
#include "events/conns.h"
#include "events/fanout.h"
#include "events/pacer.h"
#include "events/presence.h"
#include "events/request.h"
#include "events/sessions.h"
#include "schema/log.h"
#include "schema/posix.h"
#include "schema/storage.h"

struct evconnlistener;
struct evhttp;
struct evhttp_request;

namespace parley::events {

struct EvhttpFree { void operator()(evhttp* h) const; };

class Http {
 public:
  struct Parts {
    const Config& cfg;
    std::string epoch;
    Storage& store;
    Conns& conns;
    Fanout& fanout;
    Pacer& pacer;
    Presence& presence;
    Sessions& sessions;
    Stats& stats;
  };
  explicit Http(Parts parts) : p_(std::move(parts)) {}
  ~Http() { paused_by_.erase(listener_); }
  Http(const Http&) = delete;
  Http& operator=(const Http&) = delete;
  // Listens on --listen, or on `inherited` when it is valid (an upgrade's).
  Status Listen(event_base* base, Fd inherited);
  // Past the open-file limit, accept() fails: how long the listener rests.
  static constexpr int kAcceptPauseMs = 100;
  // Refuses new requests with 503 (shutdown).
  void Stop() { stopping_ = true; }
  // Upgrade: accepts no more connections, which wait in the socket's
  // backlog for the next image, and drops a request that comes on a
  // connection already open without an answer: nginx, which sees its kept
  // connection closed, sends it again on a new one (to the next image).
  void HandOver();
  // A copy of the listening descriptor (close-on-exec), for the next image.
  Result<Fd> CopyListener() const;
  // Builds the page of a catch-up poll or resuming stream held by the
  // pacer, at its turn; false if there was none to build (answered while
  // held).
  bool BuildHeldPage(uint64_t conn_id);
  // A resuming stream's next replay page: appended now if its pacing
  // allows, else the stream is held (kPaced) until the page is due. Every
  // page of a resume goes through here, the first and each one after the
  // previous has left (Conns' replay hook).
  void ReplayPage(Conn& c);

 private:
  static void OnRequest(evhttp_request* req, void* self);
  void Handle(evhttp_request* req);
  void HandleStream(evhttp_request* req, const RawRequest& raw);
  void HandlePoll(evhttp_request* req, const RawRequest& raw);
  void HandleStats(evhttp_request* req, const RawRequest& raw);
  // The caps and authentication; answers the request itself (503, 429,
  // 401) and returns nullopt when it may not go on.
  std::optional<Session> Admit(evhttp_request* req, bool cache_session);
  // Answers an admitted request with an error: it holds no connection, so
  // its user's rooms are not kept for it (Presence::NotHeld).
  void RefuseAdmitted(evhttp_request* req, int64_t user_id, const Status& st);
  // A reset reason for a cursor, from the database's head and the log's
  // floor (Storage::LogFloor).
  Result<const char*> ResetFor(int64_t cursor, const std::optional<std::string>& epoch);
  std::string ResetData(const char* reason) const;
  // Builds a replay page already paid for, and gives back what it left unused.
  void BuildReplayPage(Conn& c);
  // How much of a page a poll's answer used (PageUsed).
  double PollPageUsed(const Conn& c) const {
    return PageUsed(c.poll_events.size(), c.poll_bytes, p_.cfg.output_cap / 4);
  }
  void Reply(evhttp_request* req, int status, const char* content_type, const std::string& body);
  void ReplyError(evhttp_request* req, const Status& st);

  // accept() failed for want of a descriptor (EMFILE, ENFILE) or of
  // memory: the listening socket stays readable, and libevent, left to
  // itself, calls accept() again at once, a busy loop that logged millions
  // of lines a second. So the listener pauses (kAcceptPauseMs) and the
  // connections wait in its backlog; one line a second says so.
  static void OnAcceptError(evconnlistener* listener, void* self);
  static void OnAcceptResume(evutil_socket_t, short, void* self);
  // Whose listener is whose, for OnAcceptError (the loop's thread only).
  static inline std::map<evconnlistener*, Http*> paused_by_;

  Parts p_;
  std::unique_ptr<evhttp, EvhttpFree> http_;
  evconnlistener* listener_ = nullptr;  // evhttp's, owned by http_
  EventPtr accept_resume_;
  LogEverySecond accept_log_;
  LogEverySecond unavailable_log_;  // ReplyError's refusals for an unavailable store
  bool stopping_ = false;
  bool handing_over_ = false;
};

}  // namespace parley::events
