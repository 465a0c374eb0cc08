// Presence across daemons on PostgreSQL (issue 10 item 3, schema/storage.h
// SetOnline/ClearPresence/KeepPresence): the database decides whether a
// change was a user's first row anywhere or their last, once, under a lock
// of the user, and announces it (schema/wakeup.h's presence) at COMMIT.
#include <poll.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "schema/pg/notify.h"
#include "schema/pg/store.h"
#include "schema/wakeup.h"
#include "tests/unit/schema/pg_lock_wait.h"
#include "tests/unit/schema/pg_store_fixture.h"

namespace parley::pg {
namespace {

class PgPresenceTest : public test::PgStoreFixture {
 protected:
  void SetUp() override {
    test::PgStoreFixture::SetUp();
    if (HasFatalFailure() || IsSkipped()) return;
    auto channel = EventsChannel(url_);
    ASSERT_OK(channel);
    auto l = Listener::Open(url_, {*channel});
    ASSERT_OK(l);
    listener_ = std::move(l).value();
  }

  // The presence announcements made so far, as "alice online" or "bob
  // offline", in the order they committed (other wake-ups skipped): a marker announced last tells
  // when all of them arrived (bounded).
  std::vector<std::string> Announced() {
    const std::string marker = EncodeHead(1);
    EXPECT_OK(store_->Announce(marker));
    std::vector<std::string> seen;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{listener_->fd(), POLLIN, 0};
      (void)poll(&p, 1, 1000);
      auto d = listener_->Drain();
      if (!d.ok()) continue;
      for (const Notification& n : d->notifications) {
        if (n.payload == marker) return seen;
        std::optional<Wakeup> w = DecodeWakeup(n.payload);
        if (!w || w->kind != Wakeup::Kind::kPresence) continue;  // heads of the set-up's appends
        seen.push_back(w->user.username + (w->online ? " online" : " offline"));
      }
    }
    ADD_FAILURE() << "the marker did not arrive";
    return seen;
  }

  std::unique_ptr<Listener> listener_;
};

TEST_F(PgPresenceTest, OnlyTheFirstRowAnywhereAndTheLastAreAnnounced) {
  User bob = NewUser("bob");
  PgStore a(*conn_, {}, "daemon-a");
  PgStore b(*conn_, {}, "daemon-b");
  auto set = [](PgStore& d, const User& u, bool online) {
    auto r = d.SetOnline(u.id, online);
    EXPECT_OK(r);
    return r.ok() && *r;
  };
  EXPECT_TRUE(set(a, bob, true));    // bob's first connection anywhere
  EXPECT_FALSE(set(a, bob, true));   // idempotent
  EXPECT_FALSE(set(b, bob, true));   // a second daemon: already online
  EXPECT_FALSE(set(a, bob, false));  // daemon b still holds him
  EXPECT_TRUE(set(b, bob, false));   // the last one
  EXPECT_FALSE(set(b, bob, false));
  EXPECT_EQ(Announced(), (std::vector<std::string>{"bob online", "bob offline"}));
}

// A daemon that died (silent past stale_ms) or restarted (ClearPresence)
// loses its rows; only the users nobody else holds are announced offline.
TEST_F(PgPresenceTest, ADeadOrRestartedDaemonsUsersHeldNowhereElseGoOffline) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  User carol = NewUser("carol");
  PgStore a(*conn_, {}, "daemon-a");
  PgStore b(*conn_, {}, "daemon-b");
  for (const User* u : {&alice, &bob}) ASSERT_OK(a.SetOnline(u->id, true));
  ASSERT_OK(b.SetOnline(bob.id, true));
  ASSERT_OK(a.KeepPresence(5000, {}));
  ASSERT_OK(conn_->Exec("UPDATE daemons SET seen_ts = seen_ts - 6000 WHERE name = 'daemon-a'").status());
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> offline, b.KeepPresence(5000, {}));
  EXPECT_EQ(offline, std::vector<int64_t>{alice.id});
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> again, b.KeepPresence(5000, {}));
  EXPECT_TRUE(again.empty());

  ASSERT_OK(b.SetOnline(carol.id, true));
  ASSERT_OK(b.ClearPresence());  // daemon b crashed and is back: nobody holds bob or carol
  EXPECT_EQ(Announced(), (std::vector<std::string>{"alice online", "bob online", "alice offline", "carol online",
                                                   "bob offline", "carol offline"}));
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM presence"), 0);
}

// A daemon taken for dead that was not (silent past stale_ms: stopped, or
// the database out of its reach) finds its mark gone at its next call: it
// puts back the rows of the users it still holds, in one go, and those
// nobody else holds are announced online again. Before, they stayed
// offline until their last connection on that daemon closed.
TEST_F(PgPresenceTest, ADaemonTakenForDeadPutsBackTheUsersItStillHolds) {
  User alice = NewUser("alice");
  User bob = NewUser("bob");
  User carol = NewUser("carol");
  PgStore a(*conn_, {}, "daemon-a");
  PgStore b(*conn_, {}, "daemon-b");
  int asked = 0;
  std::vector<int64_t> held_by_a;
  auto held = [&] {
    ++asked;
    return held_by_a;
  };
  for (const User* u : {&alice, &bob}) {
    ASSERT_OK(a.SetOnline(u->id, true));
    held_by_a.push_back(u->id);
  }
  ASSERT_OK(b.SetOnline(bob.id, true));
  ASSERT_OK(a.KeepPresence(5000, held));  // its first mark: nothing to put back
  ASSERT_OK(b.KeepPresence(5000, {}));
  ASSERT_OK(a.KeepPresence(5000, held));  // a mark that was there: held is not asked
  EXPECT_EQ(asked, 1);

  ASSERT_OK(conn_->Exec("UPDATE daemons SET seen_ts = seen_ts - 6000 WHERE name = 'daemon-a'").status());
  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> offline, b.KeepPresence(5000, {}));
  EXPECT_EQ(offline, std::vector<int64_t>{alice.id});
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM presence WHERE daemon = 'daemon-a'"), 0);
  // Before its next mark, carol's first connection on a: her row is there.
  ASSERT_OK(a.SetOnline(carol.id, true));
  held_by_a.push_back(carol.id);

  ASSERT_OK_AND_ASSIGN(std::vector<int64_t> none, a.KeepPresence(5000, held));
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM presence WHERE daemon = 'daemon-a'"), 3);
  EXPECT_EQ(QueryInt("SELECT COUNT(*) FROM daemons WHERE name = 'daemon-a'"), 1);
  // Idempotent: the mark is back, nothing is asked or announced again.
  ASSERT_OK(a.KeepPresence(5000, held));
  EXPECT_EQ(asked, 2);
  // Only alice was offline: bob stayed online on b, carol came back first.
  EXPECT_EQ(Announced(), (std::vector<std::string>{"alice online", "bob online", "alice offline", "carol online",
                                                   "alice online"}));
  // And a's users go when it really dies, as before.
  ASSERT_OK(conn_->Exec("UPDATE daemons SET seen_ts = seen_ts - 6000 WHERE name = 'daemon-a'").status());
  ASSERT_OK_AND_ASSIGN(offline, b.KeepPresence(5000, {}));
  EXPECT_EQ(offline, (std::vector<int64_t>{alice.id, carol.id}));
}

// Two daemons change the same user at once: the second waits for the
// first's lock, so exactly one of them sees the first row (or the last).
// Without the lock, both inserts would see no other row (two "online"),
// and neither delete would see the other's (no "offline").
TEST_F(PgPresenceTest, TwoDaemonsRacingDecideOnce) {
  User bob = NewUser("bob");
  auto b_conn = OtherConn();
  auto watch = OtherConn();
  ASSERT_NE(b_conn, nullptr);
  ASSERT_NE(watch, nullptr);
  PgStore a(*conn_, {}, "daemon-a");
  PgStore b(*b_conn, {}, "daemon-b");
  for (bool online : {true, false}) {
    Result<bool> first = false, second = false;
    test::LockRace race = test::RaceAfterOpenWrite(
        a, *b_conn, *watch,
        [&] {
          first = a.SetOnline(bob.id, online);
          return first.status();
        },
        [&] {
          second = b.SetOnline(bob.id, online);
          return second.status();
        });
    EXPECT_TRUE(race.waited) << online;
    ASSERT_OK(first);
    ASSERT_OK(second);
    EXPECT_NE(*first, *second) << "online=" << online << ": exactly one daemon decides";
  }
  EXPECT_EQ(Announced(), (std::vector<std::string>{"bob online", "bob offline"}));
}

}  // namespace
}  // namespace parley::pg
