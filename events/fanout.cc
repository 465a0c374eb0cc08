// parley-events: tailing the event log and fanning events out.
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstdio>

#include "events/server.h"
#include "events/wire.h"
#include "schema/json.h"
#include "schema/log.h"

namespace parley::events {
namespace {

constexpr int kBatch = 1000;  // events read per pass; more wait for the next turn

// Whether this pass may still add to c: live streams, replaying streams
// (ephemeral only), and waiting polls with room left.
bool TakesDurable(const Conn& c) {
  if (c.mode == HoldMode::kStream) return c.state == ConnState::kLive;
  return c.state == ConnState::kWaiting && !c.poll_full;
}

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

}  // namespace

void Server::Wake() {
  if (wake_pending_) return;
  wake_pending_ = true;
  event_active(wake_ev_.get(), 0, 0);
}

void Server::OnWake(int, short, void* self) { static_cast<Server*>(self)->Pump(); }

void Server::Pump() {
  wake_pending_ = false;
  if (stopping_) return;
  auto events = store_->EventsAfter(head_, kBatch);
  if (!events.ok()) {
    // Busy or failing database: the data_version timer wakes us again.
    LOG_WARN("reading events after %lld: %s", static_cast<long long>(head_), events.status().message().c_str());
    return;
  }
  for (const Event& e : *events) {
    ApplyMembership(e);
    Dispatch(e);
    head_ = e.id;
  }
  if (!events->empty()) {
    ++stats_.batches;
    stats_.head = head_;
    if (head_ > stats_.db_head) stats_.db_head = head_;
  }
  Flush();
  Reap();
  if (events->size() == static_cast<size_t>(kBatch)) Wake();  // let other callbacks run first
}

void Server::ApplyMembership(const Event& e) {
  if (e.type != "member" || !e.room_id) return;
  JsonPtr j(cJSON_Parse(e.data.c_str()));
  const cJSON* user = cJSON_GetObjectItemCaseSensitive(j.get(), "user");
  const cJSON* id = cJSON_GetObjectItemCaseSensitive(user, "id");
  const cJSON* action = cJSON_GetObjectItemCaseSensitive(j.get(), "action");
  if (!cJSON_IsNumber(id) || !cJSON_IsString(action)) return;
  int64_t user_id = static_cast<int64_t>(id->valuedouble);
  if (std::string_view(action->valuestring) == "left") {
    registry_.Leave(user_id, *e.room_id);
  } else if (std::string_view(action->valuestring) != "role") {
    registry_.Join(user_id, *e.room_id);
  }
}

void Server::Dispatch(const Event& e) {
  // Formatted once, copied into each recipient's pending buffer.
  const std::string sse = SseEvent(e.id, e.type, e.data);
  auto deliver = [&](Conn& c) { Deliver(c, e, sse); };
  if (e.audience == "all") {
    registry_.ForAll(deliver);
  } else if (e.room_id || e.target_id) {
    registry_.ForRoom(e.room_id.value_or(0), e.target_id.value_or(0), deliver);
  }
}

void Server::Deliver(Conn& c, const Event& e, const std::string& sse) {
  if (!TakesDurable(c) || e.id <= c.cursor) return;
  if (c.mode == HoldMode::kStream) {
    c.pending += sse;
    c.cursor = e.id;
    ++stats_.deliveries;
  } else {
    c.poll_events.push_back(PollEvent{e.id, e.type, e.data});
    if (c.poll_events.size() >= kPollMax) {
      c.poll_full = true;
      c.cursor = e.id;
    }
  }
  if (!c.dirty) {
    c.dirty = true;
    dirty_.push_back(c.id);
  }
}

void Server::Ephemeral(const char* type, const std::string& data, int64_t room_id, int64_t except_user,
                       const std::vector<int64_t>* users) {
  const std::string sse = SseEphemeral(type, data);
  auto deliver = [&](Conn& c) {
    if (c.user_id == except_user || c.state == ConnState::kClosing) return;
    if (c.mode == HoldMode::kStream) {
      c.pending += sse;
    } else if (c.state == ConnState::kWaiting) {
      c.poll_events.push_back(PollEvent{0, type, data});
    } else {
      return;
    }
    ++stats_.ephemeral;
    if (!c.dirty) {
      c.dirty = true;
      dirty_.push_back(c.id);
    }
  };
  if (users) {
    for (int64_t u : *users) registry_.ForUser(u, deliver);
  } else {
    registry_.ForRoom(room_id, 0, deliver);
  }
}

void Server::ReplayPage(Conn& c) {
  auto events = store_->EventsForUser(c.user_id, c.cursor, head_, static_cast<int>(kPollMax));
  if (!events.ok()) {
    LOG_WARN("conn %llu: replay failed: %s", static_cast<unsigned long long>(c.id),
             events.status().message().c_str());
    to_close_.emplace_back(c.id, CloseCause::kSlow);  // it resumes from its cursor
    return;
  }
  // A page is also bounded in bytes, well under the output cap: a client
  // resuming far behind must never be cut as slow for its own backlog.
  const size_t budget = cfg_.output_cap / 4;
  size_t taken = 0;
  for (const Event& e : *events) {
    if (taken > 0 && c.pending.size() >= budget) break;
    c.pending += SseEvent(e.id, e.type, e.data);
    c.cursor = e.id;
    ++taken;
  }
  stats_.deliveries += taken;
  if (taken == events->size() && events->size() < kPollMax) {
    // Everything visible up to head_ is written; live fan-out takes over.
    c.cursor = head_;
    c.state = ConnState::kLive;
  }
}

// A replaying stream asks for its next page only once the previous one has
// left for the socket, so a long backlog never sits in memory at once.
void Server::OnChunkWritten(evhttp_connection*, void* arg) {
  Server* s = instance_;
  if (!s) return;
  Conn* c = s->registry_.Find(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(arg)));
  if (!c || c->state != ConnState::kReplaying) return;
  s->ReplayPage(*c);
  if (!c->dirty) {
    c->dirty = true;
    s->dirty_.push_back(c->id);
  }
  s->Flush();
  s->Reap();
}

void Server::Flush() {
  for (uint64_t id : dirty_) {
    Conn* c = registry_.Find(id);
    if (!c || !c->dirty) continue;
    c->dirty = false;
    if (c->mode == HoldMode::kPoll) {
      if (!c->poll_events.empty()) AnswerPoll(*c);
      continue;
    }
    if (c->pending.empty()) continue;
    bufferevent* bev = evhttp_connection_get_bufferevent(c->evcon);
    evbuffer* out = bufferevent_get_output(bev);
    if (c->state == ConnState::kLive && c->chunked && evbuffer_get_length(out) == 0) {
      WriteLiveChunk(c->pending, bev);
    } else {
      evbuffer_add(scratch_.get(), c->pending.data(), c->pending.size());
      if (c->state == ConnState::kReplaying) {
        evhttp_send_reply_chunk_with_cb(c->req, scratch_.get(), &Server::OnChunkWritten,
                                        reinterpret_cast<void*>(static_cast<uintptr_t>(c->id)));
      } else {
        evhttp_send_reply_chunk(c->req, scratch_.get());
      }
    }
    // An idle stream keeps no buffer of its own between passes: memory per
    // idle subscriber is what bounds how many one daemon holds.
    std::string().swap(c->pending);
    // A replaying stream is paced by OnChunkWritten (one bounded page at a
    // time), so only live streams can outgrow the cap.
    if (c->state == ConnState::kLive && evbuffer_get_length(out) > cfg_.output_cap) {
      c->state = ConnState::kClosing;
      to_close_.emplace_back(c->id, CloseCause::kSlow);
    }
  }
  dirty_.clear();
}

void Server::Reap() {
  // Swap first: closing may queue more (it never does today, but a close
  // must not invalidate the list being walked).
  std::vector<std::pair<uint64_t, CloseCause>> batch;
  batch.swap(to_close_);
  for (const auto& [id, cause] : batch) {
    if (Conn* c = registry_.Find(id)) Close(*c, cause);
  }
}

}  // namespace parley::events
