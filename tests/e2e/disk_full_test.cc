// A full disk (SQLite; PostgreSQL at the end): the stack's directory is a small tmpfs
// (StackOptions::disk_bytes) that the test fills with a file until the
// kernel answers ENOSPC, as a log or a backup filling the data volume of a
// real server does. What must hold:
// - a write that cannot be stored is answered 503 `storage_full` with a
//   Retry-After, in JSON, never 500, never a crash or a hang of a worker;
// - a write answered 2xx is stored, and reaches subscribers once;
// - reads and streams go on;
// - once space is freed, writes succeed again without a restart.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "events_fixture.h"

namespace parley::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Writes zeros to `path` until its disk has no block left.
void FillDisk(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  const std::string chunk(64 << 10, '\0');
  int err = 0;
  for (int i = 0; i < 100000 && err == 0; ++i) {  // 6 GiB at most: the tmpfs is far smaller
    size_t done = 0;
    while (done < chunk.size()) {
      ssize_t n = write(fd, chunk.data() + done, chunk.size() - done);
      if (n < 0) {
        err = errno;
        break;
      }
      done += static_cast<size_t>(n);
    }
  }
  close(fd);
  ASSERT_EQ(err, ENOSPC) << "the disk did not fill: " << std::strerror(err);
}

// The answer is the JSON refusal a full disk must give.
void ExpectStorageFull(const Response& r) {
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.json()["error"]["code"].str(), "storage_full") << r.body;
  EXPECT_FALSE(r.Header("retry-after").empty()) << r.body;
}

// POSTs "after" into the room until the answer is not 503 (space freed,
// the database back), within `within`; that answer.
Response SendOnceWritable(User& u, int64_t room, std::chrono::seconds within) {
  Response r;
  for (const auto until = Clock::now() + within; Clock::now() < until;) {
    r = u->Post(RoomPath(room, "/messages"), "{\"text\":\"after\"}");
    if (r.status != 503) break;
    std::this_thread::sleep_for(100ms);
  }
  return r;
}

class DiskFullTest : public EventsTest {
 protected:
  StackOptions Options() const override {
    StackOptions o = EventsTest::Options();
    o.disk_bytes = 48 << 20;  // the database the tests make, a WAL at its 4 MiB bound, and room to spare
    return o;
  }
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "a tmpfs mount needs root";
    EventsTest::SetUp();
  }

  std::string FillerPath() { return stack().dir() + "/filler"; }
  void Fill() { FillDisk(FillerPath()); }
  void Unfill() { ASSERT_EQ(unlink(FillerPath().c_str()), 0) << std::strerror(errno); }

  // Every acknowledged send (ascending) is stored once and was pushed once,
  // in order; the file is sound, and no worker died on the way.
  void ExpectEachStoredAndPushedOnce(SseStream& stream, int64_t room, const std::vector<int64_t>& acknowledged,
                                     const std::vector<pid_t>& workers) {
    ASSERT_TRUE(stream.WaitForId(acknowledged.back(), 10s));
    EXPECT_EQ(MessageIds(stream.Events(), room), acknowledged);
    std::istringstream stored(
        Sql("SELECT id FROM messages WHERE room_id = " + std::to_string(room) + " ORDER BY id"));
    std::vector<int64_t> ids;
    for (int64_t id; stored >> id;) ids.push_back(id);
    EXPECT_EQ(ids, acknowledged);
    EXPECT_EQ(Sql("PRAGMA integrity_check"), "ok\n");
    EXPECT_EQ(stack().FcgiWorkers(), workers);
    ExpectHealthy();
  }
};

TEST_F(DiskFullTest, WritesAreRefused503WhileFullAndResumeWithNothingAcknowledgedLost) {
  User alice = Register("full");
  const int64_t room = CreateRoom(alice, "full", "public");
  auto stream = Subscribe(alice.token);
  const std::vector<pid_t> workers = stack().FcgiWorkers();

  std::vector<int64_t> acknowledged;
  for (int i = 0; i < 10; ++i) acknowledged.push_back(Send(alice, room, "before " + std::to_string(i))["id"].num());

  Fill();
  // The WAL may have room left in blocks it already holds: sends go on
  // until a commit needs a new one. Long texts find that point sooner.
  const std::string text(2000, 'w');
  int refused = 0, in_a_row = 0;
  const auto until = Clock::now() + 30s;
  for (int n = 0; in_a_row < 3 && Clock::now() < until; ++n) {
    Response r = alice->Post(RoomPath(room, "/messages"), "{\"text\":\"" + text + std::to_string(n) + "\"}");
    if (r.status == 201) {
      acknowledged.push_back(r.json()["message"]["id"].num());
      in_a_row = 0;
      continue;
    }
    ExpectStorageFull(r);
    if (r.status != 503) break;
    ++refused;
    ++in_a_row;
  }
  ASSERT_EQ(in_a_row, 3) << "sends were not refused within 30 s; " << refused << " refused\n" << stack().LogTail();

  // Reads go on.
  Response history = alice->Get(RoomPath(room, "/messages") + "?limit=5");
  EXPECT_EQ(history.status, 200) << history.body;
  EXPECT_EQ(history.json()["messages"][size_t{4}]["id"].num(), acknowledged.back()) << history.body;
  EXPECT_EQ(alice->Get("/api/rooms").status, 200);
  // Other writes are refused the same way: a registration, a login (a new
  // session), a room.
  Client anon(stack().base_url(), Client::Cookies::kOff);
  ExpectStorageFull(anon.Post("/api/register", "{\"username\":\"" + Unique("late") + "\",\"password\":\"" +
                                                   std::string(kPassword) + "\"}"));
  ExpectStorageFull(anon.Post("/api/login", "{\"username\":\"" + alice.name + "\",\"password\":\"" +
                                                std::string(kPassword) + "\"}"));
  ExpectStorageFull(alice->Post("/api/rooms", "{\"name\":\"" + Unique("r") + "\",\"kind\":\"public\"}"));

  Unfill();
  // Writes succeed again, with no restart.
  const Response after = SendOnceWritable(alice, room, 10s);
  ASSERT_EQ(after.status, 201) << after.body;
  acknowledged.push_back(after.json()["message"]["id"].num());

  ExpectEachStoredAndPushedOnce(*stream, room, acknowledged, workers);
}

// Senders on every worker while the disk fills and empties three times:
// batches of several writes fail together, checkpoints fail and are tried
// again, and still every answer is a 201 that is stored or a 503 that is not.
TEST_F(DiskFullTest, UnderLoadEveryWriteIsStoredAndPushedOrRefused503) {
  constexpr int kSenders = 4;
  std::vector<User> users;
  for (int i = 0; i < kSenders; ++i) users.push_back(Register("load"));
  const int64_t room = CreateRoom(users[0], "load", "public");
  for (int i = 1; i < kSenders; ++i) Join(users[i], room);
  auto stream = Subscribe(users[0].token);
  const std::vector<pid_t> workers = stack().FcgiWorkers();

  std::atomic<bool> done{false};
  std::mutex mu;
  std::set<int64_t> acknowledged;
  std::vector<std::string> wrong;  // answers that are neither
  std::atomic<int> refused{0};
  std::vector<std::thread> senders;
  for (int t = 0; t < kSenders; ++t) {
    senders.emplace_back([&, t] {
      // Short: what the senders store must leave the disk room to spare
      // at the end, when the test reads the database with the shell.
      const std::string text(100, static_cast<char>('a' + t));
      for (int n = 0; !done.load(); ++n) {
        Response r = users[t]->Post(RoomPath(room, "/messages"), "{\"text\":\"" + text + std::to_string(n) + "\"}");
        std::lock_guard<std::mutex> lock(mu);
        if (r.status == 201) {
          acknowledged.insert(r.json()["message"]["id"].num());
        } else if (r.status == 503 && r.json()["error"]["code"].str() == "storage_full") {
          ++refused;
        } else if (wrong.size() < 5) {
          wrong.push_back(std::to_string(r.status) + " " + r.body);
        }
      }
    });
  }
  // Each time long enough for the WAL to pass its checkpoint's bound (1,000
  // frames) and for a checkpoint to fail, and then to be tried again
  // (Db::kCheckpointRetryMs) and succeed.
  for (int cycle = 0; cycle < 3; ++cycle) {
    std::this_thread::sleep_for(500ms);
    Fill();
    std::this_thread::sleep_for(500ms);
    Unfill();
  }
  std::this_thread::sleep_for(1500ms);
  done = true;
  for (std::thread& t : senders) t.join();

  // The WAL kept its bound (wal_test.cc): while a checkpoint could not
  // grow the database file, no write took the space freed.
  struct stat wal {};
  ASSERT_EQ(stat((stack().db_path() + "-wal").c_str(), &wal), 0);
  EXPECT_LT(wal.st_size, 6 << 20) << "the WAL grew to " << wal.st_size << " bytes";
  EXPECT_TRUE(wrong.empty()) << wrong.size() << " answers neither 201 nor 503 storage_full, first: " << wrong[0];
  EXPECT_GT(refused.load(), 0);
  ASSERT_FALSE(acknowledged.empty());
  std::printf("%zu sends stored, %d refused\n", acknowledged.size(), refused.load());
  ExpectEachStoredAndPushedOnce(*stream, room, std::vector<int64_t>(acknowledged.begin(), acknowledged.end()),
                                workers);
}

// nginx writes an upload to its spool before the worker sees it (DESIGN
// 3.2); on a full disk that write fails, and the answer is the same JSON.
TEST_F(DiskFullTest, AnUploadIsRefusedInJsonAndLeavesNoFile) {
  User alice = Register("up");
  Fill();
  Response full = alice->Post("/api/uploads?name=a.bin", std::string(300 << 10, 'x'),
                              {"Content-Type: application/octet-stream"});
  ExpectStorageFull(full);
  // nginx's own answer, with the server's headers (an add_header of its
  // location's own once dropped them) and when to try again.
  EXPECT_EQ(full.Header("x-content-type-options"), "nosniff");
  EXPECT_FALSE(full.Header("content-security-policy").empty());
  EXPECT_EQ(full.Header("retry-after"), "10");
  // nginx removes its partial spool file as it ends the request, which
  // may be just after the answer has gone out.
  // Nothing but the uploads directory's mark (schema/uploads_mark.h).
  auto empty = [&](const char* d) {
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(stack().dir() + d, ec)) {
      if (e.path().filename().string()[0] != '.') return false;
    }
    return true;
  };
  for (const auto until = Clock::now() + 5s; !(empty("/spool") && empty("/uploads")) && Clock::now() < until;) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_TRUE(empty("/spool")) << "a spooled part was left";
  EXPECT_TRUE(empty("/uploads"));
  Unfill();
  Response ok = alice->Post("/api/uploads?name=a.bin", std::string(300 << 10, 'x'),
                            {"Content-Type: application/octet-stream"});
  EXPECT_EQ(ok.status, 201) << ok.body;
  ExpectHealthy();
}

// PostgreSQL on a cluster of the test's own (tools/pg) in a tmpfs of its
// own, which the test can fill or stop. A full disk: a table or index that
// needs a page more fails with SQLSTATE 53100 disk_full ("could not extend
// file"), which must be 503 storage_full as on SQLite (schema/pg/conn.cc).
// A disk I/O error (SQLite's SQLITE_IOERR_*): the WAL made immutable under
// the running pool (chattr +i: each write to it then fails EPERM, as a
// failing disk's does EIO). A write is answered 503 `storage_unavailable`
// with a Retry-After, in JSON, never 500 `internal`; reads go on; once the
// file is writable again, writes succeed with no restart. Needs root and a
// file system with the attribute (ext4, xfs; not tmpfs): skipped otherwise.
class StorageErrorTest : public StackTest {};

TEST_F(StorageErrorTest, AnIoErrorIs503StorageUnavailableAndWritesResumeOnceMended) {
  PARLEY_E2E_SQLITE_ONLY();
  User alice = Register("alice");
  const int64_t room = CreateRoom(alice, "io", "public");
  Send(alice, room, "before");
  const std::string wal = stack().db_path() + "-wal";
  ASSERT_EQ(access(wal.c_str(), F_OK), 0) << "no WAL file";
  std::string error;
  auto chattr = [&](const char* flag) { return RunToCompletion({{"chattr", flag, wal}, {}, ""}, 10s, &error); };
  if (chattr("+i") != 0) GTEST_SKIP() << "chattr +i on the WAL failed (not root, or no such attribute here): " << error;
  // Mended however the test ends: the directory must be removable.
  struct Mend {
    std::function<void()> undo;
    ~Mend() { undo(); }
  } mend{[&] { (void)chattr("-i"); }};
  for (int i = 0; i < 3; ++i) {
    Response r = alice->Post(RoomPath(room, "/messages"), "{\"text\":\"while failing\"}");
    EXPECT_EQ(r.status, 503) << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "storage_unavailable") << r.Describe();
    EXPECT_FALSE(r.Header("retry-after").empty()) << r.Describe();
    EXPECT_EQ(r.body.find("parley.db"), std::string::npos) << "the path is the log's, not the client's: " << r.body;
  }
  EXPECT_EQ(alice->Get(RoomPath(room, "/messages")).status, 200);
  ASSERT_EQ(chattr("-i"), 0) << error;
  Response r = SendOnceWritable(alice, room, 10s);
  EXPECT_EQ(r.status, 201) << r.Describe();
  EXPECT_NE(ReadText(stack().dir() + "/fcgi.log").find("I/O error"), std::string::npos)
      << "the log names the cause";
}

class OwnPgClusterTest : public StackTest {
 protected:
  StackOptions Options() const override {
    StackOptions o = StackTest::Options();
    o.backend = Backend::kPostgresql;
    return o;
  }
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "a tmpfs mount needs root";
    std::string error;
    disk_ = TempDir::Make(&error);
    ASSERT_TRUE(disk_) << error;
    // A new cluster takes about 40 MB; the rest is what the test fills.
    ASSERT_TRUE(disk_->MountTmpfs(96 << 20, &error)) << error;
    ASSERT_EQ(chmod(disk_->path().c_str(), 0711), 0);  // as root, the server runs as postgres
    const int rc = Pg("start");
    if (rc == 4) GTEST_SKIP() << "the PostgreSQL server is not installed";
    ASSERT_EQ(rc, 0) << "tools/pg start: " << ReadText(disk_->path() + "/pg.log");
    cluster_up_ = true;
    if (const char* was = std::getenv("PARLEY_TEST_PG_DIR")) saved_env_ = was;
    setenv("PARLEY_TEST_PG_DIR", (disk_->path() + "/pg").c_str(), 1);
    StackTest::SetUp();
  }
  void TearDown() override {
    StackTest::TearDown();
    if (saved_env_) {
      setenv("PARLEY_TEST_PG_DIR", saved_env_->c_str(), 1);
    } else {
      unsetenv("PARLEY_TEST_PG_DIR");
    }
    if (cluster_up_) Pg("stop");
  }
  // tools/pg VERB on the cluster; its exit code.
  int Pg(const std::string& verb) {
    Child::Options o;
    o.argv = {"/bin/bash", std::string(PARLEY_SOURCE_DIR) + "/tools/pg", verb, disk_->path() + "/pg"};
    o.env = {"PARLEY_PG_THROWAWAY=1"};
    o.log_path = disk_->path() + "/pg.log";
    std::string error;
    return RunToCompletion(o, 120s, &error);
  }
  std::string FillerPath() { return disk_->path() + "/filler"; }
  // The room's message ids, oldest first, paging back through all of it.
  std::vector<int64_t> StoredIds(User& u, int64_t room) {
    std::vector<int64_t> ids;
    std::string query = "?limit=100";
    for (int pages = 0; pages < 100; ++pages) {
      Response r = u->Get(RoomPath(room, "/messages") + query);
      if (r.status != 200) throw SetupError("history: " + r.Describe());
      Json page = r.json()["messages"];
      for (size_t i = page.size(); i-- > 0;) ids.insert(ids.begin(), page[i]["id"].num());
      if (!r.json()["has_more"].boolean() || page.size() == 0) break;
      query = "?limit=100&before=" + std::to_string(page[size_t{0}]["id"].num());
    }
    return ids;
  }

  std::optional<TempDir> disk_;
  bool cluster_up_ = false;
  std::optional<std::string> saved_env_;
};

TEST_F(OwnPgClusterTest, AFullDiskIs503StorageFullAndWritesResume) {
  User alice = Register("pgfull");
  const int64_t room = CreateRoom(alice, "pgfull", "public");
  std::vector<int64_t> acknowledged;
  for (int i = 0; i < 5; ++i) acknowledged.push_back(Send(alice, room, "before " + std::to_string(i))["id"].num());

  FillDisk(FillerPath());
  // Texts that do not compress, so that rows take their room and a table
  // needs a new page within a few sends.
  std::mt19937 random(7);
  auto text = [&random] {
    std::string t(1500, ' ');
    for (char& c : t) c = static_cast<char>('a' + random() % 26);
    return t;
  };
  int refused = 0;
  for (int n = 0; n < 200 && refused == 0; ++n) {
    Response r = alice->Post(RoomPath(room, "/messages"), "{\"text\":\"" + text() + "\"}");
    if (r.status == 201) {
      acknowledged.push_back(r.json()["message"]["id"].num());
      continue;
    }
    ExpectStorageFull(r);
    if (r.status != 503) break;
    ++refused;
  }
  ASSERT_GT(refused, 0) << "no send of 200 was refused\n" << stack().LogTail();

  // Reads go on.
  Response history = alice->Get(RoomPath(room, "/messages") + "?limit=5");
  EXPECT_EQ(history.status, 200) << history.body;

  ASSERT_EQ(unlink(FillerPath().c_str()), 0) << std::strerror(errno);
  // Writes succeed again, with no restart.
  const Response after = SendOnceWritable(alice, room, 10s);
  ASSERT_EQ(after.status, 201) << after.body;
  acknowledged.push_back(after.json()["message"]["id"].num());
  // Every acknowledged send is stored, once, in order, and nothing else.
  EXPECT_EQ(StoredIds(alice, room), acknowledged);
  ExpectHealthy();
}

// A database that is down: writes and reads are 503 busy, and the answer
// names nothing of it (libpq's words name its socket or host, the failed
// statement is in the log only); all is well once it is back.
TEST_F(OwnPgClusterTest, ADatabaseThatIsDownIs503BusyAndNamesNothingOfIt) {
  User alice = Register("down");
  const int64_t room = CreateRoom(alice, "down", "public");
  ASSERT_EQ(Pg("stop"), 0) << ReadText(disk_->path() + "/pg.log");
  const Response send = alice->Post(RoomPath(room, "/messages"), "{\"text\":\"while down\"}");
  const Response read = alice->Get(RoomPath(room, "/messages"));
  for (const Response* r : {&send, &read}) {
    EXPECT_EQ(r->status, 503) << r->body;
    EXPECT_EQ(r->ErrorCode(), "busy") << r->body;
    EXPECT_FALSE(r->Header("retry-after").empty()) << r->body;
    for (const std::string& word : {std::string("PostgreSQL"), std::string("socket"), std::string("SELECT"),
                                    std::string("INSERT"), std::string("connection"), disk_->path()}) {
      EXPECT_EQ(r->body.find(word), std::string::npos) << word << " in " << r->body;
    }
  }
  // The log says why (Api::Refused), with the database's own words.
  EXPECT_NE(ReadText(stack().dir() + "/fcgi.log").find("POST " + RoomPath(room, "/messages") + ": busy: "),
            std::string::npos)
      << stack().LogTail();

  ASSERT_EQ(Pg("start"), 0) << ReadText(disk_->path() + "/pg.log");
  const Response after = SendOnceWritable(alice, room, 15s);
  EXPECT_EQ(after.status, 201) << after.body;
}

}  // namespace
}  // namespace parley::e2e
