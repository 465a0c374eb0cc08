// Shared by the Store unit tests (tests/unit/schema/store_*_test.cc): a
// real, migrated SQLite file in a temporary directory, a Store on it, and
// the users and rooms most tests begin with. Users get a fake password hash:
// the Store never looks inside it, and real Argon2id would cost ~50-100 ms
// per user.
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <memory>
#include <optional>
#include <string>

#include "schema/crypto.h"
#include "schema/store.h"
#include "tests/unit/temp_db.h"

namespace parley::test {

inline constexpr const char* kFakeHash = "$argon2id$v=19$m=65536,t=2,p=1$fake$fake";
inline constexpr int64_t kGeneral = 1;  // created by the first migration

class StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override { OpenStore(); }

  // Opens path() (migrated) and a Store on it with `limits`. A subclass's
  // SetUp calls it as ASSERT_NO_FATAL_FAILURE(OpenStore(...)), so that it
  // stops there when the database cannot be opened.
  void OpenStore(const Limits& limits = {}) {
    ASSERT_OK(CryptoInit());
    db_ = OpenDb(path());
    ASSERT_NE(db_, nullptr);
    store_ = std::make_unique<Store>(*db_, limits);
  }
  std::string path() const { return dir_.File("parley.db"); }

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
  int64_t Head() {
    auto h = store_->Head();
    EXPECT_OK(h);
    return h.ok() ? *h : -1;
  }
  // The first column of the first row of `sql`, or -1.
  int64_t QueryInt(const std::string& sql) {
    auto s = db_->Prepare(sql);
    EXPECT_OK(s) << sql;
    if (!s.ok()) return -1;
    auto row = s->Step();
    EXPECT_OK(row) << sql;
    return row.ok() && *row ? s->Int(0) : -1;
  }

  TempDir dir_;
  std::unique_ptr<Db> db_;
  std::unique_ptr<Store> store_;
};

}  // namespace parley::test
