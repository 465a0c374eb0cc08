// parley-fcgi: the FastCGI worker pool behind nginx's /api/ location.
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <set>
#include <string>

#include "fcgi/limits_config.h"
#include "fcgi/pool.h"
#include "schema/backend/backend.h"
#include "schema/crypto.h"
#include "schema/listen_address.h"
#include "schema/log.h"
#include "schema/posix.h"

namespace {

void Usage() {
  std::fprintf(stderr,
               "usage: parley-fcgi --db PATH|URL --listen SOCKET|HOST:PORT [--events-socket SOCKET] [--data DIR]\n"
               "                   [--workers N] [--threads N] [--running N] [--sync full|normal]\n"
               "                   [--log-level error|warn|info|debug]\n"
               "--db: an SQLite file, or a postgresql:// URL. --listen: a unix socket path (it has a '/'), or\n"
               "TCP on IPV4:PORT or [IPV6]:PORT, for a private network only (FCGI_WEB_SERVER_ADDRS=a,b\n"
               "limits which IPv4 addresses may connect). Defaults come from PARLEY_DB,\n"
               "PARLEY_DATA (uploads; default: beside an SQLite file), PARLEY_FCGI_SOCKET, PARLEY_EVENTS_SOCKET,\n"
               "PARLEY_WORKERS (default 1), PARLEY_THREADS (request threads per worker,\n"
               "default: one per core, at least 2), PARLEY_RUNNING (of those, how many compute at\n"
               "once, default the same; the others wait their turn), PARLEY_SYNC (default full: a write is answered\n"
               "once it is on disk; normal: once committed) and PARLEY_LOG_LEVEL.\n"
               "PARLEY_LIMITS=off turns the per-user write quotas off (benchmarks);\n"
               "PARLEY_WRITE_RATES=send=5/30,..., PARLEY_ROOMS_PER_USER=50 (rooms owned) and\n"
               "PARLEY_MEMBERSHIPS_PER_USER=1000 (rooms and conversations one is in) tune them.\n"
               "PARLEY_UPLOAD_MAX=25m (one file) and PARLEY_UPLOAD_QUOTA=1g (per user) bound\n"
               "uploads, kept in spool/ and uploads/ under the data directory.\n");
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

// An optional count from a flag or the environment: 1 to max in decimal
// digits, else a message and false (strtol alone also took " 2" and "+2").
// Empty leaves *out as it is.
bool ParseCount(const std::string& text, const char* flag, long max, int* out) {
  if (text.empty()) return true;
  long n = 0;
  if (text.size() <= 9 && text.find_first_not_of("0123456789") == std::string::npos) n = std::stol(text);
  if (n < 1 || n > max) {
    std::fprintf(stderr, "parley-fcgi: %s must be 1 to %ld\n", flag, max);
    return false;
  }
  *out = static_cast<int>(n);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  // The database holds password and session hashes: it, its -wal and -shm
  // are the service's alone, also when started by hand under a umask of
  // 022 (tools/run and the unit's UMask=0077 set the same; parleyctl too).
  // The sockets nginx connects to are made 0660 explicitly whatever the
  // umask (schema/posix.h, UnixBind), and a worker makes uploads/ 0700
  // anyway (worker.cc; the unit makes the directories nginx shares).
  umask(077);
  parley::fcgi::PoolConfig cfg;
  // What a reload runs again (fcgi/reexec.h): read before anything could
  // replace the file, and the descriptors the image before this one kept.
  cfg.exe = parley::SelfPath();
  cfg.argv.assign(argv, argv + argc);
  auto inherited = parley::fcgi::TakeInherited();
  cfg.db = Env("PARLEY_DB");
  cfg.data_dir = Env("PARLEY_DATA");
  cfg.listen_path = Env("PARLEY_FCGI_SOCKET");
  cfg.events_socket = Env("PARLEY_EVENTS_SOCKET");
  std::string workers = Env("PARLEY_WORKERS");
  std::string level = Env("PARLEY_LOG_LEVEL");
  std::string threads = Env("PARLEY_THREADS");
  std::string running = Env("PARLEY_RUNNING");
  std::string sync = Env("PARLEY_SYNC");
  // A flag given twice is refused: which one applied was the parser's
  // choice (the last, silently), not the operator's. A flag over its
  // environment variable is no repetition: that is what the flag is for.
  std::set<std::string> given;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (const std::string flag = a.substr(0, a.find('=')); flag.starts_with("--") && !given.insert(flag).second) {
      std::fprintf(stderr, "parley-fcgi: %s is given twice\n", flag.c_str());
      return 2;
    }
    auto value = [&](const char* flag) -> const char* {
      size_t n = std::strlen(flag);
      if (a.compare(0, n, flag) != 0) return nullptr;
      if (a.size() > n && a[n] == '=') return argv[i] + n + 1;
      if (a.size() == n && i + 1 < argc) return argv[++i];
      return nullptr;
    };
    if (const char* v = value("--db")) {
      cfg.db = v;
    } else if (const char* v9 = value("--data")) {
      cfg.data_dir = v9;
    } else if (const char* v2 = value("--listen")) {
      cfg.listen_path = v2;
    } else if (const char* v3 = value("--events-socket")) {
      cfg.events_socket = v3;
    } else if (const char* v4 = value("--workers")) {
      workers = v4;
    } else if (const char* v5 = value("--log-level")) {
      level = v5;
    } else if (const char* v6 = value("--threads")) {
      threads = v6;
    } else if (const char* v7 = value("--sync")) {
      sync = v7;
    } else if (const char* v8 = value("--running")) {
      running = v8;
    } else {
      Usage();
      return 2;
    }
  }
  const parley::fcgi::LimitsEnv limits_env{std::getenv("PARLEY_LIMITS"), std::getenv("PARLEY_WRITE_RATES"),
                                           std::getenv("PARLEY_ROOMS_PER_USER"),
                                           std::getenv("PARLEY_MEMBERSHIPS_PER_USER")};
  if (parley::Status st = parley::fcgi::ApplyLimitsEnv(limits_env, &cfg.limits); !st.ok()) {
    std::fprintf(stderr, "parley-fcgi: %s\n", st.message().c_str());
    return 2;
  }
  if (parley::Status st = parley::fcgi::ApplyUploadEnv(std::getenv("PARLEY_UPLOAD_MAX"),
                                                       std::getenv("PARLEY_UPLOAD_QUOTA"), &cfg.limits);
      !st.ok()) {
    std::fprintf(stderr, "parley-fcgi: %s\n", st.message().c_str());
    return 2;
  }
  if (cfg.db.empty() || cfg.listen_path.empty()) {
    Usage();
    return 2;
  }
  if (parley::Status st = parley::RefuseSqliteUri("--db", cfg.db); !st.ok()) {
    std::fprintf(stderr, "parley-fcgi: %s\n", st.message().c_str());
    return 2;
  }
  if (auto address = parley::ParseListenAddress("--listen", cfg.listen_path); !address.ok()) {
    std::fprintf(stderr, "parley-fcgi: %s\n", address.status().message().c_str());
    return 2;
  }
  // The wake-ups would go to our own FastCGI socket, a stream socket that
  // refuses datagrams: every one lost, silently (parley-events then sees
  // new events only at its 250 ms check).
  if (!cfg.events_socket.empty() && cfg.events_socket == cfg.listen_path) {
    std::fprintf(stderr, "parley-fcgi: --listen and --events-socket must be different paths (both are %s)\n",
                 cfg.listen_path.c_str());
    return 2;
  }
  if (cfg.data_dir.empty()) cfg.data_dir = parley::DefaultDataDir(cfg.db);
  if (cfg.data_dir.empty()) {
    std::fprintf(stderr, "parley-fcgi: --data DIR (PARLEY_DATA) is required with PostgreSQL: uploads live there\n");
    return 2;
  }
  if (!level.empty() && !parley::ParseLogLevel(level.c_str(), &parley::g_log_level)) {
    std::fprintf(stderr, "parley-fcgi: unknown log level '%s'\n", level.c_str());
    return 2;
  }
  // Checked here, before any worker starts: a worker that failed it would
  // be replaced, and fail, forever.
  if (parley::Status st = parley::CryptoInit(); !st.ok()) {
    std::fprintf(stderr, "parley-fcgi: %s\n", st.message().c_str());
    return 2;
  }
  if (!ParseCount(workers, "--workers", 256, &cfg.workers) || !ParseCount(threads, "--threads", 1024, &cfg.threads) ||
      !ParseCount(running, "--running", 1024, &cfg.running)) {
    return 2;
  }
  if (cfg.workers < 1) cfg.workers = 1;
  if (!sync.empty()) {
    std::optional<parley::Sync> s = parley::ParseSync(sync);
    if (!s) {
      std::fprintf(stderr, "parley-fcgi: --sync must be full or normal\n");
      return 2;
    }
    cfg.sync = *s;
  }
  // A worker holds up to 4,096 of nginx's connections (keeper.h), past a
  // shell's usual soft limit of 1,024; its workers inherit the raised one.
  if (auto files = parley::RaiseOpenFileLimit(); !files.ok()) {
    std::fprintf(stderr, "parley-fcgi: %s\n", files.status().message().c_str());
  }
  parley::fcgi::Inherited kept;
  if (!inherited.ok()) {
    // Not ours to close: listen anew (refused if the socket is still live).
    std::fprintf(stderr, "parley-fcgi: %s\n", inherited.status().message().c_str());
  } else if (inherited->has_value()) {
    kept = std::move(**inherited);
  }
  return parley::fcgi::RunPool(cfg, std::move(kept));
}
