#include "events/fanout.h"

#include <event2/event.h>

#include <algorithm>

#include "events/clock.h"
#include "events/pacer.h"
#include "events/wire.h"
#include "schema/json.h"
#include "schema/log.h"

namespace parley::events {
namespace {

constexpr int kBatch = 1000;  // events read per pass; more wait for the next turn
// Passes ReadUpTo may make for one notice: a daemon this far behind has a
// backlog that matters more than a typing notice, which is then dropped.
constexpr int kReadUpToPasses = 4;

}  // namespace

Fanout::Fanout(event_base* base, const Config& cfg, Storage& store, Conns& conns, Stats& stats, int64_t head)
    : cfg_(cfg), store_(store), conns_(conns), stats_(stats), head_(head) {
  wake_ev_.reset(event_new(base, -1, 0, &Fanout::OnWake, this));
}

void Fanout::Wake() {
  if (wake_pending_) return;
  wake_pending_ = true;
  event_active(wake_ev_.get(), 0, 0);
}

void Fanout::OnWake(int, short, void* self) { static_cast<Fanout*>(self)->Pump(); }

void Fanout::Pump() {
  wake_pending_ = false;
  const uint64_t t0 = MonoUs();
  auto events = store_.EventsAfter(head_, kBatch);
  const uint64_t t1 = MonoUs();
  if (!events.ok()) {
    // Busy or failing database (a server restarting): the data_version
    // timer tries again (sweep.cc).
    LOG_WARN("reading events after %lld: %s", static_cast<long long>(head_), events.status().message().c_str());
    ++stats_.read_failures;
    behind_ = true;
    return;
  }
  behind_ = false;
  // Wall time, not MonoMs(): it is compared with ts, the writer's wall
  // clock in ms (another host's, on a cluster); a step back shows as 0,
  // never as a huge value.
  const int64_t now_ms = NowMs();
  for (const Event& e : *events) {
    stats_.commit_to_read.Add(static_cast<uint64_t>(std::max<int64_t>(0, now_ms - e.ts)) * 1000);
    ApplyMembership(e);
    Dispatch(e);
    ApplyAccount(e);
    head_ = e.id;
  }
  if (!events->empty()) {
    stats_.read.Add(t1 - t0);
    stats_.append.Add(MonoUs() - t1);
    ++stats_.batches;
    stats_.head = head_;
    if (head_ > stats_.db_head) stats_.db_head = head_;
  }
  if (events->size() == static_cast<size_t>(kBatch)) Wake();  // let other callbacks run first
}

bool Fanout::ReadUpTo(int64_t head) {
  for (int pass = 0; head_ < head && pass < kReadUpToPasses; ++pass) {
    const int64_t before = head_;
    Pump();
    if (behind_ || head_ == before) break;
  }
  if (head_ >= head) return true;
  ++stats_.ephemeral_dropped;
  return false;
}

void Fanout::ApplyMembership(const Event& e) {
  if (e.type != "member" || !e.room_id) return;
  JsonPtr j(cJSON_Parse(e.data.c_str()));
  const cJSON* user = cJSON_GetObjectItemCaseSensitive(j.get(), "user");
  const cJSON* id = cJSON_GetObjectItemCaseSensitive(user, "id");
  const cJSON* action = cJSON_GetObjectItemCaseSensitive(j.get(), "action");
  if (!cJSON_IsNumber(id) || !cJSON_IsString(action)) return;
  int64_t user_id = static_cast<int64_t>(id->valuedouble);
  std::optional<MemberAction> act = ParseMemberAction(action->valuestring);
  // A kicked or banned member stops receiving the room at that event, as
  // one who left: the event itself still reaches them (its target_id), and
  // EventsForUser agrees on replay (the room up to their leave, then only the
  // events addressed to them).
  if (act == MemberAction::kLeft || act == MemberAction::kKicked || act == MemberAction::kBanned) {
    conns_.registry().Leave(user_id, *e.room_id);
  } else if (act == MemberAction::kJoined || act == MemberAction::kAdded) {
    conns_.registry().Join(user_id, *e.room_id);
  }
}

void Fanout::ApplyAccount(const Event& e) {
  // A deactivation or a password change (store_moderation.cc) deleted
  // sessions of the user in its transaction; closing their connections here,
  // at the event, beats the periodic session check (Sessions::Check, every
  // revoke_check_s). A deactivation ends them all; a password change all but
  // the changer's, so each connection's session is looked up (a user holds
  // at most max_user_connections).
  if (e.type != "user" || !e.target_id || e.audience != Audience::kRoom) return;
  JsonPtr j(cJSON_Parse(e.data.c_str()));
  const bool deactivated = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j.get(), "deactivated"));
  if (!deactivated && !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j.get(), "password_changed"))) return;
  std::vector<Conn*> conns;
  conns_.registry().ForUser(*e.target_id, [&](Conn& c) { conns.push_back(&c); });
  if (!deactivated && !conns.empty()) {
    std::vector<int64_t> ids;
    for (const Conn* c : conns) ids.push_back(c->session_id);
    auto ended = store_.EndedSessions(ids);
    std::erase_if(conns, [&](const Conn* c) {  // busy: left to the periodic check
      return !ended.ok() || std::find(ended->begin(), ended->end(), c->session_id) == ended->end();
    });
  }
  for (Conn* c : conns) conns_.RequestClose(*c, CloseCause::kRevoked);
  if (on_sessions_ended) on_sessions_ended(*e.target_id);
  if (!conns.empty()) {
    LOG_INFO("user %lld %s: closing %zu connections", static_cast<long long>(*e.target_id),
             deactivated ? "deactivated" : "changed their password", conns.size());
  }
}

void Fanout::Dispatch(const Event& e) {
  // Formatted once, copied into each recipient's pending output.
  const std::string sse = SseEvent(e.id, e.type, e.data);
  auto deliver = [&](Conn& c) { Deliver(c, e, sse); };
  if (e.audience == Audience::kAll) {
    conns_.registry().ForAll(deliver);
  } else if (e.room_id || e.target_id) {
    conns_.registry().ForRoom(e.room_id.value_or(0), e.target_id.value_or(0), deliver);
  }
}

void Fanout::Deliver(Conn& c, const Event& e, const std::string& sse) {
  if (e.id <= c.cursor) return;
  if (c.live_stream()) {
    c.pending += sse;
    c.cursor = e.id;
    ++stats_.deliveries;
  } else if (!c.waiting_poll() || c.poll_full || !AddToPoll(c, e.id, e.type, e.data)) {
    return;
  }
  conns_.MarkDirty(c);
}

bool Fanout::AddToPoll(Conn& c, int64_t id, const std::string& type, const std::string& data) {
  // A page is bounded in bytes too, well under the output cap: an answer is
  // written whole, and a client resuming far behind must never be cut as
  // slow for its own backlog.
  size_t bytes = data.size() + type.size() + 32;
  if (!c.poll_events.empty() &&
      (c.poll_events.size() >= kPollMax || c.poll_bytes + bytes > cfg_.output_cap / 4)) {
    if (id > 0) c.poll_full = true;  // durable events wait for the next poll
    return false;
  }
  c.poll_events.push_back(PollEvent{id, type, data});
  c.poll_bytes += bytes;
  if (id > 0) c.cursor = id;
  return true;
}

Result<bool> Fanout::ReadVisible(const Conn& c, int64_t after, const std::function<bool(const Event&)>& take) {
  // Small reads, so that the rows read follow the bytes sent: a page of
  // large events (12 KB each) must not read 500 rows to send 20.
  constexpr int kRows = 64;
  for (size_t read = 0; read < kPollMax;) {
    PARLEY_ASSIGN_OR_RETURN(std::vector<Event> events, store_.EventsForUser(c.user_id, after, head_, kRows));
    for (const Event& e : events) {
      if (!take(e)) return false;
      after = e.id;
    }
    read += events.size();
    if (events.size() < static_cast<size_t>(kRows)) return true;
  }
  return false;
}

Status Fanout::FillPoll(Conn& c, int64_t since) {
  c.cursor = since;
  size_t taken = 0;
  PARLEY_ASSIGN_OR_RETURN(bool all, ReadVisible(c, since, [&](const Event& e) {
    return taken++ < kPollMax && AddToPoll(c, e.id, e.type, e.data);
  }));
  if (!all) c.poll_full = true;
  if (!c.poll_full) c.cursor = std::max(c.cursor, head_);
  return Status::Ok();
}

double Fanout::Replay(Conn& c) {
  // One page, bounded in bytes well under the output cap: a client resuming
  // far behind must never be cut as slow for its own backlog.
  const size_t budget = cfg_.output_cap / 4;
  size_t taken = 0;
  auto all = ReadVisible(c, c.cursor, [&](const Event& e) {
    if (taken > 0 && c.pending.size() >= budget) return false;
    c.pending += SseEvent(e.id, e.type, e.data);
    c.cursor = e.id;
    ++taken;
    return true;
  });
  if (!all.ok()) {
    LOG_WARN("conn %llu user %lld: replay failed: %s", static_cast<unsigned long long>(c.id),
             static_cast<long long>(c.user_id), all.status().message().c_str());
    conns_.RequestClose(c, CloseCause::kSlow);  // it resumes from its cursor
    return 1.0;
  }
  stats_.deliveries += taken;
  const double used = PageUsed(taken, c.pending.size(), budget);
  if (*all) {
    // Everything visible up to head_ is written; live fan-out takes over.
    c.cursor = head_;
    c.state = ConnState::kLive;
  }
  conns_.MarkDirty(c);
  return used;
}

void Fanout::Ephemeral(const char* type, const std::string& data, int64_t room_id, int64_t except_user,
                       const std::vector<int64_t>* users) {
  const std::string sse = SseEphemeral(type, data);
  auto deliver = [&](Conn& c) {
    if (c.user_id == except_user) return;
    if (c.live_stream()) {
      c.pending += sse;
    } else if (!c.waiting_poll() || !AddToPoll(c, 0, type, data)) {
      return;
    }
    ++stats_.ephemeral;
    conns_.MarkDirty(c);
  };
  if (users) {
    for (int64_t u : *users) conns_.registry().ForUser(u, deliver);
  } else {
    conns_.registry().ForRoom(room_id, 0, deliver);
  }
}

void Fanout::Typing(int64_t room_id, const User& user, int64_t head) {
  if (!ReadUpTo(head)) return;
  const int64_t now = MonoMs();
  auto [last, first] = typing_at_.try_emplace(std::to_string(user.id) + ":" + std::to_string(room_id), now);
  if (!first && now - last->second < cfg_.typing_merge_ms) {
    ++stats_.typing_merged;
    return;
  }
  last->second = now;
  JsonWriter w;
  w.BeginObject().Key("room_id").Int(room_id).Key("user");
  Write(w, user);
  w.EndObject();
  Ephemeral("typing", w.Take(), room_id, user.id, nullptr);
}

void Fanout::Receipt(int64_t room_id, const User& user, int64_t event_id, int64_t head) {
  if (!ReadUpTo(head)) return;
  JsonWriter w;
  w.BeginObject().Key("room_id").Int(room_id).Key("user");
  Write(w, user);
  w.Key("event_id").Int(event_id).EndObject();
  Ephemeral("receipt", w.Take(), room_id, user.id, nullptr);
}

void Fanout::PruneTyping(int64_t now_ms) {
  std::erase_if(typing_at_, [&](const auto& e) { return now_ms - e.second >= cfg_.typing_merge_ms; });
}

}  // namespace parley::events
