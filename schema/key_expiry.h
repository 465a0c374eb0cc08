// Idempotency keys expire. Every send stores a key in table idempotency: the
// client's client_id, or, without one, nginx's $request_id as a replay key
// (IsReplayKey), by which a retry or nginx's replay finds the message stored
// instead of storing it twice. Kept for ever, they were ~100 bytes a message
// that nothing ever freed; now a key is remembered for a window after its
// send and then deleted, and a later send with its client_id is a new send
// (README, "Sending the same `client_id` again"). The message itself, and
// the client_id its JSON shows, stay.
//
// The windows: a client's key 7 days (kClientKeepMs, parley-events'
// --client-id-days), as long as the event log's default retention, so that
// a client that comes back after days offline and retries its outbox still
// finds its sends; a replay key an hour (kReplayKeepMs): nginx replays a
// request within seconds of the worker's death (fastcgi_next_upstream).
//
// Done in passes of short steps, as retention (schema/retention.h), which
// parley-events runs with it: each delete takes the oldest keys of one kind
// from where the last one ended, through the kind's partial index by age
// (Storage::DeleteExpiredKeys), at most kRowsPerDelete in one short
// transaction; the pass ends with the first delete that finds fewer.
//
// Threading: one thread (the caller's), like the Storage it is given.
#pragma once

#include <cstdint>

#include "schema/retention.h"
#include "schema/status.h"
#include "schema/storage.h"

namespace parley {

class KeyExpiry {
 public:
  static constexpr int64_t kClientKeepMs = 7LL * 24 * 3600 * 1000;
  static constexpr int64_t kReplayKeepMs = 3600 * 1000;
  // Keys per delete statement (one transaction), as retention's events.
  static constexpr int64_t kRowsPerDelete = 1000;

  struct Policy {
    int64_t client_keep_ms = kClientKeepMs;
    int64_t replay_keep_ms = kReplayKeepMs;
  };
  // As a retention pass's: whether the pass goes on, and the keys deleted
  // by the step just made.
  using Progress = Retention::Progress;

  KeyExpiry(Storage& store, Policy policy) : store_(store), policy_(policy) {}

  // Starts a pass at now_ms unless one is under way: keys created before
  // now_ms less their kind's window go.
  void Begin(int64_t now_ms);
  // Continues the pass: deletes until max_rows keys went, the pass ended,
  // or budget_ms went by (checked after each statement).
  Result<Progress> Step(int64_t max_rows, int64_t budget_ms);
  bool running() const { return running_; }

 private:
  // The replay keys first (the most of them, sends without a client_id,
  // expire soonest), then the clients'.
  static constexpr Storage::KeyKind kKinds[2] = {Storage::KeyKind::kReplay, Storage::KeyKind::kClient};

  Storage& store_;
  const Policy policy_;
  bool running_ = false;
  int kind_ = 0;             // the index in kKinds of the kind being deleted
  int64_t before_ms_[2] = {};  // per kind: keys created before this go
  int64_t from_ms_ = 0;      // where the next delete of kind_ starts
};

}  // namespace parley
