// parley-events over SSE, through nginx (DESIGN section 4): the opening of a
// stream, delivery to streams and waiting polls, the wire format against
// hostile text, the data_version safety net, typing, presence, stats, and
// the curl -N usage the README documents.
#include <algorithm>
#include <cstdlib>
#include <thread>

#include "events_fixture.h"

namespace parley::e2e {
namespace {

using Clock = std::chrono::steady_clock;

class EventsStreamTest : public EventsTest {};

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST_F(EventsStreamTest, OpensWithPaddingCommentRetryAndHello) {
  User alice = Register("alice");
  Json m = Send(alice, General(alice), "before the stream");
  WaitHead(alice.token, m["id"].num());
  PollResult head = Poll(alice.token, "");
  ASSERT_TRUE(head.well_formed) << head.response.Describe();

  SseStream::Options o;
  o.headers = {"Authorization: Bearer " + alice.token, "Accept-Encoding: gzip, deflate, br"};
  auto s = OpenStream(o);
  ASSERT_TRUE(s->WaitForEvent("hello", 5s)) << "HTTP " << s->status() << " " << s->Body().substr(0, 300);
  EXPECT_EQ(s->status(), 200);
  EXPECT_EQ(s->Header("content-type").rfind("text/event-stream", 0), 0u) << s->Header("content-type");
  const std::string cache = s->Header("cache-control");
  EXPECT_TRUE(Contains(cache, "no-cache") || Contains(cache, "no-store")) << "Cache-Control: " << cache;
  EXPECT_EQ(s->Header("content-encoding"), "") << "a stream is never compressed";

  const std::string body = s->Body();
  ASSERT_FALSE(body.empty());
  EXPECT_EQ(body[0], ':') << "the first bytes are a comment";
  EXPECT_GE(body.find('\n'), 2048u) << "the opening comment is at least 2 KiB";

  std::vector<SseItem> items = s->Items();
  ASSERT_GE(items.size(), 3u);
  EXPECT_EQ(items[0].kind, SseItem::Kind::kComment);
  ASSERT_EQ(items[1].kind, SseItem::Kind::kRetry) << "then retry";
  EXPECT_EQ(items[1].text, "2000");
  ASSERT_EQ(items[2].kind, SseItem::Kind::kEvent) << "then hello";
  const SseEvent& hello = items[2].event;
  EXPECT_EQ(hello.type, "hello");
  EXPECT_FALSE(hello.id.has_value()) << "hello carries no id";
  Json h = hello.json();
  EXPECT_FALSE(h["epoch"].str().empty()) << hello.data;
  EXPECT_EQ(h["epoch"].str(), head.epoch) << "the same epoch as polls";
  EXPECT_TRUE(h["head"].is_number()) << hello.data;
  EXPECT_EQ(h["head"].num(), m["id"].num()) << hello.data;
  EXPECT_EQ(h["user"]["id"].num(), alice.id) << hello.data;
  EXPECT_EQ(h["user"]["username"].str(), alice.name) << hello.data;
}

// nginx hides X-Accel-* headers of an upstream unless told to pass them;
// DESIGN section 4 lists the header among what a stream's client receives.
TEST_F(EventsStreamTest, ThroughNginxTheStreamSaysXAccelBufferingNo) {
  User alice = Register("alice");
  auto s = Subscribe(alice.token);
  EXPECT_EQ(s->Header("x-accel-buffering"), "no")
      << "response headers through nginx: content-type=" << s->Header("content-type")
      << " cache-control=" << s->Header("cache-control");
}

TEST_F(EventsStreamTest, EventReachesStreamAndWaitingPoll) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = CreateRoom(alice, "lobby", "public");
  Join(bob, room);
  auto stream = Subscribe(bob.token);
  const int64_t head = Head(bob.token);

  PollResult polled;
  std::jthread poller([&] { polled = Poll(bob.token, "?since=" + std::to_string(head) + "&timeout=10"); });
  WaitForStats([](const Json& j) { return j["connections"]["poll"].num() >= 1; }, 5s);
  Json m = Send(alice, room, "hello bob", "c-1");
  const int64_t id = m["id"].num();
  EXPECT_TRUE(stream->WaitForId(id, 3s)) << "the stream did not get message " << id;
  poller.join();

  std::vector<SseEvent> got;
  for (const SseEvent& e : stream->Events()) {
    if (e.id == id) got.push_back(e);
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].type, "message");
  Json d = got[0].json();
  EXPECT_EQ(d["id"].num(), id) << got[0].data;
  EXPECT_EQ(d["room_id"].num(), room);
  EXPECT_EQ(d["text"].str(), "hello bob");
  EXPECT_EQ(d["user"]["id"].num(), alice.id);
  EXPECT_EQ(d["client_id"].str(), "c-1");
  EXPECT_EQ(d["kind"].str(), "message");

  ASSERT_TRUE(polled.well_formed) << polled.response.Describe();
  EXPECT_LT(polled.elapsed, 5s) << "the poll was answered when the event arrived";
  ASSERT_EQ(polled.events.size(), 1u) << polled.response.body;
  EXPECT_EQ(polled.events[0].id.value_or(-1), id);
  EXPECT_EQ(polled.events[0].type, "message");
  EXPECT_EQ(polled.events[0].data["text"].str(), "hello bob");
  EXPECT_EQ(polled.events[0].data["room_id"].num(), room);
  EXPECT_EQ(polled.next, id);
  EXPECT_FALSE(polled.more);
}

// Text is JSON-escaped onto one data line: nothing in it can end the event
// early, add an id or change the event type.
TEST_F(EventsStreamTest, MessageTextCannotForgeSseFields) {
  User alice = Register("alice");
  User bob = Register("bob");
  auto stream = Subscribe(bob.token);
  const std::string text = "\n\nid: 999\nevent: x";
  Json m = Send(alice, General(alice), text);
  const int64_t id = m["id"].num();
  Json after = Send(alice, General(alice), "after");
  ASSERT_TRUE(stream->WaitForId(after["id"].num(), 3s));

  int matches = 0;
  for (const SseEvent& e : stream->Events()) {
    EXPECT_NE(e.type, "x") << "a forged event type: " << e.data;
    EXPECT_FALSE(e.id && *e.id == 999) << "a forged id: " << e.data;
    if (e.id == id) {
      ++matches;
      EXPECT_EQ(e.type, "message");
      EXPECT_EQ(e.json()["text"].str(), text) << e.data;
    }
  }
  EXPECT_EQ(matches, 1);
  EXPECT_EQ(stream->Body().find("\nid: 999"), std::string::npos);
}

// A row written by another program, with no datagram, still reaches
// subscribers: the daemon watches PRAGMA data_version every 250 ms.
TEST_F(EventsStreamTest, EventInsertedByAnotherProgramArrivesWithinASecond) {
  // Writes its set-up rows with SQLite's SQL (WITH RECURSIVE into the log).
  PARLEY_E2E_SQLITE_ONLY();
  User bob = Register("bob");
  auto stream = Subscribe(bob.token);
  const std::string out = Sql(
      "INSERT INTO events(ts, type, room_id, audience, data) VALUES ("
      "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), 'message', 1, 'room', "
      "'{\"room_id\":1,\"kind\":\"message\",\"text\":\"from the sqlite3 shell\"}') RETURNING id;");
  const auto written = Clock::now();
  const int64_t id = std::atoll(out.c_str());
  ASSERT_GT(id, 0) << out;
  const bool arrived = stream->WaitForId(id, 3s);
  const auto latency = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - written);
  ASSERT_TRUE(arrived) << "event " << id << " never arrived";
  EXPECT_LE(latency, 1200ms) << "the data_version safety net took " << latency.count() << " ms";
  for (const SseEvent& e : stream->Events()) {
    if (e.id == id) {
      EXPECT_EQ(e.json()["text"].str(), "from the sqlite3 shell") << e.data;
    }
  }
}

// A read of the log that fails after the head moved (a busy database, a
// server restarting) is tried again, though no commit follows to move the
// head again. Before, the event waited for the next commit, however late:
// a subscriber could miss the last messages before a quiet spell.
TEST_F(EventsStreamTest, AnEventWhoseReadFailedArrivesWithoutAnotherCommit) {
  // The head (event_counter) and the log (events) are two tables only on
  // PostgreSQL: there the head can move while the log cannot be read.
  if (!OnPostgres()) GTEST_SKIP() << "PostgreSQL only";
  User bob = Register("bob");
  auto stream = Subscribe(bob.token);
  WaitHead(bob.token, DbHead());
  const double failures = Stats()["read_failures"].num();
  // The log cannot be read (a column the daemon selects is gone) when the
  // head moves to an event written meanwhile.
  const int64_t id = std::atoll(Sql("ALTER TABLE events RENAME COLUMN audience TO audience_away; "
                                    "INSERT INTO events (id, ts, type, room_id, audience_away, data) "
                                    "SELECT last + 1, (extract(epoch FROM now()) * 1000)::bigint, 'message', 1, "
                                    "'room', '{\"room_id\":1,\"kind\":\"message\",\"text\":\"read late\"}' "
                                    "FROM event_counter; "
                                    "UPDATE event_counter SET last = last + 1 RETURNING last;")
                                    .c_str());
  ASSERT_GT(id, 0);
  Json stats = WaitForStats([&](const Json& j) { return j["read_failures"].num() > failures; }, 3s);
  ASSERT_GT(stats["read_failures"].num(), failures) << "the daemon never tried to read the log: " << stats.Dump();
  Sql("ALTER TABLE events RENAME COLUMN audience_away TO audience");
  EXPECT_TRUE(stream->WaitForId(id, 3s)) << "event " << id << " never arrived; " << Stats().Dump();
}

// Whether a stream has had a presence event about user_id.
bool SawPresenceOf(const SseState& st, int64_t user_id) {
  for (const SseEvent& e : st.Events()) {
    if (e.type == "presence" && e.json()["user"]["id"].num() == user_id) return true;
  }
  return false;
}

TEST_F(EventsStreamTest, TypingReachesOtherMembersWithoutIdAndNotTheTypist) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = CreateRoom(alice, "typing", "public");
  Join(bob, room);
  auto a = Subscribe(alice.token);
  auto b = Subscribe(bob.token);
  // Presence settles first: on PostgreSQL it comes back through NOTIFY, in
  // commit order, so once alice hears bob come online, alice's own online
  // notice (sent before) has gone out too and cannot answer bob's poll.
  ASSERT_TRUE(a->WaitUntil([&](const SseState& st) { return SawPresenceOf(st, bob.id); }, 5s))
      << "alice never saw bob come online";
  const int64_t head = Head(bob.token);
  PollResult polled;
  std::jthread poller([&] { polled = Poll(bob.token, "?since=" + std::to_string(head) + "&timeout=10"); });
  WaitForStats([](const Json& j) { return j["connections"]["poll"].num() >= 1; }, 5s);

  Response t = alice->Post(RoomPath(room, "/typing"));
  ASSERT_EQ(t.status, 204) << t.Describe();
  ASSERT_TRUE(b->WaitForEvent("typing", 3s)) << "bob's stream got no typing event";
  poller.join();
  for (const SseEvent& e : b->Events()) {
    if (e.type != "typing") continue;
    EXPECT_FALSE(e.id.has_value()) << "typing is ephemeral: no id line";
    EXPECT_EQ(e.json()["room_id"].num(), room) << e.data;
    EXPECT_EQ(e.json()["user"]["id"].num(), alice.id) << e.data;
    EXPECT_EQ(e.json()["user"]["username"].str(), alice.name) << e.data;
  }
  // The stream's Last-Event-ID must not move: no id line anywhere near it.
  EXPECT_FALSE(b->LastId().has_value()) << "no durable event was sent";

  ASSERT_TRUE(polled.well_formed) << polled.response.Describe();
  ASSERT_EQ(polled.events.size(), 1u) << "a waiting poll gets the typing notice: " << polled.response.body;
  EXPECT_EQ(polled.events[0].type, "typing");
  EXPECT_FALSE(polled.events[0].id.has_value()) << polled.response.body;

  // A marker after the typing notice: once alice has it, she would have had
  // the notice too (one connection, in order).
  Json marker = Send(alice, room, "marker");
  ASSERT_TRUE(a->WaitForId(marker["id"].num(), 3s));
  for (const SseEvent& e : a->Events()) EXPECT_NE(e.type, "typing") << "the typist got her own notice";
}

TEST_F(EventsStreamTest, StatsTimeTheDeliveryPath) {
  // events/timing.h: where a delivery's time goes, for the fan-out bench.
  User alice = Register("alice");
  const int64_t room = CreateRoom(alice, "timed", "public");
  auto s = Subscribe(alice.token);
  Json sent = Send(alice, room, "timed");
  ASSERT_TRUE(s->WaitForId(sent["id"].num(), 3s));
  // The write pass is timed as it ends, after the bytes left: wait for it.
  Json st = WaitForStats([](const Json& j) { return j["timing"]["flush"]["count"].num() >= 1; }, 3s);
  for (const char* t : {"commit_to_read", "read", "append", "flush"}) {
    const Json& h = st["timing"][t];
    EXPECT_GE(h["count"].num(), 1) << t << ": " << st.Dump();
    EXPECT_LE(h["p50_us"].num(), h["p99_us"].num()) << t << ": " << st.Dump();
    EXPECT_LE(h["mean_us"].num(), h["max_us"].num()) << t << ": " << st.Dump();
  }
  // A message read within seconds of its commit, on this idle stack.
  EXPECT_LT(st["timing"]["commit_to_read"]["p50_us"].num(), 5e6) << st.Dump();
}

TEST_F(EventsStreamTest, StatsAsJsonAndPrometheus) {
  User alice = Register("alice");
  auto s1 = Subscribe(alice.token);
  auto s2 = Subscribe(alice.token);
  Json st = WaitForStats([](const Json& j) { return j["connections"]["stream"].num() == 2; }, 3s);
  EXPECT_EQ(st["connections"]["stream"].num(), 2) << st.Dump();
  EXPECT_TRUE(st["connections"]["poll"].is_number()) << st.Dump();
  for (const char* cause : {"client", "slow", "revoked", "rotated", "shutdown"}) {
    EXPECT_TRUE(st["disconnects"][cause].is_number()) << cause << ": " << st.Dump();
  }
  EXPECT_TRUE(st["head"].is_number()) << st.Dump();
  EXPECT_TRUE(st["lag"].is_number()) << st.Dump();
  EXPECT_TRUE(st["events_delivered"].is_number()) << st.Dump();

  s2->Close();
  st = WaitForStats([](const Json& j) {
    return j["connections"]["stream"].num() == 1 && j["disconnects"]["client"].num() >= 1;
  }, 3s);
  EXPECT_EQ(st["connections"]["stream"].num(), 1) << st.Dump();
  EXPECT_GE(st["disconnects"]["client"].num(), 1) << st.Dump();

  Response p = NewClient(Client::Cookies::kOff)->Get("/events/stats?format=prometheus");
  ASSERT_EQ(p.status, 200) << p.Describe();
  EXPECT_EQ(p.Header("content-type").rfind("text/plain", 0), 0u) << p.Header("content-type");
  EXPECT_TRUE(Contains(p.body, "# TYPE parley_connections gauge")) << p.body;
  EXPECT_TRUE(Contains(p.body, "parley_connections{transport=\"stream\"} 1")) << p.body;
  EXPECT_TRUE(Contains(p.body, "parley_disconnects_total{cause=\"client\"}")) << p.body;
}

// What the README shows: curl -N prints events as they happen.
TEST_F(EventsStreamTest, CurlDashNPrintsEventsAsTheyHappen) {
  User alice = Register("alice");
  User bob = Register("bob");
  Child::Options o;
  o.argv = {FindProgram({"/usr/bin/curl", "/usr/local/bin/curl"}, "curl"), "-sN", "--max-time", "10", "-H",
            "Authorization: Bearer " + bob.token, stack().base_url() + "/events/stream"};
  o.log_path = stack().dir() + "/curl.out";
  std::string error;
  auto curl = Child::Spawn(o, &error);
  ASSERT_NE(curl, nullptr) << error;
  auto wait_for = [&](const std::string& needle, std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (!Contains(ReadText(o.log_path), needle)) {
      if (Clock::now() >= deadline || !curl->Running()) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  };
  ASSERT_TRUE(wait_for("event: hello", 5s)) << ReadText(o.log_path).substr(0, 3000);
  std::this_thread::sleep_for(500ms);
  Json m = Send(alice, General(alice), "seen by curl");
  const std::string id_line = "id: " + std::to_string(m["id"].num()) + "\n";
  EXPECT_TRUE(wait_for(id_line, 3s)) << "curl did not print the event within 3 s";
  std::this_thread::sleep_for(1000ms);
  EXPECT_TRUE(curl->Running()) << "curl stopped by itself";
  curl->Stop(1000ms);
  const std::string out = ReadText(o.log_path);
  EXPECT_TRUE(Contains(out, "retry: 2000")) << out.substr(0, 3000);
  EXPECT_TRUE(Contains(out, id_line + "event: message\ndata: {")) << out.substr(2000, 2000);
  EXPECT_TRUE(Contains(out, "seen by curl")) << out.substr(2000, 2000);
}

// Presence with a short grace period, between two users who share a room.
class PresenceTest : public EventsTest {
 protected:
  std::vector<std::string> EventsFlags() const override { return {"--presence-grace", "300"}; }

  static int Count(SseStream& s, int64_t user, bool online) {
    int n = 0;
    for (const SseEvent& e : s.Events()) {
      if (e.type == "presence" && e.json()["user"]["id"].num() == user &&
          e.json()["online"].boolean() == online) {
        ++n;
      }
    }
    return n;
  }
  static bool Online(User& viewer, int64_t room, int64_t user) {
    Response r = viewer->Get(RoomPath(room, "/members"));
    if (r.status != 200) throw SetupError("members: " + r.Describe());
    for (const Json& m : r.json()["members"].items()) {
      if (m["user"]["id"].num() == user) return m["online"].boolean();
    }
    throw SetupError("not a member: " + r.body);
  }
  static bool WaitOnline(User& viewer, int64_t room, int64_t user, bool want) {
    auto deadline = Clock::now() + 3s;
    while (Online(viewer, room, user) != want) {
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(50ms);
    }
    return true;
  }
};

TEST_F(PresenceTest, PeerSeesOnlineThenOfflineAndMembersShowIt) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = CreateRoom(bob, "pair", "private");
  InviteAndJoin(bob, room, alice);
  EXPECT_FALSE(Online(bob, room, alice.id));

  auto b = Subscribe(bob.token);
  auto a = Subscribe(alice.token);
  ASSERT_TRUE(b->WaitUntil([&](const SseState& st) { return SawPresenceOf(st, alice.id); }, 3s))
      << "bob never saw alice come online";
  EXPECT_EQ(Count(*b, alice.id, true), 1);
  for (const SseEvent& e : b->Events()) {
    if (e.type == "presence") {
      EXPECT_FALSE(e.id.has_value()) << "presence is ephemeral";
      EXPECT_EQ(e.json()["user"]["username"].str(), alice.name) << e.data;
    }
  }
  EXPECT_TRUE(WaitOnline(bob, room, alice.id, true)) << "members API: alice online while connected";

  // A reconnect within the grace period (a page reload) does not flap.
  a->Close();
  a = Subscribe(alice.token);
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(Count(*b, alice.id, false), 0) << "a reload inside the grace period showed alice offline";
  EXPECT_EQ(Count(*b, alice.id, true), 1);

  a->Close();
  a.reset();
  EXPECT_TRUE(b->WaitUntil([&](const SseState& st) { return SawPresence(st, alice.id, false); }, 3s))
      << "bob never saw alice go offline";
  EXPECT_TRUE(WaitOnline(bob, room, alice.id, false)) << "members API: alice offline once gone";
}

}  // namespace
}  // namespace parley::e2e
