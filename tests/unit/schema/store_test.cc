// schema/store.cc, store_rooms.cc, store_messages.cc: the Store on a real,
// migrated SQLite file. Users get a fake password hash: the Store never
// looks inside it, and real Argon2id would cost ~50-100 ms per user.
#include "schema/store.h"
#include "schema/invitations.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "schema/crypto.h"
#include "schema/json.h"
#include "tests/unit/json_read.h"
#include "tests/unit/schema/statement_trace.h"
#include "tests/unit/schema/store_fixture.h"

namespace parley {
namespace {

using test::kFakeHash;
using test::kGeneral;

class StoreTest : public test::StoreFixture {
 protected:
  // The same database through a Store with other limits.
  void Reopen(const Limits& limits) {
    store_ = nullptr;  // then NewStorage reuses the fixture's connection
    store_ = NewStorage(limits);
  }

  // n invitations of invitee's from `by`, made in SQL (each needs a room):
  // rooms 100001 on, owned by `by`, and ts 1001 on, in the same order.
  void InviteInSql(const User& by, const User& invitee, int64_t n) {
    const std::string series = "(WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < " +
                               std::to_string(n) + ") SELECT n FROM c) s";
    ASSERT_OK(Exec("INSERT INTO rooms (id, name, kind, owner_id, created_ts) SELECT 100000 + n, 'r' || n, 'private', " +
                   std::to_string(by.id) + ", 0 FROM " + series));
    ASSERT_OK(Exec("INSERT INTO invitations (room_id, user_id, by_id, ts) SELECT 100000 + n, " +
                   std::to_string(invitee.id) + ", " + std::to_string(by.id) + ", 1000 + n FROM " + series));
  }

  Message Post(const User& u, int64_t room_id, const std::string& text,
               const std::optional<std::string>& client_id = std::nullopt) {
    auto r = store_->Send(u, room_id, text, client_id);
    EXPECT_OK(r) << text;
    if (!r.ok()) return Message{};
    EXPECT_TRUE(r->created);
    return r->message;
  }
  // Makes `who` a professor of a Q&A room owned by `owner`.
  void MakeProfessor(const User& owner, int64_t room_id, const User& who) {
    JoinOk(who, room_id);
    EXPECT_OK(SetRole(owner, room_id, who.username, Role::kProfessor));
  }
  std::vector<Event> EventsSince(int64_t after) {
    auto r = store_->EventsAfter(after, 1000000);
    EXPECT_OK(r);
    return r.ok() ? *r : std::vector<Event>{};
  }
  std::string QueryText(const std::string& sql) {
    if (test::OnPostgres()) {
      auto r = pg_->Exec(sql);
      EXPECT_OK(r) << sql;
      return r.ok() && r->Rows() > 0 ? r->Text(0, 0) : "<no row>";
    }
    auto s = db_->Prepare(sql);
    EXPECT_OK(s) << sql;
    if (!s.ok()) return "";
    auto row = s->Step();
    EXPECT_OK(row) << sql;
    return row.ok() && *row ? s->Text(0) : "<no row>";
  }
  // A trigger that makes every insert into `table` fail, and its removal.
  Status RefuseInserts(const std::string& table) {
    if (test::OnPostgres()) {
      return Exec("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RAISE EXCEPTION 'no'; END$$; "
                  "CREATE TRIGGER refuse BEFORE INSERT ON " + table + " FOR EACH ROW EXECUTE FUNCTION refuse()");
    }
    return Exec("CREATE TRIGGER refuse BEFORE INSERT ON " + table + " BEGIN SELECT RAISE(ABORT, 'no'); END;");
  }
  Status AllowInserts(const std::string& table) {
    return Exec(test::OnPostgres() ? "DROP TRIGGER refuse ON " + table + "; DROP FUNCTION refuse()"
                                   : std::string("DROP TRIGGER refuse"));
  }
  // The room as `u` sees it in MyRooms, or else in the directory (as GET
  // /api/rooms lists them); nullopt if in neither.
  std::optional<Room> Listed(const User& u, int64_t room_id) {
    auto mine = store_->MyRooms(u);
    auto others = store_->Directory(u, "", 1000);
    EXPECT_OK(mine);
    EXPECT_OK(others);
    if (!mine.ok() || !others.ok()) return std::nullopt;
    for (const auto* rooms : {&*mine, &*others}) {
      for (const Room& r : *rooms) {
        if (r.id == room_id) return r;
      }
    }
    return std::nullopt;
  }
  int64_t Unread(const User& u, int64_t room_id) {
    auto r = Listed(u, room_id);
    EXPECT_TRUE(r.has_value()) << "room " << room_id << " not listed for " << u.username;
    return r ? r->unread : -1;
  }
  std::vector<Message> AllHistory(const User& u, int64_t room_id) {
    auto p = store_->History(u, room_id, std::nullopt, std::nullopt, 200);
    EXPECT_OK(p);
    return p.ok() ? p->messages : std::vector<Message>{};
  }
  std::optional<Message> FindInHistory(const User& u, int64_t room_id, int64_t id) {
    for (const Message& m : AllHistory(u, room_id)) {
      if (m.id == id) return m;
    }
    return std::nullopt;
  }
  // Forgets what earlier setup steps left for the notifier.
  void DrainNotify() { (void)store_->TakeNotifyHead(); }

};

using test::Get;
using test::Parse;
std::string Str(const cJSON* obj, const char* key) {
  const cJSON* v = Get(obj, key);
  return cJSON_IsString(v) ? v->valuestring : "<missing>";
}
int64_t Num(const cJSON* obj, const char* key) {
  const cJSON* v = Get(obj, key);
  return cJSON_IsNumber(v) ? static_cast<int64_t>(v->valuedouble) : -1;
}

// ---------------------------------------------------------------- accounts

TEST_F(StoreTest, CreateUserJoinsGeneralAndAppendsUserAndMemberEvents) {
  ASSERT_EQ(Head(), 0);
  ASSERT_OK_AND_ASSIGN(User alice, store_->CreateUser("alice", kFakeHash));
  EXPECT_GT(alice.id, 0);
  EXPECT_EQ(alice.username, "alice");

  std::vector<Event> ev = EventsSince(0);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type, "user");
  EXPECT_EQ(ev[0].audience, Audience::kAll);
  EXPECT_FALSE(ev[0].room_id.has_value());
  EXPECT_EQ(ev[0].target_id, alice.id);
  JsonPtr user_data = Parse(ev[0].data);
  const cJSON* u = Get(user_data.get(), "user");
  EXPECT_EQ(Num(u, "id"), alice.id);
  EXPECT_EQ(Str(u, "username"), "alice");

  EXPECT_EQ(ev[1].type, "member");
  EXPECT_EQ(ev[1].audience, Audience::kRoom);
  EXPECT_EQ(ev[1].room_id, kGeneral);
  EXPECT_EQ(ev[1].target_id, alice.id);
  JsonPtr member_data = Parse(ev[1].data);
  EXPECT_EQ(Num(member_data.get(), "room_id"), kGeneral);
  EXPECT_EQ(Str(Get(member_data.get(), "user"), "username"), "alice");
  EXPECT_EQ(Str(member_data.get(), "role"), "member");
  EXPECT_EQ(Str(member_data.get(), "action"), "joined");
  EXPECT_EQ(ev[1].id, ev[0].id + 1);

  // One commit: the notifier hears of the last event once.
  EXPECT_EQ(store_->TakeNotifyHead(), ev[1].id);
  EXPECT_EQ(store_->TakeNotifyHead(), 0);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM members WHERE room_id = 1 AND user_id = " + std::to_string(alice.id) +
                     " AND role = 'member'"),
            1);
  // The room list's order moved with the member event.
  EXPECT_EQ(QueryInt(test::OnPostgres() ? "SELECT last_event_id FROM room_heads WHERE room_id = 1"
                                        : "SELECT last_event_id FROM rooms WHERE id = 1"),
            ev[1].id);
  std::optional<Room> general = Listed(alice, kGeneral);
  ASSERT_TRUE(general.has_value());
  EXPECT_TRUE(general->member);
  EXPECT_EQ(general->role, Role::kMember);
}

TEST_F(StoreTest, CreateUserIsOneTransaction) {
  // Make the membership insert fail: the user row and the `user` event must go too.
  ASSERT_OK(RefuseInserts("members"));
  EXPECT_FALSE(store_->CreateUser("alice", kFakeHash).ok());
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM users"), 0);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM events"), 0);
  EXPECT_EQ(store_->TakeNotifyHead(), 0);

  ASSERT_OK(AllowInserts("members"));
  NewUser("alice");
  std::vector<Event> ev = EventsSince(0);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].id, 1);  // the rolled-back attempt left no hole
}

// A username that passes for another's is taken (migration 024): `aIice`
// (a capital I) and `a1ice` for alice, `rnary` for mary, `vvill` for will,
// `b0b` for bob; and since 025 (PostgreSQL's 022) one that differs by `.`,
// `_` or `-` alone, also beside the rest (`a.I1ce`, `r.nary`, whose
// separator splits an `rn`). Names apart pass; a refusal appends nothing;
// names made before that share a skeleton stay through the migration.
TEST_F(StoreTest, AUsernameThatPassesForAnothersIsTaken) {
  for (const char* name : {"alice", "mary", "will", "bob"}) NewUser(name);
  const int64_t head = Head();
  for (const char* lookalike : {"aIice", "a1ice", "ALlCE", "rnary", "vvill", "b0b", "BOB", "a.lice", "al_ice", "a-lice",
                                "_alice_", "A.I1ce", "r.nary", "r_n-a.ry", "v.vill", "b.0-b"}) {
    Result<User> r = store_->CreateUser(lookalike, kFakeHash);
    EXPECT_ERROR(r, Code::kConflict, "username_taken") << lookalike;
  }
  EXPECT_EQ(Head(), head);
  EXPECT_NE(store_->CreateUser("aIice", kFakeHash).status().message().find("alice"), std::string::npos);
  EXPECT_NE(store_->CreateUser("a.lice", kFakeHash).status().message().find("alice"), std::string::npos);
  for (const char* apart : {"alicia", "marty", "bobby", "a.lex", "rn.m"}) EXPECT_OK(store_->CreateUser(apart, kFakeHash));
  // As an older binary made it, then the migrations again.
  ASSERT_OK(Exec("INSERT INTO users (username, pw_hash, created_ts) VALUES ('al.ice', 'x', 0)"));
  ASSERT_OK(RemigrateFrom(24, 21));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM users WHERE username IN ('alice', 'al.ice')"), 2);
  EXPECT_ERROR(store_->CreateUser("a_l_i_c_e", kFakeHash), Code::kConflict, "username_taken");
}

TEST_F(StoreTest, UsernamesAreUniqueIgnoringCase) {
  User alice = NewUser("alice");
  const int64_t head = Head();
  DrainNotify();
  EXPECT_ERROR(store_->CreateUser("ALICE", kFakeHash), Code::kConflict, "username_taken");
  EXPECT_ERROR(store_->CreateUser("alice", kFakeHash), Code::kConflict, "username_taken");
  EXPECT_EQ(Head(), head);
  EXPECT_EQ(store_->TakeNotifyHead(), 0);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM users"), 1);

  ASSERT_OK_AND_ASSIGN(std::optional<User> found, store_->FindUser("Alice"));
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, alice.id);
  EXPECT_EQ(found->username, "alice");  // as registered
  ASSERT_OK_AND_ASSIGN(std::optional<User> nobody, store_->FindUser("bob"));
  EXPECT_FALSE(nobody.has_value());

  ASSERT_OK_AND_ASSIGN(std::optional<UserCredentials> cred, store_->FindCredentials("ALICE"));
  ASSERT_TRUE(cred.has_value());
  EXPECT_EQ(cred->user.id, alice.id);
  EXPECT_EQ(cred->pw_hash, kFakeHash);
  EXPECT_FALSE(cred->deactivated);
  ASSERT_OK(Exec("UPDATE users SET deactivated = 1 WHERE id = " + std::to_string(alice.id)));
  ASSERT_OK_AND_ASSIGN(std::optional<UserCredentials> off, store_->FindCredentials("alice"));
  ASSERT_TRUE(off.has_value());
  EXPECT_TRUE(off->deactivated);
  ASSERT_OK_AND_ASSIGN(std::optional<UserCredentials> none, store_->FindCredentials("bob"));
  EXPECT_FALSE(none.has_value());
}

TEST_F(StoreTest, SearchUsersByPrefixIgnoringCase) {
  NewUser("alice");
  NewUser("Albert");
  NewUser("bob");
  NewUser("al_x");
  ASSERT_OK_AND_ASSIGN(std::vector<User> al, store_->SearchUsers("AL", 10));
  std::vector<std::string> names;
  for (const User& u : al) names.push_back(u.username);
  EXPECT_EQ(names, (std::vector<std::string>{"al_x", "Albert", "alice"}));

  ASSERT_OK_AND_ASSIGN(std::vector<User> two, store_->SearchUsers("al", 2));
  EXPECT_EQ(two.size(), 2u);
  // LIKE wildcards in the prefix are plain characters.
  ASSERT_OK_AND_ASSIGN(std::vector<User> pct, store_->SearchUsers("%", 10));
  EXPECT_TRUE(pct.empty());
  ASSERT_OK_AND_ASSIGN(std::vector<User> underscore, store_->SearchUsers("a_", 10));
  EXPECT_TRUE(underscore.empty());
  ASSERT_OK_AND_ASSIGN(std::vector<User> all, store_->SearchUsers("", 10));
  EXPECT_EQ(all.size(), 4u);
}

// ---------------------------------------------------------------- sessions

// A login reads the account, then spends ~90 ms on Argon2id before it opens
// its session. A deactivation or a password change that commits in between
// deletes the sessions there are; the login's, opened after, once outlived
// both (one in 20 logins racing a deactivation kept a working token). The
// session is opened only if the account is still as the login found it.
TEST_F(StoreTest, ASessionOpensOnlyForTheAccountAsTheLoginFoundIt) {
  User admin = NewUser("admin");
  User alice = NewUser("alice");
  ASSERT_OK(store_->SetAdmin("admin", true));
  ASSERT_OK_AND_ASSIGN(std::optional<UserCredentials> seen, store_->FindCredentials("alice"));
  ASSERT_TRUE(seen.has_value());
  // The password the login verified is still hers: a session.
  const std::string first = TokenHash(NewToken());
  ASSERT_OK(store_->CreateSession(alice.id, first, seen->pw_hash));
  ASSERT_OK_AND_ASSIGN(std::optional<User> who, store_->SessionUser(first));
  EXPECT_TRUE(who.has_value());

  // Changed while the login hashed: the old password opens nothing.
  ASSERT_OK(store_->SetPassword(alice.id, "another hash", first));
  const std::string late = TokenHash(NewToken());
  EXPECT_ERROR(store_->CreateSession(alice.id, late, seen->pw_hash), Code::kUnauthorized, "invalid_credentials");
  ASSERT_OK_AND_ASSIGN(who, store_->SessionUser(late));
  EXPECT_FALSE(who.has_value());
  ASSERT_OK(store_->CreateSession(alice.id, TokenHash(NewToken()), std::string("another hash")));

  // Deactivated while the login hashed: nothing opens, with or without a
  // password (parleyctl token), until the account is reactivated.
  ASSERT_OK(store_->SetDeactivated(admin, "alice", true));
  EXPECT_ERROR(store_->CreateSession(alice.id, TokenHash(NewToken()), std::string("another hash")), Code::kForbidden,
               "account_deactivated");
  EXPECT_ERROR(store_->CreateSession(alice.id, TokenHash(NewToken())), Code::kForbidden, "account_deactivated");
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM sessions WHERE user_id = " + std::to_string(alice.id)), 0);
  ASSERT_OK(store_->SetDeactivated(admin, "alice", false));
  ASSERT_OK(store_->CreateSession(alice.id, TokenHash(NewToken())));
  // An account that is gone opens nothing either.
  EXPECT_ERROR(store_->CreateSession(alice.id + 1000, TokenHash(NewToken())), Code::kUnauthorized,
               "invalid_credentials");
}

TEST_F(StoreTest, SessionsCreateResolveRevoke) {
  User alice = NewUser("alice");
  DrainNotify();
  // A raw hash may hold NUL bytes; it is stored whole (a blob, bytea).
  const std::string h1 = std::string("\0\x01\xff", 3) + TokenHash(NewToken()).substr(3);
  const std::string h2 = TokenHash(NewToken());
  ASSERT_OK(store_->CreateSession(alice.id, h1));
  ASSERT_OK(store_->CreateSession(alice.id, h2));
  EXPECT_EQ(store_->TakeNotifyHead(), 0);  // sessions are not events

  ASSERT_OK_AND_ASSIGN(std::optional<User> who, store_->SessionUser(h1));
  ASSERT_TRUE(who.has_value());
  EXPECT_EQ(who->id, alice.id);
  EXPECT_EQ(who->username, "alice");
  ASSERT_OK_AND_ASSIGN(std::optional<User> unknown, store_->SessionUser(TokenHash(NewToken())));
  EXPECT_FALSE(unknown.has_value());
  // A hash that differs only after its NUL byte is another session.
  ASSERT_OK_AND_ASSIGN(std::optional<User> prefix, store_->SessionUser(std::string("\0\x01\xfe", 3) + h1.substr(3)));
  EXPECT_FALSE(prefix.has_value());

  ASSERT_OK(store_->RevokeSession(h1));
  ASSERT_OK_AND_ASSIGN(std::optional<User> revoked, store_->SessionUser(h1));
  EXPECT_FALSE(revoked.has_value());
  ASSERT_OK_AND_ASSIGN(std::optional<User> other, store_->SessionUser(h2));
  EXPECT_TRUE(other.has_value());  // another device stays signed in
  EXPECT_OK(store_->RevokeSession(h1));  // revoking twice is harmless

  // Only the hash is stored.
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM sessions WHERE length(token_hash) = 32"), 1);
}


TEST_F(StoreTest, ALoginPastTheCapEndsTheLeastRecentSessionAndExpiredOnesGoFirst) {
  Limits limits;
  limits.sessions_per_user = 3;
  Reopen(limits);
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  const std::string bobs = TokenHash(NewToken());
  ASSERT_OK(store_->CreateSession(bob.id, bobs));
  std::vector<std::string> h;
  for (int i = 0; i < 5; ++i) {
    h.push_back(TokenHash(NewToken()));
    ASSERT_OK(store_->CreateSession(alice.id, h.back()));
  }
  auto signed_in = [&](const std::string& hash) {
    auto who = store_->SessionUser(hash);
    EXPECT_OK(who);
    return who.ok() && who->has_value();
  };
  EXPECT_FALSE(signed_in(h[0]));
  EXPECT_FALSE(signed_in(h[1]));
  EXPECT_TRUE(signed_in(h[2]));
  EXPECT_TRUE(signed_in(h[3]));
  EXPECT_TRUE(signed_in(h[4]));
  EXPECT_TRUE(signed_in(bobs));  // another account's are its own
  const std::string alices = "SELECT COUNT(*) FROM sessions WHERE user_id = " + std::to_string(alice.id);
  EXPECT_EQ(QueryInt(alices), 3);

  // A session that expires at once (h[2] goes for it: the cap), then a
  // login: the expired one goes, not the least recent of the live ones.
  Limits brief = limits;
  brief.session_absolute_ms = 1;
  Reopen(brief);
  ASSERT_OK(store_->CreateSession(alice.id, TokenHash(NewToken())));
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  Reopen(limits);
  const std::string last = TokenHash(NewToken());
  ASSERT_OK(store_->CreateSession(alice.id, last));
  EXPECT_EQ(QueryInt(alices + " AND expires_ts - created_ts < 1000"), 0);
  EXPECT_FALSE(signed_in(h[2]));
  EXPECT_TRUE(signed_in(h[3]));
  EXPECT_TRUE(signed_in(h[4]));
  EXPECT_TRUE(signed_in(last));
  EXPECT_EQ(QueryInt(alices), 3);
}

TEST_F(StoreTest, ExpiredSessionsAreSweptOldestFirstInBoundedSteps) {
  // Accounts that never log in again: their sessions go by their expiry.
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  std::vector<std::string> live;
  for (int i = 0; i < 3; ++i) {
    live.push_back(TokenHash(NewToken()));
    ASSERT_OK(store_->CreateSession(alice.id, live.back()));
  }
  for (int i = 0; i < 5; ++i) ASSERT_OK(store_->CreateSession(bob.id, TokenHash(NewToken())));
  // Bob's expired at 10, 20, ... 50 ms after the epoch.
  ASSERT_OK(Exec("UPDATE sessions SET expires_ts = 10 * (id - (SELECT MIN(id) FROM sessions s2 WHERE s2.user_id = " +
                 std::to_string(bob.id) + ") + 1) WHERE user_id = " + std::to_string(bob.id)));
  ASSERT_OK_AND_ASSIGN(int64_t n, store_->SweepSessions(2));
  EXPECT_EQ(n, 2);
  const std::string bobs = "SELECT MIN(expires_ts) FROM sessions WHERE user_id = " + std::to_string(bob.id);
  EXPECT_EQ(QueryInt(bobs), 30) << "the two that expired first went first";
  ASSERT_OK_AND_ASSIGN(n, store_->SweepSessions(1000));
  EXPECT_EQ(n, 3);
  ASSERT_OK_AND_ASSIGN(n, store_->SweepSessions(1000));
  EXPECT_EQ(n, 0);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM sessions"), 3);
  for (const std::string& h : live) {
    ASSERT_OK_AND_ASSIGN(std::optional<User> who, store_->SessionUser(h));
    EXPECT_TRUE(who.has_value());
  }
}

TEST_F(StoreTest, ExpiredSessionIsNotAccepted) {
  User alice = NewUser("alice");
  for (int64_t absolute : {int64_t{0}, int64_t{-60000}}) {
    Limits limits;
    limits.session_absolute_ms = absolute;
    auto short_lived_store = NewStorage(limits);
    Storage& short_lived = *short_lived_store;
    const std::string h = TokenHash(NewToken());
    ASSERT_OK(short_lived.CreateSession(alice.id, h));
    ASSERT_OK_AND_ASSIGN(std::optional<User> who, short_lived.SessionUser(h));
    EXPECT_FALSE(who.has_value()) << absolute;
    // The expiry is stored with the session: other readers agree.
    ASSERT_OK_AND_ASSIGN(std::optional<User> who2, store_->SessionUser(h));
    EXPECT_FALSE(who2.has_value()) << absolute;
  }
}

TEST_F(StoreTest, IdleSessionIsNotAccepted) {
  User alice = NewUser("alice");
  Limits limits;
  limits.session_idle_ms = 0;
  auto idle_store = NewStorage(limits);
  Storage& idle = *idle_store;
  const std::string h = TokenHash(NewToken());
  ASSERT_OK(idle.CreateSession(alice.id, h));
  ASSERT_OK_AND_ASSIGN(std::optional<User> who, idle.SessionUser(h));
  EXPECT_FALSE(who.has_value());
  ASSERT_OK_AND_ASSIGN(std::optional<User> patient, store_->SessionUser(h));
  EXPECT_TRUE(patient.has_value());
}

TEST_F(StoreTest, LoginThrottlingPerAccountAndAddress) {
  Limits limits;
  limits.login_failures = 3;
  std::unique_ptr<Storage> store = NewStorage(limits);
  // Each attempt counts before the password is known: three are let through.
  for (int i = 0; i < 3; ++i) EXPECT_OK(store->BeginLogin("alice", "10.0.0.1")) << "attempt " << i + 1;
  auto refused = store->BeginLogin("alice", "10.0.0.1");
  EXPECT_ERROR(refused, Code::kThrottled, "throttled");
  EXPECT_GE(refused.retry_after_s(), 14);  // the 15 s first backoff
  EXPECT_LE(refused.retry_after_s(), 15);
  EXPECT_ERROR(store->BeginLogin("ALICE", "10.0.0.1"), Code::kThrottled, "throttled");
  // Never locked for everyone: the same account from another address, and
  // another account from the same address.
  EXPECT_OK(store->BeginLogin("alice", "10.0.0.2"));
  ASSERT_OK(store->LoginSucceeded("alice", "10.0.0.2"));
  EXPECT_OK(store->BeginLogin("bob", "10.0.0.1"));
  // A refused attempt is not counted again.
  EXPECT_EQ(QueryInt("SELECT failures FROM login_throttle WHERE account = 'alice' AND address = '10.0.0.1'"), 3);
  // A success clears its own pair only.
  ASSERT_OK(store->LoginSucceeded("bob", "10.0.0.1"));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM login_throttle WHERE account = 'bob'"), 0);
  EXPECT_ERROR(store->BeginLogin("alice", "10.0.0.1"), Code::kThrottled, "throttled");
}

TEST_F(StoreTest, LoginThrottlingPerAddressOverAllAccounts) {
  Limits limits;
  limits.login_address_failures = 4;
  std::unique_ptr<Storage> store = NewStorage(limits);
  for (int i = 0; i < 4; ++i) EXPECT_OK(store->BeginLogin("user" + std::to_string(i), "10.0.0.9"));
  EXPECT_ERROR(store->BeginLogin("someone", "10.0.0.9"), Code::kThrottled, "throttled");
  EXPECT_OK(store->BeginLogin("someone", "10.0.0.8"));
  // Successes give the address its attempts back.
  Limits loose;
  loose.login_address_failures = 2;
  std::unique_ptr<Storage> other = NewStorage(loose);
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK(other->BeginLogin("carol", "10.0.0.7"));
    ASSERT_OK(other->LoginSucceeded("carol", "10.0.0.7"));
  }
  EXPECT_EQ(QueryInt("SELECT failures FROM login_throttle WHERE account = '' AND address = '10.0.0.7'"), 0);
}

TEST_F(StoreTest, LoginBackoffGrowsWithEveryFurtherFailure) {
  Limits limits;
  limits.login_failures = 2;
  limits.login_backoff_ms = 40;
  limits.login_backoff_max_ms = 200;
  std::unique_ptr<Storage> store = NewStorage(limits);
  auto wait = [&] {
    return QueryInt("SELECT blocked_until - last_ts FROM login_throttle WHERE account = 'alice' AND address = 'a'");
  };
  ASSERT_OK(store->BeginLogin("alice", "a"));
  EXPECT_EQ(QueryInt("SELECT blocked_until FROM login_throttle WHERE account = 'alice'"), 0);  // not yet
  std::vector<int64_t> waits;
  for (int i = 0; i < 5; ++i) {
    // Wait out the block (bounded: at most the 200 ms cap, plus slack).
    Status st;
    for (int tries = 0; tries < 100; ++tries) {
      st = store->BeginLogin("alice", "a");
      if (st.ok()) break;
      ASSERT_EQ(st.code(), Code::kThrottled);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_OK(st);
    waits.push_back(wait());
  }
  EXPECT_EQ(waits, (std::vector<int64_t>{40, 80, 160, 200, 200}));
}

// An audit: a block of 15 s said "Retry-After: 3614" after the clock
// stepped back an hour, and lasted that long. It lasts as long as it was
// given, from the step, and the refused attempt keeps it so.
TEST_F(StoreTest, ALoginBlockOutlivesAClockStepBackByNoMoreThanItsLength) {
  Limits limits;
  limits.login_failures = 2;
  limits.login_backoff_ms = 100;
  limits.login_backoff_max_ms = 1000;
  std::unique_ptr<Storage> store = NewStorage(limits);
  ASSERT_OK(store->BeginLogin("alice", "a"));
  ASSERT_OK(store->BeginLogin("alice", "a"));  // the second failure: blocked for 100 ms
  ASSERT_OK(Exec("UPDATE login_throttle SET last_ts = last_ts + 3600000, "
                 "blocked_until = CASE WHEN blocked_until > 0 THEN blocked_until + 3600000 ELSE 0 END"));
  Status st = store->BeginLogin("alice", "a");
  EXPECT_ERROR(st, Code::kThrottled, "throttled");
  EXPECT_EQ(st.retry_after_s(), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_OK(store->BeginLogin("alice", "a"));
}

TEST_F(StoreTest, LoginThrottlingForgetsAfterItsWindow) {
  Limits limits;
  limits.login_failures = 1;
  limits.login_window_ms = 0;  // every failure is already forgotten
  std::unique_ptr<Storage> store = NewStorage(limits);
  ASSERT_OK(store->BeginLogin("alice", "a"));
  EXPECT_OK(store->BeginLogin("alice", "a"));
  EXPECT_LE(QueryInt("SELECT MAX(failures) FROM login_throttle WHERE account = 'alice'"), 1);
}

// ---------------------------------------------------------------- rooms

TEST_F(StoreTest, CreateRoomOfEachKind) {
  User alice = NewUser("alice");
  int64_t h = Head();
  ASSERT_OK_AND_ASSIGN(Room pub, store_->CreateRoom(alice, "Lobby", RoomKind::kPublic, std::nullopt));
  EXPECT_GT(pub.id, kGeneral);
  EXPECT_EQ(pub.name, "Lobby");
  EXPECT_EQ(pub.kind, RoomKind::kPublic);
  ASSERT_TRUE(pub.owner.has_value());
  EXPECT_EQ(pub.owner->id, alice.id);
  EXPECT_TRUE(pub.member);
  EXPECT_EQ(pub.role, Role::kMember);
  EXPECT_EQ(pub.unread, 0);
  EXPECT_FALSE(pub.answers_per_professor.has_value());
  EXPECT_FALSE(pub.peer.has_value());
  // The owner's member event comes first, so a reader of the log knows the
  // owner is in the room before the room event addressed to its members.
  std::vector<Event> ev = EventsSince(h);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type, "member");
  EXPECT_EQ(ev[0].room_id, pub.id);
  EXPECT_EQ(ev[0].target_id, alice.id);
  EXPECT_EQ(ev[1].type, "room");
  EXPECT_EQ(ev[1].audience, Audience::kAll);  // public rooms are announced to everyone
  EXPECT_EQ(ev[1].room_id, pub.id);
  JsonPtr room_data = Parse(ev[1].data);
  const cJSON* rd = Get(room_data.get(), "room");
  EXPECT_EQ(Num(rd, "id"), pub.id);
  EXPECT_EQ(Str(rd, "name"), "Lobby");
  EXPECT_EQ(Str(rd, "kind"), "public");
  EXPECT_EQ(Num(Get(rd, "owner"), "id"), alice.id);
  EXPECT_EQ(Get(rd, "unread"), nullptr);  // no per-reader counters in the log
  EXPECT_EQ(pub.last_event_id, ev[1].id);

  h = Head();
  ASSERT_OK_AND_ASSIGN(Room priv, store_->CreateRoom(alice, "secret", RoomKind::kPrivate, std::nullopt));
  EXPECT_EQ(priv.kind, RoomKind::kPrivate);
  EXPECT_EQ(priv.role, Role::kMember);
  ev = EventsSince(h);
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].type, "member");
  EXPECT_EQ(ev[1].type, "room");
  EXPECT_EQ(ev[1].audience, Audience::kRoom);  // private rooms are not announced

  h = Head();
  ASSERT_OK_AND_ASSIGN(Room qa, store_->CreateRoom(alice, "Physics", RoomKind::kQa, 2));
  EXPECT_EQ(qa.kind, RoomKind::kQa);
  EXPECT_EQ(qa.role, Role::kProfessor);  // the owner of a classroom teaches in it
  EXPECT_EQ(qa.answers_per_professor, 2);
  ev = EventsSince(h);
  ASSERT_EQ(ev.size(), 2u);
  JsonPtr member = Parse(ev[0].data);
  EXPECT_EQ(Str(member.get(), "role"), "professor");
  // Byte for byte, as before kinds, roles and actions became enums.
  const std::string id = std::to_string(qa.id), uid = std::to_string(alice.id);
  EXPECT_EQ(ev[0].data, R"({"room_id":)" + id + R"(,"user":{"id":)" + uid +
                            R"(,"username":"alice"},"role":"professor","action":"joined"})");
  EXPECT_EQ(ev[1].data, R"({"room":{"id":)" + id + R"(,"name":"Physics","kind":"qa","owner":{"id":)" + uid +
                            R"(,"username":"alice"},"answers_per_professor":2}})");
  EXPECT_EQ(ev[1].type, "room");
  EXPECT_EQ(ev[1].audience, Audience::kAll);
  EXPECT_EQ(Num(Get(Parse(ev[1].data).get(), "room"), "answers_per_professor"), 2);

  // answers_per_professor only means something in a Q&A room.
  ASSERT_OK_AND_ASSIGN(Room other, store_->CreateRoom(alice, "Other", RoomKind::kPublic, 3));
  EXPECT_FALSE(other.answers_per_professor.has_value());

  EXPECT_ERROR(store_->CreateRoom(alice, "dm room", RoomKind::kDm, std::nullopt), Code::kInvalid, "invalid_field");
}

TEST_F(StoreTest, RoomNamesAreUniqueIgnoringCase) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  NewRoom(alice, "Lobby", RoomKind::kPublic);
  const int64_t h = Head();
  DrainNotify();
  EXPECT_ERROR(store_->CreateRoom(bob, "lobby", RoomKind::kPrivate, std::nullopt), Code::kConflict, "room_name_taken");
  EXPECT_ERROR(store_->CreateRoom(bob, "GENERAL", RoomKind::kQa, std::nullopt), Code::kConflict, "room_name_taken");
  EXPECT_EQ(Head(), h);
  EXPECT_EQ(store_->TakeNotifyHead(), 0);
}

// A room's name that passes for another room's is taken (migration 025,
// PostgreSQL's 022), as a username: lower-cased, without spaces, `.`, `_`
// and `-`, with `rn` read as `m`, `vv` as `w`, `i` and `1` as `l`, `0` as
// `o`. A private room's name counts, and the refusal does not name it. Only
// ASCII letters are folded, on both backends alike (PostgreSQL's lower()
// would fold `É` under a UTF-8 locale). A refusal appends nothing.
TEST_F(StoreTest, ARoomNameThatPassesForAnothersIsTaken) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  NewRoom(alice, "Physics Lab", RoomKind::kPublic);
  NewRoom(alice, "mary", RoomKind::kPrivate);
  NewRoom(alice, "will", RoomKind::kQa);
  NewRoom(alice, "Émile", RoomKind::kPublic);
  const int64_t h = Head();
  DrainNotify();
  for (const char* lookalike : {"PhysicsLab", "physics-lab", "Phys1cs_Lab", "physics.lab", "PHYSICS  LAB", "phys I cs lab",
                                "rnary", "MARY", "m.a.r.y", "vvill", "w1ll", "gen_eral", "GENERAI"}) {
    Result<Room> r = store_->CreateRoom(bob, lookalike, RoomKind::kPublic, std::nullopt);
    EXPECT_ERROR(r, Code::kConflict, "room_name_taken") << lookalike;
    EXPECT_EQ(r.status().message().find("mary"), std::string::npos) << lookalike;
    // The same name in another case is told as a taken name always was.
    const bool same = std::string_view(lookalike) == "MARY";
    EXPECT_EQ(r.status().message(), same ? "a room with that name exists"
                                         : "a room with a name that passes for that one exists") << lookalike;
  }
  EXPECT_EQ(Head(), h);
  EXPECT_EQ(store_->TakeNotifyHead(), 0);
  for (const char* apart : {"Physics Lab 2", "marty", "9eneral", "émile", "Emile"}) {
    EXPECT_OK(store_->CreateRoom(bob, apart, RoomKind::kPublic, std::nullopt)) << apart;
  }
}

// The look-alike checks are searches of their indexes (migration 025,
// PostgreSQL's 022): the expression each statement compares is, to the
// byte, the index's, or SQLite reads every row of the table. Among 2,000
// users and rooms, with statistics: with a handful, PostgreSQL's planner
// rightly reads the whole table instead. There the count of each index's
// scans says the statement used it.
TEST_F(StoreTest, TheLookalikeChecksAreIndexSearches) {
  User alice = NewUser("alice");
  const std::string rows = "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 2000) ";
  ASSERT_OK(Exec(rows + "INSERT INTO users (username, pw_hash, created_ts) SELECT 'user' || n, 'x', 0 FROM g"));
  ASSERT_OK(Exec(rows + "INSERT INTO rooms (name, kind, created_ts) SELECT 'room ' || n, 'public', 0 FROM g"));
  ASSERT_OK(Exec("ANALYZE users; ANALYZE rooms"));
  if (test::OnPostgres()) {
    auto scans = [&](const char* index) {
      EXPECT_OK(pg_->ExecScript("SELECT pg_stat_force_next_flush()"));
      return QueryInt(std::string("SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelid = '") + index +
                      "'::regclass");
    };
    const int64_t users = scans("users_skeleton");
    const int64_t rooms = scans("rooms_skeleton");
    NewUser("bob");
    NewRoom(alice, "lobby", RoomKind::kPublic);
    EXPECT_GT(scans("users_skeleton"), users);
    EXPECT_GT(scans("rooms_skeleton"), rooms);
    return;
  }
  std::vector<std::string> checks;
  {
    test::StatementTrace trace(*db_);
    NewUser("bob");
    NewRoom(alice, "lobby", RoomKind::kPublic);
    for (const auto& run : trace.runs()) {
      if (run.sql.find("replace(") != std::string::npos) checks.push_back(run.sql);
    }
  }
  ASSERT_EQ(checks.size(), 2u);
  for (const std::string& sql : checks) {
    const std::string lines = test::QueryPlan(*db_, sql);
    const bool users = sql.find("FROM users") != std::string::npos;
    EXPECT_NE(lines.find(users ? "SEARCH users USING INDEX users_skeleton" : "SEARCH rooms USING INDEX rooms_skeleton"),
              std::string::npos)
        << sql << "\n" << lines;
  }
}

TEST_F(StoreTest, PrivateRoomIsInvisibleToNonMembers) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Room secret = NewRoom(alice, "secret", RoomKind::kPrivate);
  Message m = Post(alice, secret.id, "hidden");
  const int64_t h = Head();

  EXPECT_ERROR(store_->GetRoom(bob, secret.id), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->History(bob, secret.id, std::nullopt, std::nullopt, 50), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->Join(bob, secret.id), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->Send(bob, secret.id, "hi", std::nullopt), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->Members(bob, secret.id, {}), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->Leave(bob, secret.id), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->MarkRead(bob, secret.id, m.id), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->Invite(bob, secret.id, "bob"), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->CheckMayType(bob, secret.id), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->Edit(bob, m.id, "x"), Code::kNotFound, "message_not_found");
  EXPECT_ERROR(store_->Delete(bob, m.id), Code::kNotFound, "message_not_found");
  // Exactly what an unknown room id gets.
  EXPECT_ERROR(store_->GetRoom(bob, 999999), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->Join(bob, 999999), Code::kNotFound, "room_not_found");

  EXPECT_FALSE(Listed(bob, secret.id).has_value());
  EXPECT_TRUE(Listed(alice, secret.id).has_value());
  EXPECT_EQ(Head(), h);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM members WHERE room_id = " + std::to_string(secret.id)), 1);
}

TEST_F(StoreTest, PublicRoomNonMemberMustJoinFirst) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Room lobby = NewRoom(alice, "Lobby", RoomKind::kPublic);
  Post(alice, lobby.id, "welcome");

  ASSERT_OK_AND_ASSIGN(Room seen, store_->GetRoom(bob, lobby.id));
  EXPECT_FALSE(seen.member);
  EXPECT_FALSE(seen.role.has_value());
  EXPECT_EQ(seen.unread, 0);
  EXPECT_GT(seen.last_event_id, 0);
  std::optional<Room> listed = Listed(bob, lobby.id);
  ASSERT_TRUE(listed.has_value());
  EXPECT_FALSE(listed->member);

  EXPECT_ERROR(store_->History(bob, lobby.id, std::nullopt, std::nullopt, 50), Code::kForbidden, "not_a_member");
  EXPECT_ERROR(store_->Send(bob, lobby.id, "hi", std::nullopt), Code::kForbidden, "not_a_member");
  EXPECT_ERROR(store_->Members(bob, lobby.id, {}), Code::kForbidden, "not_a_member");
  EXPECT_ERROR(store_->Leave(bob, lobby.id), Code::kForbidden, "not_a_member");
  EXPECT_ERROR(store_->MarkRead(bob, lobby.id, 1), Code::kForbidden, "not_a_member");
  EXPECT_ERROR(store_->CheckMayType(bob, lobby.id), Code::kForbidden, "not_a_member");
  EXPECT_ERROR(store_->Invite(bob, lobby.id, "alice"), Code::kForbidden, "not_a_member");

  int64_t h = Head();
  ASSERT_OK_AND_ASSIGN(Room joined, store_->Join(bob, lobby.id));
  EXPECT_TRUE(joined.member);
  EXPECT_EQ(joined.role, Role::kMember);
  std::vector<Event> ev = EventsSince(h);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, "member");
  EXPECT_EQ(ev[0].target_id, bob.id);
  EXPECT_EQ(Str(Parse(ev[0].data).get(), "action"), "joined");

  h = Head();
  ASSERT_OK_AND_ASSIGN(Room again, store_->Join(bob, lobby.id));  // idempotent
  EXPECT_TRUE(again.member);
  EXPECT_EQ(Head(), h);
  EXPECT_OK(store_->History(bob, lobby.id, std::nullopt, std::nullopt, 50));
  EXPECT_OK(store_->Send(bob, lobby.id, "hi", std::nullopt));
  EXPECT_OK(store_->CheckMayType(bob, lobby.id));
}

TEST_F(StoreTest, JoiningQaRoomMakesAStudent) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Room qa = NewRoom(alice, "Physics", RoomKind::kQa);
  ASSERT_OK_AND_ASSIGN(Room joined, store_->Join(bob, qa.id));
  EXPECT_EQ(joined.role, Role::kStudent);
  std::optional<Room> listed = Listed(bob, qa.id);
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->role, Role::kStudent);
}

// An invitation waits for its invitee (migration 023): it adds no member
// until they join, and they may decline it; a moderator may withdraw it.
TEST_F(StoreTest, AnInvitationWaitsForTheInviteeToJoin) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  User carol = NewUser("carol");
  Room secret = NewRoom(alice, "secret", RoomKind::kPrivate);

  int64_t h = Head();
  ASSERT_OK_AND_ASSIGN(Invited invited, store_->Invite(alice, secret.id, "BOB"));
  EXPECT_TRUE(invited.created);
  EXPECT_FALSE(invited.member.has_value());
  ASSERT_TRUE(invited.invitation.has_value());
  EXPECT_EQ(invited.invitation->room_id, secret.id);
  EXPECT_EQ(invited.invitation->room_name, "secret");
  EXPECT_EQ(invited.invitation->room_kind, RoomKind::kPrivate);
  EXPECT_EQ(invited.invitation->user.id, bob.id);
  ASSERT_TRUE(invited.invitation->by.has_value());
  EXPECT_EQ(invited.invitation->by->id, alice.id);
  std::vector<Event> ev = EventsSince(h);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, "member");
  EXPECT_EQ(ev[0].room_id, secret.id);
  EXPECT_EQ(ev[0].target_id, bob.id);  // bob is no member: the event is addressed to him
  JsonPtr data = Parse(ev[0].data);
  EXPECT_EQ(Str(data.get(), "action"), "invited");
  EXPECT_EQ(Str(cJSON_GetObjectItem(data.get(), "by"), "username"), "alice");
  EXPECT_EQ(Str(cJSON_GetObjectItem(cJSON_GetObjectItem(data.get(), "invitation"), "room"), "name"), "secret");

  // Not a member yet: the room stays hidden, and bob's memberships are his.
  EXPECT_ERROR(store_->GetRoom(bob, secret.id), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->History(bob, secret.id, std::nullopt, std::nullopt, 50), Code::kNotFound, "room_not_found");
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM members WHERE room_id = " + std::to_string(secret.id)), 1);
  ASSERT_OK_AND_ASSIGN(std::vector<Invitation> mine, store_->Invitations(bob));
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].room_id, secret.id);

  h = Head();
  ASSERT_OK_AND_ASSIGN(Invited again, store_->Invite(alice, secret.id, "bob"));
  EXPECT_FALSE(again.created);
  ASSERT_TRUE(again.invitation.has_value());
  EXPECT_EQ(Head(), h) << "a repeat appends nothing";
  EXPECT_ERROR(store_->Invite(alice, secret.id, "nobody"), Code::kNotFound, "user_not_found");

  // Joining accepts: one `joined` event, and the invitation is gone.
  ASSERT_OK_AND_ASSIGN(Room joined, store_->Join(bob, secret.id));
  EXPECT_TRUE(joined.member);
  ev = EventsSince(h);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(Str(Parse(ev[0].data).get(), "action"), "joined");
  ASSERT_OK_AND_ASSIGN(mine, store_->Invitations(bob));
  EXPECT_TRUE(mine.empty());
  ASSERT_OK_AND_ASSIGN(Invited member, store_->Invite(alice, secret.id, "bob"));
  ASSERT_TRUE(member.member.has_value());
  EXPECT_EQ(member.member->user.id, bob.id);
  EXPECT_FALSE(member.invitation.has_value());

  // Any member may invite; the invitee may decline, once.
  ASSERT_OK_AND_ASSIGN(Invited by_bob, store_->Invite(bob, secret.id, "carol"));
  EXPECT_TRUE(by_bob.created);
  h = Head();
  ASSERT_OK(store_->DeclineInvitation(carol, secret.id));
  ev = EventsSince(h);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].target_id, carol.id);
  EXPECT_EQ(Str(Parse(ev[0].data).get(), "action"), "declined");
  EXPECT_ERROR(store_->DeclineInvitation(carol, secret.id), Code::kNotFound, "invitation_not_found");
  EXPECT_ERROR(store_->Join(carol, secret.id), Code::kNotFound, "room_not_found");

  // The owner (or a moderator) lists them, and withdraws one: DELETE of
  // the member.
  ASSERT_OK(store_->Invite(bob, secret.id, "carol"));
  EXPECT_ERROR(store_->RoomInvitations(bob, secret.id, {}), Code::kForbidden, "not_moderator");
  EXPECT_ERROR(store_->RoomInvitations(carol, secret.id, {}), Code::kNotFound, "room_not_found");
  ASSERT_OK_AND_ASSIGN(InvitationPage pending, store_->RoomInvitations(alice, secret.id, {}));
  ASSERT_EQ(pending.invitations.size(), 1u);
  EXPECT_EQ(pending.invitations[0].user.id, carol.id);
  ASSERT_TRUE(pending.invitations[0].by.has_value());
  EXPECT_EQ(pending.invitations[0].by->id, bob.id);
  EXPECT_FALSE(pending.next.has_value());
  h = Head();
  ASSERT_OK(store_->Kick(alice, secret.id, "carol"));
  ev = EventsSince(h);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].target_id, carol.id);
  EXPECT_EQ(Str(Parse(ev[0].data).get(), "action"), "uninvited");
  EXPECT_ERROR(store_->Join(carol, secret.id), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->Kick(alice, secret.id, "carol"), Code::kNotFound, "member_not_found");

  // Into a Q&A room as a student; into a public room too, which joining
  // also accepts.
  Room qa = NewRoom(alice, "Physics", RoomKind::kQa);
  ASSERT_OK(store_->Invite(alice, qa.id, "bob"));
  ASSERT_OK_AND_ASSIGN(Room student, store_->Join(bob, qa.id));
  EXPECT_EQ(student.role, Role::kStudent);
  Room lobby = NewRoom(alice, "Lobby", RoomKind::kPublic);
  ASSERT_OK(store_->Invite(alice, lobby.id, "carol"));
  JoinOk(carol, lobby.id);
  ASSERT_OK_AND_ASSIGN(mine, store_->Invitations(carol));
  EXPECT_TRUE(mine.empty());
}

// A ban of the invitee, and the invitee's block of the inviter, drop the
// invitation quietly: the invitee hears nothing of the ban (a ban of
// someone not in the room reaches the room only), the blocked inviter
// nothing of the block.
TEST_F(StoreTest, ABanOrABlockDropsAPendingInvitation) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  User carol = NewUser("carol");
  Room secret = NewRoom(alice, "secret", RoomKind::kPrivate);
  Room other = NewRoom(alice, "other", RoomKind::kPrivate);
  InviteAndJoin(alice, secret.id, carol);
  ASSERT_OK(store_->Invite(alice, secret.id, "bob"));
  ASSERT_OK(store_->BanUser(alice, secret.id, "bob", ""));
  EXPECT_ERROR(store_->Join(bob, secret.id), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->Invite(alice, secret.id, "bob"), Code::kForbidden, "banned");

  ASSERT_OK(store_->Invite(alice, other.id, "bob"));
  Room third = NewRoom(carol, "third", RoomKind::kPrivate);
  ASSERT_OK(store_->Invite(carol, third.id, "bob"));
  ASSERT_OK(store_->Block(bob, "alice"));
  ASSERT_OK_AND_ASSIGN(std::vector<Invitation> mine, store_->Invitations(bob));
  ASSERT_EQ(mine.size(), 1u) << "carol's stays";
  EXPECT_EQ(mine[0].room_id, third.id);
  EXPECT_ERROR(store_->Join(bob, other.id), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->Invite(alice, other.id, "bob"), Code::kForbidden, "blocked");
}

// Past kMaxPendingInvitations a new invitation drops the invitee's oldest,
// never itself: no burst of invitations makes anyone un-invitable.
TEST_F(StoreTest, PendingInvitationsAreBoundedByDroppingTheOldest) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Room newest = NewRoom(alice, "newest", RoomKind::kPrivate);
  ASSERT_NO_FATAL_FAILURE(InviteInSql(alice, bob, kMaxPendingInvitations));  // all older
  ASSERT_OK_AND_ASSIGN(Invited invited, store_->Invite(alice, newest.id, "bob"));
  EXPECT_TRUE(invited.created);
  ASSERT_OK_AND_ASSIGN(std::vector<Invitation> mine, store_->Invitations(bob));
  ASSERT_EQ(static_cast<int64_t>(mine.size()), kMaxPendingInvitations);
  EXPECT_EQ(mine.front().room_id, newest.id);
  EXPECT_EQ(mine.back().room_id, 100002) << "the oldest, 100001, went";
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM invitations WHERE room_id = 100001"), 0);
}

// Past the bound, the inviter holding the most loses their oldest: an
// account that keeps inviting pushes out its own invitations, never the
// real ones of others (it did when the oldest of all went).
TEST_F(StoreTest, AnInviterPastTheBoundPushesOutTheirOwnInvitationsFirst) {
  User bob = NewUser("bob");
  User carol = NewUser("carol"), dave = NewUser("dave"), mallory = NewUser("mallory");
  // carol's two and dave's one, the oldest; then mallory's, to the bound.
  Room c1 = NewRoom(carol, "c1", RoomKind::kPrivate), c2 = NewRoom(carol, "c2", RoomKind::kPrivate);
  Room d1 = NewRoom(dave, "d1", RoomKind::kPrivate);
  Room more = NewRoom(mallory, "more", RoomKind::kPrivate);  // before the 997 she is given
  for (const auto& [by, room] : {std::pair{carol, c1}, {carol, c2}, {dave, d1}}) {
    ASSERT_OK(store_->Invite(by, room.id, "bob").status());
  }
  ASSERT_OK(Exec("UPDATE invitations SET ts = 1 WHERE user_id = " + std::to_string(bob.id)));
  const int64_t floods = kMaxPendingInvitations - 3;
  ASSERT_NO_FATAL_FAILURE(InviteInSql(mallory, bob, floods));
  const std::string of_bob = " FROM invitations WHERE user_id = " + std::to_string(bob.id);
  auto by = [&](const User& u) { return QueryInt("SELECT COUNT(*)" + of_bob + " AND by_id = " + std::to_string(u.id)); };

  // mallory's next: her own oldest goes.
  ASSERT_OK_AND_ASSIGN(Invited invited, store_->Invite(mallory, more.id, "bob"));
  EXPECT_TRUE(invited.created);
  EXPECT_EQ(QueryInt("SELECT COUNT(*)" + of_bob), kMaxPendingInvitations);
  EXPECT_EQ(QueryInt("SELECT COUNT(*)" + of_bob + " AND room_id = 100001"), 0);
  EXPECT_EQ(by(carol), 2);
  EXPECT_EQ(by(dave), 1);
  // Someone else's new one pushes out mallory's too, not carol's or dave's.
  User erin = NewUser("erin");
  Room e1 = NewRoom(erin, "e1", RoomKind::kPrivate);
  ASSERT_OK(store_->Invite(erin, e1.id, "bob").status());
  EXPECT_EQ(QueryInt("SELECT COUNT(*)" + of_bob), kMaxPendingInvitations);
  EXPECT_EQ(QueryInt("SELECT COUNT(*)" + of_bob + " AND room_id = 100002"), 0);
  EXPECT_EQ(by(carol), 2);
  EXPECT_EQ(by(dave), 1);
  EXPECT_EQ(by(erin), 1);
  EXPECT_EQ(by(mallory), floods - 1);
}

TEST_F(StoreTest, LeaveRemovesMembership) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Room secret = NewRoom(alice, "secret", RoomKind::kPrivate);
  InviteAndJoin(alice, secret.id, bob);

  int64_t h = Head();
  ASSERT_OK(store_->Leave(bob, secret.id));
  std::vector<Event> ev = EventsSince(h);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, "member");
  EXPECT_EQ(ev[0].target_id, bob.id);  // the leaver hears of it too
  JsonPtr data = Parse(ev[0].data);
  EXPECT_EQ(Str(data.get(), "action"), "left");
  EXPECT_EQ(Str(data.get(), "role"), "member");
  EXPECT_ERROR(store_->GetRoom(bob, secret.id), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->Leave(bob, secret.id), Code::kNotFound, "room_not_found");

  Room lobby = NewRoom(alice, "Lobby", RoomKind::kPublic);
  JoinOk(bob, lobby.id);
  ASSERT_OK(store_->Leave(bob, lobby.id));
  EXPECT_ERROR(store_->Leave(bob, lobby.id), Code::kForbidden, "not_a_member");
  EXPECT_ERROR(store_->Send(bob, lobby.id, "hi", std::nullopt), Code::kForbidden, "not_a_member");
}

// Every way into a room that the user asks for counts against them; a
// refusal leaves no row, no room and no event behind. (A DM someone else
// opens is a request, counted apart: the test after this one.)
TEST_F(StoreTest, MembershipsPerUserAreCappedWhateverBringsThemIn) {
  Limits limits;
  limits.memberships_per_user = 3;
  Reopen(limits);
  User alice = NewUser("alice");  // in general: one of three
  User bob = NewUser("bob");
  User carol = NewUser("carol");
  User dave = NewUser("dave");
  Room one = NewRoom(alice, "one", RoomKind::kPublic);
  Room two = NewRoom(alice, "two", RoomKind::kPrivate);
  Room lobby = NewRoom(bob, "lobby", RoomKind::kPublic);
  Room carols = NewRoom(carol, "carols", RoomKind::kPrivate);
  // An invitation counts once accepted (migration 023): the join is refused.
  ASSERT_OK(store_->Invite(carol, carols.id, "alice"));
  const int64_t rooms = QueryInt("SELECT COUNT(*) FROM rooms");
  const int64_t h = Head();

  auto full = [&](const Status& st) {
    EXPECT_EQ(st.code(), Code::kForbidden) << st.message();
    EXPECT_EQ(st.reason(), "membership_limit_reached") << st.message();
    EXPECT_NE(st.message().find("alice is in 3 rooms"), std::string::npos) << st.message();
  };
  full(store_->CreateRoom(alice, "three", RoomKind::kPublic, std::nullopt).status());
  full(store_->Join(alice, lobby.id).status());
  full(store_->Join(alice, carols.id).status());
  full(store_->GetOrCreateDm(alice, "bob").status());
  EXPECT_EQ(Head(), h);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM rooms"), rooms);  // neither "three" nor a DM
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM members WHERE user_id = " + std::to_string(alice.id)), 3);
  // What alice is in already she may ask for again, and the others are free.
  EXPECT_OK(store_->Join(alice, one.id));
  EXPECT_OK(store_->Invite(alice, two.id, "bob"));
  ASSERT_OK_AND_ASSIGN(auto dm, store_->GetOrCreateDm(carol, "dave"));
  EXPECT_TRUE(dm.second);
  // Leaving makes room.
  ASSERT_OK(store_->Leave(alice, two.id));
  JoinOk(alice, lobby.id);
  full(store_->Join(alice, carols.id).status());
  ASSERT_OK_AND_ASSIGN(std::vector<Invitation> kept, store_->Invitations(alice));
  EXPECT_EQ(kept.size(), 1u) << "a refused accept keeps the invitation";
  // bob's invitation, the DM (two members, the room), alice's leave and join
  EXPECT_EQ(Head(), h + 6);
}

// A DM that someone else opens is a request for its other person (SQLite's
// migration 026, PostgreSQL's 023): it does not count against their
// memberships until they answer (send in it, or open it themselves), and
// requests have a cap of their own, past which the oldest goes. Before,
// a thousand strangers' DMs filled someone's memberships.
// The room object says which DM is a request of mine ("request": true),
// for me alone, until I answer it by a send or by opening it myself; with
// the membership cap off as on.
TEST_F(StoreTest, TheRoomSaysWhichDmIsARequestOfMine) {
  for (const bool capped : {true, false}) {
    SCOPED_TRACE(capped ? "cap on" : "cap off");
    Limits limits;
    if (!capped) limits.memberships_per_user = 0;
    Reopen(limits);
    const std::string tag = capped ? "1" : "2";
    User alice = NewUser("alice" + tag), bob = NewUser("bob" + tag), carol = NewUser("carol" + tag);
    auto request = [&](const User& who, int64_t room) -> bool {
      auto r = store_->GetRoom(who, room);
      EXPECT_OK(r);
      auto mine = store_->MyRooms(who);
      EXPECT_OK(mine);
      bool listed = false;
      for (const Room& l : mine.ok() ? *mine : std::vector<Room>()) {
        if (l.id == room) listed = l.request;
      }
      const bool got = r.ok() && r->request;
      EXPECT_EQ(listed, got) << "the list and the room agree";
      EXPECT_EQ(ToJson(*r).find("\"request\":true") != std::string::npos, got);
      return got;
    };
    ASSERT_OK_AND_ASSIGN(auto bobs, store_->GetOrCreateDm(bob, alice.username));
    EXPECT_FALSE(bobs.first.request) << "the opener's own";
    EXPECT_TRUE(request(alice, bobs.first.id));
    EXPECT_FALSE(request(bob, bobs.first.id));
    ASSERT_OK(store_->Send(bob, bobs.first.id, "hello", std::nullopt).status());
    EXPECT_TRUE(request(alice, bobs.first.id)) << "the opener's sends answer nothing";
    ASSERT_OK(store_->Send(alice, bobs.first.id, "hi", std::nullopt).status());
    EXPECT_FALSE(request(alice, bobs.first.id)) << "answered by a send";
    ASSERT_OK_AND_ASSIGN(auto carols, store_->GetOrCreateDm(carol, alice.username));
    EXPECT_TRUE(request(alice, carols.first.id));
    ASSERT_OK_AND_ASSIGN(auto opened, store_->GetOrCreateDm(alice, carol.username));
    EXPECT_FALSE(opened.second);
    EXPECT_FALSE(opened.first.request) << "answered by opening it";
    EXPECT_FALSE(request(alice, carols.first.id));
    EXPECT_FALSE(request(alice, kGeneral));
  }
}

TEST_F(StoreTest, ADmSomeoneElseOpensIsARequestUntilAnswered) {
  Limits limits;
  limits.memberships_per_user = 3;
  Reopen(limits);
  User alice = NewUser("alice");  // in general
  NewRoom(alice, "one", RoomKind::kPublic);
  Room two = NewRoom(alice, "two", RoomKind::kPublic);  // alice is in three
  std::vector<User> strangers;
  for (const char* name : {"bob", "carol", "dave", "erin", "frank"}) strangers.push_back(NewUser(name));
  const std::string me = std::to_string(alice.id);
  auto requests = [&] { return QueryInt("SELECT COUNT(*) FROM members WHERE request = 1 AND user_id = " + me); };
  auto full = [&](const Status& st) {
    EXPECT_EQ(st.reason(), "membership_limit_reached") << st.ToString();
    EXPECT_NE(st.message().find("alice is in 3 rooms"), std::string::npos) << st.message();
  };

  // Three strangers reach alice although her memberships are full.
  std::vector<int64_t> dms;
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(auto dm, store_->GetOrCreateDm(strangers[i], "alice"));
    EXPECT_TRUE(dm.second);
    dms.push_back(dm.first.id);
  }
  EXPECT_EQ(requests(), 3);
  ASSERT_OK_AND_ASSIGN(SendResult hello, store_->Send(strangers[0], dms[0], "hello", std::nullopt));
  ASSERT_OK_AND_ASSIGN(HistoryPage page, store_->History(alice, dms[0], std::nullopt, std::nullopt, 50));
  ASSERT_EQ(page.messages.size(), 1u) << "a request's person reads it";
  EXPECT_EQ(page.messages[0].id, hello.message.id);
  full(store_->Join(alice, NewRoom(strangers[4], "lobby", RoomKind::kPublic).id).status());

  // A fourth: the oldest request (bob's) goes, and alice is told she left.
  const int64_t h = Head();
  ASSERT_OK_AND_ASSIGN(auto fourth, store_->GetOrCreateDm(strangers[3], "alice"));
  dms.push_back(fourth.first.id);
  EXPECT_EQ(requests(), 3);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM members WHERE user_id = " + me + " AND room_id = " +
                     std::to_string(dms[0])), 0);
  bool told = false;
  for (const Event& e : EventsSince(h)) {
    if (e.type != "member" || e.room_id != dms[0]) continue;
    EXPECT_EQ(e.target_id, alice.id);
    EXPECT_EQ(Str(Parse(e.data).get(), "action"), "left");
    told = true;
  }
  EXPECT_TRUE(told);
  EXPECT_ERROR(store_->GetRoom(alice, dms[0]), Code::kNotFound, "room_not_found");
  // bob asking again brings back bob alone, as after any leave.
  ASSERT_OK_AND_ASSIGN(auto again, store_->GetOrCreateDm(strangers[0], "alice"));
  EXPECT_FALSE(again.second);
  EXPECT_ERROR(store_->GetRoom(alice, dms[0]), Code::kNotFound, "room_not_found");

  // Answering counts: refused while her memberships are full, nothing sent.
  const int64_t before = Head();
  full(store_->Send(alice, dms[1], "hi carol", std::nullopt).status());
  EXPECT_EQ(Head(), before);
  EXPECT_EQ(requests(), 3);
  ASSERT_OK(store_->Leave(alice, two.id));
  ASSERT_OK(store_->Send(alice, dms[1], "hi carol", std::nullopt).status());
  EXPECT_EQ(requests(), 2) << "carol's is a membership now";
  // A request answered is never dropped: three more requests (frank's,
  // grace's, heidi's) push out dave's and erin's, not carol's.
  ASSERT_OK(store_->GetOrCreateDm(strangers[4], "alice").status());
  ASSERT_OK(store_->GetOrCreateDm(NewUser("grace"), "alice").status());
  EXPECT_EQ(requests(), 3);
  ASSERT_OK(store_->GetOrCreateDm(NewUser("heidi"), "alice").status());
  EXPECT_EQ(requests(), 3);
  EXPECT_OK(store_->GetRoom(alice, dms[1]));
  EXPECT_ERROR(store_->GetRoom(alice, dms[2]), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->GetRoom(alice, dms[3]), Code::kNotFound, "room_not_found");
  // Opening a request oneself answers it too: frank's, with her three full.
  ASSERT_OK_AND_ASSIGN(auto franks, store_->GetOrCreateDm(strangers[4], "alice"));
  full(store_->GetOrCreateDm(alice, "frank").status());
  EXPECT_EQ(QueryInt("SELECT request FROM members WHERE user_id = " + me + " AND room_id = " +
                     std::to_string(franks.first.id)), 1);
  ASSERT_OK(store_->Leave(alice, dms[1]));
  ASSERT_OK_AND_ASSIGN(auto mine, store_->GetOrCreateDm(alice, "frank"));
  EXPECT_FALSE(mine.second);
  EXPECT_EQ(mine.first.id, franks.first.id);
  EXPECT_EQ(requests(), 2);
  // Whoever opens a DM is a member of it at once, counted: alice is full.
  NewUser("ivan");
  full(store_->GetOrCreateDm(alice, "ivan").status());
}

TEST_F(StoreTest, MembersListsRolesOwnerAndPresence) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  User carol = NewUser("carol");
  Room qa = NewRoom(alice, "Physics", RoomKind::kQa);
  JoinOk(carol, qa.id);
  JoinOk(bob, qa.id);

  ASSERT_OK_AND_ASSIGN(MemberPage page, store_->Members(bob, qa.id, {}));
  std::vector<Member> members = page.members;
  EXPECT_FALSE(page.next);
  ASSERT_EQ(members.size(), 3u);
  EXPECT_EQ(members[0].user.username, "alice");
  EXPECT_EQ(members[0].role, Role::kProfessor);
  EXPECT_TRUE(members[0].owner);
  EXPECT_EQ(members[1].user.username, "bob");
  EXPECT_EQ(members[1].role, Role::kStudent);
  EXPECT_FALSE(members[1].owner);
  EXPECT_EQ(members[2].user.username, "carol");
  EXPECT_EQ(members[2].role, Role::kStudent);
  for (const Member& m : members) EXPECT_FALSE(m.online);

  ASSERT_OK(Exec(test::OnPostgres() ? "INSERT INTO presence(user_id, daemon, since) VALUES (" + std::to_string(bob.id) + ", 'd', 1)"
                                    : "INSERT INTO presence(user_id, since) VALUES (" + std::to_string(bob.id) + ", 1)"));
  ASSERT_OK_AND_ASSIGN(page, store_->Members(alice, qa.id, {}));
  members = page.members;
  ASSERT_EQ(members.size(), 3u);
  EXPECT_FALSE(members[0].online);
  EXPECT_TRUE(members[1].online);
}

// A room's members come in pages in user id order, each read through the
// room's primary key range: `general` holds every user of the site.
TEST_F(StoreTest, MembersComeInPagesInUserIdOrder) {
  User owner = NewUser("owner");
  Room lobby = NewRoom(owner, "Lobby", RoomKind::kPublic);
  std::vector<int64_t> ids{owner.id};
  // Names against the id order: the pages follow ids, not names.
  for (const char* name : {"zed", "yan", "xia", "wu", "vic", "uma"}) {
    User u = NewUser(name);
    JoinOk(u, lobby.id);
    ids.push_back(u.id);
  }
  User outsider = NewUser("outsider");
  std::vector<int64_t> seen;
  UserPageQuery q;
  q.limit = 3;
  int pages = 0;
  for (;; ++pages) {
    ASSERT_LT(pages, 10);
    ASSERT_OK_AND_ASSIGN(MemberPage page, store_->Members(owner, lobby.id, q));
    ASSERT_LE(page.members.size(), 3u);
    for (const Member& m : page.members) seen.push_back(m.user.id);
    if (!page.next) break;
    ASSERT_FALSE(page.members.empty());
    EXPECT_EQ(*page.next, page.members.back().user.id);
    q.after = *page.next;
  }
  EXPECT_EQ(pages, 2);  // 3 + 3 + 1
  EXPECT_EQ(seen, ids);
  // A page that ends exactly at the last member has no next.
  q.after = 0;
  q.limit = 7;
  ASSERT_OK_AND_ASSIGN(MemberPage all, store_->Members(owner, lobby.id, q));
  EXPECT_EQ(all.members.size(), 7u);
  EXPECT_FALSE(all.next);
  EXPECT_TRUE(all.members[0].owner);
  // Past the last: empty.
  q.after = ids.back();
  ASSERT_OK_AND_ASSIGN(MemberPage none, store_->Members(owner, lobby.id, q));
  EXPECT_TRUE(none.members.empty());
  EXPECT_FALSE(none.next);
  // The list's access rules: members only.
  EXPECT_ERROR(store_->Members(outsider, lobby.id, {}), Code::kForbidden, "not_a_member");
}

TEST_F(StoreTest, FindMemberAnswersForOneMember) {
  User owner = NewUser("owner");
  User bob = NewUser("bob");
  User carol = NewUser("carol");
  Room lobby = NewRoom(owner, "Lobby", RoomKind::kPublic);
  Room secret = NewRoom(owner, "Secret", RoomKind::kPrivate);
  JoinOk(bob, lobby.id);
  ASSERT_OK_AND_ASSIGN(Member m, store_->FindMember(bob, lobby.id, "OWNER"));
  EXPECT_EQ(m.user.id, owner.id);
  EXPECT_TRUE(m.owner);
  ASSERT_OK_AND_ASSIGN(m, store_->FindMember(bob, lobby.id, "bob"));
  EXPECT_EQ(m.user.id, bob.id);
  EXPECT_FALSE(m.owner);
  EXPECT_ERROR(store_->FindMember(bob, lobby.id, "carol"), Code::kNotFound, "member_not_found");
  EXPECT_ERROR(store_->FindMember(bob, lobby.id, "nobody"), Code::kNotFound, "user_not_found");
  EXPECT_ERROR(store_->FindMember(carol, lobby.id, "owner"), Code::kForbidden, "not_a_member");
  EXPECT_ERROR(store_->FindMember(bob, secret.id, "owner"), Code::kNotFound, "room_not_found");
}

TEST_F(StoreTest, SetRoleOnlyByOwnerAndFittingTheKind) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  User carol = NewUser("carol");
  User dave = NewUser("dave");
  Room qa = NewRoom(alice, "Physics", RoomKind::kQa);
  JoinOk(bob, qa.id);
  JoinOk(carol, qa.id);

  EXPECT_ERROR(SetRole(bob, qa.id, "carol", Role::kProfessor), Code::kForbidden, "not_owner");

  int64_t h = Head();
  ASSERT_OK_AND_ASSIGN(Member m, SetRole(alice, qa.id, "Carol", Role::kProfessor));
  EXPECT_EQ(m.user.id, carol.id);
  EXPECT_EQ(m.role, Role::kProfessor);
  EXPECT_FALSE(m.owner);
  std::vector<Event> ev = EventsSince(h);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, "member");
  EXPECT_EQ(ev[0].target_id, carol.id);
  JsonPtr data = Parse(ev[0].data);
  EXPECT_EQ(Str(data.get(), "action"), "role");
  EXPECT_EQ(Str(data.get(), "role"), "professor");

  h = Head();
  ASSERT_OK_AND_ASSIGN(Member same, SetRole(alice, qa.id, "carol", Role::kProfessor));
  EXPECT_EQ(same.role, Role::kProfessor);
  EXPECT_EQ(Head(), h);  // no change, no event

  EXPECT_ERROR(SetRole(alice, qa.id, "carol", Role::kMember), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(SetRole(alice, qa.id, "nobody", Role::kStudent), Code::kNotFound, "user_not_found");
  EXPECT_EQ(SetRole(alice, qa.id, "dave", Role::kStudent).status().code(), Code::kNotFound);  // not a member
  EXPECT_EQ(Head(), h);

  Room lobby = NewRoom(alice, "Lobby", RoomKind::kPublic);
  JoinOk(bob, lobby.id);
  EXPECT_ERROR(SetRole(alice, lobby.id, "bob", Role::kProfessor), Code::kInvalid, "invalid_field");
  EXPECT_OK(SetRole(alice, lobby.id, "bob", Role::kMember));
  EXPECT_ERROR(SetRole(dave, lobby.id, "bob", Role::kMember), Code::kForbidden, "not_a_member");
  // `general` has no owner: nobody sets roles there.
  EXPECT_ERROR(SetRole(alice, kGeneral, "bob", Role::kMember), Code::kForbidden, "not_owner");

  ASSERT_OK_AND_ASSIGN(MemberPage page, store_->Members(alice, qa.id, {}));
  const std::vector<Member>& members = page.members;
  for (const Member& mm : members) {
    if (mm.user.id == carol.id) {
      EXPECT_EQ(mm.role, Role::kProfessor);
    } else if (mm.user.id == bob.id) {
      EXPECT_EQ(mm.role, Role::kStudent);
    }
  }
}

// A role alone (PUT .../members/{username} {"role"}) is a moderation
// action like any other: the moderation bucket pays for it, and the owner
// cannot change their own role (a Q&A owner made a student could no longer
// answer). It once had a path of its own that did neither.
TEST_F(StoreTest, ARoleChangeAloneKeepsTheModerationRules) {
  Limits limits;
  limits.rate(WriteClass::kModerate) = Rate{0.001, 1};  // one, no refill during the test
  Reopen(limits);
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Room qa = NewRoom(alice, "Physics", RoomKind::kQa);
  JoinOk(bob, qa.id);
  const int64_t h = Head();
  // Refused, it rolls back with its token.
  EXPECT_ERROR(SetRole(alice, qa.id, "alice", Role::kStudent), Code::kForbidden, "target_protected");
  EXPECT_OK(SetRole(alice, qa.id, "bob", Role::kProfessor));
  EXPECT_ERROR(SetRole(alice, qa.id, "bob", Role::kStudent), Code::kThrottled, "throttled");
  ASSERT_OK_AND_ASSIGN(Member owner, store_->FindMember(alice, qa.id, "alice"));
  EXPECT_EQ(owner.role, Role::kProfessor);
  ASSERT_OK_AND_ASSIGN(Member b, store_->FindMember(alice, qa.id, "bob"));
  EXPECT_EQ(b.role, Role::kProfessor);
  EXPECT_EQ(EventsSince(h).size(), 1u);  // bob's one change
}

TEST_F(StoreTest, DirectConversationIsOnePerPairAndPrivate) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  User carol = NewUser("carol");

  int64_t h = Head();
  ASSERT_OK_AND_ASSIGN(auto ab, store_->GetOrCreateDm(alice, "bob"));
  EXPECT_TRUE(ab.second);
  EXPECT_EQ(ab.first.kind, RoomKind::kDm);
  EXPECT_TRUE(ab.first.member);
  EXPECT_FALSE(ab.first.owner.has_value());
  ASSERT_TRUE(ab.first.peer.has_value());
  EXPECT_EQ(ab.first.peer->id, bob.id);
  // Both member events first, then the room event both of them receive.
  std::vector<Event> ev = EventsSince(h);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].type, "member");
  EXPECT_EQ(ev[1].type, "member");
  EXPECT_EQ(ev[0].target_id, alice.id);
  EXPECT_EQ(ev[1].target_id, bob.id);
  EXPECT_EQ(ev[2].type, "room");
  EXPECT_EQ(ev[2].room_id, ab.first.id);
  EXPECT_EQ(ev[2].audience, Audience::kRoom);
  for (const Event& e : ev) EXPECT_EQ(e.room_id, ab.first.id);
  // Seen by the reader, a conversation is named after the other person.
  JsonPtr j = Parse(parley::ToJson(ab.first));
  EXPECT_EQ(Str(j.get(), "name"), "bob");
  EXPECT_EQ(Str(Get(j.get(), "peer"), "username"), "bob");

  h = Head();
  ASSERT_OK_AND_ASSIGN(auto ba, store_->GetOrCreateDm(bob, "ALICE"));
  EXPECT_FALSE(ba.second);
  EXPECT_EQ(ba.first.id, ab.first.id);
  ASSERT_TRUE(ba.first.peer.has_value());
  EXPECT_EQ(ba.first.peer->id, alice.id);
  EXPECT_EQ(Head(), h);

  const int64_t dm = ab.first.id;
  EXPECT_ERROR(store_->GetRoom(carol, dm), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->History(carol, dm, std::nullopt, std::nullopt, 50), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->Join(carol, dm), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->Send(carol, dm, "hi", std::nullopt), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->Members(carol, dm, {}), Code::kNotFound, "room_not_found");
  EXPECT_ERROR(store_->Invite(alice, dm, "carol"), Code::kForbidden, "forbidden");

  EXPECT_ERROR(store_->GetOrCreateDm(alice, "Alice"), Code::kInvalid, "invalid_field");
  EXPECT_ERROR(store_->GetOrCreateDm(alice, "nobody"), Code::kNotFound, "user_not_found");

  ASSERT_OK_AND_ASSIGN(auto ac, store_->GetOrCreateDm(alice, "carol"));
  EXPECT_TRUE(ac.second);
  EXPECT_NE(ac.first.id, dm);
  std::optional<Room> listed = Listed(alice, dm);
  ASSERT_TRUE(listed.has_value());
  ASSERT_TRUE(listed->peer.has_value());
  EXPECT_EQ(listed->peer->id, bob.id);
  EXPECT_TRUE(Listed(carol, ac.first.id).has_value());
  EXPECT_FALSE(Listed(carol, dm).has_value());
}

// Hardening item 12: asking for a DM again brings back the requester only.
TEST_F(StoreTest, LeavingADmIsRespected) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  ASSERT_OK_AND_ASSIGN(auto ab, store_->GetOrCreateDm(alice, "bob"));
  const int64_t dm = ab.first.id;
  ASSERT_OK(store_->Leave(bob, dm));
  EXPECT_ERROR(store_->GetRoom(bob, dm), Code::kNotFound, "room_not_found");
  const int64_t h = Head();
  ASSERT_OK_AND_ASSIGN(auto again, store_->GetOrCreateDm(alice, "bob"));
  EXPECT_FALSE(again.second);
  EXPECT_EQ(again.first.id, dm);
  EXPECT_EQ(again.first.peer->id, bob.id);  // still named after bob
  EXPECT_EQ(Head(), h);                      // alice was in: nothing happened
  EXPECT_ERROR(store_->GetRoom(bob, dm), Code::kNotFound, "room_not_found");
  // Sends into it reach the members only: bob is not one, and the log's
  // message event is for the room's members.
  Post(alice, dm, "are you there?");
  EXPECT_ERROR(store_->History(bob, dm, std::nullopt, std::nullopt, 50), Code::kNotFound, "room_not_found");
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM members WHERE room_id = " + std::to_string(dm)), 1);
  // Bob asking brings bob back, and alice (still in) stays.
  ASSERT_OK_AND_ASSIGN(auto back, store_->GetOrCreateDm(bob, "alice"));
  EXPECT_EQ(back.first.id, dm);
  EXPECT_TRUE(back.first.member);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM members WHERE room_id = " + std::to_string(dm)), 2);
  // Both left: whoever asks comes back alone.
  ASSERT_OK(store_->Leave(alice, dm));
  ASSERT_OK(store_->Leave(bob, dm));
  ASSERT_OK(store_->GetOrCreateDm(bob, "alice"));
  EXPECT_EQ(QueryInt("SELECT user_id FROM members WHERE room_id = " + std::to_string(dm)), bob.id);
  EXPECT_ERROR(store_->GetRoom(alice, dm), Code::kNotFound, "room_not_found");
}

// ---------------------------------------------------------------- messages

TEST_F(StoreTest, SendReturnsTheEventId) {
  User alice = NewUser("alice");
  Room lobby = NewRoom(alice, "Lobby", RoomKind::kPublic);
  const int64_t h = Head();
  const int64_t before_ms = NowMs();
  ASSERT_OK_AND_ASSIGN(SendResult r, store_->Send(alice, lobby.id, "hello", std::nullopt));
  EXPECT_TRUE(r.created);
  const Message& m = r.message;
  EXPECT_EQ(m.id, h + 1);
  EXPECT_EQ(m.id, Head());
  EXPECT_EQ(m.room_id, lobby.id);
  EXPECT_EQ(m.user.id, alice.id);
  EXPECT_EQ(m.user.username, "alice");
  EXPECT_EQ(m.kind, "message");
  EXPECT_EQ(m.text, "hello");
  EXPECT_FALSE(m.reply_to.has_value());
  EXPECT_FALSE(m.client_id.has_value());
  EXPECT_FALSE(m.edited);
  EXPECT_FALSE(m.deleted);
  EXPECT_GE(m.ts, before_ms);
  EXPECT_LE(m.ts, NowMs());

  std::vector<Event> ev = EventsSince(h);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].id, m.id);
  EXPECT_EQ(ev[0].type, "message");
  EXPECT_EQ(ev[0].room_id, lobby.id);
  EXPECT_EQ(ev[0].audience, Audience::kRoom);
  JsonPtr data = Parse(ev[0].data);
  EXPECT_EQ(Num(data.get(), "id"), m.id);
  EXPECT_EQ(Num(data.get(), "room_id"), lobby.id);
  EXPECT_EQ(Str(data.get(), "text"), "hello");
  EXPECT_EQ(Str(data.get(), "kind"), "message");

  std::optional<Message> stored = FindInHistory(alice, lobby.id, m.id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->text, "hello");
  EXPECT_EQ(stored->ts, m.ts);
}

TEST_F(StoreTest, SameClientIdReturnsTheStoredMessage) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Room lobby = NewRoom(alice, "Lobby", RoomKind::kPublic);
  JoinOk(bob, lobby.id);

  ASSERT_OK_AND_ASSIGN(SendResult first, store_->Send(alice, lobby.id, "first", std::string("c-1")));
  EXPECT_TRUE(first.created);
  EXPECT_EQ(first.message.client_id, "c-1");
  const int64_t h = Head();
  DrainNotify();

  ASSERT_OK_AND_ASSIGN(SendResult retry, store_->Send(alice, lobby.id, "second", std::string("c-1")));
  EXPECT_FALSE(retry.created);
  EXPECT_EQ(retry.message.id, first.message.id);
  EXPECT_EQ(retry.message.text, "first");
  EXPECT_EQ(retry.message.client_id, "c-1");
  EXPECT_EQ(Head(), h);
  EXPECT_EQ(store_->TakeNotifyHead(), 0);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM messages"), 1);

  // client_id is per user.
  ASSERT_OK_AND_ASSIGN(SendResult other, store_->Send(bob, lobby.id, "bob's", std::string("c-1")));
  EXPECT_TRUE(other.created);
  EXPECT_NE(other.message.id, first.message.id);
}

TEST_F(StoreTest, SendIsOneTransactionWithItsEvent) {
  User alice = NewUser("alice");
  const int64_t h = Head();
  DrainNotify();
  ASSERT_OK(RefuseInserts("messages"));
  EXPECT_FALSE(store_->Send(alice, kGeneral, "lost", std::nullopt).ok());
  EXPECT_EQ(Head(), h);  // the event went with the message
  EXPECT_EQ(store_->TakeNotifyHead(), 0);
  ASSERT_OK(AllowInserts("messages"));
  Message m = Post(alice, kGeneral, "kept");
  EXPECT_EQ(m.id, h + 1);
}

TEST_F(StoreTest, ARefusedSendLeavesNoMessageNoEventAndNoGap) {
  // PostgreSQL inserts a send's message in the round trip of its checks
  // and rolls it back when they refuse it: none of it may remain.
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Room lobby = NewRoom(alice, "Lobby", RoomKind::kPublic);
  Message elsewhere = Post(alice, kGeneral, "in general");
  const int64_t h = Head();
  const int64_t stored = QueryInt("SELECT COUNT(*) FROM messages");
  auto refused_then_kept = [&](const std::string& text) {
    EXPECT_ERROR(store_->Send(bob, lobby.id, "not a member", std::string(text + "-a")), Code::kForbidden,
                 "not_a_member");
    EXPECT_ERROR(store_->Send(alice, lobby.id, "bad reply", std::string(text + "-b"), elsewhere.id), Code::kInvalid,
                 "invalid_reply");
    EXPECT_ERROR(store_->Send(alice, 999999, "no room", std::nullopt), Code::kNotFound, "room_not_found");
    return Post(alice, lobby.id, text);
  };
  EXPECT_EQ(refused_then_kept("kept").id, h + 1);
  {  // The same in a group-commit batch: each refused send rolls back alone,
     // before the batch's first id and between two of its ids (PostgreSQL
     // hands out a batch's later ids itself: PgConn::IdRun).
    ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
    EXPECT_EQ(refused_then_kept("kept in a batch").id, h + 2);
    EXPECT_EQ(refused_then_kept("kept again in a batch").id, h + 3);
    ASSERT_OK(batch->Commit());
  }
  EXPECT_EQ(Head(), h + 3);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM messages"), stored + 3);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM events WHERE id > " + std::to_string(h)), 3);
  // The refused sends' client_ids were not claimed: they send now, after
  // the batch's last id.
  ASSERT_OK_AND_ASSIGN(SendResult retried, store_->Send(alice, lobby.id, "now", std::string("kept-b")));
  EXPECT_TRUE(retried.created);
  EXPECT_EQ(retried.message.id, h + 4);
}

// Every kind of append in one batch, a refused one among them: the events
// are numbered in order with no gap, and the next write after the batch
// goes on from its last id (on PostgreSQL the batch takes the counter row
// once and writes it back once, before its COMMIT).
TEST_F(StoreTest, ABatchOfMixedWritesNumbersItsEventsWithoutAGap) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  const int64_t h = Head();
  {
    ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
    ASSERT_OK_AND_ASSIGN(SendResult one, store_->Send(alice, kGeneral, "one", std::nullopt));
    EXPECT_EQ(one.message.id, h + 1);
    ASSERT_OK(store_->Edit(alice, one.message.id, "one, edited"));
    EXPECT_ERROR(store_->Edit(bob, one.message.id, "not mine"), Code::kForbidden, "not_author");
    ASSERT_OK_AND_ASSIGN(SendResult two, store_->Send(bob, kGeneral, "two", std::nullopt));
    EXPECT_EQ(two.message.id, h + 3);
    ASSERT_OK(store_->Delete(bob, two.message.id));  // not `one`: its edit would go (RewriteMessageEvents)
    ASSERT_OK(batch->Commit());
  }
  std::vector<std::string> types;
  for (const Event& e : EventsSince(h)) {
    EXPECT_EQ(e.id, h + 1 + static_cast<int64_t>(types.size()));
    types.push_back(e.type);
  }
  EXPECT_EQ(types, (std::vector<std::string>{"message", "edit", "message", "delete"}));
  EXPECT_EQ(Head(), h + 4);
  EXPECT_EQ(Post(bob, kGeneral, "after the batch").id, h + 5);
}

// The room object a write answers with carries the room's newest event id,
// in a group-commit batch too, as the room list shows it after the COMMIT.
// PostgreSQL moves the room's last_event_id once per batch, before its COMMIT;
// its answers inside the batch read the row and said 0 for a room just
// created (found by backends_diff_test: POST /api/rooms and POST /api/dm).
TEST_F(StoreTest, ARoomAnsweredInABatchCarriesItsNewestEventId) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  const int64_t h = Head();
  int64_t lobby_id = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
    ASSERT_OK_AND_ASSIGN(Room lobby, store_->CreateRoom(alice, "Lobby", RoomKind::kPublic, std::nullopt));
    lobby_id = lobby.id;
    EXPECT_EQ(lobby.last_event_id, h + 2);  // the owner's member event, then the room event
    ASSERT_OK_AND_ASSIGN(Room joined, store_->Join(bob, lobby.id));
    EXPECT_EQ(joined.last_event_id, h + 3);
    ASSERT_OK_AND_ASSIGN(auto dm, store_->GetOrCreateDm(alice, "bob"));
    EXPECT_EQ(dm.first.last_event_id, h + 6);  // two member events and the room event
    const Message m = Post(bob, lobby.id, "hello");
    ASSERT_OK_AND_ASSIGN(Room quiet, store_->SetNotifications(alice, lobby.id, NotifyLevel::kMentions));
    EXPECT_EQ(quiet.last_event_id, m.id);
    ASSERT_OK(batch->Commit());
  }
  ASSERT_OK_AND_ASSIGN(Room after, store_->GetRoom(alice, lobby_id));
  EXPECT_EQ(after.last_event_id, h + 7);
}

TEST_F(StoreTest, HistoryPagesExactly) {
  Limits unlimited;
  unlimited.WritesOff();  // 50 sends in a row: past the default burst
  Reopen(unlimited);
  User alice = NewUser("alice");
  Room lobby = NewRoom(alice, "Lobby", RoomKind::kPublic);
  std::vector<int64_t> ids;
  for (int i = 0; i < 25; ++i) {
    ids.push_back(Post(alice, lobby.id, "m" + std::to_string(i)).id);
    Post(alice, kGeneral, "elsewhere");  // ids in the room are not contiguous
  }
  ASSERT_EQ(ids.size(), 25u);

  // Expects ids[from, to) oldest first, and has_more.
  auto expect_page = [&](std::optional<int64_t> before, std::optional<int64_t> after, int limit, size_t from,
                         size_t to, bool has_more) {
    SCOPED_TRACE(::testing::Message() << "before=" << before.value_or(-1) << " after=" << after.value_or(-1)
                                      << " limit=" << limit);
    auto page = store_->History(alice, lobby.id, before, after, limit);
    ASSERT_OK(page);
    std::vector<int64_t> got;
    for (const Message& m : page->messages) got.push_back(m.id);
    EXPECT_EQ(got, std::vector<int64_t>(ids.begin() + static_cast<std::ptrdiff_t>(from), ids.begin() + static_cast<std::ptrdiff_t>(to)));
    EXPECT_EQ(page->has_more, has_more);
    for (const Message& m : page->messages) {
      size_t i = static_cast<size_t>(std::find(ids.begin(), ids.end(), m.id) - ids.begin());
      EXPECT_EQ(m.text, "m" + std::to_string(i));
      EXPECT_EQ(m.room_id, lobby.id);
    }
  };
  const std::nullopt_t none = std::nullopt;
  // The latest page, then older pages with before=.
  expect_page(none, none, 10, 15, 25, true);
  expect_page(ids[15], none, 10, 5, 15, true);
  expect_page(ids[5], none, 10, 0, 5, false);
  expect_page(ids[10], none, 10, 0, 10, false);  // exactly the rest
  expect_page(ids[0], none, 10, 0, 0, false);
  // Newer pages with after=.
  expect_page(none, int64_t{0}, 10, 0, 10, true);
  expect_page(none, ids[9], 10, 10, 20, true);
  expect_page(none, ids[14], 10, 15, 25, false);  // exactly the rest
  expect_page(none, ids[19], 10, 20, 25, false);
  expect_page(none, ids[24], 10, 0, 0, false);
  // Both bounds.
  expect_page(ids[10], ids[4], 10, 5, 10, false);
  expect_page(ids[10], ids[4], 3, 5, 8, true);
  // Cursors that are no message of the room (ids[i] + 1 lies between two of
  // its messages), neighbours, and the extremes.
  expect_page(ids[5] + 1, none, 10, 0, 6, false);
  expect_page(none, ids[19] - 1, 10, 19, 25, false);
  expect_page(ids[10], ids[9], 10, 0, 0, false);
  expect_page(int64_t{INT64_MAX}, none, 10, 15, 25, true);
  expect_page(none, int64_t{INT64_MAX}, 10, 0, 0, false);
  expect_page(int64_t{INT64_MAX}, int64_t{0}, 10, 0, 10, true);
  // Limits around the total.
  expect_page(none, none, 25, 0, 25, false);
  expect_page(none, none, 24, 1, 25, true);
  expect_page(none, none, 1, 24, 25, true);
  expect_page(none, none, 200, 0, 25, false);
}

TEST_F(StoreTest, EditAndDeleteByAuthorOnly) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Room lobby = NewRoom(alice, "Lobby", RoomKind::kPublic);
  JoinOk(bob, lobby.id);
  Message m = Post(alice, lobby.id, "original");

  EXPECT_ERROR(store_->Edit(bob, m.id, "hacked"), Code::kForbidden, "not_author");
  EXPECT_ERROR(store_->Delete(bob, m.id), Code::kForbidden, "not_author");
  EXPECT_ERROR(store_->Edit(alice, 999999, "x"), Code::kNotFound, "message_not_found");
  EXPECT_ERROR(store_->Delete(alice, 999999), Code::kNotFound, "message_not_found");

  int64_t h = Head();
  ASSERT_OK_AND_ASSIGN(Message edited, store_->Edit(alice, m.id, "fixed"));
  EXPECT_EQ(edited.id, m.id);
  EXPECT_EQ(edited.text, "fixed");
  EXPECT_TRUE(edited.edited);
  std::vector<Event> ev = EventsSince(h);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, "edit");
  EXPECT_EQ(ev[0].room_id, lobby.id);
  JsonPtr data = Parse(ev[0].data);
  EXPECT_EQ(Num(data.get(), "id"), m.id);
  EXPECT_EQ(Str(data.get(), "text"), "fixed");
  EXPECT_TRUE(cJSON_IsTrue(Get(data.get(), "edited")));
  std::optional<Message> stored = FindInHistory(bob, lobby.id, m.id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->text, "fixed");
  EXPECT_TRUE(stored->edited);

  h = Head();
  ASSERT_OK(store_->Delete(alice, m.id));
  ev = EventsSince(h);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, "delete");
  data = Parse(ev[0].data);
  EXPECT_EQ(Num(data.get(), "id"), m.id);
  EXPECT_EQ(Str(data.get(), "text"), "");
  EXPECT_TRUE(cJSON_IsTrue(Get(data.get(), "deleted")));

  // A tombstone: the id stays in history, the text is gone from the database.
  stored = FindInHistory(bob, lobby.id, m.id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_TRUE(stored->deleted);
  EXPECT_EQ(stored->text, "");
  EXPECT_EQ(QueryText("SELECT text FROM messages WHERE id = " + std::to_string(m.id)), "");

  EXPECT_ERROR(store_->Edit(alice, m.id, "again"), Code::kConflict, "message_deleted");
  h = Head();
  EXPECT_OK(store_->Delete(alice, m.id));  // twice is not an error, and no new event
  EXPECT_EQ(Head(), h);
}

// Q&A: alice owns the room (professor), bob is a student, carol a second professor.
class QaTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (HasFatalFailure()) return;
    alice_ = NewUser("alice");
    bob_ = NewUser("bob");
    carol_ = NewUser("carol");
    dave_ = NewUser("dave");
    qa_ = NewRoom(alice_, "Physics", RoomKind::kQa);
    JoinOk(bob_, qa_.id);
    MakeProfessor(alice_, qa_.id, carol_);
  }
  User alice_, bob_, carol_, dave_;
  Room qa_;
};

TEST_F(QaTest, StudentsAskProfessorsAnswerOnce) {
  const int64_t h = Head();
  ASSERT_OK_AND_ASSIGN(SendResult q, store_->Send(bob_, qa_.id, "why?", std::nullopt));
  EXPECT_EQ(q.message.kind, "question");
  std::vector<Event> ev = EventsSince(h);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, "question");

  EXPECT_ERROR(store_->Send(alice_, qa_.id, "a statement", std::nullopt), Code::kForbidden, "professors_cannot_ask");
  EXPECT_ERROR(store_->Send(carol_, qa_.id, "a statement", std::nullopt), Code::kForbidden, "professors_cannot_ask");
  EXPECT_ERROR(store_->Answer(bob_, q.message.id, "I know", std::nullopt), Code::kForbidden, "not_professor");

  const int64_t h2 = Head();
  ASSERT_OK_AND_ASSIGN(SendResult a, store_->Answer(alice_, q.message.id, "because", std::nullopt));
  EXPECT_TRUE(a.created);
  EXPECT_EQ(a.message.kind, "answer");
  EXPECT_EQ(a.message.reply_to, q.message.id);
  EXPECT_EQ(a.message.room_id, qa_.id);
  EXPECT_EQ(a.message.id, h2 + 1);
  ev = EventsSince(h2);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, "answer");
  EXPECT_EQ(ev[0].id, a.message.id);

  // The first answer wins; every later one is refused.
  EXPECT_ERROR(store_->Answer(carol_, q.message.id, "me too", std::nullopt), Code::kConflict, "already_answered");
  EXPECT_ERROR(store_->Answer(alice_, q.message.id, "again", std::nullopt), Code::kConflict, "already_answered");
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM messages WHERE kind = 'answer'"), 1);

  std::optional<Message> stored = FindInHistory(bob_, qa_.id, q.message.id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->answer_id, a.message.id);
}

TEST_F(QaTest, OnlyQuestionsCanBeAnswered) {
  Message q = Post(bob_, qa_.id, "why?");
  ASSERT_OK_AND_ASSIGN(SendResult a, store_->Answer(alice_, q.id, "because", std::nullopt));
  EXPECT_ERROR(store_->Answer(carol_, a.message.id, "re", std::nullopt), Code::kInvalid, "not_a_question");

  Room lobby = NewRoom(alice_, "Lobby", RoomKind::kPublic);
  Message plain = Post(alice_, lobby.id, "just chatting");
  EXPECT_EQ(plain.kind, "message");
  EXPECT_ERROR(store_->Answer(alice_, plain.id, "re", std::nullopt), Code::kInvalid, "not_a_question");
  EXPECT_ERROR(store_->Answer(alice_, 999999, "re", std::nullopt), Code::kNotFound, "message_not_found");

  Message q2 = Post(bob_, qa_.id, "and this?");
  EXPECT_ERROR(store_->Answer(dave_, q2.id, "outsider", std::nullopt), Code::kForbidden, "not_a_member");

  Message q3 = Post(bob_, qa_.id, "never mind");
  ASSERT_OK(store_->Delete(bob_, q3.id));
  EXPECT_ERROR(store_->Answer(alice_, q3.id, "too late", std::nullopt), Code::kConflict, "message_deleted");
}

TEST_F(QaTest, AnswersPerProfessorLimit) {
  Room lab = NewRoom(alice_, "Lab", RoomKind::kQa, 1);
  JoinOk(bob_, lab.id);
  MakeProfessor(alice_, lab.id, carol_);
  Message q1 = Post(bob_, lab.id, "q1");
  Message q2 = Post(bob_, lab.id, "q2");
  ASSERT_OK_AND_ASSIGN(SendResult a1, store_->Answer(alice_, q1.id, "a1", std::nullopt));
  EXPECT_ERROR(store_->Answer(alice_, q2.id, "a2", std::nullopt), Code::kConflict, "answer_limit_reached");
  EXPECT_OK(store_->Answer(carol_, q2.id, "a2", std::nullopt));

  // Only live answers count: a deleted one gives its place back.
  Message q5 = Post(bob_, lab.id, "q5");
  EXPECT_ERROR(store_->Answer(alice_, q5.id, "a5", std::nullopt), Code::kConflict, "answer_limit_reached");
  ASSERT_OK(store_->Delete(alice_, a1.message.id));
  EXPECT_OK(store_->Answer(alice_, q5.id, "a5", std::nullopt));
  // q1 is open again (not already_answered), but alice has spent her answer.
  EXPECT_ERROR(store_->Answer(alice_, q1.id, "a1 again", std::nullopt), Code::kConflict, "answer_limit_reached");

  // Without the option, a professor answers as many questions as come.
  Message q3 = Post(bob_, qa_.id, "q3");
  Message q4 = Post(bob_, qa_.id, "q4");
  EXPECT_OK(store_->Answer(alice_, q3.id, "a3", std::nullopt));
  EXPECT_OK(store_->Answer(alice_, q4.id, "a4", std::nullopt));
}

TEST_F(QaTest, AnswerRetryWithClientIdReturnsStoredAnswer) {
  Message q = Post(bob_, qa_.id, "why?");
  ASSERT_OK_AND_ASSIGN(SendResult a, store_->Answer(alice_, q.id, "because", std::string("a-1")));
  EXPECT_TRUE(a.created);
  ASSERT_OK_AND_ASSIGN(SendResult retry, store_->Answer(alice_, q.id, "because", std::string("a-1")));
  EXPECT_FALSE(retry.created);
  EXPECT_EQ(retry.message.id, a.message.id);
}

// A client_id that named a follow-up question (reply_to the question, sent
// while its author was a student) names another kind of message: an answer
// under it is 409 client_id_reused, not that question handed back as the
// answer (200) with no answer stored. Only an answer to the same question
// is a retry.
TEST_F(QaTest, AnAnswerUnderAQuestionsClientIdIsRefused) {
  Message q = Post(bob_, qa_.id, "why?");
  ASSERT_OK_AND_ASSIGN(SendResult follow_up,
                       store_->Send(bob_, qa_.id, "and why not?", std::string("c-1"), q.id));
  EXPECT_EQ(follow_up.message.kind, "question");
  MakeProfessor(alice_, qa_.id, bob_);
  const int64_t h = Head();
  EXPECT_ERROR(store_->Answer(bob_, q.id, "because", std::string("c-1")), Code::kConflict, "client_id_reused");
  EXPECT_EQ(Head(), h) << "nothing stored";
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM messages WHERE kind = 'answer'"), 0);
  // The question is still open, and a fresh client_id answers it.
  ASSERT_OK_AND_ASSIGN(SendResult a, store_->Answer(bob_, q.id, "because", std::string("c-2")));
  EXPECT_TRUE(a.created);
  EXPECT_EQ(a.message.kind, "answer");
}

// Deleting the answer that won reopens its question: history shows it
// without answer_id, and the next answer wins as the first one did.
// A question whose answer was deleted before a delete reopened it still has
// the answer's row: migration 019 (PostgreSQL 014) removes it.
TEST_F(QaTest, TheMigrationReopensAQuestionWhoseAnswerWasDeletedBefore) {
  Message q = Post(bob_, qa_.id, "why?");
  ASSERT_OK_AND_ASSIGN(SendResult a, store_->Answer(alice_, q.id, "because", std::nullopt));
  Message kept = Post(bob_, qa_.id, "and how?");
  ASSERT_OK_AND_ASSIGN(SendResult live, store_->Answer(alice_, kept.id, "like so", std::nullopt));
  ASSERT_OK(store_->Delete(alice_, a.message.id));
  // The row as the code before the fix left it.
  ASSERT_OK(Exec("INSERT INTO answers (question_id, answer_id, professor_id, room_id) VALUES (" +
                 std::to_string(q.id) + ", " + std::to_string(a.message.id) + ", " + std::to_string(alice_.id) +
                 ", " + std::to_string(qa_.id) + ")"));
  EXPECT_ERROR(store_->Answer(carol_, q.id, "me", std::nullopt), Code::kConflict, "already_answered");
  ASSERT_OK(RemigrateFrom(18, 13));
  ASSERT_OK_AND_ASSIGN(SendResult again, store_->Answer(carol_, q.id, "me", std::nullopt));
  EXPECT_TRUE(again.created);
  std::optional<Message> still = FindInHistory(bob_, qa_.id, kept.id);
  ASSERT_TRUE(still.has_value());
  EXPECT_EQ(still->answer_id, live.message.id) << "a live answer keeps its question";
}

TEST_F(QaTest, DeletingTheAnswerReopensTheQuestion) {
  Message q = Post(bob_, qa_.id, "why?");
  ASSERT_OK_AND_ASSIGN(SendResult a1, store_->Answer(alice_, q.id, "because", std::nullopt));
  EXPECT_ERROR(store_->Answer(carol_, q.id, "me too", std::nullopt), Code::kConflict, "already_answered");

  const int64_t h = Head();
  ASSERT_OK(store_->Delete(alice_, a1.message.id));
  // The delete event's tombstone names the question that reopened, and so
  // does the answer's own event, rewritten to it, on a replay.
  std::vector<Event> ev = EventsSince(h);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, "delete");
  for (const Event& e : EventsSince(0)) {
    if (e.id != a1.message.id && e.id != ev[0].id) continue;
    JsonPtr data = Parse(e.data);
    EXPECT_EQ(Num(data.get(), "id"), a1.message.id) << e.type;
    EXPECT_EQ(Str(data.get(), "kind"), "answer") << e.type;
    EXPECT_EQ(Num(data.get(), "reply_to"), q.id) << e.type;
    EXPECT_TRUE(cJSON_IsTrue(Get(data.get(), "deleted"))) << e.type;
  }
  std::optional<Message> open = FindInHistory(bob_, qa_.id, q.id);
  ASSERT_TRUE(open.has_value());
  EXPECT_FALSE(open->answer_id.has_value());

  // The first new answer wins; the next is refused, as before.
  ASSERT_OK_AND_ASSIGN(SendResult a2, store_->Answer(carol_, q.id, "Rayleigh", std::nullopt));
  EXPECT_TRUE(a2.created);
  EXPECT_ERROR(store_->Answer(alice_, q.id, "again", std::nullopt), Code::kConflict, "already_answered");
  std::optional<Message> answered = FindInHistory(bob_, qa_.id, q.id);
  ASSERT_TRUE(answered.has_value());
  EXPECT_EQ(answered->answer_id, a2.message.id);
  std::optional<Message> tombstone = FindInHistory(bob_, qa_.id, a1.message.id);
  ASSERT_TRUE(tombstone.has_value());
  EXPECT_TRUE(tombstone->deleted);
  EXPECT_EQ(tombstone->reply_to, q.id);
}

TEST_F(QaTest, AModeratorsOrTheOwnersDeleteReopensTheQuestion) {
  JoinOk(dave_, qa_.id);
  MemberUpdate make;
  make.moderator = true;
  ASSERT_OK(store_->UpdateMember(alice_, qa_.id, "dave", make));
  Message q = Post(bob_, qa_.id, "why?");

  ASSERT_OK_AND_ASSIGN(SendResult a1, store_->Answer(carol_, q.id, "because", std::nullopt));
  const int64_t h = Head();
  ASSERT_OK(store_->Delete(dave_, a1.message.id));  // a moderator, on carol's answer
  std::vector<Event> ev = EventsSince(h);
  ASSERT_EQ(ev.size(), 1u);
  JsonPtr data = Parse(ev[0].data);
  EXPECT_EQ(Num(data.get(), "reply_to"), q.id);
  EXPECT_EQ(Str(Get(data.get(), "deleted_by"), "username"), "dave");
  std::optional<Message> open = FindInHistory(bob_, qa_.id, q.id);
  ASSERT_TRUE(open.has_value());
  EXPECT_FALSE(open->answer_id.has_value());

  ASSERT_OK_AND_ASSIGN(SendResult a2, store_->Answer(carol_, q.id, "because, really", std::nullopt));
  ASSERT_OK(store_->Delete(alice_, a2.message.id));  // the owner, on carol's answer
  ASSERT_OK_AND_ASSIGN(SendResult a3, store_->Answer(alice_, q.id, "Rayleigh", std::nullopt));
  EXPECT_ERROR(store_->Answer(carol_, q.id, "again", std::nullopt), Code::kConflict, "already_answered");
  std::optional<Message> answered = FindInHistory(bob_, qa_.id, q.id);
  ASSERT_TRUE(answered.has_value());
  EXPECT_EQ(answered->answer_id, a3.message.id);
}

TEST_F(QaTest, DeletingALosingTombstoneOrTheQuestionChangesNothingElse) {
  Message q = Post(bob_, qa_.id, "why?");
  ASSERT_OK_AND_ASSIGN(SendResult a1, store_->Answer(alice_, q.id, "because", std::nullopt));
  ASSERT_OK(store_->Delete(alice_, a1.message.id));
  ASSERT_OK_AND_ASSIGN(SendResult a2, store_->Answer(carol_, q.id, "Rayleigh", std::nullopt));

  // The old tombstone again, by its author and by the owner: no event, and
  // the new winner stays.
  int64_t h = Head();
  ASSERT_OK(store_->Delete(alice_, a1.message.id));
  EXPECT_EQ(Head(), h);
  EXPECT_ERROR(store_->Answer(alice_, q.id, "again", std::nullopt), Code::kConflict, "already_answered");
  std::optional<Message> answered = FindInHistory(bob_, qa_.id, q.id);
  ASSERT_TRUE(answered.has_value());
  EXPECT_EQ(answered->answer_id, a2.message.id);

  // Deleting the question leaves its answer and the answer's place alone.
  const std::string of_q = std::to_string(q.id);
  ASSERT_OK(store_->Delete(bob_, q.id));
  EXPECT_EQ(QueryInt("SELECT answer_id FROM answers WHERE question_id = " + of_q), a2.message.id);
  std::optional<Message> kept = FindInHistory(bob_, qa_.id, a2.message.id);
  ASSERT_TRUE(kept.has_value());
  EXPECT_FALSE(kept->deleted);
  EXPECT_EQ(kept->text, "Rayleigh");
  EXPECT_ERROR(store_->Answer(alice_, q.id, "too late", std::nullopt), Code::kConflict, "message_deleted");
}

// PostgreSQL, several pools: an answer that waited for the delete of the
// winning answer (Delete holds the question's row, as Answer does) finds
// the question open once the delete commits, and wins.
TEST_F(QaTest, AnAnswerWaitingForTheWinnersDeleteWinsOnceItCommits) {
  if (!test::OnPostgres()) GTEST_SKIP() << "PostgreSQL only: SQLite has one writer";
  Message q = Post(bob_, qa_.id, "why?");
  ASSERT_OK_AND_ASSIGN(SendResult a1, store_->Answer(alice_, q.id, "because", std::nullopt));
  std::unique_ptr<Storage> other = NewStorage();
  ASSERT_NE(other, nullptr);
  ASSERT_OK_AND_ASSIGN(auto watch, pg::PgConn::Connect(pg_url_));
  ASSERT_OK_AND_ASSIGN(auto batch, store_->BeginBatch());
  ASSERT_OK(store_->Delete(alice_, a1.message.id));
  auto answer = std::async(std::launch::async, [&] { return other->Answer(carol_, q.id, "Rayleigh", std::nullopt); });
  // Until the answer waits for a lock, or ends without waiting (up to 30 s
  // on a loaded machine). No ASSERT inside: the batch must commit for the
  // answer to end.
  bool waited = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!waited && answer.wait_for(std::chrono::milliseconds(5)) != std::future_status::ready &&
         std::chrono::steady_clock::now() < deadline) {
    auto w = watch->Exec("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
                         "AND wait_event_type = 'Lock'");
    EXPECT_OK(w);
    if (!w.ok()) break;
    waited = w->Text(0, 0) != "0";
  }
  ASSERT_OK(batch->Commit());
  Result<SendResult> r = answer.get();
  EXPECT_TRUE(waited) << "the answer must wait for the delete's lock on the question";
  ASSERT_OK(r);
  EXPECT_EQ(QueryInt("SELECT answer_id FROM answers WHERE question_id = " + std::to_string(q.id)), r->message.id);
}

TEST_F(StoreTest, SendQuotaPerUser) {
  Limits limits;
  limits.rate(WriteClass::kSend) = Rate{0.001, 3};  // refills one send in ~17 minutes: not during this test
  Reopen(limits);
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Room qa = NewRoom(alice, "Physics", RoomKind::kQa);
  JoinOk(bob, qa.id);
  Post(bob, kGeneral, "1", std::string("c-1"));
  Post(bob, kGeneral, "2");
  Message q = Post(bob, qa.id, "3?");
  const int64_t h = Head();
  DrainNotify();
  EXPECT_ERROR(store_->Send(bob, kGeneral, "4", std::nullopt), Code::kThrottled, "throttled");
  EXPECT_ERROR(store_->Send(bob, kGeneral, "4", std::nullopt), Code::kThrottled, "throttled");
  EXPECT_EQ(Head(), h);  // a refused send leaves no event
  EXPECT_EQ(store_->TakeNotifyHead(), 0);
  // A retry of a stored send is not a new send.
  ASSERT_OK_AND_ASSIGN(SendResult retry, store_->Send(bob, kGeneral, "1", std::string("c-1")));
  EXPECT_FALSE(retry.created);
  // The bucket is per user, and answers draw on it too.
  Post(alice, kGeneral, "alice is fine");
  EXPECT_OK(store_->Answer(alice, q.id, "a", std::nullopt));
  Post(alice, kGeneral, "3");
  EXPECT_ERROR(store_->Send(alice, kGeneral, "4", std::nullopt), Code::kThrottled, "throttled");
  EXPECT_ERROR(store_->Send(bob, qa.id, "late?", std::nullopt), Code::kThrottled, "throttled");
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM messages"), 6);
}

// An audit: 32 sends, then the wall clock stepped back an hour, and every
// send was refused ("Retry-After: 1") until the clock caught up: the stored
// bucket's stamp, an hour ahead, refilled nothing, and a refusal stored
// nothing. Such a bucket is full again (token_bucket.h), in a batch (as
// parley-fcgi's writer runs every write) and outside one.
TEST_F(StoreTest, AClockStepBackLeavesNoBucketEmptyPastItsWait) {
  Limits limits;
  limits.rate(WriteClass::kSend) = Rate{0.001, 2};  // a token every 1,000 s
  Reopen(limits);
  User bob = NewUser("bob");
  auto step_back = [&] {
    // The stamp an hour ahead is what the clock stepping back an hour leaves.
    ASSERT_OK(Exec("UPDATE write_quota SET updated_ts = updated_ts + 3600000, tokens = 0"));
  };
  Post(bob, kGeneral, "1");
  step_back();
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<Batch> batch, store_->BeginBatch());
    EXPECT_OK(store_->Send(bob, kGeneral, "2", std::nullopt));
    ASSERT_OK(batch->Commit());
  }
  EXPECT_LT(QueryInt("SELECT updated_ts FROM write_quota"), NowMs() + 1000) << "stamped now";
  step_back();
  Post(bob, kGeneral, "3");
  Post(bob, kGeneral, "4");
  EXPECT_ERROR(store_->Send(bob, kGeneral, "5", std::nullopt), Code::kThrottled, "throttled");
}

// The other classes share the mechanism: a bucket per user and class, in the
// write transaction, so a refused write leaves nothing behind.
TEST_F(StoreTest, WriteQuotaPerUserAndClass) {
  Limits limits;
  limits.rate(WriteClass::kJoin) = Rate{0.001, 1};
  limits.rate(WriteClass::kRead) = Rate{0.001, 2};
  Reopen(limits);
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Room lobby = NewRoom(alice, "Lobby", RoomKind::kPublic);
  Room hall = NewRoom(alice, "Hall", RoomKind::kPublic);
  JoinOk(bob, lobby.id);
  const int64_t h = Head();
  DrainNotify();
  auto refused = store_->Join(bob, hall.id);
  EXPECT_ERROR(refused, Code::kThrottled, "throttled");
  EXPECT_GE(refused.status().retry_after_s(), 999);  // 1 token at 0.001/s
  EXPECT_EQ(Head(), h);
  EXPECT_EQ(store_->TakeNotifyHead(), 0);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM members WHERE room_id = " + std::to_string(hall.id)), 1);
  // Another class of the same user, and the same class of another user.
  EXPECT_OK(store_->MarkRead(bob, lobby.id, 1));
  EXPECT_OK(store_->MarkRead(bob, lobby.id, 2));
  EXPECT_ERROR(store_->MarkRead(bob, lobby.id, 3), Code::kThrottled, "throttled");
  EXPECT_EQ(QueryInt("SELECT event_id FROM read_markers WHERE user_id = " + std::to_string(bob.id)), 2);
  JoinOk(alice, kGeneral);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM write_quota WHERE user_id = " + std::to_string(bob.id)), 2);
}

TEST_F(StoreTest, MarkReadMovesForwardAndDrivesUnread) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Room lobby = NewRoom(alice, "Lobby", RoomKind::kPublic);
  JoinOk(bob, lobby.id);
  EXPECT_EQ(Unread(bob, lobby.id), 0);

  Message m1 = Post(alice, lobby.id, "one");
  Message m2 = Post(alice, lobby.id, "two");
  Message m3 = Post(alice, lobby.id, "three");
  EXPECT_EQ(Unread(bob, lobby.id), 3);
  EXPECT_EQ(Unread(alice, lobby.id), 0);  // one's own messages are never unread

  User carol = NewUser("carol");
  JoinOk(carol, lobby.id);
  Message mc = Post(carol, lobby.id, "reply");
  EXPECT_EQ(Unread(alice, lobby.id), 1);
  EXPECT_EQ(Unread(bob, lobby.id), 4);
  std::optional<Room> listed = Listed(bob, lobby.id);
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->last_event_id, mc.id);

  DrainNotify();
  ASSERT_OK(store_->MarkRead(bob, lobby.id, m2.id));
  EXPECT_EQ(store_->TakeNotifyHead(), 0);  // a read marker is not an event
  EXPECT_EQ(Unread(bob, lobby.id), 2);
  ASSERT_OK(store_->MarkRead(bob, lobby.id, m1.id));  // backwards: ignored
  EXPECT_EQ(Unread(bob, lobby.id), 2);
  ASSERT_OK(store_->MarkRead(bob, lobby.id, listed->last_event_id));
  EXPECT_EQ(Unread(bob, lobby.id), 0);
  ASSERT_OK_AND_ASSIGN(Room seen, store_->GetRoom(bob, lobby.id));
  EXPECT_EQ(seen.unread, 0);
  (void)m3;

  // Deleted messages are not unread.
  Post(alice, lobby.id, "four");
  Message m5 = Post(alice, lobby.id, "five");
  EXPECT_EQ(Unread(bob, lobby.id), 2);
  ASSERT_OK(store_->Delete(alice, m5.id));
  EXPECT_EQ(Unread(bob, lobby.id), 1);
  // Another user's marker is independent: carol's stays where she wrote.
  EXPECT_EQ(Unread(carol, lobby.id), 1);
}

// One's own message moves one's read marker to it (what Matrix servers do
// for the events a user sends, MSC4005): who writes in a room has read it.
// It also bounds the unread count's walk, which reads the room from the
// marker on: a bot that sends without ever marking read made every room
// view read all it had sent since.
TEST_F(StoreTest, OnesOwnMessageMovesOnesReadMarkerToIt) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Room lobby = NewRoom(alice, "Lobby", RoomKind::kPublic);
  JoinOk(bob, lobby.id);
  Post(alice, lobby.id, "one");
  Post(alice, lobby.id, "two");
  EXPECT_EQ(Unread(bob, lobby.id), 2);
  Message reply = Post(bob, lobby.id, "I read you");
  ASSERT_OK_AND_ASSIGN(Room seen, store_->GetRoom(bob, lobby.id));
  EXPECT_EQ(seen.read_event_id, reply.id);
  EXPECT_EQ(seen.unread, 0);
  EXPECT_EQ(Unread(alice, lobby.id), 1) << "alice's marker moved with her messages, not with bob's";
  ASSERT_OK_AND_ASSIGN(MemberPage members, store_->Members(alice, lobby.id, {}));
  for (const Member& m : members.members) {
    if (m.user.id == bob.id) {
      EXPECT_EQ(m.read_event_id, reply.id);
    }
  }

  // A send that is refused moves nothing, nor does a retry of one stored.
  ASSERT_OK_AND_ASSIGN(SendResult first, store_->Send(bob, lobby.id, "once", std::string("c1")));
  Message later = Post(alice, lobby.id, "three");
  ASSERT_OK_AND_ASSIGN(SendResult retried, store_->Send(bob, lobby.id, "once", std::string("c1")));
  EXPECT_FALSE(retried.created);
  EXPECT_EQ(retried.message.id, first.message.id);
  EXPECT_EQ(Unread(bob, lobby.id), 1) << "a retry is not a new message";
  EXPECT_ERROR(store_->Send(bob, lobby.id, "elsewhere", std::string("c2"), later.id + 1000), Code::kInvalid,
               "invalid_reply");
  EXPECT_EQ(Unread(bob, lobby.id), 1);

  // An answer too: its professor has read the question.
  Room qa = NewRoom(alice, "Physics", RoomKind::kQa);
  JoinOk(bob, qa.id);
  Message question = Post(bob, qa.id, "why?");
  EXPECT_EQ(Unread(alice, qa.id), 1);
  ASSERT_OK_AND_ASSIGN(SendResult answer, store_->Answer(alice, question.id, "because", std::nullopt));
  ASSERT_OK_AND_ASSIGN(Room taught, store_->GetRoom(alice, qa.id));
  EXPECT_EQ(taught.read_event_id, answer.message.id);
  EXPECT_EQ(taught.unread, 0);
}

TEST_F(StoreTest, EventIdsIncreaseWithoutGaps) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  User carol = NewUser("carol");
  EXPECT_FALSE(store_->CreateUser("Bob", kFakeHash).ok());
  Room lobby = NewRoom(alice, "Lobby", RoomKind::kPublic);
  Room secret = NewRoom(alice, "secret", RoomKind::kPrivate);
  Room qa = NewRoom(alice, "Physics", RoomKind::kQa);
  EXPECT_FALSE(store_->CreateRoom(bob, "LOBBY", RoomKind::kPublic, std::nullopt).ok());
  JoinOk(bob, lobby.id);
  EXPECT_OK(store_->Invite(alice, secret.id, "carol"));
  JoinOk(carol, secret.id);
  EXPECT_OK(store_->GetOrCreateDm(bob, "carol"));
  Message m1 = Post(alice, lobby.id, "hi");
  EXPECT_FALSE(store_->Send(bob, secret.id, "let me in", std::nullopt).ok());
  Message hello = Post(bob, lobby.id, "hello", std::string("c-1"));
  EXPECT_OK(store_->Send(bob, lobby.id, "hello", std::string("c-1")));  // retry: no event
  EXPECT_OK(store_->Edit(alice, m1.id, "hi!"));
  // Another message: deleting m1 would take its edit's event with it, a
  // gap that no allocation made (RewriteMessageEvents).
  EXPECT_OK(store_->Delete(bob, hello.id));
  JoinOk(bob, qa.id);
  Message q = Post(bob, qa.id, "why?");
  EXPECT_OK(store_->Answer(alice, q.id, "because", std::nullopt));
  EXPECT_FALSE(store_->Answer(alice, q.id, "again", std::nullopt).ok());
  EXPECT_OK(SetRole(alice, qa.id, "bob", Role::kProfessor));
  EXPECT_OK(store_->Leave(carol, secret.id));
  EXPECT_OK(store_->MarkRead(bob, lobby.id, m1.id));
  EXPECT_OK(store_->CreateSession(bob.id, TokenHash(NewToken())));

  std::vector<Event> ev = EventsSince(0);
  ASSERT_FALSE(ev.empty());
  for (size_t i = 0; i < ev.size(); ++i) {
    EXPECT_EQ(ev[i].id, static_cast<int64_t>(i) + 1) << "event " << i << " type " << ev[i].type;
  }
  EXPECT_EQ(Head(), static_cast<int64_t>(ev.size()));
  std::vector<std::string> types;
  for (const Event& e : ev) types.push_back(e.type);
  for (const char* t : {"user", "member", "room", "message", "edit", "delete", "question", "answer"}) {
    EXPECT_NE(std::find(types.begin(), types.end(), t), types.end()) << t;
  }
  // Every message's id is the id of the event that created it.
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM messages m LEFT JOIN events e ON e.id = m.id AND e.type = m.kind "
                     "WHERE e.id IS NULL"),
            0);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM messages"), 4);
}

TEST_F(StoreTest, TakeNotifyHeadOncePerWrite) {
  EXPECT_EQ(store_->TakeNotifyHead(), 0);
  User alice = NewUser("alice");
  EXPECT_EQ(store_->TakeNotifyHead(), Head());
  EXPECT_EQ(store_->TakeNotifyHead(), 0);

  Message m = Post(alice, kGeneral, "hi");
  EXPECT_EQ(store_->TakeNotifyHead(), m.id);
  EXPECT_EQ(store_->TakeNotifyHead(), 0);

  // Writes that append no event, and failed writes, leave nothing to announce.
  ASSERT_OK(store_->CreateSession(alice.id, TokenHash(NewToken())));
  ASSERT_OK(store_->MarkRead(alice, kGeneral, m.id));
  ASSERT_OK(store_->BeginLogin("alice", "127.0.0.1"));
  EXPECT_FALSE(store_->Send(alice, 999999, "nowhere", std::nullopt).ok());
  EXPECT_EQ(store_->TakeNotifyHead(), 0);

  ASSERT_OK(store_->Edit(alice, m.id, "hi!"));
  EXPECT_EQ(store_->TakeNotifyHead(), Head());
  EXPECT_EQ(store_->TakeNotifyHead(), 0);
}

TEST_F(StoreTest, ReplyToNamesAMessageOfTheSameRoom) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Room lobby = NewRoom(alice, "Lobby", RoomKind::kPublic);
  Room other = NewRoom(alice, "Other", RoomKind::kPublic);
  JoinOk(bob, lobby.id);
  Message original = Post(alice, lobby.id, "question?");
  Message elsewhere = Post(alice, other.id, "not here");

  ASSERT_OK_AND_ASSIGN(SendResult r, store_->Send(bob, lobby.id, "answer!", std::nullopt, original.id));
  EXPECT_EQ(r.message.reply_to, original.id);
  std::optional<Message> stored = FindInHistory(bob, lobby.id, r.message.id);
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->reply_to, original.id);
  std::vector<Event> ev = EventsSince(r.message.id - 1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(Num(Parse(ev[0].data).get(), "reply_to"), original.id);

  // Another room's message, an unknown id, an event that is not a message:
  // refused, and nothing is stored or appended.
  NewRoom(alice, "Third", RoomKind::kPublic);
  const int64_t room_event = Head();
  const int64_t h = Head();
  EXPECT_ERROR(store_->Send(alice, lobby.id, "x", std::nullopt, elsewhere.id), Code::kInvalid, "invalid_reply");
  EXPECT_ERROR(store_->Send(alice, lobby.id, "x", std::nullopt, 999999), Code::kInvalid, "invalid_reply");
  EXPECT_ERROR(store_->Send(alice, lobby.id, "x", std::nullopt, room_event), Code::kInvalid, "invalid_reply");
  EXPECT_EQ(Head(), h);

  // A deleted original can still be replied to: the tombstone keeps its id.
  ASSERT_OK(store_->Delete(alice, original.id));
  EXPECT_OK(store_->Send(bob, lobby.id, "too late?", std::nullopt, original.id));
}

TEST_F(StoreTest, RoomsCarryMyReadMarker) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  Room lobby = NewRoom(alice, "Lobby", RoomKind::kPublic);
  JoinOk(bob, lobby.id);
  Post(alice, lobby.id, "one");
  Message m2 = Post(alice, lobby.id, "two");
  std::optional<Room> listed = Listed(bob, lobby.id);
  ASSERT_TRUE(listed.has_value());
  EXPECT_EQ(listed->read_event_id, 0);  // never read
  ASSERT_OK(store_->MarkRead(bob, lobby.id, m2.id - 1));
  listed = Listed(bob, lobby.id);
  EXPECT_EQ(listed->read_event_id, m2.id - 1);
  EXPECT_EQ(listed->unread, 1);
  ASSERT_OK_AND_ASSIGN(Room seen, store_->GetRoom(bob, lobby.id));
  EXPECT_EQ(seen.read_event_id, m2.id - 1);
  // Each reader has their own marker: alice's is at her last message.
  listed = Listed(alice, lobby.id);
  EXPECT_EQ(listed->read_event_id, m2.id);
}

}  // namespace
}  // namespace parley
