// The write limits of parley-fcgi from its environment (fcgi/main.cc):
//   PARLEY_LIMITS=on|off        off: every per-user bucket and both room caps off
//   PARLEY_WRITE_RATES=send=5/30,typing=1/10,...
//                               per class: tokens per second / burst (0 = off);
//                               a rate is 0 or at least kMinRatePerSecond
//   PARLEY_ROOMS_PER_USER=50    rooms one user may own (0 = no cap)
//   PARLEY_MEMBERSHIPS_PER_USER=1000
//                               rooms and conversations one user may be in (0 = no cap)
// Pure, so the parsing is unit-tested; nullptr or "" means unset.
#pragma once

#include "schema/status.h"
#include "schema/storage.h"

namespace parley::fcgi {

// The smallest rate other than 0 (off): one token a day. Below it a class
// is off in all but name, and the waits it implies stop meaning anything
// (1e-31 a second is a Retry-After of 3e23 years, past int64_t
// milliseconds: schema/token_bucket.h). A day is the longest wait a
// Retry-After should hold; a quota slower than that is an operator's
// policy, not a rate limit.
inline constexpr double kMinRatePerSecond = 1.0 / 86400;

// The variables' values, as getenv gives them.
struct LimitsEnv {
  const char* limits = nullptr;
  const char* write_rates = nullptr;
  const char* rooms_per_user = nullptr;
  const char* memberships_per_user = nullptr;
};
Status ApplyLimitsEnv(const LimitsEnv& env, Limits* out);
// PARLEY_UPLOAD_MAX=25m (one file; nginx reads the same variable) and
// PARLEY_UPLOAD_QUOTA=1g (all of one user's files; 0 = none).
Status ApplyUploadEnv(const char* upload_max, const char* upload_quota, Limits* out);

}  // namespace parley::fcgi
