// schema/key_expiry.h and Storage::DeleteExpiredKeys over each backend's
// Storage (store_fixture.h: SQLite by default, PostgreSQL with
// PARLEY_TEST_BACKEND=postgresql): which idempotency keys a pass forgets,
// what a send with a forgotten client_id then does, that each delete is
// bounded, and that it reads the keys' indexes, not the table. The keys'
// ages are written into created_ts directly: no test waits a week.
#include "schema/key_expiry.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/schema/statement_trace.h"
#include "tests/unit/schema/store_fixture.h"

namespace parley {
namespace {

constexpr int64_t kHourMs = 3600 * 1000;
constexpr int64_t kDayMs = 24 * kHourMs;
using Kind = Storage::KeyKind;

class KeyExpiryTest : public test::StoreFixture {
 protected:
  void SetUp() override {
    Limits unlimited;
    unlimited.WritesOff();
    ASSERT_NO_FATAL_FAILURE(OpenStore(unlimited));
  }

  // A send of `text` with `client_id` (a client's, or a replay key as
  // fcgi/ makes one from nginx's $request_id).
  SendResult SendWith(const User& u, int64_t room_id, const std::string& text, const std::string& client_id) {
    auto r = store_->Send(u, room_id, text, client_id);
    EXPECT_OK(r) << client_id;
    return r.ok() ? *r : SendResult{};
  }
  // Makes the key `client_id` of user `u` `age_ms` old.
  void Age(const User& u, const std::string& client_id, int64_t age_ms) {
    ASSERT_OK(Exec("UPDATE idempotency SET created_ts = " + std::to_string(NowMs() - age_ms) +
                   " WHERE user_id = " + std::to_string(u.id) + " AND client_id = '" + client_id + "'"));
  }
  int64_t Keys(const std::string& where = "1 = 1") {
    return QueryInt("SELECT COUNT(*) FROM idempotency WHERE " + where);
  }
  // A whole pass at NowMs() with the default windows, in steps of at most
  // max_rows; what it deleted.
  int64_t Pass(int64_t max_rows = 10000, int* steps = nullptr) {
    KeyExpiry k(*store_, KeyExpiry::Policy{});
    k.Begin(NowMs());
    int64_t deleted = 0;
    int n = 0;
    for (; k.running() && n < 100000; ++n) {
      auto p = k.Step(max_rows, 1000);
      EXPECT_OK(p);
      if (!p.ok()) break;
      EXPECT_LE(p->deleted, max_rows);
      deleted += p->deleted;
    }
    EXPECT_FALSE(k.running());
    if (steps != nullptr) *steps = n;
    return deleted;
  }
  // `n` client keys of user `u` for message `message_id`, named k1..kn,
  // created at 1..n ms (ancient), written directly.
  void FillOldKeys(const User& u, int64_t message_id, int n, const std::string& prefix = "k") {
    ASSERT_OK(Exec("WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < " + std::to_string(n) +
                   ") INSERT INTO idempotency (user_id, client_id, message_id, created_ts) SELECT " +
                   std::to_string(u.id) + ", '" + prefix + "' || n, " + std::to_string(message_id) + ", n FROM g"));
  }
  static std::string ReplayKey(char c) { return std::string(kReplayKeyPrefix) + std::string(32, c); }
};

TEST_F(KeyExpiryTest, AKeyIsForgottenAfterItsWindowAndASendWithItIsThenANewSend) {
  User alice = NewUser("alice");
  Room lobby = NewRoom(alice, "lobby", RoomKind::kPublic);
  Room other = NewRoom(alice, "other", RoomKind::kPublic);
  const SendResult week_old = SendWith(alice, lobby.id, "a week ago", "week-old");
  const SendResult moved = SendWith(alice, lobby.id, "a week ago too", "moved");
  const SendResult days_old = SendWith(alice, lobby.id, "six days ago", "days-old");
  const SendResult client_2h = SendWith(alice, lobby.id, "two hours ago", "two-hours");
  const SendResult replay_2h = SendWith(alice, lobby.id, "replayed two hours ago", ReplayKey('a'));
  const SendResult replay_young = SendWith(alice, lobby.id, "replayed just now", ReplayKey('b'));
  ASSERT_NO_FATAL_FAILURE(Age(alice, "week-old", 7 * kDayMs + kHourMs));
  ASSERT_NO_FATAL_FAILURE(Age(alice, "moved", 7 * kDayMs + kHourMs));
  ASSERT_NO_FATAL_FAILURE(Age(alice, "days-old", 6 * kDayMs));
  ASSERT_NO_FATAL_FAILURE(Age(alice, "two-hours", 2 * kHourMs));
  ASSERT_NO_FATAL_FAILURE(Age(alice, ReplayKey('a'), 2 * kHourMs));
  ASSERT_NO_FATAL_FAILURE(Age(alice, ReplayKey('b'), 50 * 60 * 1000));
  ASSERT_EQ(Keys(), 6);

  // A client's key after 7 days, nginx's replay key after an hour; a
  // client's key of the replay key's age stays.
  EXPECT_EQ(Pass(), 3);
  EXPECT_EQ(Keys("client_id IN ('week-old', 'moved')"), 0);
  EXPECT_EQ(Keys("client_id = '" + ReplayKey('a') + "'"), 0);
  EXPECT_EQ(Keys("client_id IN ('days-old', 'two-hours')"), 2);
  EXPECT_EQ(Keys("client_id = '" + ReplayKey('b') + "'"), 1);
  EXPECT_EQ(Pass(), 0) << "nothing more is old";

  // A retry with a forgotten key is a new send; with a kept one, the
  // stored copy as before.
  const SendResult again = SendWith(alice, lobby.id, "a week ago", "week-old");
  EXPECT_TRUE(again.created);
  EXPECT_NE(again.message.id, week_old.message.id);
  const SendResult replayed = SendWith(alice, lobby.id, "replayed two hours ago", ReplayKey('a'));
  EXPECT_TRUE(replayed.created);
  EXPECT_NE(replayed.message.id, replay_2h.message.id);
  for (const SendResult* kept : {&days_old, &client_2h, &replay_young}) {
    const SendResult retry = SendWith(alice, lobby.id, kept->message.text, *kept->message.client_id);
    EXPECT_FALSE(retry.created) << kept->message.text;
    EXPECT_EQ(retry.message.id, kept->message.id) << kept->message.text;
  }
  // A forgotten client_id may name a message in another room; a kept one
  // still may not (409 client_id_reused).
  const SendResult elsewhere = SendWith(alice, other.id, "now here", "moved");
  EXPECT_TRUE(elsewhere.created);
  EXPECT_EQ(elsewhere.message.room_id, other.id);
  EXPECT_ERROR(store_->Send(alice, other.id, "here too", std::string("days-old")), Code::kConflict,
               "client_id_reused");
  // The messages keep their client_id; only the key went.
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM messages WHERE client_id = 'week-old'"), 2);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM messages WHERE id = " + std::to_string(moved.message.id) +
                     " AND client_id = 'moved'"),
            1);
}

// A delete takes the oldest keys of its kind, at most max_rows, from
// from_ms, and says the newest time stamp it took; a pass is made of
// deletes of at most its step's rows and ends with the last old key.
TEST_F(KeyExpiryTest, ADeleteTakesAtMostItsRowsOfItsKindOldestFirst) {
  User alice = NewUser("alice");
  const SendResult m = SendWith(alice, kGeneral, "hello", "hello");
  ASSERT_NO_FATAL_FAILURE(FillOldKeys(alice, m.message.id, 2500));
  ASSERT_NO_FATAL_FAILURE(FillOldKeys(alice, m.message.id, 30, std::string(kReplayKeyPrefix)));
  const int64_t before = NowMs() - KeyExpiry::kClientKeepMs;

  ASSERT_OK_AND_ASSIGN(Storage::KeysDeleted d, store_->DeleteExpiredKeys(Kind::kClient, 0, before, 1000));
  EXPECT_EQ(d.count, 1000);
  EXPECT_EQ(d.last_ms, 1000);
  EXPECT_EQ(Keys("created_ts <= 1000 AND client_id LIKE 'k%'"), 0);
  EXPECT_EQ(Keys("client_id LIKE 'k%'"), 1500);
  EXPECT_EQ(Keys("client_id LIKE ' nginx %'"), 30) << "a client keys' delete leaves the replay keys";
  // From where it ended, and below before_ms only.
  ASSERT_OK_AND_ASSIGN(d, store_->DeleteExpiredKeys(Kind::kClient, 1000, 1200, 1000));
  EXPECT_EQ(d.count, 199);
  EXPECT_EQ(d.last_ms, 1199);
  ASSERT_OK_AND_ASSIGN(d, store_->DeleteExpiredKeys(Kind::kReplay, 0, NowMs() - KeyExpiry::kReplayKeepMs, 1000));
  EXPECT_EQ(d.count, 30);
  EXPECT_EQ(d.last_ms, 30);
  EXPECT_EQ(Keys("client_id LIKE 'k%'"), 1301) << "a replay keys' delete leaves the clients'";
  ASSERT_OK_AND_ASSIGN(d, store_->DeleteExpiredKeys(Kind::kReplay, 0, NowMs(), 1000));
  EXPECT_EQ(d.count, 0);
  EXPECT_EQ(d.last_ms, 0);

  int steps = 0;
  EXPECT_EQ(Pass(300, &steps), 1301);
  EXPECT_EQ(steps, 5) << "1,301 keys in steps of 300";
  EXPECT_EQ(Keys(), 1) << "the young key of the send stays";
}

// The deletes are searches of the kinds' partial indexes (migration 027,
// PostgreSQL's 024): 10 old keys of each kind among 4,000 young ones, all of
// one user (a bot keeps a key per message). A read of the table would go
// through them all, every hour. On SQLite the plans name the index for the
// window and the whole primary key for each delete, and a delete takes a
// few VM steps a key; on PostgreSQL (with statistics, as the look-alike
// checks' test) the statements scan each index and neither the table nor
// its primary key.
TEST_F(KeyExpiryTest, TheDeletesAreIndexSearches) {
  User alice = NewUser("alice");
  const SendResult m = SendWith(alice, kGeneral, "hello", "hello");
  const std::string keys = "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 2000) "
                           "INSERT INTO idempotency (user_id, client_id, message_id, created_ts) SELECT " +
                           std::to_string(alice.id) + ", ";
  const std::string of = ", " + std::to_string(m.message.id) + ", ";
  const std::string now = std::to_string(NowMs());
  ASSERT_OK(Exec(keys + "'c' || n" + of + now + " FROM g"));
  ASSERT_OK(Exec(keys + "' nginx ' || n" + of + now + " FROM g"));
  ASSERT_OK(Exec(keys + "'old' || n" + of + "n FROM g WHERE n <= 10"));
  ASSERT_OK(Exec(keys + "' nginx old' || n" + of + "n FROM g WHERE n <= 10"));
  ASSERT_OK(Exec("ANALYZE idempotency"));
  const int64_t young = NowMs() - kHourMs;
  if (test::OnPostgres()) {
    auto count = [&](const std::string& sql) {
      EXPECT_OK(pg_->ExecScript("SELECT pg_stat_force_next_flush()"));
      return QueryInt(sql);
    };
    auto index_scans = [&](const char* index) {
      return count(std::string("SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelid = '") + index +
                   "'::regclass");
    };
    const std::string seq = "SELECT seq_scan FROM pg_stat_user_tables WHERE relid = 'idempotency'::regclass";
    const int64_t seq_before = count(seq);
    const int64_t pkey_before = index_scans("idempotency_pkey");
    for (const auto& [kind, index] : {std::pair{Kind::kReplay, "idempotency_replay_age"},
                                      std::pair{Kind::kClient, "idempotency_client_age"}}) {
      const int64_t scans = index_scans(index);
      ASSERT_OK_AND_ASSIGN(Storage::KeysDeleted d, store_->DeleteExpiredKeys(kind, 0, young, 1000));
      EXPECT_EQ(d.count, 10) << index;
      EXPECT_GT(index_scans(index), scans) << index;
    }
    EXPECT_EQ(count(seq), seq_before) << "a delete read the whole table";
    // The rows go by their ctids: no join over the primary key either.
    EXPECT_EQ(index_scans("idempotency_pkey"), pkey_before);
    return;
  }
  for (const Kind kind : {Kind::kReplay, Kind::kClient}) {
    std::vector<test::StatementTrace::Run> runs;
    {
      test::StatementTrace trace(*db_);
      ASSERT_OK_AND_ASSIGN(Storage::KeysDeleted d, store_->DeleteExpiredKeys(kind, 0, young, 1000));
      EXPECT_EQ(d.count, 10);
      runs = trace.runs();
    }
    std::string window, del;
    int steps = 0;
    for (const auto& run : runs) {
      if (run.sql.find("idempotency") == std::string::npos) continue;
      steps += run.steps;
      if (run.sql.starts_with("SELECT")) window = run.sql;
      if (run.sql.starts_with("DELETE")) del = run.sql;
    }
    ASSERT_FALSE(window.empty());
    ASSERT_FALSE(del.empty());
    // 10 keys gone among 4,020 (a scan of them: tens of thousands).
    EXPECT_LT(steps, 1000);
    const char* index = kind == Kind::kReplay ? "idempotency_replay_age" : "idempotency_client_age";
    const std::string window_plan = test::QueryPlan(*db_, window);
    EXPECT_NE(window_plan.find(std::string("SEARCH idempotency USING COVERING INDEX ") + index +
                               " (created_ts>? AND created_ts<?)"),
              std::string::npos)
        << window << "\n" << window_plan;
    const std::string delete_plan = test::QueryPlan(*db_, del);
    EXPECT_NE(delete_plan.find("SEARCH idempotency USING PRIMARY KEY (user_id=? AND client_id=?)"),
              std::string::npos)
        << del << "\n" << delete_plan;
  }
}

}  // namespace
}  // namespace parley
