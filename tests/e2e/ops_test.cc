// The operator's side, as a careless or unlucky operator meets it: the real
// parleyctl, parley-fcgi and parley-events binaries run by hand in a fresh
// directory (no nginx), with wrong arguments, a database that is missing or
// is not one, and a daemon started twice on the same sockets. Each case
// expects a message and a non-zero exit, never a crash, a hang, or a file
// silently made where one was meant to exist.
#include <poll.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "fixture.h"
#include "stack.h"

namespace parley::e2e {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

class OpsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string error;
    auto dir = TempDir::Make(&error);
    ASSERT_TRUE(dir) << error;
    dir_.emplace(std::move(*dir));
  }
  const std::string& dir() const { return dir_->path(); }
  std::string Path(const std::string& name) const { return dir() + "/" + name; }

  // Runs a program to completion (20 s at most); its exit code, or -1 for a
  // crash or a hang. *output gets what it printed on stdout and stderr.
  int Run(std::vector<std::string> argv, std::string* output, std::vector<std::string> env = {}) {
    const std::string log = Path("run-" + std::to_string(++runs_) + ".out");
    Child::Options o;
    o.argv = std::move(argv);
    o.env = std::move(env);
    o.log_path = log;
    std::string error;
    const int rc = RunToCompletion(o, seconds(20), &error);
    *output = ReadText(log) + error;
    return rc;
  }
  int Ctl(std::vector<std::string> args, std::string* output, std::vector<std::string> env = {}) {
    args.insert(args.begin(), PARLEY_CTL_BIN);
    return Run(std::move(args), output, std::move(env));
  }

  std::unique_ptr<Child> StartEvents(const std::string& log, std::string* error) {
    return StartEventsOn(Path("parley.db"), log, error);
  }
  std::unique_ptr<Child> StartEventsOn(const std::string& db, const std::string& log, std::string* error) {
    Child::Options o;
    o.argv = {PARLEY_EVENTS_BIN, "--db", db, "--listen", Path("events.sock"), "--notify", Path("notify.sock")};
    o.log_path = Path(log);
    return Child::Spawn(o, error);
  }

  static bool Exists(const std::string& path) { return std::filesystem::exists(path); }

  // What the sqlite3 shell prints for sql on db, without the newline; the
  // shell's error on failure.
  std::string Sql(const std::string& db, const std::string& sql) {
    std::string out;
    if (Run({"/usr/bin/sqlite3", db, sql}, &out) != 0) return "sqlite3 failed: " + out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  int UserVersion(const std::string& db) {
    const std::string v = Sql(db, "PRAGMA user_version");
    return v.empty() || v.find_first_not_of("0123456789") != std::string::npos ? -1 : std::stoi(v);
  }
  // A database at schema `version`, as a release of that version left it:
  // the source tree's migrations 001 to `version` run by the sqlite3 shell,
  // in WAL mode as Parley keeps its databases.
  bool MakeDatabaseAt(const std::string& db, int version) {
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(PARLEY_SOURCE_DIR "/schema/migrations")) {
      const std::string name = e.path().filename().string();
      if (name.size() > 4 && name.ends_with(".sql") && std::stoi(name.substr(0, 3)) <= version) {
        files.push_back(e.path().string());
      }
    }
    std::sort(files.begin(), files.end());
    if (files.size() != static_cast<size_t>(version)) return false;
    std::string script = "PRAGMA journal_mode=WAL;\n";
    for (const std::string& f : files) script += ".read " + f + "\n";
    script += "PRAGMA user_version=" + std::to_string(version) + ";\n";
    const std::string script_path = Path("make-" + std::to_string(version) + ".sql");
    std::ofstream(script_path) << script;
    std::string out;
    return Run({"/usr/bin/sqlite3", "-bail", db, ".read " + script_path}, &out) == 0 && UserVersion(db) == version;
  }

  // True if something accepts connections on the unix stream socket path.
  static bool Answers(const std::string& path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    return ok;
  }

  // Waits (bounded) until path answers.
  static bool WaitForSocket(const std::string& path, Child* owner) {
    for (int i = 0; i < 200; ++i) {
      if (Answers(path)) return true;
      if (!owner->Running()) return false;
      std::this_thread::sleep_for(milliseconds(50));
    }
    return false;
  }

  std::optional<TempDir> dir_;
  int runs_ = 0;
};

// A second parley-events on the sockets of a running one used to unlink
// them and bind its own: the first kept running but could no longer be
// reached, and once the second stopped (unlinking the paths in turn)
// nothing answered on them at all.
TEST_F(OpsTest, SecondEventsDaemonOnTheSameSocketsRefusesAndTheFirstKeepsServing) {
  std::string out;
  ASSERT_EQ(Ctl({"--db", Path("parley.db"), "migrate"}, &out), 0) << out;
  std::string error;
  auto first = StartEvents("events1.log", &error);
  ASSERT_TRUE(first) << error;
  ASSERT_TRUE(WaitForSocket(Path("events.sock"), first.get())) << ReadText(Path("events1.log"));

  auto second = StartEvents("events2.log", &error);
  ASSERT_TRUE(second) << error;
  auto status = second->WaitFor(seconds(15));
  if (!status) second->Stop(milliseconds(5000));  // it took the sockets over: stop it, as an operator would
  ASSERT_TRUE(status) << "the second daemon started on the first one's sockets\n" << ReadText(Path("events2.log"));
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0);
  EXPECT_NE(ReadText(Path("events2.log")).find("events.sock (a running process listens on it"), std::string::npos)
      << ReadText(Path("events2.log"));

  EXPECT_TRUE(first->Running());
  EXPECT_TRUE(Answers(Path("events.sock"))) << "the first daemon can no longer be reached";
  EXPECT_TRUE(Exists(Path("notify.sock")));

  // A socket left by a daemon that died is still taken over at once.
  first->Signal(SIGKILL);
  ASSERT_TRUE(first->WaitFor(seconds(5)));
  ASSERT_TRUE(Exists(Path("events.sock")));
  auto third = StartEvents("events3.log", &error);
  ASSERT_TRUE(third) << error;
  EXPECT_TRUE(WaitForSocket(Path("events.sock"), third.get())) << ReadText(Path("events3.log"));
}

// Every command but migrate on a database path where there is none used to
// create and migrate a fresh one: `check` of a mistyped backup path said
// "ok", `rooms` listed an empty general room. A mistyped command did too.
TEST_F(OpsTest, ParleyctlOnAMissingDatabaseSaysSoAndCreatesNothing) {
  const std::string missing = Path("missing.db");
  const std::vector<std::vector<std::string>> commands = {
      {"check"}, {"rooms"}, {"create-user", "alice"}, {"admin", "alice"}, {"set-password", "alice"},
      {"token", "alice"}, {"set-role", "1", "alice", "professor"}, {"set-owner", "1", "alice"},
      {"backup", Path("copy.db")}};
  for (const auto& command : commands) {
    std::vector<std::string> args = {"--db", missing};
    args.insert(args.end(), command.begin(), command.end());
    std::string out;
    const int rc = Ctl(args, &out, {"PARLEY_PASSWORD=long enough password"});
    EXPECT_EQ(rc, 1) << command[0] << ": " << out;
    EXPECT_NE(out.find("no database at " + missing), std::string::npos) << command[0] << ": " << out;
    EXPECT_FALSE(Exists(missing)) << command[0] << " created " << missing;
    EXPECT_FALSE(Exists(missing + "-writer")) << command[0];
    EXPECT_FALSE(Exists(Path("copy.db"))) << command[0];
  }
  std::string out;
  EXPECT_EQ(Ctl({"--db", missing, "no-such-command"}, &out), 2) << out;
  EXPECT_NE(out.find("usage: parleyctl"), std::string::npos) << out;
  EXPECT_EQ(Ctl({"--db", missing, "rooms", "extra"}, &out), 2) << out;
  EXPECT_FALSE(Exists(missing));

  // A directory, a file that is not SQLite, a schema newer than the binary.
  EXPECT_EQ(Ctl({"--db", dir(), "rooms"}, &out), 1) << out;
  EXPECT_NE(out.find("is a directory"), std::string::npos) << out;
  {
    FILE* f = std::fopen(Path("notes.txt").c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs("not a database, but a long enough line of text to fill a header\n", f);
    std::fclose(f);
  }
  EXPECT_EQ(Ctl({"--db", Path("notes.txt"), "check"}, &out), 1) << out;
  EXPECT_NE(out.find("not a database"), std::string::npos) << out;

  // migrate creates the database; then every command finds it.
  ASSERT_EQ(Ctl({"--db", missing, "migrate"}, &out), 0) << out;
  EXPECT_EQ(Ctl({"--db", missing, "check"}, &out), 0) << out;
  EXPECT_EQ(out, "ok\n");
  EXPECT_EQ(Ctl({"--db", missing, "create-user", "alice"}, &out, {"PARLEY_PASSWORD=long enough password"}), 0) << out;
}

// `parleyctl --db old-backup.db backup var/parley.db`, the arguments the
// wrong way round, wrote the old backup over the live database; a backup
// onto its own source "succeeded". A backup now never overwrites a file.
TEST_F(OpsTest, BackupNeverOverwritesAFile) {
  const std::string old_backup = Path("old.db"), live = Path("live.db");
  const std::vector<std::string> password = {"PARLEY_PASSWORD=long enough password"};
  std::string out;
  ASSERT_EQ(Ctl({"--db", old_backup, "migrate"}, &out), 0) << out;
  ASSERT_EQ(Ctl({"--db", live, "migrate"}, &out), 0) << out;
  ASSERT_EQ(Ctl({"--db", live, "create-user", "newer"}, &out, password), 0) << out;

  EXPECT_EQ(Ctl({"--db", old_backup, "backup", live}, &out), 1) << out;
  EXPECT_NE(out.find("exists; a backup never overwrites"), std::string::npos) << out;
  EXPECT_EQ(Ctl({"--db", live, "backup", live}, &out), 1) << out;
  // The live database still has its user.
  EXPECT_EQ(Ctl({"--db", live, "token", "newer"}, &out), 0) << out;
  EXPECT_EQ(Ctl({"--db", live, "check"}, &out), 0) << out;

  EXPECT_EQ(Ctl({"--db", live, "backup", Path("fresh.db")}, &out), 0) << out;
  EXPECT_EQ(Ctl({"--db", Path("fresh.db"), "token", "newer"}, &out), 0) << out;
  EXPECT_EQ(Ctl({"--db", live, "backup", dir()}, &out), 1) << out;  // a directory exists too
}

// `parleyctl backup` ran the migrations on the database it was to copy
// first: "back up before upgrading", with the new parleyctl already
// installed, upgraded the live database under the old daemons (schema 15
// to 22) and left no copy of it as it was. A backup copies the database as
// it is, of any schema version, older or newer than parleyctl's, and
// changes nothing in it; `rooms` only reads, and says so when the schema is
// not its own rather than upgrade it.
TEST_F(OpsTest, BackupCopiesTheDatabaseAsItIsAndMigratesNothing) {
  const std::string old_db = Path("old.db"), old_copy = Path("old-copy.db");
  ASSERT_TRUE(MakeDatabaseAt(old_db, 15));
  std::string out;
  EXPECT_EQ(Ctl({"--db", old_db, "backup", old_copy}, &out), 0) << out;
  EXPECT_EQ(UserVersion(old_db), 15) << "the source was migrated";
  EXPECT_EQ(UserVersion(old_copy), 15);
  EXPECT_EQ(Ctl({"--db", old_copy, "check"}, &out), 0) << out;
  EXPECT_NE(Sql(old_copy, "SELECT value FROM meta WHERE key = 'epoch'"),
            Sql(old_db, "SELECT value FROM meta WHERE key = 'epoch'"));

  EXPECT_EQ(Ctl({"--db", old_db, "rooms"}, &out), 1) << out;
  EXPECT_NE(out.find("schema version 15"), std::string::npos) << out;
  EXPECT_NE(out.find("parleyctl migrate"), std::string::npos) << out;
  EXPECT_EQ(UserVersion(old_db), 15) << "rooms migrated the database";

  // A schema newer than this parleyctl's (a newer release wrote it).
  const std::string newer = Path("newer.db"), newer_copy = Path("newer-copy.db");
  ASSERT_EQ(Ctl({"--db", newer, "migrate"}, &out), 0) << out;
  const int ahead = UserVersion(newer) + 7;
  ASSERT_EQ(Sql(newer, "PRAGMA user_version = " + std::to_string(ahead)), "");
  EXPECT_EQ(Ctl({"--db", newer, "backup", newer_copy}, &out), 0) << out;
  EXPECT_EQ(UserVersion(newer), ahead);
  EXPECT_EQ(UserVersion(newer_copy), ahead);
  EXPECT_EQ(Ctl({"--db", newer, "rooms"}, &out), 1) << out;
  EXPECT_NE(out.find("newer than this parleyctl"), std::string::npos) << out;

  // A file with no schema is no database to back up (the migrations would
  // have made it one).
  std::ofstream(Path("empty.db")).close();
  EXPECT_EQ(Ctl({"--db", Path("empty.db"), "backup", Path("empty-copy.db")}, &out), 1) << out;
  EXPECT_NE(out.find("not a Parley database"), std::string::npos) << out;
  EXPECT_EQ(std::filesystem::file_size(Path("empty.db")), 0u);
  EXPECT_FALSE(Exists(Path("empty-copy.db")));
}

// Debian's libsqlite3 reads a name beginning with "file:" as a URI: backup
// 'file:victim.db?x=' wrote its copy over victim.db (the ".partial-PID"
// suffix went into the URI's query, and the check for an existing DEST
// looked at the name as typed), and backup 'file:copy.db' left a complete
// copy.db.partial-PID behind. --db 'file:...' opened the database the URI
// names with a writer lock beside no database. Such names are refused.
TEST_F(OpsTest, ADatabaseOrBackupNameIsAPlainPathNeverAnSqliteUri) {
  const std::string victim = Path("victim.db"), src = Path("src.db");
  const std::vector<std::string> password = {"PARLEY_PASSWORD=long enough password"};
  std::string out;
  ASSERT_EQ(Ctl({"--db", victim, "migrate"}, &out), 0) << out;
  ASSERT_EQ(Ctl({"--db", victim, "create-user", "important"}, &out, password), 0) << out;
  ASSERT_EQ(Ctl({"--db", src, "migrate"}, &out), 0) << out;

  EXPECT_EQ(Ctl({"--db", src, "backup", "file:" + victim + "?x="}, &out), 2) << out;
  EXPECT_NE(out.find("a plain path"), std::string::npos) << out;
  EXPECT_EQ(Sql(victim, "SELECT group_concat(username) FROM users"), "important") << "victim.db overwritten";
  EXPECT_EQ(Ctl({"--db", victim, "backup", "file:" + Path("copy.db")}, &out), 2) << out;
  EXPECT_EQ(Ctl({"--db", "file:" + victim + "?mode=ro", "migrate"}, &out), 2) << out;
  EXPECT_NE(out.find("a plain path"), std::string::npos) << out;
  EXPECT_EQ(Ctl({"--db=file:" + victim, "rooms"}, &out), 2) << out;
  for (const auto& e : std::filesystem::directory_iterator(dir())) {
    const std::string name = e.path().filename().string();
    EXPECT_FALSE(name.starts_with("copy.db") || name.find("partial") != std::string::npos) << name << " left behind";
  }
  // A file whose name begins so is reached as a path: ./file:...
  EXPECT_EQ(Ctl({"--db", victim, "backup", dir() + "/file:copy.db"}, &out), 0) << out;
  EXPECT_EQ(Sql(dir() + "/file:copy.db", "SELECT group_concat(username) FROM users"), "important");
}

// `parleyctl admin --revoke` with the username forgotten made the user
// named "--revoke" (a valid name anyone may register) a site admin. An
// operand where a name, a number or a file is expected never begins with
// '-': a forgotten operand or a mistyped option is a usage error, for every
// command.
TEST_F(OpsTest, AnOperandThatLooksLikeAnOptionIsRefused) {
  const std::string db = Path("parley.db");
  std::string out;
  ASSERT_EQ(Ctl({"--db", db, "migrate"}, &out), 0) << out;
  ASSERT_EQ(Sql(db, "INSERT INTO users(username, pw_hash, created_ts) VALUES ('--revoke', 'x', 0), ('-x', 'x', 0)"), "");
  EXPECT_EQ(Ctl({"--db", db, "admin", "--revoke"}, &out), 2) << out;
  EXPECT_NE(out.find("begins with '-'"), std::string::npos) << out;
  EXPECT_EQ(Sql(db, "SELECT admin FROM users WHERE username = '--revoke'"), "0") << "--revoke was made a site admin";

  const std::vector<std::vector<std::string>> commands = {
      {"admin", "-x"}, {"admin", "--revoke", "-x"}, {"create-user", "-y"}, {"create-users", "-y", "2"},
      {"set-password", "-x"}, {"token", "-x"}, {"token", "-x", "2"}, {"tokens", "-y", "2"},
      {"set-role", "1", "-x", "member"}, {"set-role", "1", "-x", "-member"}, {"set-owner", "1", "-x"},
      {"set-owner", "-1", "-x"}, {"backup", "-copy.db"}};
  for (const auto& command : commands) {
    // In dir(): a backup to "-copy.db" would land in the working directory.
    std::vector<std::string> argv = {"/bin/sh", "-c", "cd \"$1\" && shift && exec \"$@\"", "sh", dir(), PARLEY_CTL_BIN,
                                     "--db", db};
    argv.insert(argv.end(), command.begin(), command.end());
    EXPECT_EQ(Run(argv, &out, {"PARLEY_PASSWORD=long enough password"}), 2) << command[0] << ": " << out;
    EXPECT_NE(out.find("begins with '-'"), std::string::npos) << command[0] << ": " << out;
  }
  EXPECT_EQ(Sql(db, "SELECT count(*) FROM users"), "2");
  EXPECT_EQ(Sql(db, "SELECT count(*) FROM sessions"), "0");
  EXPECT_EQ(Sql(db, "SELECT count(*) FROM users WHERE admin"), "0");
  EXPECT_FALSE(Exists(Path("-copy.db")));
  // --revoke in its place still revokes.
  ASSERT_EQ(Sql(db, "UPDATE users SET admin = 1 WHERE username = '-x'"), "");
  ASSERT_EQ(Sql(db, "INSERT INTO users(username, pw_hash, created_ts, admin) VALUES ('carol', 'x', 0, 1)"), "");
  EXPECT_EQ(Ctl({"--db", db, "admin", "--revoke", "carol"}, &out), 0) << out;
  EXPECT_EQ(Sql(db, "SELECT admin FROM users WHERE username = 'carol'"), "0");
  EXPECT_EQ(Sql(db, "SELECT admin FROM users WHERE username = '-x'"), "1");
}

// A restored backup is another history after its point: its next events
// take ids that clients hold for events the restore undid, and a client
// resuming from one skipped the new ones without a reset. So a backup
// carries an epoch of its own (every client resets against it), and
// `new-epoch` gives one after a PostgreSQL restore. A backup that fails
// leaves no file: an empty one, left by a full disk, passed `check`, which
// now says what a file without Parley's schema is.
TEST_F(OpsTest, ABackupHasAnEpochOfItsOwnAndAFailedOneLeavesNothing) {
  const std::string live = Path("live.db"), copy = Path("copy.db"), failed = Path("failed.db");
  auto epoch = [&](const std::string& db) {
    std::string out;
    EXPECT_EQ(Run({"/usr/bin/sqlite3", db, "SELECT value FROM meta WHERE key = 'epoch'"}, &out), 0) << out;
    return out;
  };
  auto leftovers = [&] {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(dir())) {
      const std::string name = e.path().filename().string();
      if (name.find("partial") != std::string::npos || name.starts_with("failed")) names.push_back(name);
    }
    return names;
  };
  std::string out;
  ASSERT_EQ(Ctl({"--db", live, "migrate"}, &out), 0) << out;
  ASSERT_EQ(Ctl({"--db", live, "backup", copy}, &out), 0) << out;
  const std::string first = epoch(live);
  EXPECT_EQ(first.size(), 17u) << first;  // 16 hex digits and a newline
  EXPECT_NE(epoch(copy), first);
  EXPECT_EQ(Ctl({"--db", copy, "check"}, &out), 0) << out;
  EXPECT_EQ(leftovers(), std::vector<std::string>{});
  ASSERT_EQ(Ctl({"--db", live, "new-epoch"}, &out), 0) << out;
  EXPECT_NE(epoch(live), first);
  EXPECT_NE(out.find("every client resets"), std::string::npos) << out;

  // A full disk, as a file size limit (16 KiB): the copy fails as it writes.
  EXPECT_EQ(Run({"/bin/bash", "-c", "trap '' XFSZ; ulimit -f 16; exec \"$0\" --db \"$1\" backup \"$2\"",
                 PARLEY_CTL_BIN, live, failed},
                &out),
            1)
      << out;
  EXPECT_EQ(leftovers(), std::vector<std::string>{}) << out;
  // An empty file is sound SQLite, and no Parley database.
  std::ofstream(Path("empty.db")).close();
  EXPECT_EQ(Ctl({"--db", Path("empty.db"), "check"}, &out), 1) << out;
  EXPECT_NE(out.find("not a Parley database"), std::string::npos) << out;
}

// `parleyctl check` on a database it may only read: a backup on read-only
// media, another user's file, a file in a directory it cannot write. The
// fixture makes such a directory, ro/, and runs check as a user for whom
// its modes hold.
class ReadOnlyCheckTest : public OpsTest {
 protected:
  static constexpr const char* kSetpriv = "/usr/bin/setpriv";

  void TearDown() override {
    // Writable again, so that the temporary directory can be removed by a
    // user who is not root.
    chmod(Ro().c_str(), 0755);
  }
  std::string Ro() const { return Path("ro"); }

  // parleyctl check as a user for whom file modes hold. Root may write
  // whatever the modes say, so as root the check runs as nobody, through
  // setpriv(1) (util-linux). A read-only mount needs privileges a test
  // cannot count on, and chattr +i (which binds root too) needs a file
  // system that has it and leaves files that no one but root can remove
  // when a test dies half-way. nobody must be able to reach the directory
  // (dir() is made 0711 for that) and run the binary: a copy in dir(), as
  // the build tree may lie where nobody cannot pass (a checkout in /root).
  int CheckAsReader(const std::string& db, std::string* out) {
    const std::string ctl = Path("parleyctl");
    if (!Exists(ctl)) {
      std::filesystem::copy_file(PARLEY_CTL_BIN, ctl);
      std::filesystem::permissions(ctl, std::filesystem::perms(0755));
    }
    std::vector<std::string> argv;
    if (geteuid() == 0) argv = {kSetpriv, "--reuid=65534", "--regid=65534", "--clear-groups"};
    argv.insert(argv.end(), {ctl, "--db", db, "check"});
    return Run(std::move(argv), out);
  }

  // What a directory holds: each file's name with its size, bytes (hashed),
  // mode and modification time, so that any file created, written, touched
  // or removed shows as a difference. A -shm is SQLite's shared index of
  // the -wal, which every reader that can write it updates (its read marks,
  // the index rebuilt after a crash), the daemons' readers too: with
  // `shm_content` false, only that it is there counts.
  static std::map<std::string, std::string> Snapshot(const std::string& path, bool shm_content = true) {
    std::map<std::string, std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(path)) {
      struct stat st;
      const std::string file = entry.path().string();
      if (stat(file.c_str(), &st) != 0) continue;
      if (!shm_content && entry.path().extension() == ".db-shm") {
        files[entry.path().filename().string()] = "there";
        continue;
      }
      files[entry.path().filename().string()] =
          "size " + std::to_string(st.st_size) + " bytes " + std::to_string(std::hash<std::string>{}(ReadText(file))) +
          " mode " + std::to_string(st.st_mode & 07777) + " mtime " + std::to_string(st.st_mtim.tv_sec) + "." +
          std::to_string(st.st_mtim.tv_nsec);
    }
    return files;
  }
};

// check opened the database as the daemons do, for writing (its -writer
// lock file, WAL set-up): in a directory it could not write, it failed
// instead of answering. Five databases: cleanly closed (every commit in the
// file); one whose last commit is only in its -wal (a daemon had it open and
// was killed); that -wal copied without its -shm (which check would have to
// create to read those commits: it must say so, not answer "ok" about the
// file without them); one beside a rollback journal (likewise); and a
// damaged file. Run without the fix, check made -writer files (and
// checkpointed the -wal away) where it could, and as nobody failed with
// "open .../clean.db-writer: Permission denied".
TEST_F(ReadOnlyCheckTest, ChecksADatabaseItMayOnlyReadAndChangesNothing) {
  if (geteuid() == 0 && access(kSetpriv, X_OK) != 0) GTEST_SKIP() << "root, and no " << kSetpriv << " to run as nobody";
  const std::string clean = Ro() + "/clean.db", wal = Ro() + "/wal.db", lost = Ro() + "/lost.db",
                    bad = Ro() + "/bad.db", journal = Ro() + "/journal.db";
  const std::vector<std::string> password = {"PARLEY_PASSWORD=long enough password"};
  ASSERT_EQ(mkdir(Ro().c_str(), 0755), 0);
  ASSERT_EQ(chmod(dir().c_str(), 0711), 0);  // nobody may pass through to ro/
  std::string out;
  ASSERT_EQ(Ctl({"--db", clean, "migrate"}, &out), 0) << out;
  ASSERT_EQ(Ctl({"--db", clean, "create-user", "alice"}, &out, password), 0) << out;
  ASSERT_FALSE(Exists(clean + "-wal"));

  ASSERT_EQ(Ctl({"--db", wal, "migrate"}, &out), 0) << out;
  std::string error;
  auto events = StartEventsOn(wal, "events.log", &error);
  ASSERT_TRUE(events) << error;
  ASSERT_TRUE(WaitForSocket(Path("events.sock"), events.get())) << ReadText(Path("events.log"));
  ASSERT_EQ(Ctl({"--db", wal, "create-user", "bob"}, &out, password), 0) << out;
  // Beside a running daemon, check still answers.
  EXPECT_EQ(Ctl({"--db", wal, "check"}, &out), 0) << out;
  EXPECT_EQ(out, "ok\n");
  events->Signal(SIGKILL);
  ASSERT_TRUE(events->WaitFor(seconds(5)));
  ASSERT_GT(std::filesystem::file_size(wal + "-wal"), 0u) << "bob's commit should be in the -wal only";
  ASSERT_TRUE(Exists(wal + "-shm"));

  std::filesystem::copy_file(wal, lost);
  std::filesystem::copy_file(wal + "-wal", lost + "-wal");
  // The damage: page 2 (the root of the first table the migrations made)
  // overwritten with bytes that are no b-tree page. SQLite's check stops
  // at it ("database disk image is malformed") rather than list it.
  std::filesystem::copy_file(clean, bad);
  {
    FILE* f = std::fopen(bad.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    ASSERT_EQ(std::fseek(f, 4096, SEEK_SET), 0);
    const std::string garbage(4096, '\x5a');
    ASSERT_EQ(std::fwrite(garbage.data(), 1, garbage.size(), f), garbage.size());
    ASSERT_EQ(std::fclose(f), 0);
  }
  // A rollback journal beside a copy (not Parley's mode: a file from
  // elsewhere): only a write could roll it back.
  std::filesystem::copy_file(clean, journal);
  {
    FILE* f = std::fopen((journal + "-journal").c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fputs("a journal that check cannot roll back", f);
    ASSERT_EQ(std::fclose(f), 0);
  }
  // The writer lock files the commands above made: check must not make one.
  for (const std::string& db : {clean, wal}) std::filesystem::remove(db + "-writer");

  // In a directory it may write, too, check creates and changes nothing
  // (but the -shm, above).
  auto before = Snapshot(Ro(), /*shm_content=*/false);
  EXPECT_EQ(Ctl({"--db", clean, "check"}, &out), 0) << out;
  EXPECT_EQ(out, "ok\n");
  EXPECT_EQ(Ctl({"--db", wal, "check"}, &out), 0) << out;
  EXPECT_EQ(out, "ok\n");
  EXPECT_EQ(Snapshot(Ro(), /*shm_content=*/false), before);

  for (const auto& entry : std::filesystem::directory_iterator(Ro())) {
    ASSERT_EQ(chmod(entry.path().c_str(), 0444), 0) << entry.path();
  }
  ASSERT_EQ(chmod(Ro().c_str(), 0555), 0);
  before = Snapshot(Ro());
  EXPECT_EQ(CheckAsReader(clean, &out), 0) << out;
  EXPECT_EQ(out, "ok\n");
  EXPECT_EQ(CheckAsReader(wal, &out), 0) << out;
  EXPECT_EQ(out, "ok\n");
  EXPECT_EQ(CheckAsReader(lost, &out), 1) << out;
  EXPECT_NE(out.find(lost + "-shm, which is missing"), std::string::npos) << out;
  EXPECT_EQ(CheckAsReader(journal, &out), 1) << out;
  EXPECT_NE(out.find(journal + "-journal may hold"), std::string::npos) << out;
  EXPECT_EQ(CheckAsReader(bad, &out), 1) << out;
  EXPECT_NE(out.find("malformed"), std::string::npos) << "the damage named: " << out;
  EXPECT_EQ(Snapshot(Ro()), before);
}

// --log-file naming a directory (or an unwritable path): parley-events
// exited 2 without a word, as freopen had closed stderr before perror
// could say why.
TEST_F(OpsTest, EventsWithAnUnopenableLogFileSaysWhy) {
  std::string out;
  ASSERT_EQ(Ctl({"--db", Path("parley.db"), "migrate"}, &out), 0) << out;
  const int rc = Run({PARLEY_EVENTS_BIN, "--db", Path("parley.db"), "--listen", Path("events.sock"), "--notify",
                      Path("notify.sock"), "--log-file", dir()},
                     &out);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("--log-file " + dir() + ": Is a directory"), std::string::npos) << out;
  EXPECT_FALSE(Exists(Path("events.sock")));
}

// create-users made accounts with any prefix: spaces, '/', bytes that are
// not UTF-8, names longer than 32; the API refuses every one of those names.
TEST_F(OpsTest, CreateUsersKeepsTheUsernameRule) {
  const std::string db = Path("parley.db");
  std::string out;
  ASSERT_EQ(Ctl({"--db", db, "migrate"}, &out), 0) << out;
  for (const std::string& prefix : {std::string("bad name"), std::string("a/b"), std::string("caf\xff"),
                                    std::string(32, 'a')}) {
    EXPECT_EQ(Ctl({"--db", db, "create-users", prefix, "3"}, &out), 2) << prefix << ": " << out;
    EXPECT_NE(out.find("username"), std::string::npos) << out;
  }
  // 31 letters: user1..user9 fit, user10 would have 33 characters.
  EXPECT_EQ(Ctl({"--db", db, "create-users", std::string(31, 'b'), "10"}, &out), 2) << out;
  EXPECT_EQ(Ctl({"--db", db, "create-user", "."}, &out, {"PARLEY_PASSWORD=long enough password"}), 2) << out;
  EXPECT_EQ(Ctl({"--db", db, "token", "bad name1"}, &out), 1) << "an account with a bad name exists: " << out;
  EXPECT_EQ(Ctl({"--db", db, "create-users", "lg", "3"}, &out), 0) << out;
  EXPECT_EQ(out, "created 3 user(s) lg1..lg3\n");
}

// parley-fcgi told to send its wake-ups to its own FastCGI socket started,
// and every wake-up was lost (a stream socket refuses datagrams).
TEST_F(OpsTest, FcgiListenAndEventsSocketOnOnePathAreRefused) {
  std::string out;
  const int rc = Run({PARLEY_FCGI_BIN, "--db", Path("parley.db"), "--listen", Path("fcgi.sock"), "--events-socket",
                      Path("fcgi.sock")},
                     &out);
  EXPECT_EQ(rc, 2) << out;
  EXPECT_NE(out.find("--listen and --events-socket must be different paths"), std::string::npos) << out;
  // Bad environment: said, and nothing opened.
  EXPECT_EQ(Run({PARLEY_FCGI_BIN, "--db", Path("parley.db"), "--listen", Path("fcgi.sock")}, &out,
                {"PARLEY_SYNC=sometimes"}),
            2)
      << out;
  EXPECT_NE(out.find("must be full or normal"), std::string::npos) << out;
  EXPECT_FALSE(Exists(Path("parley.db")));
  // A --db that SQLite would read as a URI (as parleyctl and parley-events
  // refuse it: schema/backend/backend.h).
  EXPECT_EQ(Run({PARLEY_FCGI_BIN, "--db", "file:" + Path("parley.db") + "?mode=rwc", "--listen", Path("fcgi.sock")},
                &out),
            2)
      << out;
  EXPECT_NE(out.find("a plain path"), std::string::npos) << out;
  EXPECT_FALSE(Exists(Path("parley.db")));
}

// PARLEY_WORKERS=" 2", "--threads +3": strtol skipped white space and took
// a sign, and the pool started. Digits only now. A flag given twice was
// taken too, the last one silently winning.
TEST_F(OpsTest, FcgiCountsAreDigitsOnlyAndAFlagTwiceIsRefused) {
  const std::vector<std::string> base = {PARLEY_FCGI_BIN, "--db", Path("parley.db"), "--listen", Path("fcgi.sock")};
  // 5 s each: a value taken starts the pool, which this test then stops.
  auto run = [&](std::vector<std::string> extra, std::vector<std::string> env, std::string* out) {
    Child::Options o;
    o.argv = base;
    o.argv.insert(o.argv.end(), extra.begin(), extra.end());
    o.env = std::move(env);
    o.log_path = Path("run-" + std::to_string(++runs_) + ".out");
    std::string error;
    const int rc = RunToCompletion(o, seconds(5), &error);
    *out = ReadText(o.log_path) + error;
    return rc;
  };
  std::string out;
  for (const char* bad : {" 2", "+2", "2 ", "0x2", "-1", "2.0"}) {
    EXPECT_EQ(run({}, {std::string("PARLEY_WORKERS=") + bad}, &out), 2) << "PARLEY_WORKERS='" << bad << "': " << out;
    EXPECT_NE(out.find("--workers must be 1 to 256"), std::string::npos) << out;
    EXPECT_EQ(run({"--threads", bad}, {}, &out), 2) << "--threads '" << bad << "': " << out;
    EXPECT_NE(out.find("--threads must be 1 to 1024"), std::string::npos) << out;
    EXPECT_EQ(run({std::string("--running=") + bad}, {}, &out), 2) << "--running=" << bad << ": " << out;
    EXPECT_NE(out.find("--running must be 1 to 1024"), std::string::npos) << out;
  }
  for (const std::vector<std::string>& twice :
       std::vector<std::vector<std::string>>{{"--workers", "1", "--workers", "2"},
                                             {"--sync=full", "--sync", "normal"},
                                             {"--db", Path("other.db")},
                                             {"--listen=" + Path("other.sock")}}) {
    EXPECT_EQ(run(twice, {}, &out), 2) << twice[0] << ": " << out;
    const std::string flag = twice[0].substr(0, twice[0].find('='));
    EXPECT_NE(out.find("parley-fcgi: " + flag + " is given twice"), std::string::npos) << out;
  }
  EXPECT_FALSE(Exists(Path("parley.db")));
  EXPECT_FALSE(Exists(Path("other.db")));
}

// Started by hand (no tools/run, no unit with UMask=0077) under the usual
// umask 022, parley-fcgi made the database, which holds password and
// session hashes, -rw-r--r--; parley-events did the same with its own and
// with its --log-file. Both set umask 077 now; their sockets stay 0660, for
// nginx's group.
TEST_F(OpsTest, DaemonsStartedByHandUnderUmask022KeepTheirFilesPrivate) {
  const mode_t old_umask = umask(022);
  std::string error;
  Child::Options f;
  f.argv = {PARLEY_FCGI_BIN, "--db", Path("parley.db"), "--listen", Path("fcgi.sock"), "--events-socket",
            Path("notify.sock")};
  f.log_path = Path("fcgi.log");
  auto fcgi = Child::Spawn(f, &error);
  Child::Options e;
  e.argv = {PARLEY_EVENTS_BIN, "--db", Path("events.db"), "--listen", Path("events.sock"), "--notify",
            Path("notify.sock"), "--log-file", Path("events.log")};
  auto events = Child::Spawn(e, &error);
  umask(old_umask);
  ASSERT_TRUE(fcgi && events) << error;
  ASSERT_TRUE(WaitForSocket(Path("fcgi.sock"), fcgi.get())) << ReadText(Path("fcgi.log"));
  ASSERT_TRUE(WaitForSocket(Path("events.sock"), events.get())) << ReadText(Path("events.log"));
  auto mode = [&](const std::string& name) -> int {
    struct stat st;
    return stat(Path(name).c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 07777) : -1;
  };
  // The pool's workers open the database after the socket answers.
  for (int i = 0; i < 100 && !(Exists(Path("parley.db")) && Exists(Path("parley.db-wal"))); ++i) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  for (const char* name : {"parley.db", "parley.db-wal", "parley.db-shm", "events.db", "events.db-wal",
                           "events.db-shm", "events.log"}) {
    EXPECT_EQ(mode(name), 0600) << name << " (-1: missing)";
  }
  for (const char* name : {"parley.db-writer", "events.db-writer"}) {
    if (Exists(Path(name))) {
      EXPECT_EQ(mode(name), 0600) << name;
    }
  }
  for (const char* name : {"fcgi.sock", "events.sock", "notify.sock"}) EXPECT_EQ(mode(name), 0660) << name;
  EXPECT_TRUE(Answers(Path("fcgi.sock")));
  fcgi->Stop(milliseconds(5000));
  events->Stop(milliseconds(5000));
}

// `parleyctl token USER COUNT` with COUNT past the account's cap of 100
// sessions (Limits::sessions_per_user; each new one evicts the least
// recently used past it) printed tokens that were already dead. Refused
// now, before the database is opened; up to the cap, every one printed is
// live (the new ones are the most recently used).
TEST_F(OpsTest, ParleyctlTokenRefusesMoreThanTheSessionCap) {
  const std::string db = Path("parley.db");
  std::string out;
  ASSERT_EQ(Ctl({"--db", db, "migrate"}, &out), 0) << out;
  ASSERT_EQ(Ctl({"--db", db, "create-user", "alice"}, &out, {"PARLEY_PASSWORD=long enough password"}), 0) << out;
  for (const char* count : {"101", "1000", "1000000"}) {
    EXPECT_EQ(Ctl({"--db", db, "token", "alice", count}, &out), 2) << count << ": " << out;
    EXPECT_NE(out.find("at most 100"), std::string::npos) << out;
  }
  EXPECT_EQ(Ctl({"--db", Path("missing.db"), "token", "alice", "101"}, &out), 2) << out;
  EXPECT_FALSE(Exists(Path("missing.db")));
  for (const char* count : {"0", "-1", " 5", "+5", "5x"}) {
    EXPECT_EQ(Ctl({"--db", db, "token", "alice", count}, &out), 2) << count << ": " << out;
  }
  ASSERT_EQ(Ctl({"--db", db, "token", "alice", "100"}, &out), 0) << out;
  std::set<std::string> tokens;
  for (size_t at = 0, nl; (nl = out.find('\n', at)) != std::string::npos; at = nl + 1) {
    tokens.insert(out.substr(at, nl - at));
  }
  EXPECT_EQ(tokens.size(), 100u) << out;
}

// A password typed for parleyctl at a terminal showed on the screen. The
// test is the terminal: a pty whose other end it reads, as a screen would.
TEST_F(OpsTest, APasswordTypedAtATerminalIsNotEchoed) {
  const std::string db = Path("tty.db");
  std::string out;
  ASSERT_EQ(Ctl({"--db", db, "migrate"}, &out), 0) << out;
  int screen = -1, tty = -1;
  ASSERT_EQ(openpty(&screen, &tty, nullptr, nullptr, nullptr), 0) << std::strerror(errno);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setsid();
    ioctl(tty, TIOCSCTTY, 0);
    dup2(tty, 0), dup2(tty, 1), dup2(tty, 2);
    close(screen), close(tty);
    execl(PARLEY_CTL_BIN, PARLEY_CTL_BIN, "--db", db.c_str(), "create-user", "typist", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(tty);
  const std::string password = "typed-at-the-keyboard";
  std::string screen_text;
  bool typed = false;
  const auto deadline = std::chrono::steady_clock::now() + seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{screen, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      char buf[256];
      const ssize_t n = read(screen, buf, sizeof buf);
      if (n <= 0) break;  // EIO: the program exited and closed the pty
      screen_text.append(buf, static_cast<size_t>(n));
    }
    if (!typed && screen_text.find("password for typist: ") != std::string::npos) {
      // After the prompt, the terminal is set before the line is read.
      std::this_thread::sleep_for(milliseconds(200));
      ASSERT_EQ(write(screen, (password + "\n").data(), password.size() + 1),
                static_cast<ssize_t>(password.size() + 1));
      typed = true;
    }
  }
  close(screen);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(typed) << screen_text;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << screen_text;
  EXPECT_EQ(screen_text.find(password), std::string::npos) << screen_text;
  EXPECT_NE(screen_text.find("created"), std::string::npos) << screen_text;
  EXPECT_EQ(Ctl({"--db", db, "token", "typist"}, &out), 0) << out;
}

// parleyctl backup of the live database while clients send, then a stack
// started on the backup: every send acknowledged before the backup began is
// there. The copy used to read the database afresh at each of its steps, so
// a commit between two steps started it over: under a steady stream of
// sends a backup of a few MiB never finished (a 43 MB database took 0.2 s
// alone and 25-42 s beside one writer).
class BackupTest : public StackTest {};

TEST_F(BackupTest, BackupWhileClientsSendHasEveryEarlierSendAndServes) {
  PARLEY_E2E_SQLITE_ONLY();
  User u = Register("bk");
  const int64_t room = General(u);
  // About 60 MB of history (with its search index): a copy of some 15,000
  // steps, which a commit between any two of them used to start over.
  {
    std::vector<std::thread> fill;
    for (int t = 0; t < 8; ++t) {
      fill.emplace_back([&, t] {
        Client c(stack().base_url());
        c.set_bearer(u.token);
        for (int i = 0; i < 1500; ++i) {
          const std::string text = std::string(3900, static_cast<char>('a' + (i % 26))) + " fill " +
                                   std::to_string(t) + "-" + std::to_string(i);
          c.Post("/api/rooms/" + std::to_string(room) + "/messages", "{\"text\":" + Quote(text) + "}");
        }
      });
    }
    for (auto& th : fill) th.join();
  }

  using Clock = std::chrono::steady_clock;
  struct Ack {
    int64_t id;
    Clock::time_point at;
  };
  std::atomic<bool> stop{false};
  std::vector<std::vector<Ack>> acks(4);
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&, t] {
      Client c(stack().base_url());
      c.set_bearer(u.token);
      for (int i = 0; !stop.load(); ++i) {
        Response r = c.Post("/api/rooms/" + std::to_string(room) + "/messages",
                            "{\"text\":\"live " + std::to_string(t) + "-" + std::to_string(i) + "\"}");
        if (r.status == 201) acks[t].push_back({r.json()["message"]["id"].num(), Clock::now()});
      }
    });
  }
  std::this_thread::sleep_for(milliseconds(500));
  const Clock::time_point began = Clock::now();
  const std::string backup = stack().dir() + "/backup.db";
  std::string out;
  const std::optional<std::string> copied = stack().Ctl({"backup", backup}, {}, &out);  // 30 s at most
  const double took_s = std::chrono::duration<double>(Clock::now() - began).count();
  std::this_thread::sleep_for(milliseconds(200));
  stop = true;
  for (auto& th : senders) th.join();
  ASSERT_TRUE(copied) << out << " (after " << took_s << " s)";
  std::printf("backup under load: %.2f s\n", took_s);

  std::set<int64_t> before;
  size_t during = 0;
  for (const auto& list : acks) {
    for (const Ack& a : list) (a.at < began ? before.insert(a.id).second : ++during);
  }
  ASSERT_GT(before.size(), 0u);
  ASSERT_GT(during, 0u) << "no send was acknowledged while the backup ran";

  // A second stack, its database replaced by the backup while it is down.
  std::string error;
  auto restored = Stack::Start(StackOptions{}, &error);
  ASSERT_TRUE(restored) << error;
  restored->fcgi().Stop(seconds(10));
  restored->StopEvents();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(restored->db_path() + suffix);
  std::filesystem::copy_file(backup, restored->db_path());
  ASSERT_TRUE(restored->StartFcgi(&error)) << error;
  ASSERT_TRUE(restored->StartEvents(&error)) << error;

  Client c(restored->base_url());
  c.set_bearer(u.token);  // sessions are in the backup too
  std::set<int64_t> found;
  int64_t after = 0;
  for (int page = 0; page < 1000; ++page) {
    Response r = c.Get("/api/rooms/" + std::to_string(room) + "/messages?after=" + std::to_string(after) +
                       "&limit=200");
    ASSERT_EQ(r.status, 200) << r.Describe();
    Json messages = r.json()["messages"];
    for (size_t i = 0; i < messages.size(); ++i) {
      after = messages[i]["id"].num();
      found.insert(after);
    }
    if (!r.json()["has_more"].boolean()) break;
  }
  size_t missing = 0;
  for (int64_t id : before) missing += found.count(id) == 0;
  EXPECT_EQ(missing, 0u) << "of " << before.size() << " sends acknowledged before the backup began";
  const std::optional<std::string> check = restored->Ctl({"check"}, {}, &out);
  ASSERT_TRUE(check) << out;
  EXPECT_EQ(*check, "ok\n");
}

}  // namespace
}  // namespace parley::e2e
