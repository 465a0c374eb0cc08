#include "stack.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "client.h"
#include "schema/pg/conn.h"

extern char** environ;

namespace parley::e2e {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

std::string ReadTail(const std::string& path, size_t max_bytes) {
  std::string s = ReadText(path);
  if (s.size() > max_bytes) s = "..." + s.substr(s.size() - max_bytes);
  return s;
}

std::string FindNginx() {
  for (const char* p : {"/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "nginx";  // execvp searches PATH
}

}  // namespace

// ---- TempDir ---------------------------------------------------------------

std::optional<TempDir> TempDir::Make(std::string* error) {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/parley-e2e-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) {
    *error = Errno("mkdtemp " + templ);
    return std::nullopt;
  }
  return TempDir(templ);
}

TempDir::~TempDir() {
  if (path_.empty()) return;
  // The tmpfs's files go with it; the directory under it is empty.
  if (mounted_) umount2(path_.c_str(), MNT_DETACH);
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

bool TempDir::MountTmpfs(uint64_t bytes, std::string* error) {
  static bool own_namespace = false;
  if (!own_namespace) {
    // Private from / down: no mount made here propagates to the host's.
    if (unshare(CLONE_NEWNS) != 0) {
      *error = Errno("unshare(CLONE_NEWNS)");
      return false;
    }
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
      *error = Errno("mount --make-rprivate /");
      return false;
    }
    own_namespace = true;
  }
  const std::string options = "size=" + std::to_string(bytes) + ",mode=0700";
  if (mount("tmpfs", path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
    *error = Errno("mount tmpfs on " + path_);
    return false;
  }
  mounted_ = true;
  return true;
}

// ---- Child -----------------------------------------------------------------

std::unique_ptr<Child> Child::Spawn(const Options& options, std::string* error) {
  if (options.argv.empty()) {
    *error = "Spawn: empty argv";
    return nullptr;
  }
  // Everything the child needs is built before fork: only async-signal-safe
  // calls happen between fork and exec.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    bool overridden = false;
    for (const auto& o : options.env) {
      auto eq = o.find('=');
      if (kv.compare(0, eq + 1, o, 0, eq + 1) == 0) overridden = true;
    }
    if (!overridden) env_strings.push_back(std::move(kv));
  }
  for (const auto& o : options.env) env_strings.push_back(o);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = options.argv;
  std::vector<char*> argv;
  for (auto& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  std::string log = options.log_path.empty() ? "/dev/null" : options.log_path;
  int log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    *error = Errno("open " + log);
    return nullptr;
  }
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  pid_t parent = getpid();

  pid_t pid = fork();
  if (pid < 0) {
    *error = Errno("fork");
    close(log_fd);
    close(null_fd);
    return nullptr;
  }
  if (pid == 0) {
    // A test binary killed by a timeout must not leave daemons behind.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    setpgid(0, 0);
    // Undo what the test runner may have set, so daemons see defaults.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    if (options.max_open_files > 0) {
      const rlimit files{options.max_open_files, options.max_open_files};
      setrlimit(RLIMIT_NOFILE, &files);
    }
    dup2(null_fd, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    execve(argv[0], argv.data(), envp.data());
    if (errno == ENOENT && std::strchr(argv[0], '/') == nullptr) {
      execvpe(argv[0], argv.data(), envp.data());
    }
    static const char kMsg[] = "e2e: exec failed\n";
    ssize_t ignored = write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
    (void)ignored;
    _exit(127);
  }
  close(log_fd);
  close(null_fd);
  setpgid(pid, pid);  // also from the parent, so there is no window
  std::string name = std::filesystem::path(options.argv[0]).filename();
  return std::unique_ptr<Child>(new Child(pid, name));
}

Child::~Child() {
  if (!status_) Stop(milliseconds(3000));
}

bool Child::Running() {
  if (status_) return false;
  int st = 0;
  pid_t r = waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = st;
    return false;
  }
  return r == 0;
}

void Child::Signal(int sig) const {
  if (!status_) kill(pid_, sig);
}

std::optional<int> Child::WaitFor(milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    if (!Running()) return status_;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(10));
  }
}

int Child::Stop(milliseconds grace) {
  if (!status_) {
    Signal(SIGTERM);
    if (!WaitFor(grace)) {
      kill(-pid_, SIGKILL);
      int st = 0;
      if (waitpid(pid_, &st, 0) == pid_) status_ = st;
    }
  }
  // Daemons' own children (workers) that outlived their master.
  kill(-pid_, SIGKILL);
  return status_.value_or(-1);
}

int RunToCompletion(const Child::Options& options, milliseconds timeout, std::string* error) {
  auto child = Child::Spawn(options, error);
  if (!child) return -1;
  auto st = child->WaitFor(timeout);
  if (!st) {
    *error = options.argv[0] + " did not finish in time";
    child->Stop(milliseconds(0));
    return -1;
  }
  if (!WIFEXITED(*st)) {
    *error = options.argv[0] + " was killed by a signal";
    return -1;
  }
  return WEXITSTATUS(*st);
}

// ---- processes and ports ---------------------------------------------------

int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

namespace {
// Fields of /proc/PID/stat after the command name, which may itself contain
// spaces and parentheses: state is the first, ppid the second.
bool ReadStat(pid_t pid, char* state, pid_t* ppid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  auto close_paren = line.rfind(')');
  if (close_paren == std::string::npos) return false;
  std::istringstream rest(line.substr(close_paren + 1));
  char st = '?';
  long pp = 0;
  if (!(rest >> st >> pp)) return false;
  *state = st;
  *ppid = static_cast<pid_t>(pp);
  return true;
}
}  // namespace

std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = static_cast<pid_t>(std::stol(name));
    char state = '?';
    pid_t ppid = 0;
    // A zombie has exited; the master has not reaped it yet, but it is no
    // longer a worker.
    if (ReadStat(pid, &state, &ppid) && ppid == parent && state != 'Z' && state != 'X') {
      out.push_back(pid);
    }
  }
  return out;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TableLock::TableLock(std::unique_ptr<pg::PgConn> session) : session_(std::move(session)) {}
TableLock::~TableLock() { Release(); }

std::unique_ptr<TableLock> TableLock::Take(const std::string& db_url, const std::string& table, std::string* error) {
  auto conn = pg::PgConn::Connect(db_url);
  // PgConn's sessions end when idle in a transaction for
  // kIdleInTransactionS (10 s); this one must hold its lock for as long as
  // the test says, or a request still waiting (a second batch's, 5 s after
  // the first) would get the table the moment the server ends it.
  Status st = conn.ok() ? (*conn)->ExecScript("SET idle_in_transaction_session_timeout = 0; BEGIN; LOCK TABLE " +
                                              table + " IN ACCESS EXCLUSIVE MODE")
                        : conn.status();
  if (!st.ok()) {
    *error = "locking " + table + ": " + st.ToString();
    return nullptr;
  }
  return std::unique_ptr<TableLock>(new TableLock(std::move(conn).value()));
}

void TableLock::Release() {
  if (!session_) return;
  (void)session_->ExecScript("ROLLBACK");
  session_.reset();
}

std::optional<BinaryCopy> BinaryCopy::Make(const std::string& from, const std::string& name, std::string* error) {
  std::optional<TempDir> dir = TempDir::Make(error);
  if (!dir) return std::nullopt;
  const std::string path = dir->path() + "/" + name;
  BinaryCopy copy(std::move(*dir), path);
  copy.Install(from);
  return copy;
}

void BinaryCopy::Install(const std::string& from, bool executable) const {
  namespace fs = std::filesystem;
  const std::string& to = path_;
  const std::string next = to + ".new";
  fs::copy_file(from, next, fs::copy_options::overwrite_existing);
  fs::permissions(next, executable ? fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                         fs::perms::others_read | fs::perms::others_exec
                                   : fs::perms::owner_read | fs::perms::owner_write);
  fs::rename(next, to);
}

ino_t InodeOf(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

ino_t RunningInode(pid_t pid) { return InodeOf("/proc/" + std::to_string(pid) + "/exe"); }

double CpuSeconds(pid_t pid) {
  const std::string all = ReadText("/proc/" + std::to_string(pid) + "/stat");
  const size_t name_end = all.rfind(')');
  if (name_end == std::string::npos) return 0;
  // Fields after the command name (which may hold spaces) start at ") ".
  std::istringstream rest(all.substr(name_end + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::atoll(field.c_str());
    if (i == 15) stime = std::atoll(field.c_str());
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

uint64_t ProcStatusBytes(pid_t pid, const std::string& key) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string word;
  uint64_t kb = 0;
  while (f >> word) {
    if (word == key + ":") {
      f >> kb;
      return kb * 1024;
    }
  }
  return 0;
}

namespace {
long TaskSyscall(const std::string& task_dir) {
  std::ifstream in(task_dir + "/syscall");
  long nr = -1;
  if (!(in >> nr)) return -1;  // "running", or gone
  return nr;
}
// Waiting for the next request: for a connection (the keeper's epoll set,
// fcgi/keeper.h, or accept()), or for its turn to wait (a futex).
bool TaskWaits(const std::string& task_dir) {
  long nr = TaskSyscall(task_dir);
  return nr == SYS_epoll_wait || nr == SYS_epoll_pwait || nr == SYS_accept || nr == SYS_accept4 || nr == SYS_futex;
}
}  // namespace

bool WaitingForRequests(pid_t pid) {
  // A threaded worker (fcgi/worker.cc) names its request threads
  // "fcgi-req" while they wait for a request and "fcgi-serve" while they
  // serve one: it is idle when none serves and no waiting one is reading a
  // request (TaskWaits).
  const std::string proc = "/proc/" + std::to_string(pid);
  std::error_code ec;
  int request_threads = 0;
  for (const auto& task : std::filesystem::directory_iterator(proc + "/task", ec)) {
    std::ifstream comm(task.path().string() + "/comm");
    std::string name;
    if (!std::getline(comm, name)) continue;
    if (name == "fcgi-serve") return false;
    if (name != "fcgi-req") continue;
    ++request_threads;
    if (!TaskWaits(task.path().string())) return false;
  }
  return request_threads > 0;
}

char ProcessState(pid_t pid) {
  char state = '?';
  pid_t ppid = 0;
  return ReadStat(pid, &state, &ppid) ? state : '?';
}

// ---- PostgreSQL --------------------------------------------------------------

bool OnPostgres() {
  const char* dir = std::getenv("PARLEY_TEST_PG_DIR");
  return dir != nullptr && *dir != '\0';
}

namespace {

// A new schema in the run's cluster (PARLEY_TEST_PG_DIR, started by the
// ctest fixture e2e_pg), and the URL that makes it the search path: each
// stack has tables of its own, as each has its own SQLite file.
std::string NewPgSchema(std::string* error) {
  const char* dir = std::getenv("PARLEY_TEST_PG_DIR");
  std::string url;
  {
    std::string cmd = std::string("timeout 30 ") + PARLEY_SOURCE_DIR + "/tools/pg url '" + dir + "'";
    FILE* f = popen(cmd.c_str(), "r");
    char buf[512] = {};
    while (f != nullptr && fgets(buf, sizeof buf, f) != nullptr) url += buf;
    if (f != nullptr) pclose(f);
    while (!url.empty() && url.back() == '\n') url.pop_back();
  }
  auto conn = pg::PgConn::Connect(url);
  if (!conn.ok()) {
    *error = "PostgreSQL at " + url + ": " + conn.status().message();
    return "";
  }
  // Random, not the pid: ctest runs hundreds of processes against one
  // cluster, and pids come round again.
  std::random_device rd;
  const uint64_t r = (uint64_t{rd()} << 32) | rd();
  char name_buf[32];
  std::snprintf(name_buf, sizeof name_buf, "e2e_%016llx", static_cast<unsigned long long>(r));
  const std::string name = name_buf;
  if (Status st = (*conn)->ExecScript("CREATE SCHEMA " + name); !st.ok()) {
    *error = "CREATE SCHEMA: " + st.message();
    return "";
  }
  return url + "&options=-csearch_path%3D" + name;
}

}  // namespace

// ---- Stack -----------------------------------------------------------------

std::unique_ptr<Stack> Stack::Start(const StackOptions& options, std::string* error) {
  std::unique_ptr<Stack> s(new Stack(options));
  s->dir_ = TempDir::Make(error);
  if (!s->dir_) return nullptr;
  if (options.disk_bytes > 0 && !s->dir_->MountTmpfs(options.disk_bytes, error)) return nullptr;
  const std::string dir = s->dir_->path();
  const bool postgres = options.backend == Backend::kPostgresql ||
                        (options.backend == Backend::kFromEnvironment && OnPostgres());
  if (postgres && !OnPostgres()) {
    *error = "a PostgreSQL stack needs PARLEY_TEST_PG_DIR (the ctest fixture e2e_pg)";
    return nullptr;
  }
  s->db_ = postgres ? NewPgSchema(error) : dir + "/parley.db";
  if (s->db_.empty()) return nullptr;
  if (postgres && options.pg_through_link) {
    // tools/pg's URLs name the socket directory last but for our options:
    // ...?host=DIR&options=...
    const size_t host = s->db_.find("host=");
    const size_t end = s->db_.find('&', host);
    if (host == std::string::npos || end == std::string::npos) {
      *error = "no host= in " + s->db_;
      return nullptr;
    }
    const std::string link = dir + "/pg";
    const std::string target = s->db_.substr(host + 5, end - host - 5);
    if (symlink(target.c_str(), link.c_str()) != 0) {
      *error = "symlink " + link + ": " + std::strerror(errno);
      return nullptr;
    }
    s->db_.replace(host + 5, end - host - 5, link);
  }
  const std::string limits = std::string("PARLEY_LIMITS=") + (options.limits ? "on" : "off");

  auto fail = [&](const std::string& what) {
    *error = what + "\n--- logs ---\n" + s->LogTail();
    return nullptr;
  };

  s->fcgi_ = Child::Spawn(s->FcgiOptions(), error);
  if (!s->fcgi_) return nullptr;

  // The port may be taken between FreeLoopbackPort() and nginx's bind()
  // (another test file runs in parallel); then nginx exits and we retry.
  for (int attempt = 0; attempt < 3 && !s->nginx_; ++attempt) {
    s->port_ = FreeLoopbackPort();
    if (s->port_ == 0) return fail("no free port on 127.0.0.1");
    Child::Options conf;
    conf.argv = {"/bin/bash", std::string(PARLEY_SOURCE_DIR) + "/tools/nginx-conf", dir,
                 std::to_string(s->port_)};
    conf.env = {limits, std::string("PARLEY_TLS=") + (options.tls ? "on" : "off"),
                "PARLEY_TRUSTED_PROXIES=" + options.trusted_proxies};
    conf.log_path = dir + "/nginx-conf.log";
    if (RunToCompletion(conf, milliseconds(10000), error) != 0) {
      return fail("tools/nginx-conf failed: " + *error);
    }
    Child::Options nginx;
    nginx.argv = {FindNginx(), "-p", dir + "/", "-c", dir + "/nginx.conf"};
    nginx.log_path = dir + "/nginx.out";
    s->nginx_ = Child::Spawn(nginx, error);
    if (!s->nginx_) return nullptr;
    // nginx writes its pid file only after it has bound the port; an exit
    // before that means bind (or the config) failed.
    auto bound_by = Clock::now() + std::chrono::seconds(10);
    while (!std::filesystem::exists(dir + "/nginx.pid") && s->nginx_->Running() &&
           Clock::now() < bound_by) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    if (!s->nginx_->Running()) s->nginx_.reset();
  }
  if (!s->nginx_) return fail("nginx did not start");

  Client probe(s->base_url());
  auto deadline = Clock::now() + std::chrono::seconds(15);
  while (true) {
    if (!s->fcgi_->Running()) return fail("parley-fcgi exited during start-up");
    if (!s->nginx_->Running()) return fail("nginx exited during start-up");
    Response r = probe.Get("/api/health");
    if (r.status == 200) break;
    if (Clock::now() >= deadline) {
      return fail("no 200 from /api/health within 15 s (last: " + std::to_string(r.status) +
                  " " + r.curl_error + " " + r.body + ")");
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  // parley-events last: the database exists and is migrated by now, so the
  // two daemons never race to create it.
  if (options.events && !s->StartEvents(error)) return nullptr;  // *error has the logs
  return s;
}

Child::Options Stack::FcgiOptions() const {
  const std::string& d = dir();
  Child::Options fcgi;
  // --events-socket is parley-events' datagram socket (its --notify), not
  // the HTTP socket nginx proxies /events/ to. While parley-events is not
  // running the datagrams are best-effort and simply go nowhere.
  fcgi.argv = {options_.fcgi_binary.empty() ? std::string(PARLEY_FCGI_BIN) : options_.fcgi_binary,
               "--db", db_, "--data", d,
               "--listen", d + "/fcgi.sock",
               "--events-socket", d + "/notify.sock",
               "--workers", std::to_string(options_.workers)};
  fcgi.env = {std::string("PARLEY_LIMITS=") + (options_.limits ? "on" : "off"),
              std::string("PARLEY_TEST_FAST_PASSWORDS=") + (options_.fast_passwords ? "1" : "0")};
  fcgi.env.insert(fcgi.env.end(), options_.fcgi_env.begin(), options_.fcgi_env.end());
  fcgi.log_path = d + "/fcgi.log";
  return fcgi;
}

bool Stack::SetPostgresReachable(bool reachable) {
  const std::string link = dir() + "/pg";
  const std::string away = dir() + "/pg.away";
  return reachable ? rename(away.c_str(), link.c_str()) == 0 : rename(link.c_str(), away.c_str()) == 0;
}

int Stack::KillFcgi() {
  fcgi_->Signal(SIGKILL);
  // Reaped here, so the Child's destructor will not kill the process group:
  // the orphaned workers must go by themselves.
  return fcgi_->WaitFor(milliseconds(5000)).value_or(-1);
}

bool Stack::StartFcgi(std::string* error) {
  if (fcgi_->Running()) {
    *error = "parley-fcgi is already running";
    return false;
  }
  fcgi_ = Child::Spawn(FcgiOptions(), error);
  if (!fcgi_) return false;
  Client probe(base_url());
  auto deadline = Clock::now() + std::chrono::seconds(15);
  while (true) {
    if (!fcgi_->Running()) {
      *error = "parley-fcgi exited during start-up\n--- logs ---\n" + LogTail();
      return false;
    }
    Response r = probe.Get("/api/health");
    if (r.status == 200) return true;
    if (Clock::now() >= deadline) {
      *error = "no 200 from /api/health within 15 s (last: " + std::to_string(r.status) + " " +
               r.curl_error + ")\n--- logs ---\n" + LogTail();
      return false;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
}

bool Stack::StartEvents(std::string* error) {
  if (events_ && events_->Running()) {
    *error = "parley-events is already running";
    return false;
  }
  events_.reset();
  const std::string& d = dir();
  Child::Options ev;
  ev.argv = {options_.events_binary.empty() ? std::string(PARLEY_EVENTS_BIN) : options_.events_binary,
             "--db", db_, "--data", d,
             "--listen", d + "/events.sock",
             "--notify", d + "/notify.sock"};
  for (const auto& f : options_.events_flags) ev.argv.push_back(f);
  ev.env = {std::string("PARLEY_LIMITS=") + (options_.limits ? "on" : "off")};
  ev.env.insert(ev.env.end(), options_.events_env.begin(), options_.events_env.end());
  ev.log_path = d + "/events.log";
  ev.max_open_files = options_.events_max_open_files;
  // A socket left by a killed daemon would let the probe below reach
  // nobody (and fill nginx's error log) until the new one replaces it.
  unlink((d + "/events.sock").c_str());
  events_ = Child::Spawn(ev, error);
  if (!events_) return false;
  Client probe(base_url());
  auto deadline = Clock::now() + std::chrono::seconds(10);
  while (!std::filesystem::exists(d + "/events.sock") && events_->Running() && Clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  while (true) {
    if (!events_->Running()) {
      *error = "parley-events exited during start-up\n--- logs ---\n" + LogTail();
      events_.reset();
      return false;
    }
    Response r = probe.Get("/events/stats");
    if (r.status == 200) return true;
    if (Clock::now() >= deadline) {
      *error = "no 200 from /events/stats within 10 s (last: " + std::to_string(r.status) + " " +
               r.curl_error + " " + r.body + ")\n--- logs ---\n" + LogTail();
      return false;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
}

int Stack::StopEvents(milliseconds grace) {
  if (!events_) return -1;
  int st = events_->Stop(grace);
  events_.reset();
  return st;
}

int Stack::KillEvents() {
  if (!events_) return -1;
  events_->Signal(SIGKILL);
  int st = events_->Stop(milliseconds(5000));
  events_.reset();
  return st;
}

Stack::~Stack() {
  // nginx first: no new requests reach the daemons while they stop; then
  // both daemons at once (a second SIGTERM from Stop is harmless).
  // parley-events is killed outright: its graceful stop always lingers half
  // a second for goodbyes nobody reads here, every test would pay for it,
  // and RestartTest checks that stop on purpose.
  if (nginx_) nginx_->Signal(SIGTERM);
  if (events_) events_->Signal(SIGKILL);
  if (fcgi_) fcgi_->Signal(SIGTERM);
  if (nginx_) nginx_->Stop(milliseconds(3000));
  if (events_) events_->Stop(milliseconds(3000));
  if (fcgi_) fcgi_->Stop(milliseconds(5000));
  // Under PARLEY_SANITIZE the daemons are sanitized too. A report in any of
  // them fails the test, even one in a worker that the pool master quietly
  // replaced, or a leak found as a daemon exits: the logs hold them all.
  if (std::string report = SanitizerReport(); !report.empty()) ADD_FAILURE() << report;
}

std::string Stack::SanitizerReport() const {
  if (!dir_) return "";
  std::string out;
  for (const char* f : {"fcgi.log", "events.log"}) {
    std::string log = ReadText(dir_->path() + "/" + f);
    for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"}) {
      size_t at = log.find(marker);
      if (at == std::string::npos) continue;
      size_t from = log.rfind('\n', at);
      from = from == std::string::npos ? 0 : from + 1;
      out += "sanitizer report in " + std::string(f) + ":\n" + log.substr(from, 6000) + "\n";
      break;
    }
  }
  return out;
}

std::string Stack::base_url() const {
  return (options_.tls ? "https://127.0.0.1:" : "http://127.0.0.1:") + std::to_string(port_);
}

std::vector<pid_t> Stack::FcgiWorkers() const { return ChildrenOf(fcgi_->pid()); }

std::optional<std::string> Stack::Ctl(const std::vector<std::string>& args, const std::vector<std::string>& env,
                                      std::string* error) {
  const std::string out = dir() + "/parleyctl-" + std::to_string(++ctl_runs_) + ".out";
  Child::Options o;
  o.argv = {PARLEY_CTL_BIN, "--db", db()};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.env = env;
  o.log_path = out;
  const int rc = RunToCompletion(o, std::chrono::seconds(30), error);
  std::string text = ReadText(out);
  if (rc == 0) return text;
  *error = "parleyctl " + (args.empty() ? std::string() : args[0]) + " exited " + std::to_string(rc) + ": " +
           *error + text;
  return std::nullopt;
}

std::string Stack::LogTail(size_t max_bytes) const {
  if (!dir_) return "";
  const std::string& d = dir_->path();
  std::string out;
  for (const char* f : {"fcgi.log", "events.log", "nginx.out", "nginx-error.log", "nginx-conf.log"}) {
    std::string tail = ReadTail(d + "/" + f, max_bytes);
    if (!tail.empty()) out += "--- " + std::string(f) + "\n" + tail + "\n";
  }
  return out;
}

}  // namespace parley::e2e
