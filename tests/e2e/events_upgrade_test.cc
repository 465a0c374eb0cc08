// parley-events upgraded in place (events/reexec.h): SIGHUP with a new
// binary at the daemon's path runs it with the same pid and sockets, and
// every subscriber, streaming or polling through nginx, resumes without a
// refused attempt and without losing or repeating a message. SIGHUP with
// the same binary (logrotate's) drops no stream.
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "events_fixture.h"

namespace parley::e2e {
namespace {

class EventsUpgradeTest : public EventsTest {
 protected:
  EventsUpgradeTest() {
    std::string error;
    copy_ = BinaryCopy::Make(PARLEY_EVENTS_BIN, "parley-events", &error);
    if (!copy_) ADD_FAILURE() << error;
  }
  StackOptions Options() const override {
    StackOptions o = EventsTest::Options();
    if (copy_) o.events_binary = binary();
    return o;
  }
  std::string binary() const { return copy_->path(); }
  void Install(const std::string& from, bool executable = true) { copy_->Install(from, executable); }
  ino_t Running() { return RunningInode(stack().events()->pid()); }
  std::string EventsLog() { return ReadText(stack().dir() + "/events.log"); }
  // Until the log says `what` (bounded).
  bool WaitLog(const std::string& what, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (EventsLog().find(what) == std::string::npos) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }

  std::optional<BinaryCopy> copy_;
};

TEST_F(EventsUpgradeTest, AnUpgradeRunsTheNewBinaryAndEverySubscriberResumesWithNoRefusal) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = CreateRoom(alice, "upgrade", "public");
  Join(bob, room);
  const pid_t pid = stack().events()->pid();
  const ino_t started_with = Running();
  ASSERT_EQ(started_with, InodeOf(binary()));

  constexpr int kStreams = 6;
  std::vector<std::unique_ptr<Resumer>> subs;
  for (int i = 0; i < kStreams; ++i) {
    Resumer::Options o;
    o.port = stack().port();
    o.token = bob.token;
    o.deadline = 40s;
    o.seed = static_cast<uint32_t>(i + 1);
    subs.push_back(std::make_unique<Resumer>(o));
    subs.back()->Hold(true);
    subs.back()->Start();
  }
  for (auto& s : subs) ASSERT_TRUE(s->WaitConnected(5s));
  // A long-poller beside them: each answer's `next` is the next cursor.
  // It stops once its cursor reaches poll_until, or at its deadline.
  std::atomic<int64_t> poll_until{INT64_MAX};
  std::vector<int64_t> polled;
  std::vector<std::string> poll_failures;
  std::thread poller([&, cursor = Head(bob.token)]() mutable {
    const auto deadline = std::chrono::steady_clock::now() + 40s;
    while (cursor < poll_until.load() && std::chrono::steady_clock::now() < deadline) {
      PollResult p = Poll(bob.token, "?since=" + std::to_string(cursor) + "&timeout=2");
      if (!p.well_formed) {
        poll_failures.push_back(p.response.Describe());
        std::this_thread::sleep_for(100ms);
        continue;
      }
      for (const PolledEvent& e : p.events) {
        if (e.id && e.type == "message" && RoomOf(e.data) == room) polled.push_back(*e.id);
      }
      cursor = p.next;
    }
  });

  std::vector<int64_t> sent;
  auto send_some = [&](int n) { SendPaced(alice, room, n, 10ms, "u", &sent); };
  send_some(30);
  Install(PARLEY_EVENTS_BIN);
  ASSERT_NE(InodeOf(binary()), started_with) << "the test did not install a new file";
  stack().events()->Signal(SIGHUP);
  send_some(30);  // while the daemon says goodbye, execs and starts again
  EXPECT_TRUE(WaitLog("(kept across the upgrade)", 10s)) << EventsLog();
  for (auto& s : subs) s->Hold(false);
  send_some(30);
  for (auto& s : subs) s->FinishAt(sent.back());
  for (size_t i = 0; i < subs.size(); ++i) {
    Resumer& s = *subs[i];
    EXPECT_TRUE(s.Join()) << "stream " << i << " did not reach the last message";
    std::vector<int64_t> got = MessageIds(s.events, room);
    EXPECT_EQ(got, sent) << "stream " << i << ": " << FirstDifference(got, sent);
    EXPECT_TRUE(s.problems.empty()) << s.problems.front();
    EXPECT_EQ(s.refused, 0) << "stream " << i << ": an attempt found no daemon (502) or a stopping one (503)";
    EXPECT_GE(s.server_ends_with_retry, 1) << "stream " << i << ": the upgrade ends each stream with a retry hint";
  }
  poll_until = sent.back();
  poller.join();
  EXPECT_EQ(polled, sent) << FirstDifference(polled, sent);
  EXPECT_TRUE(poll_failures.empty()) << poll_failures.size() << " poll(s) failed, the first: " << poll_failures.front();

  ASSERT_TRUE(stack().events()->Running());
  EXPECT_EQ(stack().events()->pid(), pid) << "an upgrade keeps the process";
  EXPECT_EQ(Running(), InodeOf(binary())) << "the daemon runs the binary it was started with, not the one installed";
  EXPECT_NE(EventsLog().find("upgrading to it"), std::string::npos) << EventsLog();
}

// logrotate's SIGHUP (the stack logs to stderr: the log is "reopened" as
// stderr): a stream open across it goes on, the same connection gets the
// next message.
TEST_F(EventsUpgradeTest, ASighupWithTheSameBinaryDropsNoStream) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = General(alice);
  auto s = Subscribe(bob.token);
  stack().events()->Signal(SIGHUP);
  ASSERT_TRUE(WaitLog("log reopened", 5s)) << EventsLog();
  const int64_t id = Send(alice, room, "after the rotation")["id"].num();
  EXPECT_TRUE(s->WaitForId(id, 5s)) << "the stream open across SIGHUP: ended " << s->eof();
  EXPECT_FALSE(s->eof());
  EXPECT_EQ(EventsLog().find("upgrading"), std::string::npos) << EventsLog();
}

// Presence across an upgrade: the users the old image held keep their rows,
// and the new image gives them their grace period (Presence::Adopt), so a
// peer hears nothing of them: not offline, and not online a second time.
// Before, a peer got "online" again for everyone who reconnected (and on
// PostgreSQL with several daemons, "offline" first).
TEST_F(EventsUpgradeTest, AnUpgradeAnnouncesNobodyOnlineAgain) {
  User alice = Register("alice");
  User bob = Register("bob");
  Resumer::Options o;
  o.port = stack().port();
  o.token = bob.token;
  o.deadline = 30s;
  Resumer watcher(o);
  watcher.Hold(true);
  watcher.Start();
  ASSERT_TRUE(watcher.WaitConnected(5s));
  auto first = Subscribe(alice.token);
  std::this_thread::sleep_for(500ms);  // alice's "online" reaches bob
  Install(PARLEY_EVENTS_BIN);
  stack().events()->Signal(SIGHUP);
  ASSERT_TRUE(first->WaitEof(5s)) << "the upgrade ends alice's stream";
  ASSERT_TRUE(WaitLog("(kept across the upgrade)", 10s)) << EventsLog();
  // Alice comes back once bob is back, so that bob would hear it.
  ASSERT_TRUE(watcher.WaitStreaming(5s));
  auto again = Subscribe(alice.token);
  std::this_thread::sleep_for(500ms);  // an announcement of it would have come
  const int64_t id = Send(bob, General(bob), "after the upgrade")["id"].num();
  watcher.FinishAt(id);
  ASSERT_TRUE(watcher.Join());
  std::vector<std::string> about_alice;
  for (const SseEvent& e : watcher.ephemeral) {
    if (e.type == "presence" && e.json()["user"]["id"].num() == alice.id) about_alice.push_back(e.data);
  }
  ASSERT_FALSE(about_alice.empty()) << "bob never heard that alice came online";
  EXPECT_EQ(about_alice.size(), 1u) << "bob heard of alice again across the upgrade: " << about_alice.back();
  EXPECT_TRUE(Json::Parse(about_alice.front())["online"].boolean()) << about_alice.front();
}

// SIGTERM during an upgrade's goodbye: the daemon stops as on any SIGTERM
// (exit 0, its sockets removed) and leaves no presence row behind for a
// next image that will not come.
TEST_F(EventsUpgradeTest, ASigtermDuringAnUpgradeStopsIt) {
  User alice = Register("alice");
  auto s = Subscribe(alice.token);
  Install(PARLEY_EVENTS_BIN);
  stack().events()->Signal(SIGHUP);
  ASSERT_TRUE(WaitLog("upgrading:", 5s)) << EventsLog();
  const int st = stack().StopEvents(5000ms);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "wait status " << st << "\n" << EventsLog();
  EXPECT_EQ(EventsLog().find("(kept across the upgrade)"), std::string::npos) << EventsLog();
  EXPECT_FALSE(std::filesystem::exists(stack().dir() + "/events.sock"));
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM presence"), "0\n");
}

// SIGHUPs every 5 ms through an upgrade (logrotate and a reload at once):
// none finds the daemon between its two images with the default
// disposition, which would end it.
TEST_F(EventsUpgradeTest, SighupsDuringAnUpgradeEndNothing) {
  User alice = Register("alice");
  User bob = Register("bob");
  const pid_t pid = stack().events()->pid();
  Install(PARLEY_EVENTS_BIN);
  const auto until = std::chrono::steady_clock::now() + 1500ms;
  while (std::chrono::steady_clock::now() < until && stack().events()->Running()) {
    stack().events()->Signal(SIGHUP);
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(stack().events()->Running()) << EventsLog();
  ASSERT_TRUE(WaitLog("(kept across the upgrade)", 10s)) << EventsLog();
  auto s = Subscribe(bob.token);
  const int64_t id = Send(alice, General(alice), "after the signals")["id"].num();
  EXPECT_TRUE(s->WaitForId(id, 5s));
  EXPECT_EQ(stack().events()->pid(), pid);
  EXPECT_EQ(Running(), InodeOf(binary()));
}

// A new file at the path that cannot be run (not executable): the exec
// fails, and the running binary serves on with the same sockets.
TEST_F(EventsUpgradeTest, AnUpgradeWhoseBinaryCannotRunGoesOnWithTheRunningOne) {
  User alice = Register("alice");
  User bob = Register("bob");
  const ino_t started_with = Running();
  const pid_t pid = stack().events()->pid();
  Install(PARLEY_EVENTS_BIN, /*executable=*/false);
  stack().events()->Signal(SIGHUP);
  ASSERT_TRUE(WaitLog("going on with the binary running", 10s)) << EventsLog();
  ASSERT_TRUE(WaitLog("(kept across the upgrade)", 10s)) << EventsLog();
  auto s = Subscribe(bob.token);
  const int64_t id = Send(alice, General(alice), "still served")["id"].num();
  EXPECT_TRUE(s->WaitForId(id, 5s));
  EXPECT_EQ(stack().events()->pid(), pid);
  EXPECT_EQ(Running(), started_with);
}

}  // namespace
}  // namespace parley::e2e
