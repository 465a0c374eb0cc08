// The real Parley stack for end-to-end tests: nginx with the config that
// tools/nginx-conf generates from nginx/parley.conf, the parley-fcgi binary
// and the parley-events push daemon, started as child processes in a fresh
// temporary directory on a free 127.0.0.1 port. Layout of that directory:
//   parley.db     the database both daemons open (SQLite; on PostgreSQL,
//                 PARLEY_TEST_BACKEND=postgresql, a schema of its own in the
//                 cluster that ctest starts for the run: see db())
//   fcgi.sock     parley-fcgi (nginx fastcgi_pass)
//   events.sock   parley-events' HTTP socket (nginx proxy_pass for /events/)
//   notify.sock   parley-events' datagram socket (parley-fcgi's wake-ups)
//   *.log         each process's stderr
//
// Ownership: a Stack owns its processes (Child) and its directory (TempDir);
// destroying it stops the processes (SIGTERM, then SIGKILL to the process
// group after a grace period; parley-events gets SIGKILL at once, see
// ~Stack), reaps them and removes the directory. Nothing outlives a test,
// even when an assertion fails half-way.
//
// Threading: start and stop from one thread (the test's). Children are
// forked with PR_SET_PDEATHSIG, so a test binary killed by a ctest timeout
// takes its daemons with it.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace parley::pg {
class PgConn;
}  // namespace parley::pg

namespace parley::e2e {

// A directory made with mkdtemp(3), removed recursively on destruction.
class TempDir {
 public:
  static std::optional<TempDir> Make(std::string* error);
  TempDir(TempDir&& o) noexcept : path_(std::move(o.path_)), mounted_(o.mounted_) { o.path_.clear(); }
  TempDir& operator=(TempDir&& o) noexcept {
    std::swap(path_, o.path_);  // o's destructor removes what we held
    std::swap(mounted_, o.mounted_);
    return *this;
  }
  TempDir(const TempDir&) = delete;
  ~TempDir();

  const std::string& path() const { return path_; }

  // Makes the (empty) directory a tmpfs of `bytes`: a small disk that a test
  // can fill. The mount is made in a mount namespace of this process's own,
  // entered on first use, so it is seen by this process and the children it
  // starts after, by nothing else, and goes with them however the test
  // ends. Needs root (CAP_SYS_ADMIN); false and *error otherwise.
  bool MountTmpfs(uint64_t bytes, std::string* error);

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
  bool mounted_ = false;  // unmounted before the directory is removed
};

// A child process started with fork/exec in its own process group, stdout
// and stderr appended to a log file. The destructor stops and reaps it.
class Child {
 public:
  struct Options {
    std::vector<std::string> argv;  // argv[0] is the program path
    std::vector<std::string> env;   // "NAME=value", added to ours
    std::string log_path;           // stdout and stderr; /dev/null if empty
    uint64_t max_open_files = 0;    // > 0: RLIMIT_NOFILE, soft and hard (a daemon cannot raise it)
  };
  static std::unique_ptr<Child> Spawn(const Options& options, std::string* error);
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child();

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  bool Running();
  void Signal(int sig) const;
  // Waits for the process to exit; returns its waitpid status, or nothing
  // if it is still running after `timeout`.
  std::optional<int> WaitFor(std::chrono::milliseconds timeout);
  // SIGTERM, up to `grace` for it to exit, then SIGKILL to the whole process
  // group (daemons' own children included). Returns the wait status.
  int Stop(std::chrono::milliseconds grace);
  // The exit status if it has been reaped.
  std::optional<int> status() const { return status_; }

 private:
  Child(pid_t pid, std::string name) : pid_(pid), name_(std::move(name)) {}
  pid_t pid_;
  std::string name_;
  std::optional<int> status_;
};

// Runs a program to completion (bounded); returns its exit code, or -1.
int RunToCompletion(const Child::Options& options, std::chrono::milliseconds timeout,
                    std::string* error);

// A port on 127.0.0.1 that was free a moment ago (bind port 0, read, close).
int FreeLoopbackPort();

// Pids whose parent is `parent`, from /proc/*/stat.
std::vector<pid_t> ChildrenOf(pid_t parent);

// One-letter scheduler state of a process ('R', 'S', ...), or '?' if gone.
char ProcessState(pid_t pid);

// True while every request thread of a parley-fcgi worker waits for a
// request (from /proc/<pid>/task/*/syscall): an idle worker. One that reads
// or serves a request is not.
bool WaitingForRequests(pid_t pid);

// A "Key: N kB" line of /proc/<pid>/status in bytes (key "VmRSS", "VmHWM"),
// or 0 if the process is gone.
uint64_t ProcStatusBytes(pid_t pid, const std::string& key);

// CPU seconds (user + system) a process has used, from /proc/<pid>/stat
// (0 if it is gone).
double CpuSeconds(pid_t pid);

// The whole file, or "" if it cannot be read.
std::string ReadText(const std::string& path);
// A daemon's binary copied into a directory of its own, for the stack to
// run (StackOptions::fcgi_binary, events_binary) and the test to replace
// under it, as an upgrade does. The upgrade tests of both daemons.
class BinaryCopy {
 public:
  // `from` copied to a new directory as `name`; nullopt and *error if the
  // directory cannot be made.
  static std::optional<BinaryCopy> Make(const std::string& from, const std::string& name, std::string* error);
  const std::string& path() const { return path_; }
  // A copy of `from` put at path() as install(1) and package managers put
  // one: a new file (a new inode) renamed over the old; executable, or not
  // (a binary that cannot be run).
  void Install(const std::string& from, bool executable = true) const;

 private:
  BinaryCopy(TempDir dir, std::string path) : dir_(std::move(dir)), path_(std::move(path)) {}
  TempDir dir_;
  std::string path_;
};
// The inode of the file at `path` (following links), 0 if none.
ino_t InodeOf(const std::string& path);
// The inode of the file process `pid` runs (/proc/PID/exe), 0 if none.
ino_t RunningInode(pid_t pid);

// PostgreSQL only: another session of a stack's database (Stack::db())
// holding `table` in ACCESS EXCLUSIVE mode, as a DBA's ALTER TABLE or a
// newer binary's migration does, until Release() or destruction.
class TableLock {
 public:
  // Null, with *error, when the lock could not be taken.
  static std::unique_ptr<TableLock> Take(const std::string& db_url, const std::string& table, std::string* error);
  ~TableLock();
  TableLock(const TableLock&) = delete;
  TableLock& operator=(const TableLock&) = delete;
  void Release();

 private:
  explicit TableLock(std::unique_ptr<pg::PgConn> session);
  std::unique_ptr<pg::PgConn> session_;  // in the transaction that holds the lock
};

// The store a stack runs on.
enum class Backend {
  kFromEnvironment,  // PostgreSQL when OnPostgres() (the `.pg` copies of a test), else SQLite
  kSqlite,
  kPostgresql,  // still needs PARLEY_TEST_PG_DIR: the run's cluster to make a schema in
};

struct StackOptions {
  // Whatever the environment says, unless a test compares the two backends
  // (backends_diff_test) and names one per stack.
  Backend backend = Backend::kFromEnvironment;
  bool limits = false;  // PARLEY_LIMITS: nginx rate limits on or off
  int workers = 2;
  bool events = true;   // start parley-events
  // Extra parley-events flags, e.g. {"--stream-lifetime", "3", "--heartbeat", "1"}.
  std::vector<std::string> events_flags;
  // Extra environment of parley-events, e.g. an LD_PRELOAD shim.
  std::vector<std::string> events_env;
  // > 0: parley-events runs with this many open files at most (hard limit).
  uint64_t events_max_open_files = 0;
  // PARLEY_TLS=on: HTTPS + HTTP/2 with a self-signed certificate; base_url()
  // is then https://.
  bool tls = false;
  // PARLEY_TRUSTED_PROXIES: addresses whose X-Forwarded-For nginx believes.
  std::string trusted_proxies;
  // > 0: the stack's directory (database, uploads, logs, nginx's spool) is
  // a tmpfs of this many bytes (TempDir::MountTmpfs), for the disk-full tests.
  uint64_t disk_bytes = 0;
  // Extra environment of parley-fcgi, e.g. {"PARLEY_WRITE_RATES=edit=0.01/2"}.
  std::vector<std::string> fcgi_env;
  // The parley-fcgi and parley-events binaries to run; empty: the build's.
  std::string fcgi_binary;
  std::string events_binary;
  // PARLEY_TEST_FAST_PASSWORDS=1 (schema/crypto.h): argon2id at its minimum
  // cost, since registrations and logins at the real cost were the suite's
  // largest CPU cost. False: the cost a deployment has.
  bool fast_passwords = true;
  // PostgreSQL: the daemons reach the run's cluster through a symlink to its
  // socket directory, in the stack's directory, which a test takes away
  // (SetPostgresReachable) to make every new connection fail, as at the
  // server's max_connections, without touching the cluster the other tests
  // share. Connections already open are kept.
  bool pg_through_link = false;
};

// Whether the tests run on PostgreSQL: PARLEY_TEST_PG_DIR names the run's
// cluster (set by ctest for the `.pg` copies of the e2e tests,
// tests/e2e/CMakeLists.txt).
bool OnPostgres();
// In a test body of a test about SQLite itself (its files, its SQL).
#define PARLEY_E2E_SQLITE_ONLY()                                  \
  if (::parley::e2e::OnPostgres()) GTEST_SKIP() << "SQLite only"

class Stack {
 public:
  // Starts parley-fcgi and nginx, waits (bounded) until /api/health answers
  // 200, then starts parley-events (unless options.events is off) and waits
  // until it answers through nginx. On failure returns null and explains in
  // *error, with the daemons' logs.
  static std::unique_ptr<Stack> Start(const StackOptions& options, std::string* error);
  Stack(const Stack&) = delete;
  Stack& operator=(const Stack&) = delete;
  ~Stack();

  int port() const { return port_; }
  // "http://127.0.0.1:PORT" (https with tls on); also the Origin a
  // same-origin browser sends.
  std::string base_url() const;
  const std::string& dir() const { return dir_->path(); }
  Child& fcgi() { return *fcgi_; }
  Child& nginx() { return *nginx_; }
  // Null while parley-events is not running (stopped, killed, or off).
  Child* events() { return events_.get(); }
  // What the daemons' --db says: the SQLite file, or a PostgreSQL URL whose
  // search path is this stack's own schema.
  const std::string& db() const { return db_; }
  std::string db_path() const { return dir() + "/parley.db"; }  // SQLite's file

  // parley-events on its own, for the restart and crash tests. StartEvents
  // (re)starts it with the options' flags and waits, bounded, until
  // GET /events/stats answers 200 through nginx. StopEvents sends SIGTERM
  // and waits up to `grace` (SIGKILL after that); KillEvents is SIGKILL, a
  // crash. Both reap the process and return its wait status.
  bool StartEvents(std::string* error);
  int StopEvents(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  int KillEvents();
  // The worker processes of the parley-fcgi master.
  std::vector<pid_t> FcgiWorkers() const;
  // The parley-fcgi master on its own, for the crash test. KillFcgi is
  // SIGKILL to the master alone, reaped; its workers are left to the kernel
  // (they asked for SIGTERM when the master dies) and are not waited for.
  // StartFcgi starts a new master on the same socket and waits, bounded,
  // until GET /api/health answers 200 through nginx.
  int KillFcgi();
  // With StackOptions::pg_through_link: false takes the link to the
  // cluster's socket directory away (new connections fail: "No such file
  // or directory"), true puts it back. False when it could not.
  bool SetPostgresReachable(bool reachable);
  bool StartFcgi(std::string* error);
  // Runs parleyctl on this stack's database with `env` ("NAME=value")
  // added, bounded to 30 s: its output, or nothing and *error (the exit
  // status and what it printed).
  std::optional<std::string> Ctl(const std::vector<std::string>& args, const std::vector<std::string>& env,
                                 std::string* error);
  // The last lines of the daemons' logs, for failure messages.
  std::string LogTail(size_t max_bytes = 4000) const;
  // The first AddressSanitizer, LeakSanitizer or UBSan report in the
  // daemons' logs, or "" (always "" unless built with PARLEY_SANITIZE). The
  // destructor fails the running test with it.
  std::string SanitizerReport() const;

 private:
  explicit Stack(StackOptions options) : options_(std::move(options)) {}
  Child::Options FcgiOptions() const;
  StackOptions options_;
  // Declaration order is destruction order reversed: processes stop before
  // the directory that holds their sockets and logs is removed.
  std::optional<TempDir> dir_;
  std::string db_;
  int port_ = 0;
  std::unique_ptr<Child> fcgi_;
  std::unique_ptr<Child> events_;
  std::unique_ptr<Child> nginx_;
  int ctl_runs_ = 0;  // names each Ctl run's output file
};

}  // namespace parley::e2e
