// Nothing leaks, and old cursors cost little (issue 8, items 5, 6 and 18),
// on the real stack: after a delete, a stream resumed from before the send
// and a poll from before the send carry only the tombstone; after edits,
// only the current text (DESIGN section 4). And polls from cursor 0 by a
// user in few rooms cost parley-events little CPU however many events
// other rooms hold.
#include "events_fixture.h"

namespace parley::e2e {
namespace {

class LeakTest : public EventsTest {
 protected:
  void SetUp() override {
    EventsTest::SetUp();
    if (HasFatalFailure()) return;
    alice_ = Register("alice");
    bob_ = Register("bob");
    room_ = CreateRoom(alice_, "leaks", "public");
    Join(bob_, room_);
    before_ = Head(bob_.token);
  }
  struct Replayed {
    std::vector<int64_t> ids;
    std::vector<std::string> data;  // raw JSON of each event
  };
  // Everything a stream resumed from `cursor` replays up to `last`.
  Replayed Resume(const User& u, int64_t cursor, int64_t last) {
    auto s = Subscribe(u.token, "", {"Last-Event-ID: " + std::to_string(cursor)});
    EXPECT_TRUE(s->WaitForId(last, 5s)) << "got up to " << s->LastId().value_or(0);
    Replayed r;
    for (const SseEvent& e : s->Events()) {
      if (!e.id) continue;
      r.ids.push_back(*e.id);
      r.data.push_back(e.data);
    }
    return r;
  }
  // Everything polls from `cursor` return, following `next`.
  Replayed PollFrom(const User& u, int64_t cursor) {
    Replayed r;
    for (int guard = 0; guard < 20; ++guard) {
      PollResult p = Poll(u.token, "?timeout=0&since=" + std::to_string(cursor));
      EXPECT_TRUE(p.well_formed) << p.response.Describe();
      if (!p.well_formed) break;
      for (const PolledEvent& e : p.events) {
        if (!e.id) continue;
        r.ids.push_back(*e.id);
        r.data.push_back(e.data.Dump());
      }
      cursor = p.next;
      if (!p.more) break;
    }
    return r;
  }
  static bool Mentions(const Replayed& r, const std::string& text) {
    for (const std::string& d : r.data) {
      if (d.find(text) != std::string::npos) return true;
    }
    return false;
  }
  // The replayed data of the event with this id, parsed (null if absent).
  static Json EventData(const Replayed& r, int64_t id) {
    for (size_t i = 0; i < r.ids.size(); ++i) {
      if (r.ids[i] == id) return Json::Parse(r.data[i]);
    }
    return Json();
  }

  // alice and bob in alice's public room; bob's cursor before any message.
  User alice_, bob_;
  int64_t room_ = 0, before_ = 0;
};

TEST_F(LeakTest, ADeletedMessageReplaysOnlyAsItsTombstone) {
  User& alice = alice_;
  User& bob = bob_;
  const int64_t room = room_, before = before_;
  auto live = Subscribe(bob.token);
  const std::string secret = "my card number is 4111-1111-1111-1111";
  const int64_t id = Send(alice, room, secret)["id"].num();
  // The control: it was delivered live while it existed.
  ASSERT_TRUE(live->WaitForId(id, 5s));
  ASSERT_NE(live->Body().find("4111-1111"), std::string::npos);
  live->Close();

  ASSERT_EQ(alice->Delete(MessagePath(id)).status, 204);
  const int64_t last = DbHead();
  WaitHead(bob.token, last);

  for (const Replayed& r : {Resume(bob, before, last), PollFrom(bob, before)}) {
    EXPECT_FALSE(Mentions(r, "4111-1111"));
    // The send's own event is still there, with its id and type, as the tombstone.
    Json m = EventData(r, id);
    ASSERT_TRUE(m.valid());
    EXPECT_TRUE(m["deleted"].boolean()) << m.Dump();
    EXPECT_EQ(m["text"].str(), "");
    EXPECT_EQ(m["id"].num(), id);
    EXPECT_EQ(r.ids.back(), last);  // the delete event
  }
  // A resume through the query parameter, and history, say the same.
  auto q = Subscribe(bob.token, "?last_event_id=" + std::to_string(before));
  ASSERT_TRUE(q->WaitForId(last, 5s));
  EXPECT_EQ(q->Body().find("4111-1111"), std::string::npos);
  Response h = bob->Get(RoomPath(room, "/messages?limit=50"));
  ASSERT_EQ(h.status, 200);
  EXPECT_EQ(h.body.find("4111-1111"), std::string::npos) << h.body;
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM events WHERE data LIKE '%4111-1111%';"), "0\n");
}

TEST_F(LeakTest, AnEditedMessageReplaysOnlyWithItsCurrentText) {
  User& alice = alice_;
  User& bob = bob_;
  const int64_t room = room_, before = before_;
  const int64_t id = Send(alice, room, "meet at the old-place-1 at noon")["id"].num();
  ASSERT_EQ(alice->Patch(MessagePath(id), "{\"text\":\"meet at the old-place-2 at noon\"}").status, 200);
  ASSERT_EQ(alice->Patch(MessagePath(id), "{\"text\":\"meet at the station at noon\"}").status, 200);
  const int64_t last = DbHead();
  WaitHead(bob.token, last);

  for (const Replayed& r : {Resume(bob, before, last), PollFrom(bob, before)}) {
    EXPECT_FALSE(Mentions(r, "old-place"));
    // The send and the last edit replay, each with the current text: the
    // first edit's event went with the second (Store::RewriteMessageEvents).
    int current = 0;
    for (const std::string& d : r.data) current += d.find("meet at the station") != std::string::npos;
    EXPECT_EQ(current, 2);
    Json m = EventData(r, id);
    EXPECT_EQ(m["text"].str(), "meet at the station at noon") << m.Dump();
    EXPECT_TRUE(m["edited"].boolean());
  }
}

TEST_F(LeakTest, PollsFromCursorZeroCostLittleWhateverOtherRoomsHold) {
  // Writes its set-up rows with SQLite's SQL (WITH RECURSIVE into the log).
  PARLEY_E2E_SQLITE_ONLY();
  const int64_t busy = CreateRoom(alice_, "busy", "public");
  // 200,000 events in a room carol is not in, written by the sqlite3 shell.
  Sql(
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) "
      "INSERT INTO events(ts, type, room_id, audience, data) "
      "SELECT CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), 'message', " + std::to_string(busy) +
      ", 'room', json_object('room_id', " + std::to_string(busy) + ", 'kind', 'message', 'text', "
      "'somebody else''s message number ' || x) FROM c;");
  User carol = Register("carol");  // after the filler, so a poll from 0 walks past it
  const int64_t head = DbHead();
  WaitHead(carol.token, head, 60s);
  ASSERT_NE(stack().events(), nullptr);
  const pid_t daemon = stack().events()->pid();

  constexpr int kPolls = 100;
  const double cpu_before = CpuSeconds(daemon);
  for (int i = 0; i < kPolls; ++i) {
    PollResult p = Poll(carol.token, "?timeout=0&since=0");
    ASSERT_TRUE(p.well_formed) << p.response.Describe();
    ASSERT_FALSE(p.events.empty());  // carol's registration and join, at least
    EXPECT_FALSE(p.more);
    EXPECT_EQ(p.next, head);
    for (const PolledEvent& e : p.events) EXPECT_NE(e.type, "message") << e.data.Dump();
  }
  const double cpu = CpuSeconds(daemon) - cpu_before;
  // Reading the log's id range, each poll costs the daemon tens of
  // milliseconds on 200,000 events; through the indexes, well under one.
  EXPECT_LT(cpu, 1.0) << kPolls << " polls from 0 took " << cpu << " s of parley-events CPU";
  RecordProperty("daemon_cpu_ms_per_poll", static_cast<int>(cpu * 1000 / kPolls));
}

}  // namespace
}  // namespace parley::e2e
