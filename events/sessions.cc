#include "events/sessions.h"

#include <unordered_set>
#include <vector>

#include "events/clock.h"
#include "schema/crypto.h"

namespace parley::events {

Result<Session> Sessions::Authenticate(std::string_view authorization, std::string_view cookie, bool cache) {
  std::optional<std::string> token = RequestToken(authorization, cookie);
  if (!token) return Status::Unauthorized("not_signed_in", "sign in first");
  std::string hash = TokenHash(*token);
  const int64_t now = MonoMs();
  auto it = cache_.find(hash);
  // Only a poll trusts what an earlier poll read: a stream is held for
  // long, and one opened just after a logout would run until the next check.
  if (cache && it != cache_.end() && now - it->second.checked_ms < int64_t{cfg_.revoke_check_s} * 1000) {
    return it->second.session;
  }
  PARLEY_ASSIGN_OR_RETURN(std::optional<Session> session, store_.FindSession(hash));
  if (!session) {
    if (it != cache_.end()) cache_.erase(it);
    return Status::Unauthorized("not_signed_in", "the session has ended; sign in again");
  }
  if (cache) cache_[hash] = Cached{*session, now};
  return std::move(*session);
}

void Sessions::ForgetUser(int64_t user_id) {
  std::erase_if(cache_, [&](const auto& entry) { return entry.second.session.user.id == user_id; });
}

void Sessions::Check(Conns& conns) {
  std::unordered_set<int64_t> held;
  conns.registry().ForAll([&](Conn& c) { held.insert(c.session_id); });
  std::unordered_set<int64_t> ended;
  const int64_t now = MonoMs();
  if (!held.empty()) {
    std::vector<int64_t> ids(held.begin(), held.end());
    auto r = store_.EndedSessions(ids);
    if (r.ok()) ended.insert(r->begin(), r->end());  // a busy database is not a revocation
    // Every few minutes is enough for a clock that moves hourly; a failure
    // (busy) is tried again at the next check.
    if (now - touched_ms_ >= kTouchEveryMs && store_.TouchSessions(ids).ok()) touched_ms_ = now;
  }
  // Cached sessions not used since the last check are dropped (which
  // bounds the cache), and so are the revoked ones.
  std::erase_if(cache_, [&](const auto& entry) {
    const Cached& cs = entry.second;
    return now - cs.checked_ms >= int64_t{cfg_.revoke_check_s} * 1000 || ended.contains(cs.session.id);
  });
  std::vector<uint64_t> revoked;
  conns.registry().ForAll([&](Conn& c) {
    if (ended.contains(c.session_id)) revoked.push_back(c.id);
  });
  for (uint64_t id : revoked) {
    if (Conn* c = conns.registry().Find(id)) conns.RequestClose(*c, CloseCause::kRevoked);
  }
}

}  // namespace parley::events
