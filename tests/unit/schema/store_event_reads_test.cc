// schema/store_events.cc, EventsForUser: a poll or a resume reads through
// the indexes of what the user may see (issue 8, item 5). Checked three
// ways on real SQLite files: every statement a poll runs has a plan without
// a SCAN of the log; the work (SQLite VM steps) does not grow with events
// the user cannot see; and paging through the merge gives exactly what the
// old one-statement filter over the whole log gave, for any page size.
#include <sqlite3.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "schema/crypto.h"
#include "schema/store.h"
#include "tests/unit/schema/statement_trace.h"
#include "tests/unit/schema/store_fixture.h"

namespace parley {
namespace {

using test::kFakeHash;
using test::StatementTrace;

class StoreEventReadsTest : public test::StoreFixture {
 protected:
  void SetUp() override {
    Limits unlimited;
    unlimited.WritesOff();
    ASSERT_NO_FATAL_FAILURE(OpenStore(unlimited));
  }

  int64_t NewRoom(const User& owner, const std::string& name, RoomKind kind = RoomKind::kPublic) {
    auto r = store_->CreateRoom(owner, name, kind, std::nullopt);
    EXPECT_OK(r) << name;
    return r.ok() ? r->id : -1;
  }
  // `n` message events in `room`, written directly (as a bulk import or a
  // long-lived busy room would leave them), in one transaction.
  void Fill(int64_t room, int n) {
    ASSERT_OK_AND_ASSIGN(auto tx, Transaction::Begin(*db_, Transaction::Mode::kWrite));
    ASSERT_OK(db_->ExecScript(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < " + std::to_string(n) +
        ") INSERT INTO events(ts, type, room_id, audience, data) SELECT 1, 'message', " + std::to_string(room) +
        ", 'room', json_object('room_id', " + std::to_string(room) + ", 'text', 'filler ' || x) FROM c"));
    ASSERT_OK(tx->Commit());
  }
  // What the user may see in (after, upto], by the definition the merge must
  // keep, as one filter over the log's id range: the broadcasts, what is
  // addressed to them, the rooms they are in, and a room they left after
  // the cursor (left, kicked, banned) up to the last such event, which may
  // come after `upto`.
  std::vector<int64_t> Oracle(int64_t user_id, int64_t after, int64_t upto) {
    std::vector<int64_t> ids;
    auto s = db_->Prepare(
        "SELECT id FROM events e WHERE id > ?1 AND id <= ?2 AND (audience = 'all' OR target_id = ?3 OR "
        "room_id IN (SELECT room_id FROM members WHERE user_id = ?3) OR "
        "id <= (SELECT MAX(x.id) FROM events x WHERE x.target_id = ?3 AND x.type = 'member' "
        "AND x.room_id = e.room_id AND x.id > ?1 AND json_extract(x.data, '$.action') IN ('left', 'kicked', "
        "'banned'))) ORDER BY id");
    EXPECT_OK(s);
    if (!s.ok()) return ids;
    s->Bind(1, after).Bind(2, upto).Bind(3, user_id);
    for (;;) {
      auto row = s->Step();
      EXPECT_OK(row);
      if (!row.ok() || !*row) break;
      ids.push_back(s->Int(0));
    }
    return ids;
  }
  // Pages through EventsForUser as parley-events does: a short page means
  // everything up to `upto` has come; a full one, go on after its last id.
  std::vector<int64_t> Paged(int64_t user_id, int64_t after, int64_t upto, int limit) {
    std::vector<int64_t> ids;
    for (int guard = 0; guard < 100000; ++guard) {
      auto page = store_->EventsForUser(user_id, after, upto, limit);
      EXPECT_OK(page);
      if (!page.ok()) break;
      EXPECT_LE(static_cast<int>(page->size()), limit);
      for (const Event& e : *page) ids.push_back(e.id);
      if (static_cast<int>(page->size()) < limit) break;
      after = page->back().id;
    }
    return ids;
  }
};

// The plan of `sql`, one detail line per row ("SEARCH events USING ...").
std::vector<std::string> Plan(Db& db, const std::string& sql) {
  std::vector<std::string> lines;
  auto plan = db.Prepare("EXPLAIN QUERY PLAN " + sql);
  EXPECT_OK(plan) << sql;
  if (!plan.ok()) return lines;
  for (;;) {
    auto row = plan->Step();
    EXPECT_OK(row);
    if (!row.ok() || !*row) break;
    lines.push_back(plan->Text(3));
  }
  return lines;
}

// Full scans in the plan of `sql` ("" if none).
std::string FullScans(Db& db, const std::string& sql) {
  std::string found;
  for (const std::string& line : Plan(db, sql)) {
    if (line.rfind("SCAN", 0) == 0 && line != "SCAN CONSTANT ROW") found += line + "; ";
  }
  return found;
}

// Whether every step of `sql` that reads the log does so through one of its
// secondary indexes (a key of what the user may see), not a range of ids.
bool ReadsTheLogByIndex(Db& db, const std::string& sql) {
  bool any = false;
  for (const std::string& line : Plan(db, sql)) {
    if (line.find(" events") == std::string::npos) continue;
    any = true;
    if (line.find("INDEX events_") == std::string::npos) return false;
  }
  return any;
}

constexpr const char* kWholeLogFilter =
    "SELECT id FROM events WHERE id > ?1 AND id <= ?2 AND (audience = 'all' OR target_id = ?3 OR "
    "room_id IN (SELECT room_id FROM members WHERE user_id = ?3)) ORDER BY id LIMIT ?4";

TEST_F(StoreEventReadsTest, EveryStatementOfAPollSearchesAnIndex) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  const int64_t lobby = NewRoom(alice, "lobby");
  ASSERT_OK(store_->Join(bob, lobby));
  ASSERT_OK(store_->Send(alice, lobby, "hello", std::nullopt));
  std::vector<std::string> merge;
  const int64_t head = Head();
  {
    StatementTrace trace(*db_);
    ASSERT_OK(store_->EventsForUser(bob.id, 0, head, 500));
    for (const auto& run : trace.runs()) {
      if (run.sql == "BEGIN" || run.sql == "COMMIT") continue;  // its read snapshot
      if (std::find(merge.begin(), merge.end(), run.sql) == merge.end()) merge.push_back(run.sql);
    }
  }
  // Its membership lookup, the rooms left since the cursor (through
  // events_target), then one statement per kind of source: rooms,
  // broadcasts, addressed to the user.
  ASSERT_EQ(merge.size(), 5u);
  EXPECT_EQ(FullScans(*db_, merge[0]), "") << merge[0];
  for (size_t i = 1; i < merge.size(); ++i) EXPECT_TRUE(ReadsTheLogByIndex(*db_, merge[i])) << merge[i];
  // The control: the filter of the whole log's id range fails the check.
  EXPECT_FALSE(ReadsTheLogByIndex(*db_, kWholeLogFilter));

  // The other reads of a poll or a resume never scan a table.
  StatementTrace trace(*db_);
  ASSERT_OK(store_->Head());
  ASSERT_OK(store_->LogFloor());
  ASSERT_OK(store_->EventsAfter(0, 500));
  ASSERT_GE(trace.runs().size(), 3u);
  // A copy: planning a statement below is traced too, and grows runs().
  const auto runs = trace.runs();
  for (const auto& run : runs) EXPECT_EQ(FullScans(*db_, run.sql), "") << run.sql;
}

TEST_F(StoreEventReadsTest, APollFromZeroCostsTheSameWhateverTheLogHoldsForOthers) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  const int64_t busy = NewRoom(alice, "busy");  // bob is not in it
  const int64_t lobby = NewRoom(alice, "lobby");
  ASSERT_OK(store_->Join(bob, lobby));
  for (int i = 0; i < 3; ++i) ASSERT_OK(store_->Send(alice, lobby, "m" + std::to_string(i), std::nullopt));
  auto steps = [&] {
    StatementTrace trace(*db_);
    auto events = store_->EventsForUser(bob.id, 0, Head(), 500);
    EXPECT_OK(events);
    return trace.steps();
  };
  const std::vector<int64_t> before = Paged(bob.id, 0, Head(), 500);
  const int small = steps();
  Fill(busy, 20000);
  const int large = steps();
  EXPECT_EQ(Paged(bob.id, 0, Head(), 500), before);
  // The same rows are read; only the b-trees are deeper (no VM steps).
  EXPECT_LE(large, small + 10) << "small log: " << small << " steps, 20,000 more events: " << large;
  // The control: the old filter walks the whole id range.
  StatementTrace trace(*db_);
  EXPECT_EQ(Oracle(bob.id, 0, Head()), before);  // kWholeLogFilter, unlimited
  EXPECT_GT(trace.steps(), 20000);
}

TEST_F(StoreEventReadsTest, OneCallReadsABoundedNumberOfRows) {
  User alice = NewUser("alice");
  const int64_t busy = NewRoom(alice, "busy");
  Fill(busy, 5000);
  // A page of 500 from the start of a 5,000-event room reads about 500
  // rows, not the room: the VM steps of the call stay within a few per row.
  StatementTrace trace(*db_);
  ASSERT_OK_AND_ASSIGN(std::vector<Event> page, store_->EventsForUser(alice.id, 0, Head(), 500));
  EXPECT_EQ(page.size(), 500u);
  EXPECT_LT(trace.steps(), 500 * 3 * 12) << trace.steps() << " VM steps";
}

TEST_F(StoreEventReadsTest, PagingMatchesTheWholeLogFilterForAnyPageSize) {
  // Twelve users in overlapping rooms (one in 40 rooms), events of every
  // source interleaved at random: room messages, broadcasts (registrations,
  // public rooms), events addressed to one user (joins, invites, leaves).
  std::mt19937 rng(8);
  std::vector<User> users;
  for (int i = 0; i < 12; ++i) users.push_back(NewUser("u" + std::to_string(i)));
  std::vector<int64_t> rooms;
  for (int r = 0; r < 40; ++r) {
    const User& owner = users[rng() % users.size()];
    const bool open = r % 3 != 0;
    rooms.push_back(NewRoom(owner, "r" + std::to_string(r), open ? RoomKind::kPublic : RoomKind::kPrivate));
    if (owner.id == users[0].id) continue;
    if (open) {
      ASSERT_OK(store_->Join(users[0], rooms.back()));
    } else {
      InviteAndJoin(owner, rooms.back(), users[0]);
    }
  }
  for (int step = 0; step < 4000; ++step) {
    const User& u = users[rng() % users.size()];
    const int64_t room = rooms[rng() % rooms.size()];
    switch (rng() % 10) {
      case 0: (void)store_->Join(u, room); break;
      case 1: (void)store_->Leave(u, room); break;
      case 2: (void)store_->Invite(u, room, users[rng() % users.size()].username); break;
      default: (void)store_->Send(u, room, "s" + std::to_string(step), std::nullopt); break;
    }
  }
  const int64_t head = Head();
  ASSERT_GT(head, 1000);  // most random sends come from non-members and fail
  for (const User& u : users) {
    for (int64_t after : {int64_t{0}, head / 3, head - 5}) {
      const std::vector<int64_t> want = Oracle(u.id, after, head);
      for (int limit : {3, 64, 500}) {
        EXPECT_EQ(Paged(u.id, after, head, limit), want) << u.username << " after " << after << " limit " << limit;
      }
    }
    const int64_t late = head - head / 5;
    EXPECT_EQ(Paged(u.id, late, head, 1), Oracle(u.id, late, head)) << u.username << " one by one";
    // A window that ends below the head.
    EXPECT_EQ(Paged(u.id, head / 4, head / 2, 9), Oracle(u.id, head / 4, head / 2)) << u.username;
  }
  EXPECT_TRUE(Paged(users[0].id, head, head, 10).empty());
  EXPECT_TRUE(Paged(users[0].id, head, head + 100, 10).empty());
}

}  // namespace
}  // namespace parley
