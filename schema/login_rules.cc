#include "schema/login_rules.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "schema/token_bucket.h"

namespace parley {

std::string LoginAddressKey(const std::string& remote_addr) {
  in6_addr a;
  if (inet_pton(AF_INET6, remote_addr.c_str(), &a) != 1) return remote_addr;
  char text[INET6_ADDRSTRLEN];
  if (IN6_IS_ADDR_V4MAPPED(&a)) {
    return inet_ntop(AF_INET, a.s6_addr + 12, text, sizeof text) ? std::string(text) : remote_addr;
  }
  std::memset(a.s6_addr + 8, 0, 8);
  if (!inet_ntop(AF_INET6, &a, text, sizeof text)) return remote_addr;
  return std::string(text) + "/64";
}

int64_t LoginBlockedUntil(const Limits& l, int64_t failures, int limit, int64_t now) {
  if (failures < limit) return 0;
  const int64_t over = failures - limit + 1;  // >= 1
  int64_t wait = l.login_backoff_ms;
  for (int64_t i = 1; i < over && wait < l.login_backoff_max_ms; ++i) wait *= 2;
  return now + std::min(wait, l.login_backoff_max_ms);
}

std::array<LoginRow, 2> LoginRows(const std::string& username, const Limits& l) {
  static const std::string kAnyAccount;
  return {LoginRow{username, l.login_failures, true}, LoginRow{kAnyAccount, l.login_address_failures, false}};
}

Status LoginRow::Read(const Limits& l, int64_t stored_failures, int64_t last_ts, int64_t blocked_until,
                      int64_t now) {
  if (last_ts + l.login_window_ms <= now) return Status::Ok();  // forgotten
  if (blocked_until > now) {
    // A block is given at its row's last_ts and lasts at most the largest
    // backoff; one that ends later than that from now was stamped before
    // the clock stepped back (an audit: "Retry-After: 3614" after a step of
    // an hour, for a block of 15 s).
    int64_t wait = std::min(blocked_until - now, l.login_backoff_max_ms);
    if (last_ts > now) wait = std::min(wait, std::max<int64_t>(0, blocked_until - last_ts));
    if (wait < blocked_until - now) rebased_until = now + wait;
    if (wait > 0) return LoginThrottled(account_row, wait);
  }
  failures = stored_failures;
  return Status::Ok();
}

Status LoginThrottled(bool account_row, int64_t wait_ms) {
  const int64_t wait_s = RetryAfterSeconds(wait_ms);
  const char* whose = account_row ? "for this account from this address" : "from this address";
  return Status::Throttled("throttled", std::string("too many failed logins ") + whose + "; try again in " +
                                            std::to_string(wait_s) + " s",
                           wait_s);
}

}  // namespace parley
