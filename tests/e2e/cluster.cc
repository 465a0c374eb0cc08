#include "cluster.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "schema/listen_address.h"

namespace parley::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Whether something listens at `address`, a daemon's --listen value (the
// daemons' own rule, schema/listen_address.h): a unix stream socket's path,
// or HOST:PORT (a host's address in namespaces, reached from front). A TCP
// connect gets 1 s: a host whose link is down would not even refuse.
bool Accepts(const std::string& address) {
  auto where = ParseListenAddress("cluster.addrs", address);
  if (!where.ok()) return false;
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (!where->tcp) {
    if (!UnixAddress(where->path, reinterpret_cast<sockaddr_un*>(&addr))) return false;
    len = sizeof(sockaddr_un);
  } else if (where->ipv6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(where->port));
    if (inet_pton(AF_INET6, where->host.c_str(), &in6->sin6_addr) != 1) return false;
    len = sizeof *in6;
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&addr);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(where->port));
    if (inet_pton(AF_INET, where->host.c_str(), &in->sin_addr) != 1) return false;
    len = sizeof *in;
  }
  const int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0;
  if (!ok && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t err_len = sizeof err;
    ok = poll(&p, 1, 1000) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) == 0 && err == 0;
  }
  close(fd);
  return ok;
}

std::string Tail(const std::string& text, size_t max) {
  return text.size() > max ? "..." + text.substr(text.size() - max) : text;
}

}  // namespace

bool Cluster::Start(std::string* error) {
  auto dir = TempDir::Make(error);
  if (!dir) return false;
  dir_ = std::move(dir);
  // As root, tools/pg runs the server as the postgres user, who must be
  // able to pass through the directory (mkdtemp makes it 0700).
  chmod(dir_->path().c_str(), 0711);
  port_ = FreeLoopbackPort();
  Child::Options o;
  o.argv = {"/bin/bash", std::string(PARLEY_SOURCE_DIR) + "/tools/cluster", std::to_string(options_.hosts)};
  o.env = {"PARLEY_NO_BUILD=1", "PARLEY_BUILD_DIR=" + std::string(PARLEY_BUILD_DIR),
           "PARLEY_PORT=" + std::to_string(port_), "PARLEY_VAR=" + var(), "PARLEY_LIMITS=off",
           std::string("PARLEY_RESTART=") + (options_.restart ? "1" : "0"),
           "PARLEY_TEST_FAST_PASSWORDS=1"};  // as in every test stack (stack.h)
  if (options_.netns) o.env.push_back("PARLEY_NETNS=1");
  if (options_.heartbeat_s > 0) o.env.push_back("PARLEY_HEARTBEAT=" + std::to_string(options_.heartbeat_s));
  if (options_.presence_grace_ms > 0) {
    o.env.push_back("PARLEY_PRESENCE_GRACE=" + std::to_string(options_.presence_grace_ms));
  }
  o.log_path = dir_->path() + "/cluster.out";
  child_ = Child::Spawn(o, error);
  if (!child_) return false;
  const auto deadline = Clock::now() + 90s;  // initdb on a busy machine
  while (Clock::now() < deadline) {
    std::ifstream in(var() + "/cluster.pids");
    std::string word;
    while (in >> word) {
      if (word == "ready") return true;
    }
    if (!child_->Running()) break;
    std::this_thread::sleep_for(100ms);
  }
  *error = "tools/cluster did not become ready:\n" + LogTail();
  return false;
}

Cluster::~Cluster() {
  if (child_) child_->Stop(20000ms);  // tools/cluster stops everything it started
}

pid_t Cluster::Pid(const std::string& name) const {
  std::ifstream in(var() + "/cluster.pids");
  std::string word;
  pid_t pid = 0;
  while (in >> word && word != "ready") {
    if (!(in >> pid)) return 0;
    if (word == name) return pid;
  }
  return 0;
}

std::string Cluster::address_of(const std::string& name) const {
  std::ifstream in(var() + "/cluster.addrs");
  std::string word, address;
  while (in >> word >> address) {
    if (word == name) return address;
  }
  return "";
}

pid_t Cluster::Kill(const std::string& name) {
  const pid_t pid = Pid(name);
  EXPECT_GT(pid, 0) << "no process " << name << " in cluster.pids";
  if (pid <= 0) return 0;
  ::kill(pid, SIGKILL);
  return pid;
}

bool Cluster::WaitBack(const std::string& name, pid_t old, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    const pid_t now = Pid(name);
    if (now > 0 && now != old && ::kill(now, 0) == 0 && Accepts(address_of(name))) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

bool Cluster::CrashPostgres(std::string* error) {
  Child::Options o;
  o.argv = {"/bin/bash", std::string(PARLEY_SOURCE_DIR) + "/tools/pg", "crash", var() + "/pg"};
  o.log_path = dir_->path() + "/pg-crash.out";
  const int code = RunToCompletion(o, 60000ms, error);
  if (code == 0) return true;
  if (error->empty()) *error = "tools/pg crash exited with " + std::to_string(code) + ": " + ReadText(o.log_path);
  return false;
}

bool Cluster::EnterFront(std::string* error) {
  std::string prefix;
  std::ifstream(var() + "/netns") >> prefix;
  if (prefix.empty()) {
    *error = "no " + var() + "/netns: is the cluster in namespaces (ClusterOptions::netns)?";
    return false;
  }
  const std::string path = "/run/netns/" + prefix + "-front";
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = "open " + path + ": " + std::strerror(errno);
    return false;
  }
  const int rc = setns(fd, CLONE_NEWNET);
  const int err = errno;
  close(fd);
  if (rc != 0) {
    *error = "setns " + path + ": " + std::strerror(err);
    return false;
  }
  return true;
}

bool Cluster::Link(const std::string& verb, int host, std::string* error) {
  Child::Options o;
  o.argv = {"/bin/bash", std::string(PARLEY_SOURCE_DIR) + "/tools/cluster", verb, var(), std::to_string(host)};
  o.log_path = dir_->path() + "/link.out";
  const int code = RunToCompletion(o, 10000ms, error);
  if (code == 0) return true;
  if (error->empty()) *error = "tools/cluster " + verb + " exited with " + std::to_string(code) + ": " + ReadText(o.log_path);
  return false;
}

Client Cluster::Api(const std::string& token) const {
  Client c(base_url(), Client::Cookies::kOff);
  if (!token.empty()) c.set_bearer(token);
  return c;
}

std::string Cluster::Register(const std::string& username) const {
  Client c = Api();
  Response r = c.Post("/api/register", R"({"username":")" + username + R"(","password":"correct horse battery"})");
  EXPECT_EQ(r.status, 201) << r.Describe();
  return r.json()["token"].str();
}

Response Cluster::DaemonGet(int host, const std::string& path) const {
  const std::string address = address_of("events-" + std::to_string(host));
  const bool unix_socket = address.find('/') != std::string::npos;
  Client c(unix_socket ? base_url() : "http://" + address, Client::Cookies::kOff);
  if (unix_socket) c.set_unix_socket(address);
  c.set_timeout_ms(2000);
  return c.Get(path);
}

std::string Cluster::DaemonStats() const {
  std::string out;
  for (int i = 1; i <= options_.hosts; ++i) {
    Response r = DaemonGet(i, "/events/stats");
    out += "events-" + std::to_string(i) + ": ";
    if (r.status != 200) {
      out += r.Describe() + "\n";
      continue;
    }
    Json j = r.json();
    for (const char* key : {"head", "db_head", "lag", "read_failures", "batches", "wakeups"}) {
      out += std::string(key) + " " + std::to_string(j[key].num()) + ", ";
    }
    out += "streams " + std::to_string(j["connections"]["stream"].num()) + ", polls " +
           std::to_string(j["connections"]["poll"].num()) + "\n";
  }
  return out;
}

bool Cluster::DaemonsCaughtUp(std::chrono::milliseconds within) const {
  const auto deadline = std::chrono::steady_clock::now() + within;
  for (;;) {
    int caught_up = 0;
    for (int i = 1; i <= options_.hosts; ++i) {
      Response r = DaemonGet(i, "/events/stats");  // its db_head is read for the answer
      caught_up += r.status == 200 && r.json()["lag"].num() == 0;
    }
    if (caught_up == options_.hosts) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::string Cluster::LogTail() const {
  std::string out = "tools/cluster: " + Tail(ReadText(dir_->path() + "/cluster.out"), 2000);
  for (int i = 1; i <= options_.hosts; ++i) {
    for (const char* kind : {"fcgi-", "events-"}) {
      const std::string name = kind + std::to_string(i);
      out += "\n" + name + ": " + Tail(ReadText(var() + "/" + name + ".log"), 1500);
    }
  }
  return out;
}

}  // namespace parley::e2e
