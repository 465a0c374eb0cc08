// parley-events: the once-a-second sweep (poll timeouts, stream rotation,
// heartbeats, revoked sessions, presence grace, retention), the
// data_version safety net, and signals.
#include <event2/event.h>
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>

#include "events/server.h"
#include "events/wire.h"
#include "schema/json.h"
#include "schema/log.h"

namespace parley::events {
namespace {

uint64_t ResidentBytes() {
  long pages = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return static_cast<uint64_t>(resident) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

std::string PresenceData(const std::string& user_json, bool online) {
  JsonWriter w;
  w.BeginObject().Key("user").Raw(user_json).Key("online").Bool(online).EndObject();
  return w.Take();
}

// True once period_ms has passed since last_ms, which then moves to now:
// the sweep's periodic chores (heartbeat, trim, session check, pruning).
bool Due(int64_t& last_ms, int64_t now, int64_t period_ms) {
  if (now - last_ms < period_ms) return false;
  last_ms = now;
  return true;
}

}  // namespace

void Server::OnTick(int, short, void* self) { static_cast<Server*>(self)->Tick(); }

void Server::OnDataVersion(int, short, void* self) {
  auto* s = static_cast<Server*>(self);
  // data_version moves when any other connection commits: a write by a
  // tool that sends no datagram (the sqlite3 shell) still reaches
  // subscribers within this interval.
  auto v = s->store_->DataVersion();
  if (v.ok() && *v != s->data_version_) {
    s->data_version_ = *v;
    s->Wake();
  }
}

void Server::Tick() {
  if (stopping_) return;
  int64_t now = NowMs();
  std::vector<std::pair<uint64_t, CloseCause>> due;
  registry_.ForAll([&](Conn& c) {
    if (c.state != ConnState::kClosing && c.deadline_ms <= now) {
      due.emplace_back(c.id, c.mode == HoldMode::kStream ? CloseCause::kRotated : CloseCause::kClient);
    }
  });
  for (const auto& [id, cause] : due) {
    Conn* c = registry_.Find(id);
    if (!c) continue;
    if (c->mode == HoldMode::kPoll) {
      AnswerPoll(*c);  // timed out: an empty answer with the current head
    } else {
      EndStream(*c, cause);
    }
  }
  if (Due(last_heartbeat_ms_, now, int64_t{cfg_.heartbeat_s} * 1000)) Heartbeat();
  // Connections come and go in bursts (a reconnect storm, pollers); what
  // they freed stays in malloc's heap, counted in our RSS, unless handed
  // back. A trim of a heap of tens of MB takes a millisecond or so.
  if (Due(last_trim_ms_, now, 10 * 1000)) {
    int64_t start = NowMs();
    malloc_trim(0);
    int64_t took = NowMs() - start;
    if (took > 5) LOG_DEBUG("malloc_trim took %lld ms", static_cast<long long>(took));
  }
  if (Due(last_session_check_ms_, now, int64_t{cfg_.revoke_check_s} * 1000)) CheckSessions();
  for (auto it = offline_at_.begin(); it != offline_at_.end();) {
    if (it->second > now) {
      ++it;
      continue;
    }
    int64_t user = it->first;
    it = offline_at_.erase(it);
    if (!registry_.Connected(user)) UserOffline(user);
  }
  if (Due(last_prune_ms_, now, 3600 * 1000)) {
    auto n = store_->PruneEvents(cfg_.retention_ms, cfg_.retention_per_room);
    if (n.ok() && *n > 0) LOG_INFO("retention: pruned %lld old events", static_cast<long long>(*n));
  }
  // Presence changes are this daemon's writes; a checkpoint they made due
  // (schema/db.h) is run here, once a second at most, not in a callback.
  if (Status st = db_->CheckpointIfDue(); !st.ok()) LOG_WARN("checkpoint: %s", st.message().c_str());
  stats_.rss_bytes = ResidentBytes();
  Flush();
  Reap();
}

void Server::Heartbeat() {
  static const std::string kBeat = SseComment("hb");
  registry_.ForAll([&](Conn& c) {
    if (c.mode != HoldMode::kStream || c.state == ConnState::kClosing) return;
    c.pending += kBeat;
    if (!c.dirty) {
      c.dirty = true;
      dirty_.push_back(c.id);
    }
  });
}

void Server::CheckSessions() {
  std::unordered_map<int64_t, bool> alive;
  registry_.ForAll([&](Conn& c) { alive.emplace(c.session_id, true); });
  for (auto& [session, ok] : alive) {
    auto r = store_->SessionAlive(session);
    ok = !r.ok() || *r;  // a busy database is not a revocation
  }
  // Cached sessions not used since the last check are dropped (which
  // bounds the cache), and so are the revoked ones.
  int64_t now = NowMs();
  std::erase_if(session_cache_, [&](const auto& entry) {
    const CachedSession& cs = entry.second;
    auto a = alive.find(cs.session.id);
    return now - cs.checked_ms >= int64_t{cfg_.revoke_check_s} * 1000 || (a != alive.end() && !a->second);
  });
  registry_.ForAll([&](Conn& c) {
    if (!alive[c.session_id] && c.state != ConnState::kClosing) {
      c.state = ConnState::kClosing;
      to_close_.emplace_back(c.id, CloseCause::kRevoked);
    }
  });
}

void Server::UserOnline(int64_t user_id) {
  // Back within the grace period (a reload, a long-poller's next poll): no
  // flap, and the rooms are still tracked, so no query either.
  bool returning = offline_at_.erase(user_id) > 0;
  if (returning && registry_.TracksRooms(user_id)) return;
  auto rooms = store_->RoomIdsOf(user_id);
  if (rooms.ok()) registry_.SetRooms(user_id, *rooms);
  if (returning) return;
  (void)store_->SetOnline(user_id, true);
  std::unordered_set<int64_t> peers = registry_.Peers(user_id, cfg_.presence_room_limit);
  std::vector<int64_t> to(peers.begin(), peers.end());
  Ephemeral("presence", PresenceData(user_json_[user_id], true), 0, user_id, &to);
}

void Server::UserOffline(int64_t user_id) {
  (void)store_->SetOnline(user_id, false);
  if (!registry_.TracksRooms(user_id)) {
    auto rooms = store_->RoomIdsOf(user_id);
    if (rooms.ok()) registry_.SetRooms(user_id, *rooms);
  }
  std::unordered_set<int64_t> peers = registry_.Peers(user_id, cfg_.presence_room_limit);
  registry_.DropRooms(user_id);
  std::vector<int64_t> to(peers.begin(), peers.end());
  Ephemeral("presence", PresenceData(user_json_[user_id], false), 0, user_id, &to);
  user_json_.erase(user_id);
}

void Server::OnSignal(int sig, short, void* self) {
  auto* s = static_cast<Server*>(self);
  if (sig == SIGTERM || sig == SIGINT) {
    s->Shutdown();
  } else if (sig == SIGHUP) {
    if (!s->cfg_.log_file.empty()) {
      int fd = open(s->cfg_.log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
      if (fd >= 0) {
        dup2(fd, STDERR_FILENO);
        close(fd);
      }
    }
    LOG_INFO("log reopened");
  } else if (sig == SIGUSR1 || sig == SIGUSR2) {
    int level = static_cast<int>(g_log_level) + (sig == SIGUSR1 ? 1 : -1);
    if (level >= 0 && level <= static_cast<int>(LogLevel::kDebug)) g_log_level = static_cast<LogLevel>(level);
    LOG_WARN("log level now %d", static_cast<int>(g_log_level));
  }
}

void Server::Shutdown() {
  if (stopping_) return;
  LOG_INFO("stopping: closing %zu connection(s) with a retry hint", registry_.connections());
  Pump();  // deliver what is already committed before saying goodbye
  stopping_ = true;
  std::vector<uint64_t> ids;
  registry_.ForAll([&](Conn& c) { ids.push_back(c.id); });
  for (uint64_t id : ids) {
    if (Conn* c = registry_.Find(id)) Close(*c, CloseCause::kShutdown);
  }
  for (auto& [user, when] : offline_at_) (void)store_->SetOnline(user, false);
  // Let the goodbyes reach the sockets, then leave the loop.
  timeval grace{0, 500 * 1000};
  event_base_loopexit(base_.get(), &grace);
}

}  // namespace parley::events
