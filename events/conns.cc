#include "events/conns.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstdio>

#include "events/clock.h"
#include "events/wire.h"
#include "schema/log.h"
#include "schema/storage.h"

namespace parley::events {

void EventFree::operator()(event* e) const { event_free(e); }
void EvbufferFree::operator()(evbuffer* b) const { evbuffer_free(b); }

namespace {

// libevent's connection callbacks carry the connection id, never a Conn
// pointer: a callback that fires after the Conn is gone finds nothing. They
// find the one Conns of the process here.
Conns* g_conns = nullptr;
void* IdArg(uint64_t id) { return reinterpret_cast<void*>(static_cast<uintptr_t>(id)); }
uint64_t ArgId(void* arg) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(arg)); }

// A live chunk for a stream whose output buffer is empty goes straight to
// the socket, framed as evhttp frames chunks. Through evhttp every chunk
// armed the socket for writing, and disarmed it once written: two
// epoll_ctl calls and a wake-up per delivery, a third of the daemon's CPU
// when one message fans out to a thousand streams (perf). What the socket
// does not take goes to evhttp's buffer as before, behind nothing, so order
// is kept, and an error is left for libevent's write to find and report.
void WriteLiveChunk(const std::string& data, bufferevent* bev) {
  char head[24];
  int head_len = std::snprintf(head, sizeof head, "%zx\r\n", data.size());
  static const char kTail[] = "\r\n";
  iovec iov[3] = {{head, static_cast<size_t>(head_len)},
                  {const_cast<char*>(data.data()), data.size()},
                  {const_cast<char*>(kTail), 2}};
  ssize_t n = writev(bufferevent_getfd(bev), iov, 3);
  size_t written = n > 0 ? static_cast<size_t>(n) : 0;
  evbuffer* out = bufferevent_get_output(bev);
  for (const iovec& v : iov) {
    size_t skip = std::min(written, v.iov_len);
    written -= skip;
    if (skip < v.iov_len) evbuffer_add(out, static_cast<const char*>(v.iov_base) + skip, v.iov_len - skip);
  }
}

// A connection whose stream or poll has ended and that nginx keeps for its
// next request waits for it as a new connection does (http.cc), not for a
// stream's lifetime; so does a goodbye's last bytes, should they not leave.
constexpr int kRequestTimeoutS = 30;

size_t OutputBytes(const Conn& c) {
  if (!c.evcon) return 0;
  return evbuffer_get_length(bufferevent_get_output(evhttp_connection_get_bufferevent(c.evcon)));
}

}  // namespace

Conns::Conns(event_base* base, const Config& cfg, std::string epoch, Stats& stats, Hooks hooks)
    : base_(base), cfg_(cfg), epoch_(std::move(epoch)), stats_(stats), hooks_(std::move(hooks)) {
  g_conns = this;
  pass_ev_.reset(event_new(base_, -1, 0, &Conns::OnPass, this));
  scratch_.reset(evbuffer_new());
}

Conns::~Conns() { g_conns = nullptr; }

Conn* Conns::Register(std::unique_ptr<Conn> conn) {
  Conn* c = conn.get();
  c->id = next_id_++;
  c->evcon = evhttp_request_get_connection(c->req);
  evhttp_connection_set_closecb(c->evcon, &Conns::OnClosed, IdArg(c->id));
  if (c->mode == HoldMode::kPoll) {
    // evhttp reads nothing more from a connection once its request is in,
    // until the reply, so it does not see a client that goes away while its
    // poll is held (a browser's abort, a client's shorter timeout): the poll
    // would stay until its timeout, counted against the user's connections
    // and keeping them online. The kernel tells (EV_CLOSED: EPOLLRDHUP); a
    // pipelined request's bytes do not wake it.
    const evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(c->evcon));
    c->peer_closed.reset(event_new(base_, fd, EV_CLOSED, &Conns::OnPeerClosed, IdArg(c->id)));
    if (c->peer_closed) event_add(c->peer_closed.get(), nullptr);
  }
  bool first = registry_.Add(std::move(conn));
  if (c->mode == HoldMode::kStream) {
    ++stats_.streams;
  } else {
    ++stats_.polls_waiting;
  }
  if (first && hooks_.first_opened) hooks_.first_opened(c->user_id);
  return c;
}

void Conns::MarkDirty(Conn& c) {
  if (!c.dirty) {
    c.dirty = true;
    dirty_.push_back(c.id);
  }
  if (!pass_scheduled_) {
    pass_scheduled_ = true;
    event_active(pass_ev_.get(), 0, 0);
  }
}

void Conns::RequestClose(Conn& c, CloseCause cause) {
  if (c.state == ConnState::kClosing) return;
  // A stream saying its goodbye has nothing more to say: past its deadline
  // (the sweep's rotation) or at a shutdown, its reader is a slow one.
  if (c.state == ConnState::kDraining && (cause == CloseCause::kRotated || cause == CloseCause::kShutdown)) {
    cause = CloseCause::kSlow;
  }
  // A held poll has read nothing: it is answered empty, with its own since.
  const bool paced = c.state == ConnState::kPaced;
  c.state = ConnState::kClosing;
  c.close_cause = cause;
  // A poll stops collecting now, so its "next" is fixed now: the fan-out may
  // move the head on before the reap point, past events this poll no longer
  // takes.
  if (c.mode == HoldMode::kPoll && !c.poll_full && !paced && hooks_.head) c.cursor = std::max(c.cursor, hooks_.head());
  to_close_.push_back(c.id);
  MarkDirty(c);  // schedules the pass, whose reap closes it
}

void Conns::OnPass(int, short, void* self) { static_cast<Conns*>(self)->RunPass(); }

void Conns::RunPass() {
  pass_scheduled_ = false;
  const uint64_t start = MonoUs();
  // Swapped out first: answering a poll or a close hook may mark others.
  std::vector<uint64_t> dirty;
  dirty.swap(dirty_);
  for (uint64_t id : dirty) {
    Conn* c = registry_.Find(id);
    if (!c || !c->dirty) continue;
    c->dirty = false;
    Flush(*c);
  }
  EnforceBudget();
  Reap();
  stats_.queued_bytes = queued_total_;  // after the reap: what it closed queues nothing
  stats_.flush.Add(MonoUs() - start);
}

void Conns::Flush(Conn& c) {
  if (c.mode == HoldMode::kPoll) {
    // A waiting poll that collected something is answered in this pass.
    if (c.state == ConnState::kWaiting && !c.poll_events.empty()) RequestClose(c, CloseCause::kClient);
    return;
  }
  if (c.state == ConnState::kClosing || c.pending.empty()) return;
  bufferevent* bev = evhttp_connection_get_bufferevent(c.evcon);
  evbuffer* out = bufferevent_get_output(bev);
  if (c.state == ConnState::kLive && c.chunked && evbuffer_get_length(out) == 0) {
    WriteLiveChunk(c.pending, bev);
  } else {
    evbuffer_add(scratch_.get(), c.pending.data(), c.pending.size());
    if (c.state == ConnState::kReplaying) {
      // The next page is appended only once this one has left (OnChunkWritten).
      evhttp_send_reply_chunk_with_cb(c.req, scratch_.get(), &Conns::OnChunkWritten, IdArg(c.id));
    } else {
      evhttp_send_reply_chunk(c.req, scratch_.get());
    }
  }
  // An idle stream keeps no buffer of its own between passes: memory per
  // idle subscriber is what bounds how many one daemon holds.
  std::string().swap(c.pending);
  SetQueued(c, evbuffer_get_length(out));
  if (c.queued > cfg_.output_cap) RequestClose(c, CloseCause::kSlow);
}

void Conns::SetQueued(Conn& c, size_t bytes) {
  queued_total_ = queued_total_ - c.queued + bytes;
  c.queued = bytes;
}

void Conns::Remeasure() {
  registry_.ForAll([&](Conn& c) { SetQueued(c, OutputBytes(c)); });
  stats_.queued_bytes = queued_total_;
}

void Conns::EnforceBudget() {
  if (queued_total_ <= cfg_.output_budget) return;
  std::vector<std::pair<size_t, uint64_t>> heavy;
  registry_.ForAll([&](Conn& c) {
    if (c.state != ConnState::kClosing && c.queued > 0) heavy.emplace_back(c.queued, c.id);
  });
  std::sort(heavy.begin(), heavy.end(), std::greater<>());
  size_t over = queued_total_ - cfg_.output_budget;
  for (const auto& [bytes, id] : heavy) {
    if (Conn* c = registry_.Find(id)) RequestClose(*c, CloseCause::kBudget);
    if (bytes >= over) break;
    over -= bytes;
  }
}

void Conns::Reap() {
  // Closing never queues more closes today, but a close must not
  // invalidate the list being walked.
  std::vector<uint64_t> batch;
  batch.swap(to_close_);
  for (uint64_t id : batch) {
    if (Conn* c = registry_.Find(id)) Close(*c);
  }
}

void Conns::Close(Conn& c) {
  if (c.mode == HoldMode::kPoll) {
    AnswerPoll(c);
  } else if (c.close_cause == CloseCause::kRotated || c.close_cause == CloseCause::kShutdown) {
    EndStream(c);
  } else {
    Cut(c);  // slow, over the budget, or its session ended: nothing more is for it
  }
}

void Conns::AnswerPoll(Conn& c) {
  std::string body = PollBody(epoch_, c.poll_events, c.cursor, c.poll_full);
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

void Conns::EndStream(Conn& c) {
  c.pending += SseRetry(kRetryMs);
  c.pending += SseComment(c.close_cause == CloseCause::kRotated ? "stream lifetime reached; reconnect"
                                                                 : "closing; reconnect");
  evbuffer_add(scratch_.get(), c.pending.data(), c.pending.size());
  std::string().swap(c.pending);
  if (c.close_cause == CloseCause::kShutdown) {
    // The daemon leaves its loop half a second later (Server::Shutdown),
    // and nothing of it outlives that.
    evhttp_send_reply_chunk(c.req, scratch_.get());
    EndReply(c);
    return;
  }
  c.state = ConnState::kDraining;
  c.deadline_ms = MonoMs() + kDrainMs;
  evhttp_send_reply_chunk_with_cb(c.req, scratch_.get(), &Conns::OnGoodbyeWritten, IdArg(c.id));
  SetQueued(c, OutputBytes(c));
}

void Conns::EndReply(Conn& c) {
  evhttp_request* req = c.req;
  evhttp_connection_set_closecb(c.evcon, nullptr, nullptr);
  evhttp_connection_set_timeout(c.evcon, kRequestTimeoutS);
  ++stats_.closed[static_cast<int>(c.close_cause)];
  Forget(c);
  evhttp_send_reply_end(req);  // may free the connection (Connection: close)
}

void Conns::Cut(Conn& c) {
  if (c.close_cause == CloseCause::kRevoked) {
    // Its session ended (a logout, a revocation): what is queued is for
    // nobody, and a goodbye behind it would keep it all.
    LOG_INFO("conn %llu user %lld: stream closed: session revoked (%zu bytes unsent dropped)",
             static_cast<unsigned long long>(c.id), static_cast<long long>(c.user_id), OutputBytes(c));
  } else {
    // A subscriber that cannot keep up gets nothing more: its queue is
    // already over the cap. It resumes from its last id and loses nothing.
    LOG_INFO("conn %llu user %lld: cut (%s): %zu bytes queued, cap %zu, all connections %zu of %zu",
             static_cast<unsigned long long>(c.id), static_cast<long long>(c.user_id), CauseName(c.close_cause),
             c.queued, cfg_.output_cap, queued_total_, cfg_.output_budget);
  }
  evhttp_connection* evcon = c.evcon;
  ++stats_.closed[static_cast<int>(c.close_cause)];
  evhttp_connection_set_closecb(evcon, nullptr, nullptr);
  Forget(c);
  evhttp_connection_free(evcon);
}

void Conns::OnClosed(evhttp_connection*, void* arg) {
  Conns* s = g_conns;
  if (!s) return;
  Conn* c = s->registry_.Find(ArgId(arg));
  if (!c) return;
  // evhttp frees the request and the connection after this callback.
  c->req = nullptr;
  c->evcon = nullptr;
  ++s->stats_.closed[static_cast<int>(CloseCause::kClient)];
  s->Forget(*c);
}

// The client of a held poll went away: its connection goes as evhttp's own
// failures go, through OnClosed (evhttp_connection_free calls it), which
// forgets the poll and with it this event, fired once and no longer pending.
void Conns::OnPeerClosed(int, short, void* arg) {
  Conns* s = g_conns;
  if (!s) return;
  Conn* c = s->registry_.Find(ArgId(arg));
  if (!c || !c->evcon) return;
  evhttp_connection_free(c->evcon);
}

// A rotated stream's goodbye has left for the socket: the reply ends.
void Conns::OnGoodbyeWritten(evhttp_connection*, void* arg) {
  Conns* s = g_conns;
  if (!s) return;
  Conn* c = s->registry_.Find(ArgId(arg));
  if (c && c->state == ConnState::kDraining) s->EndReply(*c);
}

// A replaying stream asks for its next page only once the previous one has
// left for the socket, so a long backlog never sits in memory at once.
void Conns::OnChunkWritten(evhttp_connection*, void* arg) {
  Conns* s = g_conns;
  if (!s) return;
  Conn* c = s->registry_.Find(ArgId(arg));
  if (!c || c->state != ConnState::kReplaying || !s->hooks_.replay) return;
  s->hooks_.replay(*c);
  s->MarkDirty(*c);
}

void Conns::Forget(Conn& c) {
  if (c.mode == HoldMode::kStream) {
    --stats_.streams;
  } else {
    --stats_.polls_waiting;
  }
  SetQueued(c, 0);
  if (hooks_.forgotten) hooks_.forgotten(c.id);
  int64_t user = c.user_id;
  if (registry_.Remove(&c) && hooks_.last_closed) hooks_.last_closed(user);
}

}  // namespace parley::events
