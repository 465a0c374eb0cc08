// Messages: the stored object, history paging, idempotent sends, edit and
// delete, typing, and read markers with unread counts.
#include <algorithm>
#include <chrono>
#include <latch>
#include <set>
#include <thread>

#include "fixture.h"

namespace parley::e2e {
namespace {

class MessagesTest : public StackTest {
 protected:
  struct Page {
    std::vector<int64_t> ids;
    bool has_more = false;
  };
  Page History(User& u, int64_t room, const std::string& query) {
    Response r = u->Get(RoomPath(room, "/messages") + query);
    if (r.status != 200) throw SetupError("history " + query + ": " + r.Describe());
    Page p;
    Json j = r.json();
    if (!j["has_more"].is_bool()) throw SetupError("no has_more: " + r.body);
    p.has_more = j["has_more"].boolean();
    for (const Json& m : j["messages"].items()) p.ids.push_back(m["id"].num());
    return p;
  }
  static std::vector<int64_t> Slice(const std::vector<int64_t>& v, size_t from, size_t to) {
    return std::vector<int64_t>(v.begin() + static_cast<long>(from), v.begin() + static_cast<long>(to));
  }
};

int64_t NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

TEST_F(MessagesTest, SendReturnsTheStoredMessage) {
  User alice = Register("alice");
  int64_t room = CreateRoom(alice, "lobby", "public");
  Response r = alice->Post(RoomPath(room, "/messages"),
                           "{\"text\":\"hello \\\"world\\\" \xe2\x9c\x93\",\"client_id\":\"m-1\"}");
  ASSERT_EQ(r.status, 201) << r.Describe();
  Json m = r.json()["message"];
  EXPECT_GT(m["id"].num(), 0);
  EXPECT_EQ(m["room_id"].num(), room);
  EXPECT_EQ(m["user"]["id"].num(), alice.id);
  EXPECT_EQ(m["user"]["username"].str(), alice.name);
  EXPECT_EQ(m["kind"].str(), "message");
  EXPECT_EQ(m["text"].str(), "hello \"world\" \xe2\x9c\x93");
  EXPECT_EQ(m["client_id"].str(), "m-1");
  EXPECT_NEAR(static_cast<double>(m["ts"].num()), static_cast<double>(NowMs()), 5 * 60 * 1000.0)
      << "ts is milliseconds since the epoch";
  EXPECT_FALSE(m.has("edited")) << m.Dump();
  EXPECT_FALSE(m.has("deleted")) << m.Dump();
  EXPECT_FALSE(m.has("reply_to")) << m.Dump();

  Json plain = Send(alice, room, "no client id");
  EXPECT_FALSE(plain.has("client_id")) << plain.Dump();
  EXPECT_GT(plain["id"].num(), m["id"].num()) << "ids increase";

  Response history = alice->Get(RoomPath(room, "/messages"));
  ASSERT_EQ(history.status, 200) << history.Describe();
  Json stored = history.json()["messages"][size_t{0}];
  for (const char* key : {"id", "room_id", "kind", "text", "ts", "client_id"}) {
    EXPECT_EQ(stored[key].Dump(), m[key].Dump()) << key << ": history returns the same object";
  }
  EXPECT_EQ(stored["user"]["id"].num(), alice.id);
}

// 120 messages, interleaved with messages in another room (the id space is
// shared), paged backwards and forwards: every page exact, no overlap, no gap.
TEST_F(MessagesTest, HistoryPagesWithoutGapsOrOverlap) {
  User alice = Register("alice");
  int64_t room = CreateRoom(alice, "long", "public");
  int64_t noise = CreateRoom(alice, "noise", "public");
  std::vector<int64_t> ids;
  for (int i = 0; i < 120; ++i) {
    ids.push_back(Send(alice, room, "message " + std::to_string(i))["id"].num());
    if (i % 10 == 0) Send(alice, noise, "noise " + std::to_string(i));
  }
  ASSERT_TRUE(std::is_sorted(ids.begin(), ids.end()));

  Page latest = History(alice, room, "");
  EXPECT_EQ(latest.ids, Slice(ids, 70, 120)) << "default: the latest 50, oldest first";
  EXPECT_TRUE(latest.has_more);

  // Backwards from the oldest id seen so far.
  std::vector<int64_t> back = latest.ids;
  Page p = latest;
  int pages = 0;
  while (p.has_more && ++pages < 10) {
    p = History(alice, room, "?before=" + std::to_string(back.front()));
    ASSERT_FALSE(p.ids.empty());
    ASSERT_LT(p.ids.back(), back.front()) << "no overlap";
    back.insert(back.begin(), p.ids.begin(), p.ids.end());
  }
  EXPECT_EQ(back, ids) << "backwards paging rebuilds the history exactly";
  EXPECT_EQ(History(alice, room, "?before=" + std::to_string(ids[70])).ids, Slice(ids, 20, 70));
  Page oldest = History(alice, room, "?before=" + std::to_string(ids[20]));
  EXPECT_EQ(oldest.ids, Slice(ids, 0, 20));
  EXPECT_FALSE(oldest.has_more);

  // Forwards (catching up after being offline).
  Page f1 = History(alice, room, "?after=" + std::to_string(ids[0]));
  EXPECT_EQ(f1.ids, Slice(ids, 1, 51));
  EXPECT_TRUE(f1.has_more);
  Page f2 = History(alice, room, "?after=" + std::to_string(ids[50]) + "&limit=50");
  EXPECT_EQ(f2.ids, Slice(ids, 51, 101));
  EXPECT_TRUE(f2.has_more);
  Page f3 = History(alice, room, "?after=" + std::to_string(ids[100]));
  EXPECT_EQ(f3.ids, Slice(ids, 101, 120));
  EXPECT_FALSE(f3.has_more);
  Page none = History(alice, room, "?after=" + std::to_string(ids[119]));
  EXPECT_TRUE(none.ids.empty());
  EXPECT_FALSE(none.has_more);

  // limit
  EXPECT_EQ(History(alice, room, "?before=" + std::to_string(ids[10]) + "&limit=7").ids,
            Slice(ids, 3, 10));
  Page all = History(alice, room, "?limit=200");
  EXPECT_EQ(all.ids, ids);
  EXPECT_FALSE(all.has_more);
  Page one = History(alice, room, "?limit=1");
  EXPECT_EQ(one.ids, Slice(ids, 119, 120));
  EXPECT_TRUE(one.has_more);

  for (const char* q : {"?limit=0", "?limit=201", "?limit=abc", "?limit=-1", "?before=abc",
                        "?after=-5", "?before=1e3"}) {
    Response r = alice->Get(RoomPath(room, "/messages") + q);
    EXPECT_EQ(r.status, 400) << q << ": " << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "invalid_field") << q;
  }
}

TEST_F(MessagesTest, SendWithClientIdIsIdempotent) {
  User alice = Register("alice");
  int64_t room = CreateRoom(alice, "lobby", "public");
  const std::string body = "{\"text\":\"only once\",\"client_id\":\"retry-1\"}";
  Response first = alice->Post(RoomPath(room, "/messages"), body);
  ASSERT_EQ(first.status, 201) << first.Describe();
  Response second = alice->Post(RoomPath(room, "/messages"), body);
  ASSERT_EQ(second.status, 200) << second.Describe();
  EXPECT_EQ(second.json()["message"]["id"].num(), first.json()["message"]["id"].num());
  // The stored copy wins, even if the retry carries different text.
  Response third = alice->Post(RoomPath(room, "/messages"),
                               "{\"text\":\"changed my mind\",\"client_id\":\"retry-1\"}");
  EXPECT_EQ(third.status, 200) << third.Describe();
  EXPECT_EQ(third.json()["message"]["text"].str(), "only once");

  Response history = alice->Get(RoomPath(room, "/messages"));
  ASSERT_EQ(history.status, 200);
  ASSERT_EQ(history.json()["messages"].size(), 1u) << history.body;
  EXPECT_EQ(history.json()["messages"][size_t{0}]["client_id"].str(), "retry-1");
}

// The same client_id from several connections at the same moment (a client
// retrying on a flaky network): still exactly one message.
TEST_F(MessagesTest, ConcurrentDuplicateSendsStoreOneMessage) {
  User alice = Register("alice");
  int64_t room = CreateRoom(alice, "lobby", "public");
  constexpr int kThreads = 6;
  std::vector<Response> results(kThreads);
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      Client c(stack().base_url(), Client::Cookies::kOff);
      c.set_bearer(alice.token);
      start.arrive_and_wait();
      results[i] = c.Post(RoomPath(room, "/messages"), "{\"text\":\"dup\",\"client_id\":\"same\"}");
    });
  }
  for (auto& t : threads) t.join();
  int created = 0;
  std::set<int64_t> ids;
  for (const Response& r : results) {
    EXPECT_TRUE(r.status == 201 || r.status == 200) << r.Describe();
    created += r.status == 201;
    ids.insert(r.json()["message"]["id"].num());
  }
  EXPECT_EQ(created, 1);
  EXPECT_EQ(ids.size(), 1u);
  Response history = alice->Get(RoomPath(room, "/messages"));
  EXPECT_EQ(history.json()["messages"].size(), 1u) << history.body;
}

TEST_F(MessagesTest, OnlyTheAuthorEditsAndDeletes) {
  User alice = Register("alice");
  User bob = Register("bob");
  int64_t room = CreateRoom(alice, "lobby", "public");
  Join(bob, room);
  const int64_t id = Send(alice, room, "original")["id"].num();

  Response bob_edit = bob->Patch(MessagePath(id), "{\"text\":\"bob was here\"}");
  EXPECT_EQ(bob_edit.status, 403) << bob_edit.Describe();
  EXPECT_EQ(bob_edit.ErrorCode(), "not_author");
  Response bob_delete = bob->Delete(MessagePath(id));
  EXPECT_EQ(bob_delete.status, 403) << bob_delete.Describe();
  EXPECT_EQ(bob_delete.ErrorCode(), "not_author");

  Response edit = alice->Patch(MessagePath(id), "{\"text\":\"edited text\"}");
  ASSERT_EQ(edit.status, 200) << edit.Describe();
  EXPECT_EQ(edit.json()["message"]["id"].num(), id);
  EXPECT_EQ(edit.json()["message"]["text"].str(), "edited text");
  EXPECT_TRUE(edit.json()["message"]["edited"].boolean()) << edit.body;
  Response bad = alice->Patch(MessagePath(id), "{\"text\":\"\"}");
  EXPECT_EQ(bad.status, 400) << bad.Describe();

  Json seen = bob->Get(RoomPath(room, "/messages")).json()["messages"][size_t{0}];
  EXPECT_EQ(seen["text"].str(), "edited text");
  EXPECT_TRUE(seen["edited"].boolean()) << seen.Dump();

  Response del = alice->Delete(MessagePath(id));
  EXPECT_EQ(del.status, 204) << del.Describe();
  Json tomb = bob->Get(RoomPath(room, "/messages")).json()["messages"][size_t{0}];
  EXPECT_EQ(tomb["id"].num(), id) << "a delete leaves a tombstone";
  EXPECT_TRUE(tomb["deleted"].boolean()) << tomb.Dump();
  EXPECT_EQ(tomb["text"].str(), "") << tomb.Dump();
  EXPECT_TRUE(tomb["text"].is_string()) << tomb.Dump();

  Response edit_deleted = alice->Patch(MessagePath(id), "{\"text\":\"resurrect\"}");
  EXPECT_EQ(edit_deleted.status, 409) << edit_deleted.Describe();
  EXPECT_EQ(edit_deleted.ErrorCode(), "message_deleted");

  Response unknown = alice->Patch(MessagePath(987654321), "{\"text\":\"x\"}");
  EXPECT_EQ(unknown.status, 404) << unknown.Describe();
  EXPECT_EQ(unknown.ErrorCode(), "message_not_found");
  EXPECT_EQ(alice->Delete(MessagePath(987654321)).status, 404);
}

TEST_F(MessagesTest, TypingIsAcceptedForMembers) {
  User alice = Register("alice");
  int64_t room = CreateRoom(alice, "lobby", "public");
  Response r = alice->Post(RoomPath(room, "/typing"));
  EXPECT_EQ(r.status, 204) << r.Describe();
  EXPECT_TRUE(r.body.empty());
}

TEST_F(MessagesTest, ReadMarkerDrivesUnreadAndOnlyMovesForward) {
  User alice = Register("alice");
  User bob = Register("bob");
  int64_t room = CreateRoom(alice, "lobby", "public");
  Join(bob, room);
  ASSERT_EQ(FindRoom(bob, room)["unread"].num(), 0);

  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Send(alice, room, "m" + std::to_string(i))["id"].num());
  Json r = FindRoom(bob, room);
  EXPECT_EQ(r["unread"].num(), 5) << r.Dump();
  EXPECT_GE(r["last_event_id"].num(), ids.back()) << r.Dump();

  auto mark = [&](int64_t id) {
    return bob->Post(RoomPath(room, "/read"), "{\"event_id\":" + std::to_string(id) + "}");
  };
  Response m = mark(ids[2]);
  EXPECT_EQ(m.status, 204) << m.Describe();
  EXPECT_EQ(FindRoom(bob, room)["unread"].num(), 2);
  EXPECT_EQ(mark(ids[0]).status, 204) << "an older marker is accepted";
  EXPECT_EQ(FindRoom(bob, room)["unread"].num(), 2) << "but never moves back";
  EXPECT_EQ(mark(ids[4]).status, 204);
  EXPECT_EQ(FindRoom(bob, room)["unread"].num(), 0);

  Send(alice, room, "one more");
  EXPECT_EQ(FindRoom(bob, room)["unread"].num(), 1);
  // Markers are per user and per room.
  Response general = bob->Get("/api/rooms");
  for (const Json& j : general.json()["rooms"].items()) {
    if (j["id"].num() != room && j["member"].boolean()) {
      EXPECT_EQ(j["unread"].num(), 0) << j.Dump();
    }
  }
}

// DESIGN 3.2: a send may name the message it replies to, of the same room.
TEST_F(MessagesTest, ReplyToIsStoredAndCheckedAgainstTheRoom) {
  User alice = Register("alice");
  User bob = Register("bob");
  int64_t room = CreateRoom(alice, "lobby", "public");
  int64_t other = CreateRoom(alice, "elsewhere", "public");
  Join(bob, room);
  int64_t original = Send(alice, room, "lunch?")["id"].num();
  int64_t foreign = Send(alice, other, "not this room")["id"].num();

  Response r = bob->Post(RoomPath(room, "/messages"),
                         "{\"text\":\"yes\",\"reply_to\":" + std::to_string(original) + "}");
  ASSERT_EQ(r.status, 201) << r.Describe();
  EXPECT_EQ(r.json()["message"]["reply_to"].num(), original);
  Json last = bob->Get(RoomPath(room, "/messages")).json()["messages"].items().back();
  EXPECT_EQ(last["reply_to"].num(), original) << last.Dump();

  for (int64_t bad : {foreign, int64_t{987654321}}) {
    Response e = bob->Post(RoomPath(room, "/messages"),
                           "{\"text\":\"no\",\"reply_to\":" + std::to_string(bad) + "}");
    EXPECT_EQ(e.status, 400) << e.Describe();
    EXPECT_EQ(e.json()["error"]["code"].str(), "invalid_reply") << e.Describe();
  }
  Response e = bob->Post(RoomPath(room, "/messages"), "{\"text\":\"no\",\"reply_to\":\"x\"}");
  EXPECT_EQ(e.status, 400) << e.Describe();
  EXPECT_EQ(e.json()["error"]["code"].str(), "invalid_field") << e.Describe();
}

TEST_F(MessagesTest, RoomsShowMyReadMarker) {
  User alice = Register("alice");
  User bob = Register("bob");
  int64_t room = CreateRoom(alice, "lobby", "public");
  Join(bob, room);
  int64_t first = Send(alice, room, "one")["id"].num();
  Send(alice, room, "two");
  EXPECT_EQ(FindRoom(bob, room)["read_event_id"].num(), 0);
  ASSERT_EQ(bob->Post(RoomPath(room, "/read"), "{\"event_id\":" + std::to_string(first) + "}").status, 204);
  Json r = FindRoom(bob, room);
  EXPECT_EQ(r["read_event_id"].num(), first) << r.Dump();
  EXPECT_EQ(r["unread"].num(), 1) << r.Dump();
}

// PostgreSQL: while someone else holds the messages table (a DBA's ALTER
// TABLE, a newer binary's migration), sends and history reads through
// nginx are answered 503 with the API's JSON error within about the lock
// timeout (PgConn::kLockTimeoutS, 5 s), not held for as long as the lock
// lasts; once it goes, the same client_ids send (none was stored) and the
// stack serves as before.
TEST_F(MessagesTest, BehindATableLockRequestsAre503WithinTheLockTimeoutThenServeAgain) {
  if (!OnPostgres()) GTEST_SKIP() << "PostgreSQL's lock_timeout";
  User alice = Register("alice");
  const int64_t room = General(alice);
  Send(alice, room, "before the lock");
  std::string error;
  std::unique_ptr<TableLock> dba = TableLock::Take(stack().db(), "messages", &error);
  ASSERT_NE(dba, nullptr) << error;
  constexpr int kSenders = 3;
  std::vector<Response> sent(kSenders);
  Response read;
  std::latch start(kSenders + 1);
  std::vector<std::thread> threads;
  const auto began = std::chrono::steady_clock::now();
  for (int i = 0; i < kSenders; ++i) {
    threads.emplace_back([&, i] {
      Client c(stack().base_url(), Client::Cookies::kOff);
      c.set_bearer(alice.token);
      start.arrive_and_wait();
      sent[i] = c.Post(RoomPath(room, "/messages"),
                       "{\"text\":\"during\",\"client_id\":\"locked-" + std::to_string(i) + "\"}");
    });
  }
  threads.emplace_back([&] {
    Client c(stack().base_url(), Client::Cookies::kOff);
    c.set_bearer(alice.token);
    start.arrive_and_wait();
    read = c.Get(RoomPath(room, "/messages"));
  });
  for (auto& t : threads) t.join();
  const auto took = std::chrono::steady_clock::now() - began;
  for (const Response& r : sent) {
    EXPECT_EQ(r.status, 503) << r.Describe() << stack().LogTail(8000);
    EXPECT_EQ(r.json()["error"]["code"].str(), "busy") << r.body;
  }
  EXPECT_EQ(read.status, 503) << read.Describe();
  EXPECT_EQ(read.json()["error"]["code"].str(), "busy") << read.body;
  // One lock timeout for the read, one or two for the sends' batches.
  EXPECT_LT(took, std::chrono::seconds(16));
  dba->Release();
  for (int i = 0; i < kSenders; ++i) {
    Response r = alice->Post(RoomPath(room, "/messages"),
                             "{\"text\":\"after\",\"client_id\":\"locked-" + std::to_string(i) + "\"}");
    EXPECT_EQ(r.status, 201) << "the refused send was not stored: " << r.Describe();
  }
  Response history = alice->Get(RoomPath(room, "/messages"));
  ASSERT_EQ(history.status, 200) << history.Describe();
  int afters = 0;
  for (const Json& m : history.json()["messages"].items()) afters += m["text"].str() == "after";
  EXPECT_EQ(afters, kSenders) << history.body;
  ExpectHealthy();
}

}  // namespace
}  // namespace parley::e2e
