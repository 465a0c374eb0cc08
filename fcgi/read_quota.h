// ReadQuota: the reads of one user, every GET of the API, in one bucket per
// worker process, shared by its request threads.
//
// nginx limits reads per credential (30 a second, burst 200), and one
// account may hold 100 sessions: four sessions reading a 1,000-room list in
// a loop made another user's GET /api/me take 170 ms (2 ms idle) on a
// one-worker pool (the forty-eighth session's audit). This bounds what all
// of a user's sessions together may ask of a process: twice one session's
// allowance by default (Limits::reads_per_user), so that a person's phone
// and laptop never meet it. In memory, as the typing bucket: a read has no
// write transaction to keep a bucket in, and a pool of N processes allows
// N times the rate, which nginx's balancing spreads over them.
#pragma once

#include <cstdint>
#include <mutex>

#include "schema/status.h"
#include "schema/token_bucket.h"

namespace parley::fcgi {

class ReadQuota {
 public:
  explicit ReadQuota(Rate rate) : rate_(rate) {}
  ReadQuota(const ReadQuota&) = delete;
  ReadQuota& operator=(const ReadQuota&) = delete;

  // Takes a token of the user's; 429 throttled with its Retry-After when
  // there is none. Always ok with an unlimited rate.
  Status Take(int64_t user_id, int64_t now_ms);

 private:
  const Rate rate_;
  std::mutex mu_;
  BucketMap buckets_;  // guarded by mu_; bounded (token_bucket.h)
};

}  // namespace parley::fcgi
