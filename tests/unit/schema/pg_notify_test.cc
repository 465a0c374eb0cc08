// schema/pg/notify.h against a real PostgreSQL server: wake-ups reach a
// listener on another connection at commit and never on rollback, within
// the payload limit, and the listener outlives a server restart. Every wait
// is on a condition (a notification seen, the socket readable), bounded.
#include "schema/pg/notify.h"
#include "schema/wakeup.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <chrono>
#include <string>
#include <vector>

#include "schema/pg/event_log.h"
#include "tests/unit/schema/pg_store_fixture.h"

namespace parley::pg {
namespace {

constexpr auto kWait = std::chrono::seconds(30);

class PgNotifyTest : public test::PgStoreFixture {
 protected:
  // The fixture's schema is not "public": its channel has the schema's
  // suffix (asked on a connection of its own: conn_ may be one the server
  // closed).
  std::string Channel() {
    auto c = EventsChannel(url_);
    EXPECT_OK(c);
    return c.ok() ? *c : "";
  }

  std::unique_ptr<Listener> Listen(std::vector<std::string> channels = {}) {
    if (channels.empty()) channels.push_back(Channel());
    auto l = Listener::Open(url_, std::move(channels));
    EXPECT_OK(l);
    return l.ok() ? std::move(l).value() : nullptr;
  }

  // Drains the listener until a notification with `payload` arrives (or
  // kWait passes); everything seen on the way, in order.
  std::vector<Notification> DrainUntil(Listener& l, const std::string& payload) {
    std::vector<Notification> seen;
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{l.fd(), POLLIN, 0};
      if (p.fd >= 0) (void)poll(&p, 1, 1000);
      auto d = l.Drain();
      if (!d.ok()) continue;  // the server is away; try again
      for (Notification& n : d->notifications) {
        seen.push_back(std::move(n));
        if (seen.back().payload == payload) return seen;
      }
    }
    ADD_FAILURE() << "no notification '" << payload << "' within " << kWait.count() << " s";
    return seen;
  }

  // An append of one event with its wake-up, committed or not.
  int64_t AppendAndNotify(PgConn& conn, bool commit) {
    std::vector<Event> events(1);
    events[0].type = "message";
    events[0].room_id = test::kPgGeneral;
    events[0].data = "{}";
    auto tx = PgTx::Begin(conn);
    EXPECT_OK(tx);
    if (!tx.ok()) return -1;
    EXPECT_OK(AppendEvents(**tx, events));
    EXPECT_OK(NotifyHead(**tx, Channel(), events[0].id));
    if (commit) {
      EXPECT_OK((*tx)->Commit());
    }
    return events[0].id;
  }
};

TEST_F(PgNotifyTest, ACommittedAppendWakesAListenerOnAnotherConnectionWithTheRowsVisible) {
  auto listener = Listen();
  ASSERT_NE(listener, nullptr);
  ASSERT_GE(listener->fd(), 0);
  auto reader = OtherConn();  // a third connection: the listener's daemon reading the log
  ASSERT_NE(reader, nullptr);

  ASSERT_OK(store_->CreateUser("alice", test::kPgFakeHash));  // PgStore's own writes notify
  const int64_t head = store_->TakeNotifyHead();
  ASSERT_GT(head, 0);
  std::vector<Notification> seen = DrainUntil(*listener, EncodeHead(head));
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.back().channel, Channel());
  ASSERT_OK_AND_ASSIGN(PgResult pid, conn_->Exec("SELECT pg_backend_pid()"));
  EXPECT_EQ(std::to_string(seen.back().sender_pid), pid.Text(0, 0));
  // Delivered at commit, so never before the rows: the events it announces are there.
  ASSERT_OK_AND_ASSIGN(std::vector<Event> events, ReadEventsAfter(*reader, 0, 10));
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().id, head);
}

TEST_F(PgNotifyTest, ARolledBackAppendNeverNotifies) {
  auto listener = Listen();
  ASSERT_NE(listener, nullptr);
  const int64_t lost = AppendAndNotify(*conn_, /*commit=*/false);
  const int64_t kept = AppendAndNotify(*conn_, /*commit=*/true);
  EXPECT_EQ(kept, lost);  // the rolled-back ids were unused
  // Notifications of one connection arrive in commit order: had the
  // rolled-back one been sent, it would be seen before this one.
  ASSERT_OK(conn_->Exec("SELECT pg_notify($1, 'marker')", {Channel()}));
  std::vector<Notification> seen = DrainUntil(*listener, "marker");
  std::vector<std::string> payloads;
  for (const Notification& n : seen) payloads.push_back(n.payload);
  EXPECT_EQ(payloads, (std::vector<std::string>{EncodeHead(kept), "marker"}));
}

TEST_F(PgNotifyTest, PayloadsUpToTheServersLimitAndNoMore) {
  auto listener = Listen({"typing"});
  ASSERT_NE(listener, nullptr);
  const std::string largest(kMaxPayloadBytes, 'x');
  {
    ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn_));
    ASSERT_OK(Notify(*tx, "typing", largest));
    EXPECT_ERROR(Notify(*tx, "typing", largest + "x"), Code::kTooLarge, "payload_too_large");
    EXPECT_ERROR(Notify(*tx, "typing", std::string("a\0b", 3)), Code::kInvalid, "invalid_text");
    // Refused before it was sent: the transaction is still good.
    ASSERT_OK(tx->Commit());
  }
  std::vector<Notification> seen = DrainUntil(*listener, largest);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].channel, "typing");
  // The limit is the server's: one byte more would fail there too.
  ASSERT_OK_AND_ASSIGN(auto tx, PgTx::Begin(*conn_));
  EXPECT_FALSE(tx->conn().Exec("SELECT pg_notify('typing', $1)", {largest + "x"}).ok());
}

// NOTIFY is per database: a deployment in another schema of the same
// database (here, another migrated schema) must not wake this one's
// listener. With one channel for all, the other schema's head arrives first.
TEST_F(PgNotifyTest, AnotherSchemaOfTheDatabaseNeverWakesThisOnesListener) {
  auto listener = Listen();
  ASSERT_NE(listener, nullptr);
  test::PgCluster* cluster = test::PgCluster::Get();
  ASSERT_NE(cluster, nullptr);
  ASSERT_OK_AND_ASSIGN(std::string other_url, cluster->NewSchema("other"));
  ASSERT_OK_AND_ASSIGN(auto other, PgConn::Connect(other_url));
  ASSERT_OK(MigratePg(*other).status());
  ASSERT_OK_AND_ASSIGN(std::string other_channel, EventsChannel(*other));
  EXPECT_NE(other_channel, Channel());
  EXPECT_EQ(other_channel.rfind(std::string(kEventsChannel) + "_", 0), 0u) << other_channel;
  PgStore other_store(*other);
  ASSERT_OK(other_store.CreateUser("mallory", test::kPgFakeHash));  // notifies on its own channel
  ASSERT_GT(other_store.TakeNotifyHead(), 0);

  const int64_t kept = AppendAndNotify(*conn_, /*commit=*/true);
  std::vector<Notification> seen = DrainUntil(*listener, EncodeHead(kept));
  ASSERT_EQ(seen.size(), 1u) << "a wake-up of the other schema arrived: " << seen.front().payload;
  EXPECT_EQ(seen[0].channel, Channel());

  ASSERT_OK_AND_ASSIGN(auto plain, PgConn::Connect(cluster->url()));
  ASSERT_OK_AND_ASSIGN(std::string plain_channel, EventsChannel(*plain));
  EXPECT_EQ(plain_channel, kEventsChannel) << "the schema public keeps the plain name";
}

TEST_F(PgNotifyTest, ChannelNamesMustBePlain) {
  EXPECT_ERROR(Listener::Open(url_, {"parley; DROP TABLE events"}), Code::kInvalid, "invalid_channel");
  EXPECT_ERROR(Listener::Open(url_, {""}), Code::kInvalid, "invalid_channel");
  EXPECT_ERROR(Listener::Open(url_, {"Parley"}), Code::kInvalid, "invalid_channel");
}

TEST_F(PgNotifyTest, TheListenerSurvivesAServerRestartAndSaysSo) {
  auto listener = Listen();
  ASSERT_NE(listener, nullptr);
  ASSERT_EQ(cluster_->Control("stop"), 0);
  // The socket reports the loss (the server's goodbye, then EOF), as a
  // libevent read event would; Drain cannot reconnect while the server is
  // down, and says so.
  Result<Drained> lost = Status::Internal("not drained");
  const auto deadline = std::chrono::steady_clock::now() + kWait;
  while (lost.ok() || lost.status().code() == Code::kInternal) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the listener never noticed the stop";
    pollfd p{listener->fd(), POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 30000), 1);
    lost = listener->Drain();
    if (lost.ok()) {
      ASSERT_FALSE(lost->reconnected);  // the server is stopped
    }
  }
  EXPECT_ERROR(lost, Code::kUnavailable, "busy");
  EXPECT_EQ(listener->fd(), -1);
  ASSERT_EQ(cluster_->Control("start"), 0);
  ASSERT_OK_AND_ASSIGN(Drained d, listener->Drain());
  EXPECT_TRUE(d.reconnected);
  ASSERT_GE(listener->fd(), 0);
  // LISTEN was taken again: the next append's wake-up arrives.
  auto writer = OtherConn();
  ASSERT_NE(writer, nullptr);
  const int64_t head = AppendAndNotify(*writer, /*commit=*/true);
  std::vector<Notification> seen = DrainUntil(*listener, EncodeHead(head));
  EXPECT_FALSE(seen.empty());
}

}  // namespace
}  // namespace parley::pg
