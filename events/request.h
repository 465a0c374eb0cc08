// What a request to parley-events asks for, decided without sockets or
// libevent: the route, the cursor and epoch a stream or poll resumes from,
// a poll's timeout, and the reset rule. The HTTP layer (http.cc) hands in
// what it read off the wire; everything here is unit-tested and fuzzed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schema/status.h"

namespace parley::events {

enum class Route { kStream, kPoll, kStats, kNotFound };

// A request as read off the wire; views into libevent's buffers, valid while
// the handler runs.
struct RawRequest {
  std::string_view method;  // "GET", ...
  std::string_view path;    // without the query
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  std::optional<std::string_view> last_event_id;           // the header
  std::optional<std::string_view> forwarded_for;           // X-Forwarded-For
  size_t body_bytes = 0;

  std::optional<std::string_view> Query(std::string_view key) const;
};

// An event id: 1 to 18 decimal digits, nothing else.
std::optional<int64_t> ParseCursor(std::string_view s);

Route RouteOf(std::string_view path);
// 405 with Allow: GET, 413 for a body, 404 for an unknown path: the checks
// every route shares, before authentication.
Status CheckRequest(const RawRequest& r);

struct StreamParams {
  std::optional<int64_t> cursor;  // Last-Event-ID, or ?last_event_id/lastEventId/since
  std::optional<std::string> epoch;
};
Result<StreamParams> ParseStream(const RawRequest& r);

struct PollParams {
  std::optional<int64_t> since;
  int64_t timeout_s = 0;
  std::optional<std::string> epoch;
};
Result<PollParams> ParsePoll(const RawRequest& r, int default_timeout_s, int max_timeout_s);

// Whether /events/stats may be answered: only to loopback. Through nginx
// the last X-Forwarded-For hop is the client address nginx saw (nginx's
// $proxy_add_x_forwarded_for appends it, so a client cannot forge the last
// one); a request without the header came to the unix socket directly, from
// this host.
bool StatsAllowed(const RawRequest& r);

// The client address a request is paced by (pacer.h), as a key: the last
// X-Forwarded-For hop, which nginx appends (after realip, so behind a
// trusted balancer it is the real client). IPv4 counts whole; IPv6 by its
// /64, the block one subscriber is handed, so rotating through the
// addresses of a home or a server does not multiply the budget. 0 when
// there is no address (a request straight to the unix socket).
uint64_t ClientAddressKey(const RawRequest& r);

// The reset rule (DESIGN section 4): why a client's cursor cannot be served
// without a gap, or nullptr when it can.
//   epoch_changed:  the client names another database's epoch
//   cursor_ahead:   the cursor is past the database's head (a restore)
//   cursor_too_old: events after the cursor were pruned by retention: it
//                   is below the log's floor (Storage::LogFloor)
const char* ResetReason(int64_t cursor, const std::optional<std::string>& client_epoch, std::string_view epoch,
                        int64_t db_head, int64_t log_floor);

}  // namespace parley::events
