// A PgStore over a just-migrated schema of the test cluster
// (pg_cluster.h), and ways to lay out rooms, members and events with SQL:
// PgStore has no rooms or messages yet, so the tests of its readers build
// the state those writes would leave, and append through the gapless
// AppendEvents as every write does.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "schema/pg/event_log.h"
#include "schema/pg/migrate.h"
#include "schema/pg/store.h"
#include "tests/unit/schema/pg_cluster.h"

namespace parley::test {

inline constexpr const char* kPgFakeHash = "$argon2id$v=19$m=65536,t=2,p=1$fake$fake";
inline constexpr int64_t kPgGeneral = 1;  // migration 002's `general`

class PgStoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    PARLEY_PG_CLUSTER(cluster);
    cluster_ = cluster;
    ASSERT_OK_AND_ASSIGN(url_, cluster->ResetMigratedSchema());
    ASSERT_OK_AND_ASSIGN(conn_, pg::PgConn::Connect(url_));
    // Test data need not survive a crash: commits skip the WAL flush, so a
    // test's hundreds of appends cost no fsync each.
    ASSERT_OK(conn_->ExecScript("SET synchronous_commit = off"));
    store_ = std::make_unique<pg::PgStore>(*conn_);
  }

  std::unique_ptr<pg::PgConn> OtherConn() {
    auto conn = pg::PgConn::Connect(url_);
    EXPECT_OK(conn);
    return conn.ok() ? std::move(conn).value() : nullptr;
  }

  User NewUser(const std::string& name) {
    auto u = store_->CreateUser(name, kPgFakeHash);
    EXPECT_OK(u) << name;
    return u.ok() ? *u : User{};
  }

  int64_t QueryInt(const std::string& sql) {
    auto r = conn_->Exec(sql);
    EXPECT_OK(r) << sql;
    if (!r.ok() || r->Rows() != 1) return -1;
    auto v = r->Int(0, 0);
    return v.ok() ? *v : -1;
  }

  int64_t Head() {
    auto h = store_->Head();
    EXPECT_OK(h);
    return h.ok() ? *h : -1;
  }

  // A room owned by owner (its only member), as CreateRoom leaves it.
  int64_t NewRoom(const User& owner, const std::string& name, RoomKind kind = RoomKind::kPublic) {
    auto r = conn_->Exec("INSERT INTO rooms (name, kind, owner_id, created_ts) VALUES ($1, $2, $3, 0) RETURNING id",
                         {name, ToString(kind), owner.id});
    EXPECT_OK(r) << name;
    if (!r.ok()) return -1;
    auto v = r->Int(0, 0);
    const int64_t id = v.ok() ? *v : -1;
    AddMember(id, owner);
    return id;
  }
  void AddMember(int64_t room, const User& u) {
    EXPECT_OK(conn_->Exec("INSERT INTO members (room_id, user_id, role, joined_ts) VALUES ($1, $2, 'member', 0) "
                          "ON CONFLICT DO NOTHING",
                          {room, u.id}));
  }
  void RemoveMember(int64_t room, const User& u) {
    EXPECT_OK(conn_->Exec("DELETE FROM members WHERE room_id = $1 AND user_id = $2", {room, u.id}));
  }

  // One event in its own transaction; its id.
  int64_t Append(const char* type, std::optional<int64_t> room, std::optional<int64_t> target = std::nullopt,
                 Audience audience = Audience::kRoom) {
    std::vector<Event> events(1);
    events[0].ts = NowMs();
    events[0].type = type;
    events[0].room_id = room;
    events[0].target_id = target;
    events[0].audience = audience;
    events[0].data = "{}";
    auto tx = pg::PgTx::Begin(*conn_);
    EXPECT_OK(tx);
    if (!tx.ok()) return -1;
    EXPECT_OK(pg::AppendEvents(**tx, events));
    EXPECT_OK((*tx)->Commit());
    return events[0].id;
  }
  int64_t Post(int64_t room) { return Append("message", room); }

  std::vector<int64_t> VisibleIds(const User& u, int64_t after = 0, int64_t upto = INT64_MAX, int limit = 1000) {
    auto r = store_->EventsForUser(u.id, after, upto, limit);
    EXPECT_OK(r);
    std::vector<int64_t> ids;
    if (r.ok()) {
      for (const Event& e : *r) ids.push_back(e.id);
    }
    return ids;
  }

  PgCluster* cluster_ = nullptr;
  std::string url_;
  std::unique_ptr<pg::PgConn> conn_;
  std::unique_ptr<pg::PgStore> store_;
};

}  // namespace parley::test
