// parley-events: start-up, HTTP handlers and connection lifecycle.
#include "events/server.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "events/wire.h"
#include "schema/crypto.h"
#include "schema/json.h"
#include "schema/log.h"
#include "schema/migrate.h"

namespace parley::events {

void EventBaseFree::operator()(event_base* b) const { event_base_free(b); }
void EventFree::operator()(event* e) const { event_free(e); }
void EvhttpFree::operator()(evhttp* h) const { evhttp_free(h); }
void EvbufferFree::operator()(evbuffer* b) const { evbuffer_free(b); }

Server* Server::instance_ = nullptr;

namespace {

// libevent callbacks carry the connection id, never a Conn pointer: a
// callback that fires after the Conn is gone finds nothing and does nothing.
void* IdArg(uint64_t id) { return reinterpret_cast<void*>(static_cast<uintptr_t>(id)); }
uint64_t ArgId(void* arg) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(arg)); }

std::optional<int64_t> ParseCursor(const char* s) {
  if (!s || !*s || std::strlen(s) > 18) return std::nullopt;
  int64_t v = 0;
  for (const char* p = s; *p; ++p) {
    if (*p < '0' || *p > '9') return std::nullopt;
    v = v * 10 + (*p - '0');
  }
  return v;
}

const char* Header(evhttp_request* req, const char* name) {
  return evhttp_find_header(evhttp_request_get_input_headers(req), name);
}

// The query string of a request, parsed; freed on scope exit.
class Query {
 public:
  explicit Query(evhttp_request* req) {
    q_.tqh_first = nullptr;  // TAILQ_INIT, without <sys/queue.h>
    q_.tqh_last = &q_.tqh_first;
    const char* raw = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    if (raw) ok_ = evhttp_parse_query_str(raw, &q_) == 0;
  }
  ~Query() { evhttp_clear_headers(&q_); }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  const char* Get(const char* key) { return evhttp_find_header(&q_, key); }
  bool ok() const { return ok_; }

 private:
  evkeyvalq q_;
  bool ok_ = true;
};

// A held request keeps its parsed headers until it ends: about 1 KiB of
// small allocations that nothing reads again once the request is
// authenticated and the reply has started. Memory per idle subscriber is
// what bounds how many one daemon holds. (HTTP/1.1 keep-alive, the only
// thing evhttp still decides from them, is the default without them.)
void DropHeaders(evhttp_request* req) {
  evhttp_clear_headers(evhttp_request_get_input_headers(req));
  evhttp_clear_headers(evhttp_request_get_output_headers(req));
}

int UnixListen(const std::string& path, int type) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return -1;
  int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  struct stat st;
  if (lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(path.c_str());
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      (type == SOCK_STREAM && listen(fd, 4096) != 0)) {
    close(fd);
    return -1;
  }
  // Access is governed by the permissions of the socket's directory.
  chmod(path.c_str(), 0666);
  return fd;
}

}  // namespace

Server::~Server() {
  if (notify_fd_ >= 0) close(notify_fd_);
  instance_ = nullptr;
}

Status Server::Start() {
  instance_ = this;
  PARLEY_RETURN_IF_ERROR(CryptoInit());
  auto db = Db::Open(cfg_.db_path);
  if (!db.ok()) return db.status();
  db_ = std::move(db).value();
  auto version = Migrate(*db_);
  if (!version.ok()) return version.status();
  store_ = std::make_unique<Store>(*db_);
  PARLEY_ASSIGN_OR_RETURN(epoch_, store_->Epoch());
  PARLEY_ASSIGN_OR_RETURN(head_, store_->Head());
  PARLEY_ASSIGN_OR_RETURN(data_version_, store_->DataVersion());
  // Nobody is connected to a daemon that is just starting.
  PARLEY_RETURN_IF_ERROR(store_->ClearPresence());
  stats_.head = stats_.db_head = head_;
  last_heartbeat_ms_ = last_session_check_ms_ = last_prune_ms_ = NowMs();

  base_.reset(event_base_new());
  http_.reset(evhttp_new(base_.get()));
  scratch_.reset(evbuffer_new());
  if (!base_ || !http_ || !scratch_) return Status::Internal("libevent initialisation failed");
  // Requests come from nginx: small GETs. Anything else is refused early.
  evhttp_set_max_headers_size(http_.get(), 16 * 1024);
  evhttp_set_max_body_size(http_.get(), 0);
  evhttp_set_allowed_methods(http_.get(), EVHTTP_REQ_GET);
  evhttp_set_timeout(http_.get(), 30);  // reading a request; streams and polls raise it
  evhttp_set_gencb(http_.get(), &Server::OnRequest, this);
  int fd = UnixListen(cfg_.listen_path, SOCK_STREAM);
  if (fd < 0 || !evhttp_accept_socket_with_handle(http_.get(), fd)) {
    return Status::Internal("cannot listen on " + cfg_.listen_path + ": " + std::strerror(errno));
  }
  PARLEY_RETURN_IF_ERROR(OpenNotifySocket());

  wake_ev_.reset(event_new(base_.get(), -1, 0, &Server::OnWake, this));
  tick_ev_.reset(event_new(base_.get(), -1, EV_PERSIST, &Server::OnTick, this));
  dv_ev_.reset(event_new(base_.get(), -1, EV_PERSIST, &Server::OnDataVersion, this));
  timeval one_s{1, 0};
  timeval dv{cfg_.data_version_ms / 1000, (cfg_.data_version_ms % 1000) * 1000};
  event_add(tick_ev_.get(), &one_s);
  event_add(dv_ev_.get(), &dv);
  signal(SIGPIPE, SIG_IGN);
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2}) {
    EventPtr ev(evsignal_new(base_.get(), sig, &Server::OnSignal, this));
    event_add(ev.get(), nullptr);
    signal_evs_.push_back(std::move(ev));
  }
  LOG_INFO("listening on %s, wake-ups on %s, head %lld, epoch %s", cfg_.listen_path.c_str(),
           cfg_.notify_path.c_str(), static_cast<long long>(head_), epoch_.c_str());
  return Status::Ok();
}

int Server::Run() {
  event_base_dispatch(base_.get());
  unlink(cfg_.listen_path.c_str());
  unlink(cfg_.notify_path.c_str());
  LOG_INFO("stopped");
  return 0;
}

void Server::OnRequest(evhttp_request* req, void* self) {
  auto* s = static_cast<Server*>(self);
  const char* path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
  std::string_view p = path ? path : "";
  if (s->stopping_) {
    s->ReplyError(req, 503, "unavailable", "the server is restarting; retry shortly");
  } else if (p == "/events/stream") {
    s->HandleStream(req);
  } else if (p == "/events/poll") {
    s->HandlePoll(req);
  } else if (p == "/events/stats") {
    s->HandleStats(req);
  } else {
    s->ReplyError(req, 404, "not_found", "no such endpoint");
  }
}

void Server::ReplyError(evhttp_request* req, int status, const char* code, const std::string& message) {
  JsonWriter w;
  w.BeginObject().Key("error").BeginObject().Key("code").String(code).Key("message").String(message);
  w.EndObject().EndObject();
  evkeyvalq* h = evhttp_request_get_output_headers(req);
  evhttp_add_header(h, "Content-Type", "application/json; charset=utf-8");
  evhttp_add_header(h, "Cache-Control", "no-store");
  evbuffer_add(scratch_.get(), w.str().data(), w.str().size());
  evhttp_send_reply(req, status, nullptr, scratch_.get());
}

Result<Session> Server::Authenticate(evhttp_request* req, bool cache) {
  const char* auth = Header(req, "Authorization");
  const char* cookie = Header(req, "Cookie");
  std::optional<std::string> token = RequestToken(auth ? auth : "", cookie ? cookie : "");
  if (!token) return Status::Unauthorized("not_signed_in", "sign in first");
  std::string hash = TokenHash(*token);
  int64_t now = NowMs();
  auto it = session_cache_.find(hash);
  if (it != session_cache_.end() && now - it->second.checked_ms < int64_t{cfg_.revoke_check_s} * 1000) {
    return it->second.session;
  }
  PARLEY_ASSIGN_OR_RETURN(std::optional<Session> session, store_->FindSession(hash));
  if (!session) {
    if (it != session_cache_.end()) session_cache_.erase(it);
    return Status::Unauthorized("not_signed_in", "the session has ended; sign in again");
  }
  if (cache) session_cache_[hash] = CachedSession{*session, now};
  return std::move(*session);
}

Conn* Server::Register(std::unique_ptr<Conn> conn) {
  Conn* c = conn.get();
  c->id = next_conn_id_++;
  c->evcon = evhttp_request_get_connection(c->req);
  evhttp_connection_set_closecb(c->evcon, &Server::OnConnectionClosed, IdArg(c->id));
  bool first = registry_.Add(std::move(conn));
  if (c->mode == HoldMode::kStream) {
    ++stats_.streams;
  } else {
    ++stats_.polls_waiting;
  }
  if (first) UserOnline(c->user_id);
  return c;
}

void Server::OnConnectionClosed(evhttp_connection*, void* arg) {
  Server* s = instance_;
  if (!s) return;
  Conn* c = s->registry_.Find(ArgId(arg));
  if (!c) return;
  // evhttp frees the request and the connection after this callback.
  c->req = nullptr;
  c->evcon = nullptr;
  ++s->stats_.closed[static_cast<int>(CloseCause::kClient)];
  s->Forget(*c);
}

void Server::Forget(Conn& c) {
  if (c.mode == HoldMode::kStream) {
    --stats_.streams;
  } else {
    --stats_.polls_waiting;
  }
  int64_t user = c.user_id;
  if (registry_.Remove(&c)) {
    // The last connection: announce offline only if no new one opens
    // within the grace period (a page reload must not flap).
    offline_at_[user] = NowMs() + cfg_.presence_grace_ms;
  }
}

std::optional<Session> Server::Admit(evhttp_request* req, bool cache_session) {
  if (registry_.connections() >= static_cast<size_t>(cfg_.max_connections)) {
    ++stats_.refused;
    ReplyError(req, 503, "busy", "too many connections; retry shortly");
    return std::nullopt;
  }
  auto session = Authenticate(req, cache_session);
  if (!session.ok()) {
    ReplyError(req, session.status().code() == Code::kUnavailable ? 503 : 401, session.status().reason().c_str(),
               session.status().message());
    return std::nullopt;
  }
  return std::move(session).value();
}

const char* Server::ResetReason(int64_t cursor, const char* epoch) {
  if (epoch && epoch_ != epoch) return "epoch_changed";
  auto db_head = store_->Head();
  if (db_head.ok() && cursor > *db_head) return "cursor_ahead";  // a restored or recreated database
  auto oldest = store_->OldestEventId();
  if (oldest.ok() && *oldest > 0 && cursor < *oldest - 1) return "cursor_too_old";
  return nullptr;
}

std::string Server::ResetData(const char* reason) const {
  JsonWriter w;
  w.BeginObject().Key("reason").String(reason).Key("head").Int(head_).EndObject();
  return w.Take();
}

void Server::HandleStream(evhttp_request* req) {
  std::optional<Session> session = Admit(req, /*cache_session=*/false);
  if (!session) return;
  Query q(req);
  const char* raw = Header(req, "Last-Event-ID");
  for (const char* key : {"last_event_id", "lastEventId", "since"}) {
    if (!raw || !*raw) raw = q.Get(key);
  }
  std::optional<int64_t> cursor;
  if (raw && *raw) {
    cursor = ParseCursor(raw);
    if (!cursor) {
      ReplyError(req, 400, "invalid_field", "the last event id must be a non-negative integer");
      return;
    }
  }
  const char* epoch = q.Get("epoch");

  auto conn = std::make_unique<Conn>();
  conn->mode = HoldMode::kStream;
  conn->req = req;
  conn->user_id = session->user.id;
  conn->session_id = session->id;
  conn->deadline_ms = NowMs() + int64_t{cfg_.stream_lifetime_s} * 1000;
  std::string user_json = ToJson(session->user);
  user_json_[session->user.id] = user_json;
  conn->pending = SsePreamble(epoch_, head_, user_json);

  // Decide where the stream starts: at the head, after the client's cursor,
  // or with a reset when that cursor cannot be served without a gap.
  conn->cursor = head_;
  if (cursor) {
    if (const char* reason = ResetReason(*cursor, epoch)) {
      conn->pending += SseEphemeral("reset", ResetData(reason));
    } else {
      conn->cursor = *cursor;
    }
  }
  conn->state = conn->cursor < head_ ? ConnState::kReplaying : ConnState::kLive;

  evkeyvalq* h = evhttp_request_get_output_headers(req);
  evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
  evhttp_add_header(h, "Cache-Control", "no-store, no-cache, no-transform");
  evhttp_add_header(h, "X-Accel-Buffering", "no");
  evhttp_send_reply_start(req, 200, "OK");
  // evhttp chunks the reply to an HTTP/1.1 client (nginx); Flush writes
  // live chunks itself and must frame them the same way.
  conn->chunked = evhttp_find_header(h, "Transfer-Encoding") != nullptr;
  DropHeaders(req);
  Conn* c = Register(std::move(conn));
  // A stream outlives evhttp's request timeout; the heartbeat keeps nginx's.
  evhttp_connection_set_timeout(c->evcon, cfg_.stream_lifetime_s + 60);
  ++stats_.streams_opened;
  if (c->state == ConnState::kReplaying) ReplayPage(*c);
  if (!c->dirty) {
    c->dirty = true;
    dirty_.push_back(c->id);
  }
  Flush();
  Reap();
}

void Server::HandlePoll(evhttp_request* req) {
  std::optional<Session> session = Admit(req, /*cache_session=*/true);
  if (!session) return;
  Query q(req);
  std::optional<int64_t> since;
  if (const char* raw = q.Get("since")) {
    since = ParseCursor(raw);
    if (!since) {
      ReplyError(req, 400, "invalid_field", "since must be a non-negative integer");
      return;
    }
  }
  int64_t timeout = cfg_.poll_default_s;
  if (const char* raw = q.Get("timeout")) {
    std::optional<int64_t> t = ParseCursor(raw);
    if (!t || *t > cfg_.poll_max_s) {
      ReplyError(req, 400, "invalid_field", "timeout must be 0 to " + std::to_string(cfg_.poll_max_s) + " seconds");
      return;
    }
    timeout = *t;
  }
  const char* epoch = q.Get("epoch");

  auto conn = std::make_unique<Conn>();
  conn->mode = HoldMode::kPoll;
  conn->state = ConnState::kWaiting;
  conn->req = req;
  conn->user_id = session->user.id;
  conn->session_id = session->id;
  conn->deadline_ms = NowMs() + timeout * 1000;
  conn->cursor = head_;
  user_json_[session->user.id] = ToJson(session->user);
  bool answer_now = !since || timeout == 0;
  if (since) {
    if (const char* reason = ResetReason(*since, epoch)) {
      conn->poll_events.push_back(PollEvent{0, "reset", ResetData(reason)});
      answer_now = true;
    } else if (*since < head_) {
      auto events = store_->EventsForUser(conn->user_id, *since, head_, kPollMax);
      if (!events.ok()) {
        ReplyError(req, 503, "busy", "the database is busy; retry");
        return;
      }
      for (const Event& e : *events) conn->poll_events.push_back(PollEvent{e.id, e.type, e.data});
      if (events->size() == kPollMax) {
        conn->poll_full = true;
        conn->cursor = events->back().id;
      }
      answer_now |= !events->empty();
    } else {
      conn->cursor = *since;  // the daemon is behind the client: wait for the rest
    }
  }
  Conn* c = Register(std::move(conn));
  if (answer_now) {
    AnswerPoll(*c);
    return;
  }
  DropHeaders(req);
  evhttp_connection_set_timeout(c->evcon, static_cast<int>(timeout) + 30);
}

void Server::AnswerPoll(Conn& c) {
  int64_t next = c.poll_full ? c.cursor : std::max(c.cursor, head_);
  std::string body = PollBody(epoch_, c.poll_events, next, c.poll_full);
  evkeyvalq* h = evhttp_request_get_output_headers(c.req);
  evhttp_add_header(h, "Content-Type", "application/json; charset=utf-8");
  evhttp_add_header(h, "Cache-Control", "no-store");
  evbuffer_add(scratch_.get(), body.data(), body.size());
  evhttp_connection_set_closecb(c.evcon, nullptr, nullptr);
  evhttp_send_reply(c.req, 200, "OK", scratch_.get());
  stats_.deliveries += c.poll_events.size();
  ++stats_.polls_completed;
  Forget(c);
}

void Server::EndStream(Conn& c, CloseCause cause) {
  c.pending += SseRetry(kRetryMs);
  c.pending += SseComment(cause == CloseCause::kRotated ? "stream lifetime reached; reconnect"
                                                         : "closing; reconnect");
  evbuffer_add(scratch_.get(), c.pending.data(), c.pending.size());
  evhttp_send_reply_chunk(c.req, scratch_.get());
  evhttp_connection_set_closecb(c.evcon, nullptr, nullptr);
  evhttp_send_reply_end(c.req);
  ++stats_.closed[static_cast<int>(cause)];
  Forget(c);
}

void Server::Close(Conn& c, CloseCause cause) {
  if (c.mode == HoldMode::kPoll) {
    AnswerPoll(c);
    return;
  }
  if (cause != CloseCause::kSlow) {
    EndStream(c, cause);
    return;
  }
  // A subscriber that cannot keep up gets nothing more: its queue is already
  // over the cap. It resumes from its last id and loses nothing.
  evhttp_connection* evcon = c.evcon;
  ++stats_.closed[static_cast<int>(cause)];
  evhttp_connection_set_closecb(evcon, nullptr, nullptr);
  Forget(c);
  evhttp_connection_free(evcon);
}

void Server::HandleStats(evhttp_request* req) {
  Query q(req);
  const char* format = q.Get("format");
  auto db_head = store_->Head();
  if (db_head.ok()) stats_.db_head = *db_head;
  stats_.head = head_;
  bool prom = format && std::strcmp(format, "prometheus") == 0;
  std::string body = prom ? stats_.Prometheus() : stats_.Json();
  evkeyvalq* h = evhttp_request_get_output_headers(req);
  evhttp_add_header(h, "Content-Type", prom ? "text/plain; version=0.0.4" : "application/json; charset=utf-8");
  evhttp_add_header(h, "Cache-Control", "no-store");
  evbuffer_add(scratch_.get(), body.data(), body.size());
  evhttp_send_reply(req, 200, "OK", scratch_.get());
}

}  // namespace parley::events
