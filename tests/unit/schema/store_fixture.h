// Shared by the Storage unit tests (tests/unit/schema/store_*_test.cc): a
// real, migrated database, a Storage on it, and the users and rooms most
// tests begin with. The backend is SQLite (a file in a temporary directory,
// Store), or PostgreSQL (a fresh schema of the test cluster, pg_cluster.h,
// PgStore) when PARLEY_TEST_BACKEND=postgresql: the same tests hold both
// backends to one contract (tests/unit/CMakeLists.txt runs them twice).
// Users get kFakeHash (temp_db.h) as their password hash.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>
#include <cstdlib>

#include "schema/crypto.h"
#include "schema/migrate.h"
#include "schema/pg/migrate.h"
#include "schema/pg/store.h"
#include "schema/store.h"
#include "tests/unit/schema/pg_cluster.h"
#include "tests/unit/temp_db.h"

namespace parley::test {

// Whether this run tests the PostgreSQL backend (PARLEY_TEST_BACKEND=postgresql).
// What migration 026 (PostgreSQL's 023) added, undone, so that it runs
// again over a test's data. SQLite has no ADD COLUMN IF NOT EXISTS, so
// every test that sets SQLite's schema back drops what it added first.
inline const std::string kUndoSince026 = "DROP INDEX members_requests; ALTER TABLE members DROP COLUMN request; ";
// The same for migrations 020 and 021 (PostgreSQL's 016 and 017) and
// those after them; both backends take it.
inline const std::string kUndoSince020 = kUndoSince026 +
    "ALTER TABLE rooms DROP COLUMN topic; DROP INDEX messages_author; ALTER TABLE messages DROP COLUMN author_seq; ";

inline bool OnPostgres() {
  const char* b = std::getenv("PARLEY_TEST_BACKEND");
  return b != nullptr && std::string(b) == "postgresql";
}

// In a test body of a test about SQLite itself (its files, its plans).
#define PARLEY_SQLITE_ONLY()                                      \
  if (::parley::test::OnPostgres()) GTEST_SKIP() << "SQLite only"

class StoreFixture : public ::testing::Test {
 protected:
  // Test data need not survive a power cut: SQLite commits skip the fsync,
  // as PostgreSQL's skip the WAL flush below. Thousands of fsyncs made a
  // test of 4,800 sends take 13.7 s in CI (beside the sanitizer build's
  // writes) for 1.7 s of work. Durability has tests of its own (Db,
  // WriteBatch, tests/e2e's crash and power-cut tests).
  std::unique_ptr<Db> OpenUnsynced() {
    std::unique_ptr<Db> db = OpenDb(path());
    if (db != nullptr) {
      EXPECT_OK(db->ExecScript("PRAGMA synchronous=OFF"));
    }
    return db;
  }

  void SetUp() override { OpenStore(); }

  // A role set by `me` as PUT /api/rooms/{id}/members/{username} sets it:
  // UpdateMember with the role alone.
  Result<Member> SetRole(const User& me, int64_t room_id, const std::string& username, Role role) {
    MemberUpdate u;
    u.role = role;
    PARLEY_ASSIGN_OR_RETURN(MemberUpdated m, store_->UpdateMember(me, room_id, username, u));
    if (!m.member) return Status::Internal("a role change left no member");
    return std::move(*m.member);
  }

  // Opens path() (migrated) and a Store on it with `limits`. A subclass's
  // SetUp calls it as ASSERT_NO_FATAL_FAILURE(OpenStore(...)), so that it
  // stops there when the database cannot be opened.
  void OpenStore(const Limits& limits = {}) {
    ASSERT_OK(CryptoInit());
    if (OnPostgres()) {
      PARLEY_PG_CLUSTER(cluster);
      ASSERT_OK_AND_ASSIGN(pg_url_, cluster->ResetMigratedSchema());
      ASSERT_OK_AND_ASSIGN(pg_, pg::PgConn::Connect(pg_url_));
      // Test data need not survive a crash: commits skip the WAL flush.
      ASSERT_OK(pg_->ExecScript("SET synchronous_commit = off"));
    } else {
      db_ = OpenUnsynced();
      ASSERT_NE(db_, nullptr);
    }
    store_ = NewStorage(limits);
  }
  // Another Storage on the same database, on a connection of its own (as
  // another worker or daemon would have); the fixture keeps the connection.
  std::unique_ptr<Storage> NewStorage(const Limits& limits = {}) {
    if (OnPostgres()) {
      pg::PgConn* conn = pg_.get();
      if (store_ != nullptr) {  // not the first: a connection of its own
        auto c = pg::PgConn::Connect(pg_url_);
        EXPECT_OK(c);
        if (!c.ok()) return nullptr;
        EXPECT_OK((*c)->ExecScript("SET synchronous_commit = off"));
        conn = c->get();
        more_pg_.push_back(std::move(c).value());
      }
      return std::make_unique<pg::PgStore>(*conn, limits);
    }
    Db* db = db_.get();
    if (store_ != nullptr) {
      more_db_.push_back(OpenUnsynced());
      db = more_db_.back().get();
    }
    return std::make_unique<Store>(*db, limits);
  }
  std::string path() const { return dir_.File("parley.db"); }
  // Statements both backends accept, run outside the Storage (test set-up).
  Status Exec(const std::string& sql) { return OnPostgres() ? pg_->ExecScript(sql) : db_->ExecScript(sql); }
  // Sets the schema back to a version (SQLite's, or PostgreSQL's) and
  // migrates again: the later migrations then meet the data a test made.
  Status RemigrateFrom(int sqlite_version, int pg_version) {
    if (OnPostgres()) {
      PARLEY_RETURN_IF_ERROR(Exec("UPDATE schema_version SET version = " + std::to_string(pg_version)));
      return pg::MigratePg(*pg_).status();
    }
    if (sqlite_version < 20) {
      PARLEY_RETURN_IF_ERROR(Exec(kUndoSince020));
    } else if (sqlite_version < 21) {
      PARLEY_RETURN_IF_ERROR(Exec(kUndoSince026 + "ALTER TABLE rooms DROP COLUMN topic"));
    } else if (sqlite_version < 26) {
      PARLEY_RETURN_IF_ERROR(Exec(kUndoSince026));
    }
    PARLEY_RETURN_IF_ERROR(Exec("PRAGMA user_version = " + std::to_string(sqlite_version)));
    return Migrate(*db_).status();
  }

  User NewUser(const std::string& name) {
    auto u = store_->CreateUser(name, kFakeHash);
    EXPECT_OK(u) << name;
    return u.ok() ? *u : User{};
  }
  Room NewRoom(const User& owner, const std::string& name, RoomKind kind,
               std::optional<int64_t> per_professor = std::nullopt) {
    auto r = store_->CreateRoom(owner, name, kind, per_professor);
    EXPECT_OK(r) << name;
    return r.ok() ? *r : Room{};
  }
  // A room `owner` creates and each of `members` joins.
  Room NewRoomWith(const User& owner, const std::string& name, RoomKind kind,
                   std::initializer_list<const User*> members) {
    Room room = NewRoom(owner, name, kind);
    for (const User* u : members) JoinOk(*u, room.id);
    return room;
  }
  void JoinOk(const User& u, int64_t room_id) { EXPECT_OK(store_->Join(u, room_id)); }
  // An invitation, accepted: by invites who, who joins (migration 023).
  void InviteAndJoin(const User& by, int64_t room_id, const User& who) {
    EXPECT_OK(store_->Invite(by, room_id, who.username));
    JoinOk(who, room_id);
  }
  int64_t Head() {
    auto h = store_->Head();
    EXPECT_OK(h);
    return h.ok() ? *h : -1;
  }
  // The first column of the first row of `sql`, or -1.
  int64_t QueryInt(const std::string& sql) {
    if (OnPostgres()) {
      auto r = pg_->Exec(sql);
      EXPECT_OK(r) << sql;
      if (!r.ok() || r->Rows() < 1) return -1;
      auto v = r->Int(0, 0);
      return v.ok() ? *v : -1;
    }
    auto s = db_->Prepare(sql);
    EXPECT_OK(s) << sql;
    if (!s.ok()) return -1;
    auto row = s->Step();
    EXPECT_OK(row) << sql;
    return row.ok() && *row ? s->Int(0) : -1;
  }

  TempDir dir_;
  std::unique_ptr<Db> db_;  // SQLite
  std::vector<std::unique_ptr<Db>> more_db_;
  std::string pg_url_;      // PostgreSQL
  std::unique_ptr<pg::PgConn> pg_;
  std::vector<std::unique_ptr<pg::PgConn>> more_pg_;
  // Declared last: destroyed before the connections it uses.
  std::unique_ptr<Storage> store_;
};

}  // namespace parley::test
