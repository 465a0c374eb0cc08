#include "events/sweep.h"

#include <event2/event.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdio>

#include "events/clock.h"
#include "events/upload_sweep.h"
#include "events/wire.h"
#include "schema/key_expiry.h"
#include "schema/log.h"
#include "schema/retention.h"

namespace parley::events {

namespace {
// A daemon that has not marked itself alive for this long has died (it does
// every second, KeepPresence): its users' presence expires. The marks are
// wall times in rows every daemon reads (schema/), so they stay on NowMs():
// a daemon whose clock steps back looks dead to the others for the length
// of the step, and its users' presence flaps as they drop its rows and it
// puts them back (Presence::Held). Timing the marks by the database's own
// clock would end that; it is schema/'s to do.
constexpr int64_t kDeadDaemonMs = 5000;
// A retention pass starts at the first tick, then once an hour, and goes
// on in steps of its own timer (schema/retention.h): each holds the loop
// for about kRetentionStepMs (a delete or two), so a push or a send waits
// that long at most, and at one step every kRetentionEveryMs a pass deletes
// some ten thousand events a second (tools/bench/retention).
constexpr int64_t kRetentionPeriodMs = 3600 * 1000;
constexpr int64_t kRetentionStepMs = 5;
constexpr int kRetentionEveryMs = 100;
constexpr int64_t kRetentionRowsPerStep = 4 * Retention::kRowsPerDelete;
// Expired idempotency keys (schema/key_expiry.h) go in the same pass, after
// the events, in steps of the same bounds.
constexpr int64_t kKeysPerStep = 4 * KeyExpiry::kRowsPerDelete;
// Expired sessions (Storage::SweepSessions): a step a minute, and a step a
// tick while the last one was full.
constexpr int64_t kSessionSweepMs = 60 * 1000;
constexpr int64_t kSessionsPerStep = 1000;

uint64_t ResidentBytes() {
  long pages = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f) return 0;
  if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  std::fclose(f);
  return static_cast<uint64_t>(resident) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

// True once period_ms has passed since last_ms, which then moves to now:
// the sweep's periodic chores (heartbeat, trim, session check, pruning).
// Both are MonoMs() (events/clock.h).
bool Due(int64_t& last_ms, int64_t now, int64_t period_ms) {
  if (now - last_ms < period_ms) return false;
  last_ms = now;
  return true;
}

}  // namespace

Sweep::Sweep(Parts parts)
    : p_(parts),
      retention_(p_.store, Retention::Policy{p_.cfg.retention_ms, p_.cfg.retention_per_room}),
      keys_(p_.store, KeyExpiry::Policy{p_.cfg.client_key_keep_ms, KeyExpiry::kReplayKeepMs}) {
  // Not last_prune_ms_: a daemon restarted more often than hourly (deploys)
  // would never prune.
  last_heartbeat_ms_ = last_session_check_ms_ = last_trim_ms_ = last_upload_sweep_ms_ = MonoMs();
}

Status Sweep::Start(event_base* base) {
  PARLEY_ASSIGN_OR_RETURN(data_version_, p_.store.DataVersion());
  tick_ev_.reset(event_new(base, -1, EV_PERSIST, &Sweep::OnTick, this));
  retention_ev_.reset(event_new(base, -1, EV_PERSIST, &Sweep::OnRetention, this));
  dv_ev_.reset(event_new(base, -1, EV_PERSIST, &Sweep::OnDataVersion, this));
  timeval one_s{1, 0};
  timeval dv{p_.cfg.data_version_ms / 1000, (p_.cfg.data_version_ms % 1000) * 1000};
  event_add(tick_ev_.get(), &one_s);
  event_add(dv_ev_.get(), &dv);
  return Status::Ok();
}

void Sweep::OnTick(int, short, void* self) { static_cast<Sweep*>(self)->Tick(); }

void Sweep::OnRetention(int, short, void* self) {
  auto* s = static_cast<Sweep*>(self);
  if (!s->stopping_) s->PruneStep();
}

void Sweep::OnDataVersion(int, short, void* self) {
  auto* s = static_cast<Sweep*>(self);
  if (s->stopping_) return;
  // data_version moves when any other connection commits: a write by a
  // tool that sends no datagram (the sqlite3 shell) still reaches
  // subscribers within this interval.
  auto v = s->p_.store.DataVersion();
  const bool moved = v.ok() && *v != s->data_version_;
  if (moved) s->data_version_ = *v;
  // So is what was committed while the daemon started, and a read of the
  // log that failed: neither may have another wake-up coming (the last
  // messages before a quiet spell), and data_version had moved already.
  if (moved || s->p_.fanout.behind()) s->p_.fanout.Wake();
}

void Sweep::Tick() {
  if (stopping_) return;
  const int64_t now = MonoMs();
  // On SQLite, a database path that names another file than the one this
  // daemon has open (moved, deleted or replaced) ends every stream and
  // poll, as if each were due: they would hear nothing of the file the
  // pools write now. Their reconnections are refused (Http::Admit) until
  // the file is back or the daemon restarts.
  const bool file_gone = !p_.store.remote() && !p_.store.Writable().ok();
  std::vector<uint64_t> due;
  p_.conns.registry().ForAll([&](Conn& c) {
    // A held catch-up poll waits for the pacer, which answers it at its turn.
    if (c.state == ConnState::kClosing || c.state == ConnState::kPaced) return;
    if (file_gone || c.deadline_ms <= now) due.push_back(c.id);
  });
  for (uint64_t id : due) {
    // A poll is answered (empty, with the current head); a stream rotates,
    // and one whose goodbye has not left by its deadline is cut (conns.h).
    if (Conn* c = p_.conns.registry().Find(id)) {
      p_.conns.RequestClose(*c, c->mode == HoldMode::kStream ? CloseCause::kRotated : CloseCause::kClient);
    }
  }
  if (Due(last_heartbeat_ms_, now, int64_t{p_.cfg.heartbeat_s} * 1000)) Heartbeat();
  // Connections come and go in bursts (a reconnect storm, pollers); what
  // they freed stays in malloc's heap, counted in our RSS, unless handed
  // back. A trim of a heap of tens of MB takes a millisecond or so.
  if (Due(last_trim_ms_, now, 10 * 1000)) {
    const int64_t start = MonoMs();
    malloc_trim(0);
    const int64_t took = MonoMs() - start;
    if (took > 5) LOG_DEBUG("malloc_trim took %lld ms", static_cast<long long>(took));
  }
  if (Due(last_session_check_ms_, now, int64_t{p_.cfg.revoke_check_s} * 1000)) p_.sessions.Check(p_.conns);
  p_.presence.Tick(now);
  // Other daemons (PostgreSQL): this one is alive; the rows of a dead one
  // go. The users this one holds are asked for only when its own mark was
  // gone (its first, or it was taken for dead: Presence::Held), so a tick
  // does not walk them.
  size_t held = 0;
  bool asked = false;
  auto gone = p_.store.KeepPresence(kDeadDaemonMs, [&] {
    asked = true;
    std::vector<int64_t> users = p_.presence.Held();
    held = users.size();
    return users;
  });
  if (!gone.ok()) {
    LOG_WARN("presence: %s", gone.status().message().c_str());
  } else {
    if (asked && marked_) {
      LOG_WARN("presence: this daemon was taken for dead (silent over %lld ms); the presence of the %zu users "
               "it holds is put back",
               static_cast<long long>(kDeadDaemonMs), held);
    }
    marked_ = true;
    if (!gone->empty()) {
      LOG_INFO("presence: %zu users of a daemon that stopped answering went offline", gone->size());
    }
  }
  p_.fanout.PruneTyping(now);
  p_.conns.Remeasure();
  Prune(now);
  if (Due(last_session_sweep_ms_, now, kSessionSweepMs) || sessions_backlog_) {
    auto n = p_.store.SweepSessions(kSessionsPerStep);
    if (!n.ok()) LOG_WARN("sessions: %s", n.status().message().c_str());
    sessions_backlog_ = n.ok() && *n == kSessionsPerStep;
  }
  if (Due(last_upload_sweep_ms_, now, int64_t{p_.cfg.upload_sweep_s} * 1000) || uploads_backlog_) {
    uploads_backlog_ = upload_sweep_.Step(p_.store, p_.cfg);
  }
  // Presence changes are this daemon's writes; a checkpoint they made due
  // (Storage::MaintainIfDue) is run here, once a second at most, not in a callback.
  if (Status st = p_.store.MaintainIfDue(); !st.ok()) LOG_WARN("checkpoint: %s", st.message().c_str());
  p_.stats.rss_bytes = ResidentBytes();
}

void Sweep::Prune(int64_t now) {
  if (!retention_.running() && !keys_.running()) {
    if (!Due(last_prune_ms_, now, kRetentionPeriodMs)) return;
    // Wall time: the pass deletes events and keys whose stored time stamps
    // are older than their windows before it. Only its schedule is monotonic.
    const int64_t wall = NowMs();
    retention_.Begin(wall);
    keys_.Begin(wall);
    pruned_in_pass_ = keys_in_pass_ = 0;
  }
  // Armed at a pass's start, and again after a step that failed.
  if (event_pending(retention_ev_.get(), EV_TIMEOUT, nullptr) == 0) {
    timeval every{0, kRetentionEveryMs * 1000};
    event_add(retention_ev_.get(), &every);
  }
}

namespace {

// A step of one pass (Retention, KeyExpiry, which share Progress), its
// deletions added to `done`, logged when the pass ends. False when it
// failed: the pass goes on from where it stopped at the next tick, a
// second later, so a database that stays busy or away gets a line a second.
template <typename Pass>
bool StepOf(Pass& pass, int64_t rows, int64_t& done, const char* what, int64_t started_ms) {
  auto step = pass.Step(rows, kRetentionStepMs);
  if (!step.ok()) {
    LOG_WARN("retention: %s: %s", what, step.status().message().c_str());
    return false;
  }
  done += step->deleted;
  if (!step->running && done > 0) {
    LOG_INFO("retention: deleted %lld %s in %lld s", static_cast<long long>(done), what,
             static_cast<long long>((MonoMs() - started_ms) / 1000));
  }
  return true;
}

}  // namespace

void Sweep::PruneStep() {
  // The events, then the keys: each time a step of one of them, so that the
  // loop is held for about kRetentionStepMs at most.
  const bool ok = retention_.running()
                      ? StepOf(retention_, kRetentionRowsPerStep, pruned_in_pass_, "old events", last_prune_ms_)
                      : StepOf(keys_, kKeysPerStep, keys_in_pass_, "expired idempotency keys", last_prune_ms_);
  if (!ok || (!retention_.running() && !keys_.running())) event_del(retention_ev_.get());
}

void Sweep::Heartbeat() {
  // Live streams only: a replaying stream is busy with its backlog, and a
  // heartbeat queued behind a reader that does not read would only grow it.
  static const std::string kBeat = SseComment("hb");
  p_.conns.registry().ForAll([&](Conn& c) {
    if (!c.live_stream()) return;
    c.pending += kBeat;
    p_.conns.MarkDirty(c);
  });
}

}  // namespace parley::events
