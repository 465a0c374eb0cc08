// The parley-fcgi worker pool under faults: a worker killed under load is
// replaced with no failed request, and SIGTERM drains in-flight requests
// before the master exits 0.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <future>
#include <thread>

#include "fixture.h"

namespace parley::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class PoolTest : public StackTest {
 protected:
  // Waits (bounded) until the master has exactly `n` live workers, none of
  // them in `excluded`.
  std::vector<pid_t> WaitForWorkers(size_t n, const std::vector<pid_t>& excluded,
                                    std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    std::vector<pid_t> w;
    while (true) {
      w = stack().FcgiWorkers();
      bool fresh = std::none_of(w.begin(), w.end(), [&](pid_t p) {
        return std::find(excluded.begin(), excluded.end(), p) != excluded.end();
      });
      if (w.size() == n && fresh) return w;
      if (Clock::now() >= deadline) return w;
      std::this_thread::sleep_for(20ms);
    }
  }
  // Waits (bounded) until every worker waits for a request: nothing is
  // being served, so the next worker to stop waiting takes our request.
  bool WaitUntilIdle(const std::vector<pid_t>& workers) {
    auto deadline = Clock::now() + 5s;
    while (Clock::now() < deadline) {
      if (std::all_of(workers.begin(), workers.end(), WaitingForRequests)) return true;
      std::this_thread::sleep_for(1ms);
    }
    return false;
  }
  // Waits (bounded) until a worker has stopped waiting for 2 ms, then
  // sends SIGTERM. Started from idle workers, only our requests can keep
  // one busy that long (a login hashes a password for tens of ms); a
  // single sample could catch a worker merely woken up.
  bool SigtermOnceAWorkerServes(const std::vector<pid_t>& workers, const std::atomic<bool>& done) {
    auto deadline = Clock::now() + 5s;
    std::optional<Clock::time_point> busy_since;
    while (!done.load() && Clock::now() < deadline) {
      if (std::all_of(workers.begin(), workers.end(), WaitingForRequests)) {
        busy_since.reset();
      } else if (!busy_since) {
        busy_since = Clock::now();
      } else if (Clock::now() - *busy_since >= 2ms) {
        stack().fcgi().Signal(SIGTERM);
        return true;
      }
      std::this_thread::sleep_for(100us);
    }
    return false;
  }
  // Messages in a room, counted by paging backwards through all of it.
  size_t CountMessages(User& u, int64_t room) {
    size_t count = 0;
    std::string query = "?limit=200";
    for (int pages = 0; pages < 1000; ++pages) {
      Response r = u->Get(RoomPath(room, "/messages") + query);
      if (r.status != 200) throw SetupError("history: " + r.Describe());
      Json j = r.json();
      count += j["messages"].size();
      if (!j["has_more"].boolean() || j["messages"].size() == 0) break;
      query = "?limit=200&before=" + std::to_string(j["messages"][size_t{0}]["id"].num());
    }
    return count;
  }
  // Four users sending into one room, each its own client_ids, for
  // `warmup`, then while `fault` runs and for `settle` after it. 201, or
  // 200 (nginx replayed a send whose first attempt had committed), is an
  // answer; anything else a failure.
  struct Load {
    int sent_before_fault = 0;
    int sent = 0;
    std::vector<std::string> failures;
    int64_t room = 0;
    User reader;
  };
  Load SendThrough(std::chrono::milliseconds warmup, const std::function<void()>& fault,
                   std::chrono::milliseconds settle) {
    constexpr int kThreads = 4;
    std::vector<User> users;
    for (int i = 0; i < kThreads; ++i) users.push_back(Register("load"));
    Load load;
    load.room = CreateRoom(users[0], "load", "public");
    for (int i = 1; i < kThreads; ++i) Join(users[i], load.room);

    std::atomic<bool> stop{false};
    std::mutex mu;
    std::atomic<int> sent{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        Client c(stack().base_url(), Client::Cookies::kOff);
        c.set_bearer(users[t].token);
        for (int n = 0; !stop.load(); ++n) {
          const std::string id = "t" + std::to_string(t) + "-" + std::to_string(n);
          Response r = c.Post(RoomPath(load.room, "/messages"),
                              "{\"text\":\"load " + id + "\",\"client_id\":\"" + id + "\"}");
          if (r.status != 201 && r.status != 200) {
            std::lock_guard<std::mutex> lock(mu);
            load.failures.push_back(id + ": " + r.Describe());
          }
          sent.fetch_add(1);
        }
      });
    }
    std::this_thread::sleep_for(warmup);
    load.sent_before_fault = sent.load();
    fault();
    std::this_thread::sleep_for(settle);
    stop = true;
    for (auto& th : threads) th.join();
    load.sent = sent.load();
    load.reader = std::move(users[0]);
    return load;
  }
  // The answer of request(), asked again every `every` until it has
  // `status`, for `within` at most: the last one.
  static Response AskUntil(const std::function<Response()>& request, long status, std::chrono::milliseconds every,
                           std::chrono::seconds within) {
    Response r;
    for (auto until = Clock::now() + within; Clock::now() < until;) {
      r = request();
      if (r.status == status) break;
      std::this_thread::sleep_for(every);
    }
    return r;
  }
  // An SQLite database's files (parley.db, its -wal and -shm where they
  // are) renamed from `from` to `to`, as an operator's mv does.
  static void MoveDatabase(const std::string& from, const std::string& to) {
    for (const char* suffix : {"", "-wal", "-shm"}) {
      if (access((from + suffix).c_str(), F_OK) != 0) continue;
      ASSERT_EQ(rename((from + suffix).c_str(), (to + suffix).c_str()), 0) << from << suffix;
    }
  }
  // A user with one message in a room of their own, and the pool's two
  // workers: where the storage fault tests start.
  struct Seeded {
    User user;
    int64_t room = 0;
    std::vector<pid_t> workers;
  };
  Seeded OneMessageInARoom() {
    Seeded s{Register("alice"), 0, {}};
    s.room = CreateRoom(s.user, "seeded", "public");
    Send(s.user, s.room, "before");
    s.workers = WaitForWorkers(2, {}, 5s);
    if (s.workers.size() != 2) throw SetupError("--workers 2: " + std::to_string(s.workers.size()) + " running");
    return s;
  }
  // The stack's SQLite database moved into a directory of its own, as an
  // operator's mv does; returns where it went.
  std::string MoveDatabaseAway() {
    const std::string moved = stack().dir() + "/moved";
    if (mkdir(moved.c_str(), 0700) != 0) throw SetupError("mkdir " + moved);
    MoveDatabase(stack().db_path(), moved + "/parley.db");
    return moved + "/parley.db";
  }
  // None of these in nginx's error log.
  void ExpectNginxLoggedNone(std::initializer_list<const char*> none_of) {
    std::string errors = ReadText(stack().dir() + "/nginx-error.log");
    for (const char* sign : none_of) EXPECT_EQ(errors.find(sign), std::string::npos) << sign << " in " << errors;
  }
  // Empties nginx's error log (it appends, O_APPEND): what the stack's
  // start wrote (a health probe before the socket existed) is not the
  // test's.
  void ForgetNginxErrors() { std::filesystem::resize_file(stack().dir() + "/nginx-error.log", 0); }
  // nginx never wrote to, or read from, a connection the pool had closed,
  // nor failed to connect, since ForgetNginxErrors(): the pool was there
  // for every request.
  void ExpectNginxMetNoClosedConnection() {
    ExpectNginxLoggedNone({"reset by peer", "prematurely closed", "Broken pipe", "connect() to"});
  }
  // Every send answered, progress after the fault, each stored once.
  void ExpectNoneLost(Load& load) {
    EXPECT_GT(load.sent_before_fault, 20) << "the load did not get going";
    EXPECT_GT(load.sent, load.sent_before_fault + 20) << "no progress after the fault";
    EXPECT_TRUE(load.failures.empty()) << load.failures.size() << " of " << load.sent
                                       << " requests failed; first: " << load.failures.front();
    // Exactly once: one stored message per send, replays included.
    EXPECT_EQ(CountMessages(load.reader, load.room), static_cast<size_t>(load.sent));
  }
};

TEST_F(PoolTest, KilledWorkerIsReplacedWithoutFailedRequests) {
  std::vector<pid_t> before = WaitForWorkers(2, {}, 5s);
  ASSERT_EQ(before.size(), 2u) << "--workers 2";
  const pid_t victim = before[0];
  Load load = SendThrough(1500ms, [&] { ASSERT_EQ(kill(victim, SIGKILL), 0); }, 2500ms);
  ExpectNoneLost(load);
  std::vector<pid_t> after = WaitForWorkers(2, {victim}, 5s);
  EXPECT_EQ(after.size(), 2u) << "the master must bring the pool back to 2 workers";
  EXPECT_EQ(std::find(after.begin(), after.end(), victim), after.end());
}

// nginx keeps its connections to the pool (fastcgi_keep_conn, upstream
// keepalive; fcgi/keeper.h): a hundred requests in a row open a handful of
// connections, not a hundred.
// A worker that commits a write and dies before it answers (the test hook
// PARLEY_TEST_DIE_AFTER_COMMIT, writer.h): nginx replays the request on
// another worker (fastcgi_next_upstream), and a send without client_id is
// stored once all the same, keyed by nginx's request id, which the replay
// carries again (schema/model.h). Before, the replay stored a second copy.
class ReplayTest : public PoolTest {
 protected:
  ReplayTest() {
    std::string error;
    marker_dir_ = TempDir::Make(&error);
    if (!marker_dir_) ADD_FAILURE() << error;
  }
  StackOptions Options() const override {
    StackOptions o;
    o.fcgi_env = {"PARLEY_TEST_DIE_AFTER_COMMIT=" + Marker()};
    return o;
  }
  std::string Marker() const { return marker_dir_ ? marker_dir_->path() + "/die" : "/nonexistent/die"; }
  // The next batch committed by a worker is its last before it answers.
  void DieAfterTheNextCommit() { std::ofstream(Marker()) << "die\n"; }

  std::optional<TempDir> marker_dir_;
};

TEST_F(ReplayTest, ASendWithoutClientIdReplayedAfterItsWorkerDiedIsStoredOnce) {
  ASSERT_EQ(WaitForWorkers(2, {}, 5s).size(), 2u);
  User alice = Register("alice");
  const int64_t room = CreateRoom(alice, Unique("replay"), "public");
  for (const char* body : {"{\"text\":\"once\"}", "{\"text\":\"also once\",\"client_id\":\"c-1\"}"}) {
    SCOPED_TRACE(body);
    DieAfterTheNextCommit();
    Response r = alice->Post(RoomPath(room, "/messages"), body);
    // nginx's replay found the message stored: 200, as a retry with a
    // client_id is answered; 201 only if the replay came first.
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.Describe();
    EXPECT_FALSE(std::filesystem::exists(Marker())) << "no worker committed, so none died";
    ASSERT_EQ(WaitForWorkers(2, {}, 5s).size(), 2u);
  }
  Response history = alice->Get(RoomPath(room, "/messages"));
  ASSERT_EQ(history.status, 200) << history.Describe();
  Json messages = history.json()["messages"];
  ASSERT_EQ(messages.size(), 2u) << messages.Dump();
  EXPECT_EQ(messages[size_t{0}]["text"].str(), "once");
  // The key is no client_id of the user's: never shown.
  EXPECT_FALSE(messages[size_t{0}].has("client_id")) << messages.Dump();
  EXPECT_EQ(messages[size_t{1}]["client_id"].str(), "c-1");
}

TEST_F(PoolTest, NginxKeepsItsConnectionsToThePoolAcrossRequests) {
  User alice = Register("alice");
  auto accepted = [&] {
    Response r = NewClient(Client::Cookies::kOff)->Get("/api/_stats");
    if (r.status != 200) throw SetupError("stats: " + r.Describe());
    return r.json()["connections_accepted"].num();
  };
  const int64_t before = accepted();
  for (int i = 0; i < 100; ++i) {
    Response r = alice->Get("/api/rooms");
    ASSERT_EQ(r.status, 200) << r.Describe();
  }
  const int64_t opened = accepted() - before;
  // One per nginx worker would do; a few more if one was busy when asked.
  EXPECT_LE(opened, 10) << "connections accepted for 101 requests";
}

// A rolling reload (SIGHUP) under load: each worker answers what it has,
// hands the connections nginx kept to it to its successor (fcgi/handoff.h)
// and is replaced. No request fails, none is stored twice, and nginx never
// met a closed connection. (When they were closed, 1 send in 4,446 was a
// 502 in one CI run: two stale connections in a row.)
TEST_F(PoolTest, ARollingReloadUnderLoadFailsNoRequest) {
  ForgetNginxErrors();
  std::vector<pid_t> before = WaitForWorkers(2, {}, 5s);
  ASSERT_EQ(before.size(), 2u) << "--workers 2";
  std::vector<pid_t> after;
  Load load = SendThrough(1s, [&] {
    stack().fcgi().Signal(SIGHUP);
    after = WaitForWorkers(2, before, 10s);
  }, 1s);
  EXPECT_EQ(after.size(), 2u) << "the master must replace both workers";
  ExpectNoneLost(load);
  ExpectNginxMetNoClosedConnection();
}

// The connections nginx keeps outlive a reload: the new workers answer on
// them, and nginx opens none. Without the handoff each nginx worker
// connects anew after it.
TEST_F(PoolTest, AReloadHandsNginxsConnectionsToTheNewWorkers) {
  auto stats = [&] {
    Response r = NewClient(Client::Cookies::kOff)->Get("/api/_stats");
    if (r.status != 200) throw SetupError("stats: " + r.Describe());
    return r.json();
  };
  // Twenty new clients: reuseport spreads them over both nginx workers
  // (all on one: 2 in a million), so each keeps a connection to the pool.
  auto requests = [&] {
    for (int i = 0; i < 20; ++i) {
      Response r = NewClient(Client::Cookies::kOff)->Get("/api/rooms");
      ASSERT_EQ(r.status, 401) << r.Describe();
    }
  };
  requests();
  std::vector<pid_t> before = WaitForWorkers(2, {}, 5s);
  ASSERT_EQ(before.size(), 2u) << "--workers 2";
  const Json was = stats();
  stack().fcgi().Signal(SIGHUP);
  std::vector<pid_t> after = WaitForWorkers(2, before, 10s);
  ASSERT_EQ(after.size(), 2u) << "the master must replace both workers";
  requests();
  // The reload ran the binary again (fcgi/reexec.h): its counters start
  // from zero.
  const Json now = stats();
  EXPECT_GE(was["connections_accepted"].num(), 2) << "one connection per nginx worker, at least";
  EXPECT_EQ(now["connections_accepted"].num(), 0) << "connections nginx opened after the reload";
  EXPECT_GE(now["connections_handed_over"].num(), 2) << "one kept connection per nginx worker, at least";
  std::string log = ReadText(stack().dir() + "/fcgi.log");
  EXPECT_NE(log.find("kept connection(s) to the next worker"), std::string::npos) << log;
}

// A reload while another process holds SQLite's write lock for seconds (an
// operator's `BEGIN IMMEDIATE` in the sqlite3 shell): the new image's
// start-up migration finds the schema current without the lock
// (schema/migrate.h), so the pool goes on. Reads answer throughout, and
// writes once the lock is gone. Before, the migration waited for the lock,
// failed busy and the master exited: every request a 502 from then on.
TEST_F(PoolTest, AReloadWhileAnotherProcessHoldsTheWriteLockKeepsServing) {
  PARLEY_E2E_SQLITE_ONLY();
  std::string error;
  if (RunToCompletion({{"/bin/sh", "-c", "command -v sqlite3"}, {}, ""}, 10s, &error) != 0) {
    GTEST_SKIP() << "no sqlite3 shell";
  }
  auto [alice, room, before] = OneMessageInARoom();
  // Holds the lock 6 s: longer than the busy timeout (5 s).
  const std::string marker = stack().dir() + "/locked";
  auto holder = Child::Spawn({{"/bin/sh", "-c",
                               "(echo 'BEGIN IMMEDIATE;'; echo \".shell touch " + marker + "\"; sleep 6; "
                               "echo 'COMMIT;') | sqlite3 " + stack().db_path()},
                              {}, stack().dir() + "/sqlite3.log"},
                             &error);
  ASSERT_NE(holder, nullptr) << error;
  for (auto until = Clock::now() + 5s; Clock::now() < until && access(marker.c_str(), F_OK) != 0;) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(access(marker.c_str(), F_OK), 0) << "the sqlite3 shell did not take the lock";
  const auto reloaded_at = Clock::now();
  stack().fcgi().Signal(SIGHUP);
  std::vector<pid_t> after = WaitForWorkers(2, before, 10s);
  EXPECT_EQ(after.size(), 2u) << "the master must replace both workers\n" << stack().LogTail();
  // Reads while the lock is still held.
  int reads = 0;
  while (holder->Running() && Clock::now() - reloaded_at < 5s) {
    Response r = alice->Get(RoomPath(room, "/messages"));
    EXPECT_EQ(r.status, 200) << r.Describe();
    ++reads;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_GT(reads, 0) << "the lock went before a read could be made";
  ASSERT_TRUE(holder->WaitFor(10s).has_value()) << "the sqlite3 shell did not end";
  ASSERT_TRUE(stack().fcgi().Running()) << stack().LogTail();
  Response sent = alice->Post(RoomPath(room, "/messages"), "{\"text\":\"after\"}");
  EXPECT_EQ(sent.status, 201) << sent.Describe();
  EXPECT_EQ(alice->Get(RoomPath(room, "/messages")).status, 200);
  EXPECT_EQ(CountMessages(alice, room), 2u);
}

// A worker (re)started while the SQLite file is gone (moved away, deleted)
// creates no database of its own: it answers every request 503
// storage_unavailable, in JSON, and once the file is back it opens it and
// serves it. Before, it created an empty parley.db beside and answered
// every request 500 ("no such table").
TEST_F(PoolTest, AWorkerStartedWhileTheDatabaseIsGoneCreatesNoneAndAnswers503UntilItIsBack) {
  PARLEY_E2E_SQLITE_ONLY();
  auto [alice, room, before] = OneMessageInARoom();
  const std::string db = stack().db_path();
  const std::string moved = MoveDatabaseAway();
  for (pid_t w : before) ASSERT_EQ(kill(w, SIGKILL), 0);
  std::vector<pid_t> after = WaitForWorkers(2, before, 10s);
  ASSERT_EQ(after.size(), 2u) << "the master must replace both workers";
  auto health = [&] { return NewClient(Client::Cookies::kOff)->Get("/api/health"); };
  Response r = AskUntil(health, 503, 100ms, 10s);
  EXPECT_EQ(r.status, 503) << r.Describe();
  EXPECT_EQ(r.ErrorCode(), "storage_unavailable") << r.Describe();
  EXPECT_FALSE(r.Header("retry-after").empty()) << r.Describe();
  for (int i = 0; i < 5; ++i) {
    r = alice->Post(RoomPath(room, "/messages"), "{\"text\":\"while gone\"}");
    EXPECT_EQ(r.status, 503) << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "storage_unavailable") << r.Describe();
  }
  EXPECT_NE(access(db.c_str(), F_OK), 0) << "a worker created a database at " << db;
  EXPECT_NE(access((db + "-wal").c_str(), F_OK), 0);
  EXPECT_NE(ReadText(stack().dir() + "/fcgi.log").find("answering 503 until it opens"), std::string::npos);

  // Back: served again within a few attempts (one a second at most).
  MoveDatabase(moved, db);
  r = AskUntil([&] { return alice->Post(RoomPath(room, "/messages"), "{\"text\":\"after\"}"); }, 201, 200ms, 10s);
  EXPECT_EQ(r.status, 201) << r.Describe();
  r = AskUntil(health, 200, 200ms, 10s);
  EXPECT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(CountMessages(alice, room), 2u) << "the message from before, and the one after";
}

// On PostgreSQL: a worker (re)started while it cannot connect (the server
// at its max_connections or down; here its socket is gone) answers every
// request 503 busy at once, and serves once it connects. Before, it exited
// and the master started another each second, while the requests waited in
// the listening socket's backlog, which accepts them, until nginx's read
// timeout: 504 after 30 s.
class PoolPgConnectTest : public PoolTest {
 protected:
  StackOptions Options() const override {
    StackOptions o = PoolTest::Options();
    o.pg_through_link = true;
    return o;
  }
};

TEST_F(PoolPgConnectTest, AWorkerThatCannotConnectAtItsStartAnswers503AtOnceUntilItCan) {
  if (!OnPostgres()) GTEST_SKIP() << "PostgreSQL only";
  auto [alice, room, before] = OneMessageInARoom();
  ASSERT_TRUE(stack().SetPostgresReachable(false));
  for (pid_t w : before) ASSERT_EQ(kill(w, SIGKILL), 0);
  std::vector<pid_t> after = WaitForWorkers(2, before, 10s);
  ASSERT_EQ(after.size(), 2u) << "the master must replace both workers";
  for (int i = 0; i < 3; ++i) {
    const Clock::time_point asked = Clock::now();
    Response r = alice->Post(RoomPath(room, "/messages"), "{\"text\":\"while cut\"}");
    EXPECT_EQ(r.status, 503) << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "busy") << r.Describe();
    EXPECT_FALSE(r.Header("retry-after").empty()) << r.Describe();
    EXPECT_LT(Clock::now() - asked, 5s) << "a request waited for a worker that could not serve it";
  }
  Response health = NewClient(Client::Cookies::kOff)->Get("/api/health");
  EXPECT_EQ(health.status, 503) << health.Describe();
  EXPECT_EQ(WaitForWorkers(2, {}, 1s), after) << "the same workers throughout: none exited";
  EXPECT_NE(ReadText(stack().dir() + "/fcgi.log").find("answering 503 until it opens"), std::string::npos);

  ASSERT_TRUE(stack().SetPostgresReachable(true));
  Response r = AskUntil([&] { return alice->Post(RoomPath(room, "/messages"), "{\"text\":\"after\"}"); }, 201,
                        200ms, 10s);
  EXPECT_EQ(r.status, 201) << r.Describe();
  EXPECT_EQ(CountMessages(alice, room), 2u) << "the message from before, and the one after";
}

// A database moved away under running workers: every write is refused
// 503 storage_unavailable (each send to both workers), none answered 201
// into the file that is gone, and once it is back the same workers write
// again. Before, the sends were answered 201 into the moved file's inode:
// acknowledged, and lost with it had it been deleted. /api/health answers
// 503 meanwhile (it said ok).
TEST_F(PoolTest, ADatabaseMovedUnderRunningWorkersTakesNoWriteUntilItIsBack) {
  PARLEY_E2E_SQLITE_ONLY();
  auto [alice, room, workers] = OneMessageInARoom();
  const std::string db = stack().db_path();
  // A poll held by parley-events from its head on, for up to 25 s.
  Response head = alice->Get("/events/poll?since=0&timeout=1");
  ASSERT_EQ(head.status, 200) << head.Describe();
  const std::string from_head = "/events/poll?since=" + std::to_string(head.json()["next"].num());
  auto held = std::async(std::launch::async, [&, token = alice.token] {
    Client c(stack().base_url(), Client::Cookies::kOff);
    c.set_bearer(token);
    const auto start = Clock::now();
    Response r = c.Get(from_head + "&timeout=25");
    return std::make_pair(r, Clock::now() - start);
  });
  std::this_thread::sleep_for(300ms);
  const std::string moved = MoveDatabaseAway();
  for (int i = 0; i < 6; ++i) {
    Response r = alice->Post(RoomPath(room, "/messages"), "{\"text\":\"while moved\"}");
    EXPECT_EQ(r.status, 503) << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "storage_unavailable") << r.Describe();
  }
  // Health says so too, on each worker (it said ok: reads go on from the
  // file the workers have open, and a balancer kept sending writes here).
  for (int i = 0; i < 4; ++i) {
    Response health = NewClient(Client::Cookies::kOff)->Get("/api/health");
    EXPECT_EQ(health.status, 503) << health.Describe();
    EXPECT_EQ(health.ErrorCode(), "storage_unavailable") << health.Describe();
  }
  // And reads: they were answered from the file the workers had open.
  for (int i = 0; i < 4; ++i) {
    Response r = alice->Get(RoomPath(room, "/messages"));
    EXPECT_EQ(r.status, 503) << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "storage_unavailable") << r.Describe();
  }
  // parley-events ends what it holds within its one-second tick (it held
  // the poll to its timeout, reading the old file), and refuses more.
  auto [ended, after] = held.get();
  EXPECT_EQ(ended.status, 200) << ended.Describe();
  EXPECT_LT(after, 5s) << "the held poll ended with the move, not at its 25 s timeout";
  Response refused = alice->Get(from_head + "&timeout=1");
  EXPECT_EQ(refused.status, 503) << refused.Describe();
  EXPECT_EQ(refused.ErrorCode(), "storage_unavailable") << refused.Describe();
  MoveDatabase(moved, db);
  Response again = alice->Get(from_head + "&timeout=1");
  EXPECT_EQ(again.status, 200) << again.Describe();
  EXPECT_EQ(NewClient(Client::Cookies::kOff)->Get("/api/health").status, 200);
  EXPECT_EQ(CountMessages(alice, room), 1u) << "reads are answered again";
  Response r = alice->Post(RoomPath(room, "/messages"), "{\"text\":\"after\"}");
  EXPECT_EQ(r.status, 201) << r.Describe();
  EXPECT_EQ(CountMessages(alice, room), 2u) << "the message from before, and the one after";
  EXPECT_EQ(WaitForWorkers(2, {}, 1s), workers) << "the same workers throughout";
}

// The writer queue's gauge (queue_depth) comes back to 0 after workers
// were killed with writes queued: the master takes a dead worker's count
// out when it reaps it (fcgi/metrics.h). Before, each kill left what was
// queued counted for good.
TEST_F(PoolTest, QueueDepthComesBackToZeroAfterWorkersAreKilledWithWritesQueued) {
  // -1 when the stats cannot be read (a worker killed under the request):
  // no throw from inside SendThrough's fault, whose senders still run.
  auto depth = [&]() -> int64_t {
    Response r = NewClient(Client::Cookies::kOff)->Get("/api/_stats");
    return r.status == 200 ? r.json()["queue_depth"].num() : -1;
  };
  int kills = 0;
  Load load = SendThrough(500ms, [&] {
    // A kill of both workers whenever writes are seen queued, a few times.
    for (auto until = Clock::now() + 6s; Clock::now() < until && kills < 3;) {
      if (depth() > 0) {
        for (pid_t w : stack().FcgiWorkers()) kill(w, SIGKILL);
        ++kills;
        WaitForWorkers(2, {}, 5s);
        std::this_thread::sleep_for(300ms);
      }
    }
  }, 500ms);
  ASSERT_GT(kills, 0) << "no write was ever seen queued";
  int64_t left = -1;
  for (auto until = Clock::now() + 5s; Clock::now() < until;) {
    left = depth();
    if (left == 0) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(left, 0) << "queue_depth on an idle pool, after " << kills << " kill(s) of both workers";
}

// A reload runs the binary installed at the time (fcgi/reexec.h): the
// master execs it in place, with the same pid and socket and nginx's
// connections, so an upgrade is `install` and a SIGHUP.
class PoolUpgradeTest : public PoolTest {
 protected:
  PoolUpgradeTest() {
    std::string error;
    copy_ = BinaryCopy::Make(PARLEY_FCGI_BIN, "parley-fcgi", &error);
    if (!copy_) ADD_FAILURE() << error;
  }
  StackOptions Options() const override {
    StackOptions o = PoolTest::Options();
    if (copy_) o.fcgi_binary = binary();
    return o;
  }
  std::string binary() const { return copy_->path(); }
  void Install() { copy_->Install(PARLEY_FCGI_BIN); }
  ino_t Running() { return RunningInode(stack().fcgi().pid()); }

  std::optional<BinaryCopy> copy_;
};

TEST_F(PoolUpgradeTest, AReloadRunsTheBinaryInstalledNowAndFailsNoRequest) {
  ForgetNginxErrors();
  const pid_t master = stack().fcgi().pid();
  std::vector<pid_t> before = WaitForWorkers(2, {}, 5s);
  ASSERT_EQ(before.size(), 2u) << "--workers 2";
  const ino_t started_with = Running();
  ASSERT_EQ(started_with, InodeOf(binary()));
  std::vector<pid_t> after;
  Load load = SendThrough(1s, [&] {
    Install();
    stack().fcgi().Signal(SIGHUP);
    after = WaitForWorkers(2, before, 10s);
  }, 1s);
  EXPECT_EQ(after.size(), 2u) << "the master must start two workers of the new binary";
  ASSERT_TRUE(stack().fcgi().Running());
  EXPECT_EQ(stack().fcgi().pid(), master);
  EXPECT_NE(InodeOf(binary()), started_with) << "the test did not install a new file";
  EXPECT_EQ(Running(), InodeOf(binary())) << "the master runs the binary it was started with, not the one installed";
  ExpectNoneLost(load);
  ExpectNginxMetNoClosedConnection();
  std::string log = ReadText(stack().dir() + "/fcgi.log");
  EXPECT_NE(log.find("(kept across the reload)"), std::string::npos) << log;
}

// A binary that cannot be run (removed here) leaves the running one in
// place: the reload forks new workers of it, and says why.
TEST_F(PoolUpgradeTest, AReloadWhoseBinaryIsGoneGoesOnWithTheRunningOne) {
  std::vector<pid_t> before = WaitForWorkers(2, {}, 5s);
  ASSERT_EQ(before.size(), 2u) << "--workers 2";
  const ino_t started_with = Running();
  ASSERT_EQ(unlink(binary().c_str()), 0);
  stack().fcgi().Signal(SIGHUP);
  std::vector<pid_t> after = WaitForWorkers(2, before, 10s);
  EXPECT_EQ(after.size(), 2u) << "the master must replace both workers";
  User u = Register("after");
  EXPECT_FALSE(u.token.empty());
  EXPECT_EQ(Running(), started_with);
  std::string log = ReadText(stack().dir() + "/fcgi.log");
  EXPECT_NE(log.find("going on with the binary running"), std::string::npos) << log;
}

// The stop tests catch a login inside a worker, so a login must take long
// enough to be seen: argon2id at the cost a deployment has (tens of ms),
// not the tests' minimum cost, with which a kept-alive connection's login
// was over in about a millisecond and no attempt was ever caught.
class PoolStopTest : public PoolTest {
 protected:
  StackOptions Options() const override {
    StackOptions o = PoolTest::Options();
    o.fast_passwords = false;
    return o;
  }
};

// One login (a password hash: the slowest request there is) is inside a
// worker when the master gets SIGTERM. It completes; then the master exits 0
// and takes its workers with it.
TEST_F(PoolStopTest, SigtermDrainsTheRequestInFlightAndExitsZero) {
  User alice = Register("alice");
  std::vector<pid_t> workers = WaitForWorkers(2, {}, 5s);
  ASSERT_EQ(workers.size(), 2u);

  Response login;
  bool signalled = false;
  // Logins are fast; try a few times until one is caught inside a worker.
  for (int attempt = 0; attempt < 10 && !signalled; ++attempt) {
    ASSERT_TRUE(WaitUntilIdle(workers)) << "workers never went idle";
    std::atomic<bool> done{false};
    std::thread t([&] {
      Client c(stack().base_url(), Client::Cookies::kOff);
      login = c.Post("/api/login", "{\"username\":" + Quote(alice.name) +
                                       ",\"password\":" + Quote(kPassword) + "}");
      done = true;
    });
    signalled = SigtermOnceAWorkerServes(workers, done);
    t.join();
    if (!signalled) {
      ASSERT_EQ(login.status, 200) << login.Describe();
    }
  }
  ASSERT_TRUE(signalled) << "never caught a login inside a worker";

  EXPECT_EQ(login.status, 200) << "the request in flight at SIGTERM: " << login.Describe();
  EXPECT_FALSE(login.json()["token"].str().empty()) << login.body;

  auto status = stack().fcgi().WaitFor(5s);
  ASSERT_TRUE(status.has_value()) << "the master did not exit within 5 s of SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status)) << "killed by signal " << WTERMSIG(*status);
  EXPECT_EQ(WEXITSTATUS(*status), 0);
  auto deadline = Clock::now() + 3s;
  bool workers_gone = false;
  while (!workers_gone && Clock::now() < deadline) {
    workers_gone = std::all_of(workers.begin(), workers.end(),
                               [](pid_t p) { return ProcessState(p) == '?' || ProcessState(p) == 'Z'; });
    if (!workers_gone) std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(workers_gone) << "workers outlived their master";

  // With the pool gone, nginx answers for it, as JSON.
  Response r = NewClient()->Get("/api/health");
  EXPECT_EQ(r.status, 502) << r.Describe();
  EXPECT_EQ(r.ErrorCode(), "unavailable") << r.body;
}

// Many logins at once against two workers: when SIGTERM lands, some are
// inside workers, some queued in the socket's backlog, some not yet sent on
// by nginx. The first two kinds are answered; the last are refused cleanly
// (the socket path is gone: 502 unavailable). None may be reset, which is
// what happens to a queued connection when its listening socket closes.
TEST_F(PoolStopTest, SigtermAnswersQueuedRequestsAndRefusesOnlyNewOnes) {
  constexpr int kLogins = 10;
  // One account per login: each worker serves many requests at once, and
  // parallel logins to one account count as failures until checked
  // (store_login.cc), so ten at once would throttle each other.
  std::vector<User> users;
  for (int i = 0; i < kLogins; ++i) users.push_back(Register("alice"));
  std::vector<pid_t> workers = WaitForWorkers(2, {}, 5s);
  ASSERT_EQ(workers.size(), 2u);

  ASSERT_TRUE(WaitUntilIdle(workers)) << "workers never went idle";
  std::vector<Response> logins(kLogins);
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kLogins; ++i) {
    threads.emplace_back([&, i] {
      Client c(stack().base_url(), Client::Cookies::kOff);
      logins[i] = c.Post("/api/login", "{\"username\":" + Quote(users[i].name) +
                                           ",\"password\":" + Quote(kPassword) + "}");
    });
  }
  bool signalled = SigtermOnceAWorkerServes(workers, done);
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(signalled) << "no worker ever took a login";

  int ok = 0;
  for (const Response& r : logins) {
    if (r.status == 200) {
      ++ok;
      EXPECT_FALSE(r.json()["token"].str().empty()) << r.body;
    } else {
      EXPECT_EQ(r.status, 502) << r.Describe();
      EXPECT_EQ(r.ErrorCode(), "unavailable") << r.body;
    }
  }
  EXPECT_GE(ok, 1) << "no login was in flight at SIGTERM";
  auto status = stack().fcgi().WaitFor(5s);
  ASSERT_TRUE(status.has_value()) << "the master did not exit within 5 s of SIGTERM";
  EXPECT_EQ(WEXITSTATUS(*status), 0);

  // A refused login is nginx failing to connect, never a reset.
  ExpectNginxLoggedNone({"reset by peer", "prematurely closed"});
}

}  // namespace
}  // namespace parley::e2e
