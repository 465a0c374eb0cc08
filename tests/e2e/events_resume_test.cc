// Nothing lost (DESIGN sections 2 and 4): resuming from Last-Event-ID (and
// its query forms) replays exactly what came after; fifty subscribers that
// reconnect at random during a stream of sends each see every message once,
// in order; cursors the log cannot serve get `reset`; a subscriber cut for
// not reading, a daemon restarted or killed mid-stream, and streams rotated
// by their lifetime all resume without a gap.
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "events_fixture.h"

namespace parley::e2e {
namespace {

using Clock = std::chrono::steady_clock;

class EventsResumeTest : public EventsTest {};

std::vector<int64_t> Slice(const std::vector<int64_t>& v, size_t from, size_t to) {
  return std::vector<int64_t>(v.begin() + static_cast<long>(from), v.begin() + static_cast<long>(to));
}

bool HasReset(const std::vector<SseEvent>& events) {
  return std::any_of(events.begin(), events.end(), [](const SseEvent& e) { return e.type == "reset"; });
}

TEST_F(EventsResumeTest, ResumingAfterKGetsExactlyTheRestInOrder) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = CreateRoom(alice, "resume", "public");
  Join(bob, room);
  auto s = Subscribe(bob.token);
  std::vector<int64_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(Send(alice, room, "m" + std::to_string(i))["id"].num());
  ASSERT_TRUE(s->WaitForId(ids[3], 3s));
  const int64_t k = ids[3];
  ASSERT_EQ(s->LastId().value_or(0), k);
  s->Close();
  // Sent while bob is away.
  for (int i = 4; i < 10; ++i) ids.push_back(Send(alice, room, "m" + std::to_string(i))["id"].num());
  WaitHead(bob.token, ids.back());

  struct Way {
    const char* name;
    std::string query;
    HeaderList headers;
  };
  const std::string kk = std::to_string(k);
  for (const Way& way : {Way{"Last-Event-ID header", "", {"Last-Event-ID: " + kk}},
                         Way{"?last_event_id=", "?last_event_id=" + kk, {}},
                         Way{"?lastEventId=", "?lastEventId=" + kk, {}}}) {
    SCOPED_TRACE(way.name);
    // Everything after k: m4..m9, and the live ones of the earlier rounds.
    const std::vector<int64_t> rest = Slice(ids, 4, ids.size());
    auto r = Subscribe(bob.token, way.query, way.headers);
    ASSERT_TRUE(r->WaitForId(ids.back(), 3s)) << "got " << IdList(DurableIds(r->Events()));
    EXPECT_EQ(DurableIds(r->Events()), rest) << FirstDifference(DurableIds(r->Events()), rest);
    EXPECT_FALSE(HasReset(r->Events()));
    // And the replayed stream goes on live.
    Json live = Send(alice, room, std::string("live after ") + way.name);
    EXPECT_TRUE(r->WaitForId(live["id"].num(), 3s));
    ids.push_back(live["id"].num());
    r->Close();
    WaitHead(bob.token, ids.back());
  }
  PollResult p = Poll(bob.token, "?since=" + kk);
  ASSERT_TRUE(p.well_formed) << p.response.Describe();
  std::vector<int64_t> polled;
  for (const PolledEvent& e : p.events) polled.push_back(e.id.value_or(0));
  EXPECT_EQ(polled, Slice(ids, 4, ids.size())) << p.response.body;
}

// A backlog longer than one replay page (500) and than one read of the log
// (1000), written by the sqlite3 shell in one transaction: a subscriber
// resuming from before it gets all of it, in order, then live events.
TEST_F(EventsResumeTest, ResumeAcrossABacklogOfManyPages) {
  // Writes its set-up rows with SQLite's SQL (WITH RECURSIVE into the log).
  PARLEY_E2E_SQLITE_ONLY();
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t before = Head(bob.token);
  Sql(
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1200) "
      "INSERT INTO events(ts, type, room_id, audience, data) "
      "SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), 'message', 1, 'room', "
      "json_object('room_id', 1, 'kind', 'message', 'text', 'bulk ' || x) FROM c;");
  const int64_t last = std::atoll(Sql("SELECT MAX(id) FROM events;").c_str());
  ASSERT_EQ(last, before + 1200);
  WaitHead(bob.token, last, 5s);

  auto s = Subscribe(bob.token, "", {"Last-Event-ID: " + std::to_string(before)});
  ASSERT_TRUE(s->WaitForId(last, 10s)) << "got up to " << s->LastId().value_or(0);
  std::vector<int64_t> want;
  for (int64_t id = before + 1; id <= last; ++id) want.push_back(id);
  EXPECT_EQ(DurableIds(s->Events()), want) << FirstDifference(DurableIds(s->Events()), want);
  Json live = Send(alice, General(alice), "after the backlog");
  EXPECT_TRUE(s->WaitForId(live["id"].num(), 3s));
}

TEST_F(EventsResumeTest, FiftySubscribersReconnectingAtRandomLoseNothing) {
  constexpr int kSubscribers = 50, kSends = 300;
  auto accounts = BulkUsers("sub", kSubscribers);
  User alice = Register("alice");
  const int64_t room = General(alice);
  std::vector<std::unique_ptr<Resumer>> subs;
  for (int i = 0; i < kSubscribers; ++i) {
    Resumer::Options o;
    o.port = stack().port();
    o.token = accounts[static_cast<size_t>(i)].second;
    o.min_life = 100ms;
    o.max_life = 700ms;
    o.deadline = 60s;
    o.seed = static_cast<uint32_t>(i + 1);
    subs.push_back(std::make_unique<Resumer>(o));
    subs.back()->Start();
  }
  for (auto& s : subs) ASSERT_TRUE(s->WaitConnected(10s)) << "a subscriber never connected";

  std::vector<int64_t> sent;
  for (int i = 0; i < kSends; ++i) {
    sent.push_back(Send(alice, room, "n" + std::to_string(i))["id"].num());
    std::this_thread::sleep_for(8ms);
  }
  for (auto& s : subs) s->FinishAt(sent.back());
  int reconnects = 0;
  for (int i = 0; i < kSubscribers; ++i) {
    Resumer& s = *subs[static_cast<size_t>(i)];
    const bool reached = s.Join();
    SCOPED_TRACE(accounts[static_cast<size_t>(i)].first);
    EXPECT_TRUE(reached) << "did not reach the last message by its deadline";
    std::vector<int64_t> got = MessageIds(s.events, room);
    EXPECT_EQ(got, sent) << FirstDifference(got, sent);
    EXPECT_TRUE(s.problems.empty()) << s.problems.size() << " problem(s), first: " << s.problems.front();
    EXPECT_GE(s.connections, 2) << "it never reconnected during the sends";
    reconnects += s.connections - 1;
  }
  std::printf("%d subscribers, %d sends, %d reconnections\n", kSubscribers, kSends, reconnects);
}

TEST_F(EventsResumeTest, CursorOlderThanTheLogGetsReset) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = General(alice);
  std::vector<int64_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(Send(alice, room, "old " + std::to_string(i))["id"].num());
  WaitHead(bob.token, ids.back());
  // Retention as an admin would prune: the log now starts at ids[7].
  Sql("DELETE FROM events WHERE id < " + std::to_string(ids[7]) + ";");

  // oldest - 1 is still a cursor the log can serve without a gap.
  auto fine = Subscribe(bob.token, "", {"Last-Event-ID: " + std::to_string(ids[7] - 1)});
  ASSERT_TRUE(fine->WaitForId(ids[9], 3s));
  EXPECT_FALSE(HasReset(fine->Events()));
  EXPECT_EQ(MessageIds(fine->Events(), room), Slice(ids, 7, 10));

  auto old = Subscribe(bob.token, "", {"Last-Event-ID: " + std::to_string(ids[0])});
  ASSERT_TRUE(old->WaitForEvent("reset", 3s)) << "a cursor older than the log got no reset";
  std::vector<SseEvent> events = old->Events();
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[0].type, "hello");
  EXPECT_EQ(events[1].type, "reset") << "reset comes right after hello";
  EXPECT_FALSE(events[1].id.has_value()) << "reset carries no id";
  EXPECT_FALSE(events[1].json()["reason"].str().empty()) << events[1].data;
  // After the reset the stream goes on from the head.
  Json live = Send(alice, room, "after the reset");
  EXPECT_TRUE(old->WaitForId(live["id"].num(), 3s));

  PollResult p = Poll(bob.token, "?since=" + std::to_string(ids[0]));
  ASSERT_TRUE(p.well_formed) << p.response.Describe();
  EXPECT_LT(p.elapsed, 2s);
  ASSERT_FALSE(p.events.empty()) << p.response.body;
  EXPECT_EQ(p.events[0].type, "reset") << p.response.body;
  EXPECT_FALSE(p.events[0].id.has_value()) << p.response.body;
  EXPECT_FALSE(p.events[0].data["reason"].str().empty()) << p.response.body;
}

TEST_F(EventsResumeTest, CursorAheadOfTheHeadGetsReset) {
  User alice = Register("alice");
  User bob = Register("bob");
  Json m = Send(alice, General(alice), "the head");
  WaitHead(bob.token, m["id"].num());
  const std::string ahead = std::to_string(m["id"].num() + 1000);

  auto s = Subscribe(bob.token, "?last_event_id=" + ahead);
  ASSERT_TRUE(s->WaitForEvent("reset", 3s)) << "a cursor from another database got no reset";
  for (const SseEvent& e : s->Events()) {
    if (e.type == "reset") {
      EXPECT_FALSE(e.id.has_value());
      EXPECT_FALSE(e.json()["reason"].str().empty()) << e.data;
    }
  }
  Json live = Send(alice, General(alice), "after the reset");
  EXPECT_TRUE(s->WaitForId(live["id"].num(), 3s)) << "the stream goes on from the head";

  PollResult p = Poll(bob.token, "?since=" + ahead + "&timeout=5");
  ASSERT_TRUE(p.well_formed) << p.response.Describe();
  EXPECT_LT(p.elapsed, 2s) << "a reset is answered at once";
  ASSERT_EQ(p.events.size(), 1u) << p.response.body;
  EXPECT_EQ(p.events[0].type, "reset");
  EXPECT_FALSE(p.events[0].id.has_value());
}

// A subscriber that stops reading while large messages keep coming is cut
// at the output cap (64 KiB here), and loses nothing: it resumes from the
// last id it did receive.
class SlowReaderTest : public EventsTest {
 protected:
  std::vector<std::string> EventsFlags() const override { return {"--output-cap", "65536"}; }
};

TEST_F(SlowReaderTest, SubscriberThatStopsReadingIsCutAndResumesWithoutLoss) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = General(alice);
  SseStream::Options o;
  o.headers = {"Authorization: Bearer " + bob.token};
  o.rcvbuf = 4096;
  o.start_reading = false;  // a client that never reads
  auto slow = OpenStream(o);
  WaitForStats([](const Json& j) { return j["connections"]["stream"].num() == 1; }, 5s);

  // 4000 three-byte characters: 12 KB of JSON per event.
  std::string big;
  for (int i = 0; i < 4000; ++i) big += "\xe2\x82\xac";
  std::vector<int64_t> sent;
  int64_t slow_cuts = 0;
  int after_cut = -1;
  const auto deadline = Clock::now() + 40s;
  while (after_cut < 10 && sent.size() < 2000 && Clock::now() < deadline) {
    sent.push_back(Send(alice, room, big)["id"].num());
    if (after_cut >= 0) {
      ++after_cut;
    } else if (sent.size() % 5 == 0) {
      slow_cuts = Stats()["disconnects"]["slow"].num();
      if (slow_cuts >= 1) after_cut = 0;
    }
  }
  ASSERT_GE(slow_cuts, 1) << "no slow disconnect after " << sent.size() << " messages of 12 KB";
  std::printf("cut after about %zu messages of 12 KB\n", sent.size() - 10);

  // Now it reads: whatever was in flight, then the end of the connection.
  slow->StartReading();
  ASSERT_TRUE(slow->WaitEof(15s)) << "the cut connection never ended";
  std::vector<int64_t> got = MessageIds(slow->Events(), room);
  std::optional<int64_t> last = slow->LastId();
  EXPECT_LT(got.size(), sent.size()) << "it was cut, so it cannot have everything";
  ASSERT_TRUE(slow->WaitForEvent("hello", 0ms));
  const int64_t cursor = last.value_or(slow->Events()[0].json()["head"].num());

  // It resumes as a browser would: from its last id, retrying if refused.
  Resumer::Options ro;
  ro.port = stack().port();
  ro.token = bob.token;
  ro.cursor = cursor;
  ro.deadline = 15s;
  Resumer resumed(ro);
  resumed.Start();
  resumed.FinishAt(sent.back());
  const bool reached = resumed.Join();
  EXPECT_TRUE(reached) << "resuming from " << cursor << " (" << sent.size() - got.size()
                       << " messages of 12 KB behind) did not catch up within 15 s: " << resumed.connections
                       << " stream(s) opened, " << resumed.refused << " attempt(s) refused, got up to "
                       << (resumed.events.empty() ? cursor : resumed.events.back().id.value_or(0)) << " of "
                       << sent.back() << "; stats: " << Stats().Dump();
  EXPECT_TRUE(resumed.problems.empty()) << resumed.problems.front();
  std::vector<int64_t> more = MessageIds(resumed.events, room);
  got.insert(got.end(), more.begin(), more.end());
  EXPECT_EQ(got, sent) << FirstDifference(got, sent);
}

// Resuming is not being slow: a backlog larger than the output cap (20
// messages of 12 KB against 64 KiB) is replayed to a client that reads it
// all at once, without a cut.
TEST_F(SlowReaderTest, ResumeWithABacklogLargerThanTheCapIsNotCut) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t before = Head(bob.token);
  std::string big;
  for (int i = 0; i < 4000; ++i) big += "\xe2\x82\xac";
  std::vector<int64_t> sent;
  for (int i = 0; i < 20; ++i) sent.push_back(Send(alice, General(alice), big)["id"].num());
  WaitHead(bob.token, sent.back());

  SseStream::Options o;
  o.headers = {"Authorization: Bearer " + bob.token, "Last-Event-ID: " + std::to_string(before)};
  auto s = OpenStream(o);
  const bool all = s->WaitForId(sent.back(), 10s);
  Json st = Stats();
  EXPECT_TRUE(all) << "GET /events/stream with Last-Event-ID: " << before << " (240 KB to replay): HTTP "
                   << s->status() << ", " << s->Events().size() << " event(s), ended: " << s->eof() << ", body "
                   << s->Body().substr(0, 200) << "; stats: " << st.Dump();
  EXPECT_EQ(st["disconnects"]["slow"].num(), 0) << st.Dump();
  EXPECT_EQ(MessageIds(s->Events(), General(alice)), sent);
}

// parley-events stopped (SIGTERM) or killed (SIGKILL) while messages keep
// being sent, then started again: a subscriber that resumes from the last id
// it saw gets every message once, in order.
class RestartTest : public EventsTest {
 protected:
  void RunAcrossRestart(bool crash) {
    User alice = Register("alice");
    User bob = Register("bob");
    const int64_t room = CreateRoom(alice, "restart", "public");
    Join(bob, room);
    Resumer::Options o;
    o.port = stack().port();
    o.token = bob.token;
    o.deadline = 40s;
    Resumer sub(o);
    sub.Start();
    ASSERT_TRUE(sub.WaitConnected(5s));

    std::vector<int64_t> sent;
    auto send_some = [&](int n) { SendPaced(alice, room, n, 15ms, "r", &sent); };
    send_some(40);
    if (crash) {
      int st = stack().KillEvents();
      EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL) << "wait status " << st;
    } else {
      int st = stack().StopEvents(5000ms);
      EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "SIGTERM: wait status " << st;
    }
    send_some(40);  // nobody is listening
    std::string error;
    ASSERT_TRUE(stack().StartEvents(&error)) << error;
    send_some(40);
    sub.FinishAt(sent.back());
    EXPECT_TRUE(sub.Join()) << "the subscriber did not reach the last message";
    std::vector<int64_t> got = MessageIds(sub.events, room);
    EXPECT_EQ(got, sent) << FirstDifference(got, sent);
    EXPECT_TRUE(sub.problems.empty()) << sub.problems.front();
    EXPECT_GE(sub.connections, 2);
    EXPECT_GE(sub.server_ends, 1);
    if (!crash) {
      EXPECT_GE(sub.server_ends_with_retry, 1) << "a stopping daemon says goodbye with retry";
    }
  }
};

TEST_F(RestartTest, DaemonStoppedMidStreamLosesNothing) { RunAcrossRestart(false); }
TEST_F(RestartTest, DaemonKilledMidStreamLosesNothing) { RunAcrossRestart(true); }

// Streams closed by their lifetime (2 s here) end with a retry line and
// resume without loss; idle streams get heartbeat comments.
class RotationTest : public EventsTest {
 protected:
  std::vector<std::string> EventsFlags() const override {
    return {"--stream-lifetime", "2", "--heartbeat", "1"};
  }
};

TEST_F(RotationTest, IdleStreamGetsHeartbeatsThenEndsWithRetry) {
  User bob = Register("bob");
  const auto start = Clock::now();
  auto s = Subscribe(bob.token);
  ASSERT_TRUE(s->WaitEof(6s)) << "a stream with a 2 s lifetime is still open after 6 s";
  const auto lived = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  EXPECT_GE(lived, 1500ms);
  EXPECT_LE(lived, 4500ms);
  EXPECT_TRUE(s->complete()) << "the stream ended properly (last chunk), not cut";
  std::vector<SseItem> items = s->Items();
  size_t hello = items.size();
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].kind == SseItem::Kind::kEvent && items[i].event.type == "hello") {
      hello = i;
      break;
    }
  }
  ASSERT_LT(hello, items.size());
  int comments = 0, retries = 0;
  for (size_t i = hello + 1; i < items.size(); ++i) {
    comments += items[i].kind == SseItem::Kind::kComment;
    retries += items[i].kind == SseItem::Kind::kRetry;
  }
  EXPECT_GE(comments, 1) << "no heartbeat comment with --heartbeat 1";
  EXPECT_EQ(retries, 1) << "the goodbye carries a retry line";
}

TEST_F(RotationTest, RotatedStreamsResumeWithoutLoss) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = General(alice);
  Resumer::Options o;
  o.port = stack().port();
  o.token = bob.token;
  o.deadline = 30s;
  Resumer sub(o);
  sub.Start();
  ASSERT_TRUE(sub.WaitConnected(5s));
  std::vector<int64_t> sent;
  const auto until = Clock::now() + 6s;
  while (Clock::now() < until) {
    sent.push_back(Send(alice, room, "rot " + std::to_string(sent.size()))["id"].num());
    std::this_thread::sleep_for(50ms);
  }
  sub.FinishAt(sent.back());
  EXPECT_TRUE(sub.Join());
  std::vector<int64_t> got = MessageIds(sub.events, room);
  EXPECT_EQ(got, sent) << FirstDifference(got, sent);
  EXPECT_TRUE(sub.problems.empty()) << sub.problems.front();
  EXPECT_GE(sub.server_ends, 2) << "6 s of 2 s streams";
  EXPECT_EQ(sub.server_ends_with_retry, sub.server_ends) << "every rotation ends with a retry line";
  Json st = Stats();
  EXPECT_GE(st["disconnects"]["rotated"].num(), 2) << st.Dump();
}

// Retention (schema/retention.h, run by parley-events' sweep): a pass at
// the daemon's first tick, then hourly, a step a second. Here every event
// is old at once (--retention-days 0) and each room keeps its newest 3.
class EventsRetentionTest : public EventsTest {
 protected:
  std::vector<std::string> EventsFlags() const override {
    return {"--retention-days", "0", "--retention-per-room", "3"};
  }
  int64_t Count(const std::string& where) { return std::stoll(Sql("SELECT COUNT(*) FROM events WHERE " + where + ";")); }
  // Restarts parley-events, whose start makes a pass (one restarted more
  // often than hourly would otherwise never prune), and waits (10 s at
  // most) for `room` to be down to its 3 newest events.
  void RestartAndWaitForThePrune(int64_t room) {
    int st = stack().StopEvents(5000ms);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "SIGTERM: wait status " << st;
    std::string error;
    ASSERT_TRUE(stack().StartEvents(&error)) << error;
    const std::string in_room = "room_id = " + std::to_string(room);
    const Clock::time_point deadline = Clock::now() + 10s;
    while (Count(in_room) != 3 && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
    ASSERT_EQ(Count(in_room), 3) << stack().LogTail();
  }
};

TEST_F(EventsRetentionTest, ADaemonThatStartsPrunesAndCursorsBeforeWhatIsLeftGetReset) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = General(alice);
  std::vector<int64_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(Send(alice, room, "m" + std::to_string(i))["id"].num());
  WaitHead(bob.token, ids.back());
  // This daemon's pass came before the sends; a daemon that starts makes one.
  ASSERT_NO_FATAL_FAILURE(RestartAndWaitForThePrune(room));
  EXPECT_EQ(Count("id < " + std::to_string(ids[7])), 0) << "the events of no room go by age alone";
  EXPECT_EQ(Count("id >= " + std::to_string(ids[7])), 3);
  // The history is kept: only the log a resume replays from is pruned.
  Json page = bob->Get("/api/rooms/" + std::to_string(room) + "/messages?limit=100").json();
  EXPECT_GE(page["messages"].size(), 10u);

  PollResult fine = Poll(bob.token, "?since=" + std::to_string(ids[7] - 1));
  ASSERT_TRUE(fine.well_formed) << fine.response.Describe();
  ASSERT_EQ(fine.events.size(), 3u) << fine.response.body;
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(fine.events[i].id.value_or(-1), ids[7 + i]) << fine.response.body;
  PollResult old = Poll(bob.token, "?since=" + std::to_string(ids[0]));
  ASSERT_TRUE(old.well_formed) << old.response.Describe();
  ASSERT_FALSE(old.events.empty()) << old.response.body;
  EXPECT_EQ(old.events[0].type, "reset") << old.response.body;
}

// A quiet room keeps its few old events (each room keeps its newest) while
// a busy room's go. A cursor among the busy room's deleted ids is above the
// oldest event left, yet its resume would miss them: it gets a reset too,
// by the log's floor (the highest id gone), on both transports.
TEST_F(EventsRetentionTest, ACursorAmongOneRoomsPrunedEventsIsResetThoughAQuietRoomKeepsOlderOnes) {
  User alice = Register("alice");
  User bob = Register("bob");
  Response quiet = alice->Post("/api/rooms", "{\"name\":\"quiet\",\"kind\":\"public\"}");
  ASSERT_EQ(quiet.status, 201) << quiet.Describe();
  const int64_t quiet_room = quiet.json()["room"]["id"].num();
  const int64_t room = General(alice);
  std::vector<int64_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(Send(alice, room, "m" + std::to_string(i))["id"].num());
  WaitHead(bob.token, ids.back());
  ASSERT_NO_FATAL_FAILURE(RestartAndWaitForThePrune(room));
  const std::string kept = "room_id = " + std::to_string(quiet_room) + " AND id < " + std::to_string(ids[0]);
  ASSERT_GT(Count(kept), 0) << "the quiet room keeps events older than general's";

  // ids[3] to ids[6] are gone: a cursor among them is reset.
  for (const int64_t cursor : {ids[2], ids[5]}) {
    PollResult old = Poll(bob.token, "?since=" + std::to_string(cursor));
    ASSERT_TRUE(old.well_formed) << old.response.Describe();
    ASSERT_FALSE(old.events.empty()) << old.response.body;
    EXPECT_EQ(old.events[0].type, "reset") << cursor << ": " << old.response.body;
  }
  // At the floor, nothing after the cursor is gone: no reset.
  PollResult fine = Poll(bob.token, "?since=" + std::to_string(ids[6]));
  ASSERT_TRUE(fine.well_formed) << fine.response.Describe();
  ASSERT_EQ(fine.events.size(), 3u) << fine.response.body;
  EXPECT_EQ(fine.events[0].id.value_or(-1), ids[7]) << fine.response.body;
  // A stream resuming from the same gap opens with the reset too.
  SseStream::Options o;
  o.path = "/events/stream?last_event_id=" + std::to_string(ids[5]);
  o.headers = {"Authorization: Bearer " + bob.token};
  auto s = OpenStream(o);
  EXPECT_TRUE(s->WaitForEvent("reset", 5s)) << "HTTP " << s->status() << ": " << s->Body().substr(0, 400);
}

// Expired idempotency keys (schema/key_expiry.h) go in the same pass, after
// the events: a client's key 7 days after its send, nginx's replay key (a
// send without client_id) an hour after. The keys are aged in the database;
// then a send with the forgotten client_id is a new one, and one with the
// kept id the stored copy.
TEST_F(EventsRetentionTest, ADaemonThatStartsForgetsExpiredIdempotencyKeys) {
  User alice = Register("alice");
  const int64_t room = General(alice);
  const int64_t old_id = Send(alice, room, "a week ago", "old-key")["id"].num();
  const int64_t kept_id = Send(alice, room, "two hours ago", "kept-key")["id"].num();
  Send(alice, room, "replayable");
  auto keys = [&](const std::string& where) {
    return std::stoll(Sql("SELECT COUNT(*) FROM idempotency WHERE " + where + ";"));
  };
  const std::string replay = "client_id LIKE ' nginx %'";
  ASSERT_EQ(keys(replay), 1) << "a send without client_id is keyed by nginx's $request_id";
  Sql("UPDATE idempotency SET created_ts = created_ts - " + std::to_string(8LL * 24 * 3600 * 1000) +
      " WHERE client_id = 'old-key';");
  Sql("UPDATE idempotency SET created_ts = created_ts - " + std::to_string(2LL * 3600 * 1000) +
      " WHERE client_id = 'kept-key' OR " + replay + ";");
  ASSERT_NO_FATAL_FAILURE(RestartAndWaitForThePrune(room));
  const Clock::time_point deadline = Clock::now() + 10s;
  while (keys("1 = 1") != 1 && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(keys("client_id = 'kept-key'"), 1) << stack().LogTail();
  EXPECT_EQ(keys("client_id = 'old-key' OR " + replay), 0) << stack().LogTail();

  Response again = alice->Post("/api/rooms/" + std::to_string(room) + "/messages",
                               "{\"text\":\"a week ago\",\"client_id\":\"old-key\"}");
  ASSERT_EQ(again.status, 201) << again.Describe();
  EXPECT_NE(again.json()["message"]["id"].num(), old_id);
  Response retry = alice->Post("/api/rooms/" + std::to_string(room) + "/messages",
                               "{\"text\":\"two hours ago\",\"client_id\":\"kept-key\"}");
  ASSERT_EQ(retry.status, 200) << retry.Describe();
  EXPECT_EQ(retry.json()["message"]["id"].num(), kept_id);
}

}  // namespace
}  // namespace parley::e2e
