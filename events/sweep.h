// The once-a-second sweep (poll timeouts, stream rotation, heartbeats,
// revoked and expired sessions, presence grace, retention and expired
// idempotency keys, unused uploads,
// the output budget's re-measure, a due WAL checkpoint, handing freed heap
// back) and the PRAGMA data_version safety net.
//
// Threading: single-threaded, on the loop.
#pragma once

#include <cstdint>

#include "events/clock.h"
#include "events/config.h"
#include "events/conns.h"
#include "events/fanout.h"
#include "events/presence.h"
#include "events/sessions.h"
#include "events/upload_sweep.h"
#include "schema/key_expiry.h"
#include "schema/retention.h"
#include "schema/storage.h"

namespace parley::events {

class Sweep {
 public:
  struct Parts {
    const Config& cfg;
    Storage& store;
    Conns& conns;
    Fanout& fanout;
    Presence& presence;
    Sessions& sessions;
    Stats& stats;
  };
  explicit Sweep(Parts parts);
  Status Start(event_base* base);
  void Stop() { stopping_ = true; }

 private:
  static void OnTick(int, short, void* self);
  static void OnDataVersion(int, short, void* self);
  static void OnRetention(int, short, void* self);
  void Tick();
  void Heartbeat();
  void Prune(int64_t now);  // begins a pass when one is due
  void PruneStep();

  Parts p_;
  EventPtr tick_ev_, dv_ev_, retention_ev_;
  bool stopping_ = false;
  int64_t data_version_ = 0;
  // When each chore last ran, in MonoMs (events/clock.h); kLongAgoMs: at
  // the first tick.
  int64_t last_heartbeat_ms_ = 0;
  int64_t last_session_check_ms_ = 0;
  int64_t last_prune_ms_ = kLongAgoMs;
  int64_t last_trim_ms_ = 0;
  int64_t last_upload_sweep_ms_ = 0;
  bool uploads_backlog_ = false;  // the last uploads step was full
  UploadSweep upload_sweep_;
  int64_t last_session_sweep_ms_ = kLongAgoMs;
  bool sessions_backlog_ = false;      // the last sessions step was full
  bool marked_ = false;                // KeepPresence succeeded once: its mark was there before
  // A pass prunes the events, then the expired idempotency keys, a step
  // of either each time retention_ev_ fires.
  Retention retention_;
  int64_t pruned_in_pass_ = 0;
  KeyExpiry keys_;
  int64_t keys_in_pass_ = 0;
};

}  // namespace parley::events
