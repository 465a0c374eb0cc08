#include "events/config.h"

#include "schema/backend/backend.h"
#include "schema/listen_address.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <set>

#include "schema/log.h"

namespace parley::events {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// Decimal digits only, with a '-' first only where min allows a negative:
// strtoll alone also took " 5", "+3" and "\t5" (leading white space, a sign).
// Out of range (ERANGE included: strtoll then returns its limit) is refused.
Status ParseInt(const std::string& flag, const std::string& text, int64_t min, int64_t max, int64_t* out) {
  const size_t first_digit = min < 0 && !text.empty() && text[0] == '-' ? 1 : 0;
  bool ok = text.size() > first_digit && text.find_first_not_of("0123456789", first_digit) == std::string::npos;
  long long v = 0;
  if (ok) {
    errno = 0;
    v = std::strtoll(text.c_str(), nullptr, 10);
    ok = errno == 0 && v >= min && v <= max;
  }
  if (!ok) {
    return Status::Invalid("invalid_flag", flag + " must be an integer from " + std::to_string(min) + " to " +
                                               std::to_string(max));
  }
  *out = v;
  return Status::Ok();
}

}  // namespace

const char* Usage() {
  return "usage: parley-events --db PATH|URL --listen SOCKET|HOST:PORT --notify SOCKET [options]\n"
         "  --listen SOCKET|HOST:PORT  a unix socket path (it has a '/'), or TCP on IPV4:PORT or [IPV6]:PORT\n"
         "                           (numeric, no names; for a private network that only nginx reaches)\n"
         "  --db PATH|URL            an SQLite file, or a postgresql:// URL\n"
         "  --data DIR               uploads live under DIR/uploads (default: beside an SQLite file)\n"
         "  --name NAME              this daemon's name among several on PostgreSQL (host:socket)\n"
         "  --log-file PATH          append logs here (reopened on SIGHUP); default stderr\n"
         "  --log-level LEVEL        error|warn|info|debug (SIGUSR1 raises, SIGUSR2 lowers)\n"
         "  --heartbeat S            comment line interval on streams (15)\n"
         "  --stream-lifetime S      close streams after S seconds; clients resume (1800)\n"
         "  --max-connections N      refuse more with 503 (30000)\n"
         "  --output-cap BYTES       cut a subscriber with more queued output (1048576)\n"
         "  --output-budget BYTES    output queued to all subscribers; past it the slowest are cut (268435456)\n"
         "  --max-user-connections N  streams and polls per user; more get 429 (32)\n"
         "  --catchup-pages N        poll and resume pages/s per user from old cursors; 0: unpaced (4)\n"
         "  --catchup-address-pages N  the same per client address (IPv6: /64); 0: by user only (4 x user)\n"
         "  --presence-grace MS      delay before a user is shown offline (5000)\n"
         "  --presence-room-limit N  push presence only through rooms of <= N online members (100)\n"
         "  --retention-days D       keep events at least this long (7)\n"
         "  --retention-per-room N   and at least the newest N per room (100000)\n"
         "  --client-id-days D       a send's client_id dedupes its retries this long (7)\n"
         "  --revoke-check S         re-check open connections' sessions this often (3)\n"
         "  --upload-keep S          remove uploads never attached to a message after S seconds (86400)\n"
         "  --upload-sweep S         collect unused uploads this often (60)\n"
         "Environment: PARLEY_DB, PARLEY_DATA, PARLEY_EVENTS_SOCKET, PARLEY_NOTIFY_SOCKET, PARLEY_LOG_LEVEL,\n"
         "  PARLEY_CATCHUP_PAGES, PARLEY_CATCHUP_ADDRESS_PAGES, PARLEY_PRESENCE_GRACE.\n";
}

Result<Config> ParseConfig(int argc, char** argv) {
  Config c;
  c.db = Env("PARLEY_DB");
  c.data_dir = Env("PARLEY_DATA");
  c.listen_path = Env("PARLEY_EVENTS_SOCKET");
  c.notify_path = Env("PARLEY_NOTIFY_SOCKET");
  std::string level = Env("PARLEY_LOG_LEVEL");
  if (std::string v = Env("PARLEY_CATCHUP_PAGES"); !v.empty()) {
    int64_t n = 0;
    PARLEY_RETURN_IF_ERROR(ParseInt("PARLEY_CATCHUP_PAGES", v, 0, 100000, &n));
    c.catchup_pages_per_s = static_cast<int>(n);
  }
  if (std::string v = Env("PARLEY_CATCHUP_ADDRESS_PAGES"); !v.empty()) {
    int64_t n = 0;
    PARLEY_RETURN_IF_ERROR(ParseInt("PARLEY_CATCHUP_ADDRESS_PAGES", v, 0, 100000, &n));
    c.catchup_address_pages_per_s = static_cast<int>(n);
  }
  // As --presence-grace, for daemons started by a script (tools/cluster in tests).
  if (std::string v = Env("PARLEY_PRESENCE_GRACE"); !v.empty()) {
    int64_t n = 0;
    PARLEY_RETURN_IF_ERROR(ParseInt("PARLEY_PRESENCE_GRACE", v, 0, 600000, &n));
    c.presence_grace_ms = static_cast<int>(n);
  }
  // A flag given twice is refused: which one applied was the parser's
  // choice (the last, silently), not the operator's. A flag over its
  // environment variable is no repetition: that is what the flag is for.
  std::set<std::string> given;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i], value;
    if (size_t eq = flag.find('='); eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag.resize(eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return Status::Invalid("invalid_flag", flag + " needs a value");
    }
    if (!given.insert(flag).second) return Status::Invalid("invalid_flag", flag + " is given twice");
    int64_t n = 0;
    if (flag == "--db") {
      c.db = value;
    } else if (flag == "--data") {
      c.data_dir = value;
    } else if (flag == "--name") {
      c.name = value;
    } else if (flag == "--listen") {
      c.listen_path = value;
    } else if (flag == "--notify") {
      c.notify_path = value;
    } else if (flag == "--log-file") {
      c.log_file = value;
    } else if (flag == "--log-level") {
      level = value;
    } else if (flag == "--heartbeat") {
      PARLEY_RETURN_IF_ERROR(ParseInt(flag, value, 1, 3600, &n));
      c.heartbeat_s = static_cast<int>(n);
    } else if (flag == "--stream-lifetime") {
      PARLEY_RETURN_IF_ERROR(ParseInt(flag, value, 1, 7 * 24 * 3600, &n));
      c.stream_lifetime_s = static_cast<int>(n);
    } else if (flag == "--max-connections") {
      PARLEY_RETURN_IF_ERROR(ParseInt(flag, value, 1, 1000000, &n));
      c.max_connections = static_cast<int>(n);
    } else if (flag == "--output-cap") {
      PARLEY_RETURN_IF_ERROR(ParseInt(flag, value, 4096, int64_t{1} << 30, &n));
      c.output_cap = static_cast<size_t>(n);
    } else if (flag == "--output-budget") {
      PARLEY_RETURN_IF_ERROR(ParseInt(flag, value, 65536, int64_t{1} << 40, &n));
      c.output_budget = static_cast<size_t>(n);
    } else if (flag == "--max-user-connections") {
      PARLEY_RETURN_IF_ERROR(ParseInt(flag, value, 1, 100000, &n));
      c.max_user_connections = static_cast<int>(n);
    } else if (flag == "--catchup-pages") {
      PARLEY_RETURN_IF_ERROR(ParseInt(flag, value, 0, 100000, &n));
      c.catchup_pages_per_s = static_cast<int>(n);
    } else if (flag == "--catchup-address-pages") {
      PARLEY_RETURN_IF_ERROR(ParseInt(flag, value, 0, 100000, &n));
      c.catchup_address_pages_per_s = static_cast<int>(n);
    } else if (flag == "--presence-grace") {
      PARLEY_RETURN_IF_ERROR(ParseInt(flag, value, 0, 600000, &n));
      c.presence_grace_ms = static_cast<int>(n);
    } else if (flag == "--presence-room-limit") {
      PARLEY_RETURN_IF_ERROR(ParseInt(flag, value, 0, 1000000, &n));
      c.presence_room_limit = static_cast<int>(n);
    } else if (flag == "--retention-days") {
      PARLEY_RETURN_IF_ERROR(ParseInt(flag, value, 0, 36500, &n));
      c.retention_ms = n * 24 * 3600 * 1000;
    } else if (flag == "--retention-per-room") {
      PARLEY_RETURN_IF_ERROR(ParseInt(flag, value, 1, int64_t{1} << 40, &n));
      c.retention_per_room = n;
    } else if (flag == "--client-id-days") {
      PARLEY_RETURN_IF_ERROR(ParseInt(flag, value, 1, 36500, &n));
      c.client_key_keep_ms = n * 24 * 3600 * 1000;
    } else if (flag == "--revoke-check") {
      PARLEY_RETURN_IF_ERROR(ParseInt(flag, value, 1, 3600, &n));
      c.revoke_check_s = static_cast<int>(n);
    } else if (flag == "--upload-keep") {
      PARLEY_RETURN_IF_ERROR(ParseInt(flag, value, 1, int64_t{3650} * 24 * 3600, &n));
      c.upload_keep_ms = n * 1000;
    } else if (flag == "--upload-sweep") {
      PARLEY_RETURN_IF_ERROR(ParseInt(flag, value, 1, 24 * 3600, &n));
      c.upload_sweep_s = static_cast<int>(n);
    } else {
      return Status::Invalid("invalid_flag", "unknown option " + flag);
    }
  }
  if (c.db.empty() || c.listen_path.empty() || c.notify_path.empty()) {
    return Status::Invalid("invalid_flag", "--db, --listen and --notify are required");
  }
  PARLEY_RETURN_IF_ERROR(ParseListenAddress("--listen", c.listen_path).status());
  PARLEY_RETURN_IF_ERROR(RefuseSqliteUri("--db", c.db));
  // One path holds one socket: binding the wake-up socket there replaced
  // the HTTP listener just bound, and the daemon ran on, unreachable.
  if (c.listen_path == c.notify_path) {
    return Status::Invalid("invalid_flag", "--listen and --notify must be different paths (both are " + c.listen_path + ")");
  }
  if (c.data_dir.empty()) c.data_dir = DefaultDataDir(c.db);
  if (c.name.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    c.name = std::string(host) + ":" + c.listen_path;
  }
  if (c.data_dir.empty()) {
    return Status::Invalid("invalid_flag", "--data DIR (PARLEY_DATA) is required with PostgreSQL: uploads live there");
  }
  if (!level.empty() && !ParseLogLevel(level.c_str(), &g_log_level)) {
    return Status::Invalid("invalid_flag", "unknown log level " + level);
  }
  return c;
}

}  // namespace parley::events
