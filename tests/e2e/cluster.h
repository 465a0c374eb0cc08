// tools/cluster N for end-to-end tests (issue 10): N parley-fcgi pools and N
// parley-events daemons on one PostgreSQL of their own behind nginx, in a
// temporary directory on a free loopback port. Used by cluster_test.cc
// (routing and cross-daemon delivery) and chaos_test.cc (faults while
// traffic flows).
//
// Ownership: a Cluster owns tools/cluster (a Child) and the directory; the
// destructor stops tools/cluster, which stops everything it started,
// PostgreSQL included. Threading: one thread (the test's) starts, kills and
// stops; base_url() may be read from any thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "client.h"
#include "stack.h"

namespace parley::e2e {

struct ClusterOptions {
  int hosts = 2;
  // PARLEY_RESTART=1: tools/cluster starts a pool, daemon or nginx that
  // died again, as systemd would.
  bool restart = false;
  // PARLEY_PRESENCE_GRACE for every daemon: how long after a user's last
  // connection closes "offline" is announced (0: the daemons' default).
  int presence_grace_ms = 0;
  // PARLEY_NETNS=1: each host in a network namespace of its own, linked
  // over TCP, nginx and PostgreSQL in "front" (tools/cluster); needs root.
  // The test reaches nginx after EnterFront().
  bool netns = false;
  // PARLEY_HEARTBEAT: the daemons' SSE heartbeat in seconds (0: default).
  int heartbeat_s = 0;
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options = {}) : options_(options) {}
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;
  ~Cluster();

  // Starts tools/cluster and waits (bounded) until it is ready.
  bool Start(std::string* error);

  std::string var() const { return dir_->path() + "/var"; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  std::string daemon_socket(int i) const { return var() + "/events-" + std::to_string(i) + ".sock"; }
  std::string pool_socket(int i) const { return var() + "/fcgi-" + std::to_string(i) + ".sock"; }
  // Where a process of the cluster listens ("events-1", "fcgi-2"): a socket
  // path, or HOST:PORT in namespaces (from $PARLEY_VAR/cluster.addrs).
  std::string address_of(const std::string& name) const;

  // The pid that $PARLEY_VAR/cluster.pids names now (rewritten by
  // tools/cluster on every restart), or 0.
  pid_t Pid(const std::string& name) const;
  // SIGKILL to a process of the cluster ("events-1", "fcgi-2"): a crashed
  // host. Returns the pid killed (0 and a test failure if there was none).
  pid_t Kill(const std::string& name);
  // With restart on: until `name` runs under a pid other than `old` and its
  // socket accepts connections (bounded by `timeout`).
  bool WaitBack(const std::string& name, pid_t old, std::chrono::milliseconds timeout);
  // PostgreSQL restarted at once (tools/pg crash: pg_ctl restart -m
  // immediate); returns once it accepts connections again.
  bool CrashPostgres(std::string* error);
  // A client of the cluster through nginx, signed in with `token` if given.
  Client Api(const std::string& token = "") const;
  // A new account (through nginx); its session token, "" and a test
  // failure if the registration failed.
  std::string Register(const std::string& username) const;
  // With netns: moves the calling thread into the front namespace, where
  // nginx listens on 127.0.0.1:port(). Call it on the main thread before
  // any other thread starts: threads started later inherit it (setns(2)
  // changes only the calling thread).
  bool EnterFront(std::string* error);
  // With netns: host i's link to front down (Cut) or up (Heal), with
  // `tools/cluster cut|heal`. A cut link answers nothing, not even a reset.
  bool Cut(int host, std::string* error) { return Link("cut", host, error); }
  bool Heal(int host, std::string* error) { return Link("heal", host, error); }
  // The end of tools/cluster's output and of every process's log.
  std::string LogTail() const;
  // Each daemon's /events/stats (head, lag, read failures, connections),
  // asked of it directly, a line each: what a failed delivery check prints.
  std::string DaemonStats() const;
  // Whether every daemon's head reaches the database's within `within`
  // (bounded; nothing is committed meanwhile by the caller).
  bool DaemonsCaughtUp(std::chrono::milliseconds within) const;
  // GET `path` of daemon `host` (1-based) directly, bypassing nginx.
  Response DaemonGet(int host, const std::string& path) const;

 private:
  bool Link(const std::string& verb, int host, std::string* error);

  ClusterOptions options_;
  std::optional<TempDir> dir_;
  int port_ = 0;
  std::unique_ptr<Child> child_;
};

}  // namespace parley::e2e
