// parley-events under a wall clock stepped back an hour (an operator's
// `date -s`, NTP after a suspend, a VM restored from a snapshot): every
// deadline, interval, cache age, grace and merge window of the daemon is
// on the monotonic clock (events/clock.h), so nothing it does on a
// schedule stops or stretches for the length of the step. The step is
// made by an LD_PRELOAD shim (clockstep_shim.cc) in parley-events only:
// parley-fcgi, nginx and the database keep the real time.
#include <cstdio>
#include <fstream>
#include <thread>

#include "events_fixture.h"

namespace parley::e2e {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kStepBackS = 3600;

class EventsClockTest : public EventsTest {
 protected:
  EventsClockTest() {
    std::string error;
    auto dir = TempDir::Make(&error);
    if (!dir) throw SetupError("temp dir: " + error);
    clock_dir_.emplace(std::move(*dir));
    StepClock(0);
  }

  StackOptions Options() const override {
    StackOptions o = EventsTest::Options();
    o.events_flags = {"--heartbeat", "1", "--presence-grace", "2000"};
    o.events_env = {std::string("LD_PRELOAD=") + PARLEY_CLOCKSTEP_SHIM, "PARLEY_CLOCK_OFFSET_FILE=" + OffsetFile()};
    return o;
  }

  std::string OffsetFile() const { return clock_dir_->path() + "/offset"; }

  // parley-events' wall clock is `seconds` off the real one from now on:
  // written aside and renamed, so the shim never reads half a file, and
  // it reads the file again within 20 ms, so this waits 100.
  void StepClock(int64_t seconds) {
    const std::string aside = OffsetFile() + ".new";
    std::ofstream(aside, std::ios::trunc) << seconds << "\n";
    if (std::rename(aside.c_str(), OffsetFile().c_str()) != 0) throw SetupError("rename " + aside);
    std::this_thread::sleep_for(100ms);
  }

  static int Heartbeats(const SseState& st) {
    int n = 0;
    // ": hb" (events/wire.h), its text after the colon.
    for (const SseItem& item : st.items()) n += item.kind == SseItem::Kind::kComment && item.text == " hb";
    return n;
  }

  std::optional<TempDir> clock_dir_;
};

// The auditor's findings, one by one, after a step back of an hour: a poll
// held before the step is answered at its timeout; heartbeats go on; a
// user whose last stream closed just before the step is announced offline
// after the grace; typing notices are merged over typing_merge_ms, not for
// an hour; a logout closes the session's open stream and its next poll is
// refused (the re-check and the poll cache's age).
TEST_F(EventsClockTest, AStepBackOfTheWallClockStopsNoChore) {
  User alice = Register("alice");
  User bob = Register("bob");
  User carol = Register("carol");
  User dave = Register("dave");
  // Typing in a room of alice's and bob's only: carol's held poll must
  // end by its timeout, not by a notice.
  const int64_t room = CreateRoom(bob, "typing", "public");
  Join(alice, room);
  auto b = Subscribe(bob.token);  // first: he hears the others come online
  auto a = Subscribe(alice.token);
  auto d = Subscribe(dave.token);
  ASSERT_TRUE(b->WaitUntil(
      [&](const SseState& st) { return SawPresence(st, alice.id, true) && SawPresence(st, dave.id, true); }, 5s))
      << "bob never saw alice and dave come online";
  // Alice's session read for a poll before the step (the poll cache).
  Response polled = alice->Get("/events/poll?timeout=0");
  ASSERT_EQ(polled.status, 200) << polled.Describe();
  // Dave's last connection closes just before the step: his grace ends 2 s later.
  d->Close();
  d.reset();
  WaitForStats([](const Json& j) { return j["connections"]["stream"].num() <= 2; }, 5s);
  // Carol's poll held before the step, with a 2 s timeout.
  const std::string since = "?since=" + std::to_string(Head(carol.token));
  PollResult held;
  std::jthread poller([&] { held = Poll(carol.token, since + "&timeout=2"); });
  WaitForStats([](const Json& j) { return j["connections"]["poll"].num() >= 1; }, 5s);
  // Typing just before the step, so the merge window starts before it.
  ASSERT_EQ(bob->Post(RoomPath(room, "/typing")).status, 204);
  ASSERT_TRUE(a->WaitForEvent("typing", 3s)) << "alice got no typing notice";

  StepClock(-kStepBackS);
  const auto stepped = Clock::now();

  poller.join();
  EXPECT_EQ(held.response.status, 200) << held.response.Describe();
  EXPECT_TRUE(held.events.empty()) << "the poll was answered by an event, not its timeout: " << held.response.body;
  EXPECT_LE(held.elapsed, 3500ms) << "a poll with timeout=2 was held " << held.elapsed.count() << " ms";

  int beats = 0;
  b->With([&](const SseState& st) { beats = Heartbeats(st); });
  EXPECT_TRUE(b->WaitUntil([&](const SseState& st) { return Heartbeats(st) > beats; }, 3s))
      << "no heartbeat (--heartbeat 1) within 3 s of the step";

  EXPECT_TRUE(b->WaitUntil([&](const SseState& st) { return SawPresence(st, dave.id, false); }, 5s))
      << "dave's offline notice never came (grace 2 s, closed before the step)";

  // Past the 2 s merge window of the first notice, a second one goes out.
  std::this_thread::sleep_until(stepped + 2500ms);
  ASSERT_EQ(bob->Post(RoomPath(room, "/typing")).status, 204);
  EXPECT_TRUE(a->WaitForEvent("typing", 3s, /*skip=*/1)) << "bob's second typing notice was merged into the first";

  Response out = alice->Post("/api/logout");
  ASSERT_EQ(out.status, 204) << out.Describe();
  const auto logged_out = Clock::now();
  EXPECT_TRUE(a->WaitEof(6s)) << "alice's stream is still open 6 s after her logout";
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - logged_out);
  EXPECT_LE(took, 5s) << "closing took " << took.count() << " ms";
  Response after = alice->Get("/events/poll?timeout=0");
  EXPECT_EQ(after.status, 401) << "a logged-out token still polls: " << after.Describe();
  EXPECT_FALSE(b->eof()) << "bob's stream is untouched";

  // The clock put back: the daemon goes on as before.
  StepClock(0);
  Json sent = Send(bob, room, "after the step");
  EXPECT_TRUE(b->WaitForId(sent["id"].num(), 3s));
}

// PostgreSQL: every daemon marks itself alive once a second, and one silent
// for 5 s is taken for dead, its users offline. The marks are on the
// database's clock: on the daemon's own, one whose clock stepped back an
// hour wrote marks an hour old, and every other daemon took it for dead at
// once (README's known gap until the forty-ninth session).
TEST_F(EventsClockTest, OnPostgreSQLADaemonsLivenessMarkIsOnTheDatabasesClock) {
  if (!OnPostgres()) GTEST_SKIP() << "PostgreSQL only: SQLite has one daemon, which marks nothing";
  auto lag_ms = [&] {
    // One statement: the mark and the database's time of the read.
    const std::string out = Sql(
        "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint - MAX(seen_ts) FROM daemons");
    return std::stoll(out);
  };
  std::this_thread::sleep_for(1500ms);  // its first mark
  EXPECT_LT(lag_ms(), 3000);
  StepClock(-kStepBackS);
  std::this_thread::sleep_for(2500ms);  // two marks since the step
  const long long lag = lag_ms();
  EXPECT_LT(lag, 3000) << "the mark is " << lag << " ms old: written on the daemon's stepped clock";
  EXPECT_GT(lag, -3000) << lag;
}

}  // namespace
}  // namespace parley::e2e
