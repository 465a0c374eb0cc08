#include "events/http.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "events/clock.h"
#include "events/wire.h"
#include "schema/json.h"
#include "schema/listen_address.h"
#include "schema/log.h"
#include "schema/posix.h"

namespace parley::events {

void EvhttpFree::operator()(evhttp* h) const { evhttp_free(h); }

namespace {

const char* MethodName(evhttp_cmd_type cmd) {
  switch (cmd) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
  }
  return "OTHER";
}

std::optional<std::string_view> Header(evhttp_request* req, const char* name) {
  const char* v = evhttp_find_header(evhttp_request_get_input_headers(req), name);
  if (!v) return std::nullopt;
  return std::string_view(v);
}

// The query string, decoded into pairs; false when it is malformed.
bool ParseQuery(evhttp_request* req, std::vector<std::pair<std::string, std::string>>* out) {
  const char* raw = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
  if (!raw) return true;
  evkeyvalq q;
  q.tqh_first = nullptr;  // TAILQ_INIT, without <sys/queue.h>
  q.tqh_last = &q.tqh_first;
  bool ok = evhttp_parse_query_str(raw, &q) == 0;
  for (evkeyval* kv = q.tqh_first; ok && kv; kv = kv->next.tqe_next) out->emplace_back(kv->key, kv->value);
  evhttp_clear_headers(&q);
  return ok;
}

// A held request keeps its parsed headers until it ends: about 1 KiB of
// small allocations that nothing reads again once the request is
// authenticated and the reply has started. Memory per idle subscriber is
// what bounds how many one daemon holds. (HTTP/1.1 keep-alive, the only
// thing evhttp still decides from them, is the default without them.)
void DropHeaders(evhttp_request* req) {
  evhttp_clear_headers(evhttp_request_get_input_headers(req));
  evhttp_clear_headers(evhttp_request_get_output_headers(req));
}

// A connection of the session's user that ends (rotates, or times out)
// after `lifetime_s`.
std::unique_ptr<Conn> NewConn(evhttp_request* req, const Session& session, const RawRequest& raw, HoldMode mode,
                              int64_t lifetime_s) {
  auto conn = std::make_unique<Conn>();
  conn->address = ClientAddressKey(raw);
  conn->mode = mode;
  conn->req = req;
  conn->user_id = session.user.id;
  conn->session_id = session.id;
  conn->deadline_ms = MonoMs() + lifetime_s * 1000;
  return conn;
}

PaceKey PaceKeyOf(const Conn& c) { return PaceKey{c.user_id, c.address}; }

}  // namespace

Status Http::Listen(event_base* base, Fd inherited) {
  http_.reset(evhttp_new(base));
  if (!http_) return Status::Internal("evhttp_new failed");
  // Requests come from nginx: small GETs. Other methods and small bodies
  // are let through to be refused in JSON (405, 413) rather than with
  // evhttp's HTML pages; a large body still gets evhttp's own 413.
  evhttp_set_max_headers_size(http_.get(), 16 * 1024);
  evhttp_set_max_body_size(http_.get(), 4096);
  evhttp_set_allowed_methods(http_.get(), EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                              EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
  evhttp_set_timeout(http_.get(), 30);  // reading a request; streams and polls raise it
  evhttp_set_gencb(http_.get(), &Http::OnRequest, this);
  Fd fd = std::move(inherited);
  if (fd.valid()) {
    evutil_make_socket_nonblocking(fd.get());
  } else {
    PARLEY_ASSIGN_OR_RETURN(ListenAddress address, ParseListenAddress("--listen", p_.cfg.listen_path));
    PARLEY_ASSIGN_OR_RETURN(fd, ListenOn(address, /*nonblocking=*/true));
  }
  evhttp_bound_socket* bound = evhttp_accept_socket_with_handle(http_.get(), fd.get());
  if (bound == nullptr) return Status::Internal("cannot accept on " + p_.cfg.listen_path);
  fd.Release();  // evhttp owns it now
  listener_ = evhttp_bound_socket_get_listener(bound);
  paused_by_[listener_] = this;
  evconnlistener_set_error_cb(listener_, &Http::OnAcceptError);
  accept_resume_.reset(evtimer_new(base, &Http::OnAcceptResume, this));
  if (!accept_resume_) return Status::Internal("evtimer_new failed");
  return Status::Ok();
}

void Http::OnAcceptError(evconnlistener* listener, void*) {
  // The argument is the listener's user data, which is evhttp's own.
  Http* self = paused_by_.at(listener);
  const int err = errno;  // accept()'s, still: libevent called nothing since
  evconnlistener_disable(listener);
  timeval pause{0, kAcceptPauseMs * 1000};
  evtimer_add(self->accept_resume_.get(), &pause);
  ++self->p_.stats.accept_pauses;
  if (uint64_t pauses; self->accept_log_.Due(&pauses)) {
    LOG_WARN("accept: %s: not accepting for %d ms (pauses since the last such line: %llu; for open files, raise "
             "LimitNOFILE or ulimit -n)",
             std::strerror(err), kAcceptPauseMs, static_cast<unsigned long long>(pauses));
  }
}

void Http::OnAcceptResume(evutil_socket_t, short, void* self) {
  evconnlistener_enable(static_cast<Http*>(self)->listener_);
}

void Http::HandOver() {
  stopping_ = true;
  handing_over_ = true;
  evconnlistener_disable(listener_);
  evtimer_del(accept_resume_.get());
}

Result<Fd> Http::CopyListener() const { return Duplicate(evconnlistener_get_fd(listener_), "the listening socket"); }

void Http::OnRequest(evhttp_request* req, void* self) { static_cast<Http*>(self)->Handle(req); }

void Http::Handle(evhttp_request* req) {
  if (stopping_) {
    if (handing_over_) {
      // Closed before the answer is written: the answer fails with the
      // connection (evhttp then frees both), and nginx sees a kept
      // connection closed under its request, which it sends again anew.
      evhttp_connection* evcon = evhttp_request_get_connection(req);
      if (bufferevent* bev = evcon ? evhttp_connection_get_bufferevent(evcon) : nullptr) {
        shutdown(bufferevent_getfd(bev), SHUT_RDWR);
      }
    }
    ReplyError(req, Status::Unavailable("the server is restarting; retry shortly"));
    return;
  }
  RawRequest raw;
  raw.method = MethodName(evhttp_request_get_command(req));
  const char* path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
  raw.path = path ? path : "";
  raw.last_event_id = Header(req, "Last-Event-ID");
  raw.forwarded_for = Header(req, "X-Forwarded-For");
  raw.body_bytes = evbuffer_get_length(evhttp_request_get_input_buffer(req));
  if (Status st = CheckRequest(raw); !st.ok()) {
    ReplyError(req, st);
    return;
  }
  if (!ParseQuery(req, &raw.query)) {
    ReplyError(req, Status::Invalid("invalid_query", "the query string is malformed"));
    return;
  }
  switch (RouteOf(raw.path)) {
    case Route::kStream: HandleStream(req, raw); break;
    case Route::kPoll: HandlePoll(req, raw); break;
    case Route::kStats: HandleStats(req, raw); break;
    case Route::kNotFound: break;  // CheckRequest answered it
  }
}

void Http::Reply(evhttp_request* req, int status, const char* content_type, const std::string& body) {
  evkeyvalq* h = evhttp_request_get_output_headers(req);
  evhttp_add_header(h, "Content-Type", content_type);
  evhttp_add_header(h, "Cache-Control", "no-store");
  std::unique_ptr<evbuffer, EvbufferFree> buf(evbuffer_new());
  evbuffer_add(buf.get(), body.data(), body.size());
  evhttp_send_reply(req, status, ReasonPhrase(status), buf.get());
}

void Http::ReplyError(evhttp_request* req, const Status& st) {
  evkeyvalq* h = evhttp_request_get_output_headers(req);
  if (st.code() == Code::kMethodNotAllowed) evhttp_add_header(h, "Allow", "GET");
  if (st.code() == Code::kUnavailable || st.code() == Code::kThrottled) {
    evhttp_add_header(h, "Retry-After", std::to_string(st.retry_after_s()).c_str());
  }
  if (st.code() == Code::kUnavailable) {
    // An outage refuses every request with the same words: with PostgreSQL
    // stopped, 16,000 polls/s with random tokens wrote 22 MB of log in 5 s.
    // One line a second, saying how many it stands for.
    if (uint64_t refused; st.message_is_private() && unavailable_log_.Due(&refused)) {
      LOG_WARN("refusing requests, the store unavailable: %s: %s (refusals since the last such line: %llu)",
               st.reason().c_str(), st.message().c_str(), static_cast<unsigned long long>(refused));
    }
  } else if (st.message_is_private()) {
    LOG_WARN("%s: %s", st.reason().c_str(), st.message().c_str());
  }
  Reply(req, HttpStatus(st.code()), "application/json; charset=utf-8", ErrorJson(st));
}

std::optional<Session> Http::Admit(evhttp_request* req, bool cache_session) {
  if (p_.conns.registry().connections() >= static_cast<size_t>(p_.cfg.max_connections)) {
    ++p_.stats.refused;
    ReplyError(req, Status::Unavailable("too many connections; retry shortly"));
    return std::nullopt;
  }
  // On SQLite, not from a file the database's path no longer names (Sweep::Tick).
  if (Status st = p_.store.remote() ? Status::Ok() : p_.store.Writable(); !st.ok()) {
    ReplyError(req, st);
    return std::nullopt;
  }
  auto session = p_.sessions.Authenticate(Header(req, "Authorization").value_or(""),
                                          Header(req, "Cookie").value_or(""), cache_session);
  if (!session.ok()) {
    ReplyError(req, session.status());
    return std::nullopt;
  }
  // Counted by user id after authentication, so no header trick (another
  // cookie, another address) opens more.
  if (p_.conns.registry().ConnectionsOf(session->user.id) >= static_cast<size_t>(p_.cfg.max_user_connections)) {
    ++p_.stats.refused_user;
    LOG_INFO("user %lld: refused a connection at the per-user cap (%d)", static_cast<long long>(session->user.id),
             p_.cfg.max_user_connections);
    ReplyError(req, Status::Throttled("too_many_connections",
                                      "too many open streams and polls for this user; close some tabs"));
    return std::nullopt;
  }
  if (Status st = p_.presence.Admit(session->user); !st.ok()) {
    LOG_WARN("user %lld: cannot read their rooms: %s", static_cast<long long>(session->user.id),
             st.message().c_str());
    ReplyError(req, Status::Unavailable("the server cannot read your rooms now; retry shortly"));
    return std::nullopt;
  }
  return std::move(session).value();
}

void Http::RefuseAdmitted(evhttp_request* req, int64_t user_id, const Status& st) {
  ReplyError(req, st);
  p_.presence.NotHeld(user_id);
}

Result<const char*> Http::ResetFor(int64_t cursor, const std::optional<std::string>& epoch) {
  PARLEY_ASSIGN_OR_RETURN(int64_t db_head, p_.store.Head());
  PARLEY_ASSIGN_OR_RETURN(int64_t floor, p_.store.LogFloor());
  return ResetReason(cursor, epoch, p_.epoch, db_head, floor);
}

std::string Http::ResetData(const char* reason) const {
  JsonWriter w;
  w.BeginObject().Key("reason").String(reason).Key("head").Int(p_.fanout.head()).EndObject();
  return w.Take();
}

void Http::HandleStream(evhttp_request* req, const RawRequest& raw) {
  auto params = ParseStream(raw);
  if (!params.ok()) {
    ReplyError(req, params.status());
    return;
  }
  std::optional<Session> session = Admit(req, /*cache_session=*/false);
  if (!session) return;
  const int64_t head = p_.fanout.head();
  auto conn = NewConn(req, *session, raw, HoldMode::kStream, int64_t{p_.cfg.stream_lifetime_s});
  conn->pending = SsePreamble(p_.epoch, head, ToJson(session->user));

  // Where the stream starts: at the head, after the client's cursor, or
  // with a reset when that cursor cannot be served without a gap.
  conn->cursor = head;
  if (params->cursor) {
    auto reason = ResetFor(*params->cursor, params->epoch);
    if (!reason.ok()) {
      RefuseAdmitted(req, session->user.id, reason.status());
      return;
    }
    if (*reason) {
      conn->pending += SseEphemeral("reset", ResetData(*reason));
    } else {
      conn->cursor = *params->cursor;
    }
  }
  conn->state = conn->cursor < head ? ConnState::kReplaying : ConnState::kLive;

  evkeyvalq* h = evhttp_request_get_output_headers(req);
  evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
  evhttp_add_header(h, "Cache-Control", "no-store, no-cache, no-transform");
  evhttp_add_header(h, "X-Accel-Buffering", "no");
  evhttp_send_reply_start(req, 200, "OK");
  // evhttp chunks the reply to an HTTP/1.1 client (nginx); Conns writes
  // live chunks itself and must frame them the same way.
  conn->chunked = evhttp_find_header(h, "Transfer-Encoding") != nullptr;
  DropHeaders(req);
  Conn* c = p_.conns.Register(std::move(conn));
  // A stream outlives evhttp's request timeout; the heartbeat keeps nginx's.
  evhttp_connection_set_timeout(c->evcon, p_.cfg.stream_lifetime_s + 60);
  ++p_.stats.streams_opened;
  if (c->state == ConnState::kReplaying) {
    ReplayPage(*c);
  } else {
    p_.conns.MarkDirty(*c);
  }
}

void Http::HandlePoll(evhttp_request* req, const RawRequest& raw) {
  auto params = ParsePoll(raw, p_.cfg.poll_default_s, p_.cfg.poll_max_s);
  if (!params.ok()) {
    ReplyError(req, params.status());
    return;
  }
  std::optional<Session> session = Admit(req, /*cache_session=*/true);
  if (!session) return;
  const int64_t head = p_.fanout.head();
  auto conn = NewConn(req, *session, raw, HoldMode::kPoll, params->timeout_s);
  conn->state = ConnState::kWaiting;
  conn->cursor = head;
  bool answer_now = !params->since || params->timeout_s == 0;
  if (params->since) {
    auto reason = ResetFor(*params->since, params->epoch);
    if (!reason.ok()) {
      RefuseAdmitted(req, session->user.id, reason.status());
      return;
    }
    if (*reason) {
      conn->poll_events.push_back(PollEvent{0, "reset", ResetData(*reason)});
      answer_now = true;
    } else if (*params->since < head) {
      // A catch-up page: built now if the pacing allows, else held until
      // its turn. One that finds no room within the bound (pacer.h) is held
      // as long and asks again then, as a resuming stream does: parked, it
      // costs nothing and counts against its user's connections, where a
      // 429 at once let a client that loops on it keep both cores busy
      // (tools/bench/oldcursor: 31,000 refusals a second).
      const int64_t wait_ms = p_.pacer.Take(PaceKeyOf(*conn));
      if (wait_ms != 0) {
        const int64_t held_ms = wait_ms == kNoRoom ? kMaxWaitMs : wait_ms;
        ++p_.stats.polls_paced;
        conn->state = ConnState::kPaced;
        conn->cursor = *params->since;
        conn->deadline_ms += held_ms;  // the poll's own wait starts at its turn
        Conn* c = p_.conns.Register(std::move(conn));
        DropHeaders(req);
        evhttp_connection_set_timeout(c->evcon, static_cast<int>(params->timeout_s + held_ms / 1000) + 30);
        p_.pacer.Hold(c->id, PaceKeyOf(*c), wait_ms);
        return;
      }
      Status st = p_.fanout.FillPoll(*conn, *params->since);
      p_.pacer.Built(PaceKeyOf(*conn), PollPageUsed(*conn));
      if (!st.ok()) {
        RefuseAdmitted(req, session->user.id, st);
        return;
      }
      answer_now |= !conn->poll_events.empty();
    } else {
      conn->cursor = *params->since;  // the daemon is behind the client: wait for the rest
    }
  }
  Conn* c = p_.conns.Register(std::move(conn));
  if (answer_now) {
    p_.conns.RequestClose(*c, CloseCause::kClient);  // answered at this turn's reap point
    return;
  }
  DropHeaders(req);
  evhttp_connection_set_timeout(c->evcon, static_cast<int>(params->timeout_s) + 30);
}

void Http::ReplayPage(Conn& c) {
  if (int64_t wait_ms = p_.pacer.Take(PaceKeyOf(c)); wait_ms != 0) {
    // Nothing is read until its turn; the stream gets no live events
    // meanwhile (it is not live) and catches up to the head from its cursor.
    // Found no room (kNoRoom), it asks again at its turn, 2 s on: a stream
    // is not refused, it is already answered.
    ++p_.stats.streams_paced;
    c.state = ConnState::kPaced;
    p_.pacer.Hold(c.id, PaceKeyOf(c), wait_ms);
    p_.conns.MarkDirty(c);  // what is pending (the hello of a new stream) goes now
    return;
  }
  BuildReplayPage(c);
}

void Http::BuildReplayPage(Conn& c) {
  c.state = ConnState::kReplaying;
  p_.pacer.Built(PaceKeyOf(c), p_.fanout.Replay(c));
}

bool Http::BuildHeldPage(uint64_t id) {
  Conn* c = p_.conns.registry().Find(id);
  if (!c || c->state != ConnState::kPaced) return false;  // answered while held
  if (c->mode == HoldMode::kStream) {
    BuildReplayPage(*c);
    return true;
  }
  const int64_t since = c->cursor;
  c->state = ConnState::kWaiting;
  Status st = p_.fanout.FillPoll(*c, since);
  p_.pacer.Built(PaceKeyOf(*c), PollPageUsed(*c));
  if (!st.ok()) {
    // Answered empty with its own since; the client asks again.
    LOG_WARN("conn %llu user %lld: catch-up page failed: %s", static_cast<unsigned long long>(c->id),
             static_cast<long long>(c->user_id), st.message().c_str());
    c->poll_events.clear();
    c->poll_bytes = 0;
    c->poll_full = false;
    c->cursor = since;
    c->state = ConnState::kPaced;
    p_.conns.RequestClose(*c, CloseCause::kClient);
    return true;
  }
  // As at arrival: answered if it found something or asked not to wait.
  if (!c->poll_events.empty() || c->deadline_ms <= MonoMs()) p_.conns.RequestClose(*c, CloseCause::kClient);
  return true;
}

void Http::HandleStats(evhttp_request* req, const RawRequest& raw) {
  if (!StatsAllowed(raw)) {
    ReplyError(req, Status::Forbidden("forbidden", "/events/stats is served to loopback only"));
    return;
  }
  auto db_head = p_.store.Head();
  if (db_head.ok()) p_.stats.db_head = *db_head;
  p_.stats.head = p_.fanout.head();
  auto format = raw.Query("format");
  bool prom = format && *format == "prometheus";
  Reply(req, 200, prom ? "text/plain; version=0.0.4" : "application/json; charset=utf-8",
        prom ? p_.stats.Prometheus() : p_.stats.Json());
}

}  // namespace parley::events
