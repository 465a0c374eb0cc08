// Store: per-user write quotas, one token bucket per user and WriteClass.
//
// Each bucket is read and written inside the write transaction of the write
// it guards, so concurrent workers cannot both spend the last token, and a
// write that fails later (or is refused here) rolls its token back with it.
#include <array>

#include "schema/store.h"

namespace parley {
namespace {

constexpr std::array<const char*, kWriteClasses> kWriteClassNames = {
    "send", "edit",  "delete", "join",  "leave",  "create_room", "invite",
    "dm",   "typing", "read",  "moderate", "react", "upload",      "room_edit"};

}  // namespace

const char* ToString(WriteClass c) { return kWriteClassNames[static_cast<size_t>(c)]; }

std::optional<WriteClass> ParseWriteClass(std::string_view s) {
  for (size_t i = 0; i < kWriteClasses; ++i) {
    if (s == kWriteClassNames[i]) return static_cast<WriteClass>(i);
  }
  return std::nullopt;
}

Status WriteThrottled(WriteClass c, int64_t retry_after_ms) {
  int64_t s = RetryAfterSeconds(retry_after_ms);
  return Status::Throttled("throttled", std::string("too many writes of this kind (") + ToString(c) +
                                            "); try again in " + std::to_string(s) + " s",
                           s);
}

Status Store::ConsumeWriteToken(int64_t user_id, WriteClass c) {
  const Rate& rate = limits_.rate(c);
  if (rate.unlimited()) return Status::Ok();
  int64_t now = NowMs();
  std::optional<Bucket> prev;
  {
    PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
        "SELECT tokens, updated_ts FROM write_quota WHERE user_id = ? AND class = ?"));
    s.Bind(1, user_id).Bind(2, ToString(c));
    PARLEY_ASSIGN_OR_RETURN(bool row, s.Step());
    if (row) prev = Bucket{s.Double(0), s.Int(1)};
  }
  Take t = TakeToken(prev, rate, now);
  if (!t.ok) return WriteThrottled(c, t.retry_after_ms);
  PARLEY_ASSIGN_OR_RETURN(Statement s, db_.Prepare(
      "INSERT INTO write_quota(user_id, class, tokens, updated_ts) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT(user_id, class) DO UPDATE SET tokens = ?3, updated_ts = ?4"));
  s.Bind(1, user_id).Bind(2, ToString(c)).BindDouble(3, t.next.tokens).Bind(4, t.next.updated_ms);
  return s.Exec();
}

}  // namespace parley
