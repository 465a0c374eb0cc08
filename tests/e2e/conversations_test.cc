// Conversations (issue 12, DESIGN section 3.2) through the real stack: the
// room list by activity with its cursor and changed_since, the directory,
// mentions and notification levels, reactions and their event, receipts,
// and search; each with the refusals a client can provoke.
#include <algorithm>

#include "events_fixture.h"

namespace parley::e2e {
namespace {

constexpr const char* kThumbsUp = "%F0%9F%91%8D";  // U+1F44D, percent-encoded in the path
constexpr const char* kThumbsUpUtf8 = "\xF0\x9F\x91\x8D";

class ConversationsTest : public EventsTest {
 protected:
  Json RoomPage(User& u, const std::string& query) {
    Response r = u->Get("/api/rooms" + query);
    if (r.status != 200) throw SetupError("rooms" + query + ": " + r.Describe());
    return r.json();
  }
  static std::vector<int64_t> Ids(const Json& rooms) {
    std::vector<int64_t> ids;
    for (const Json& j : rooms.items()) ids.push_back(j["id"].num());
    return ids;
  }
  // The room object of `room` in the user's paged list (first page of 1000).
  Json Listed(User& u, int64_t room) {
    for (const Json& j : RoomPage(u, "?limit=1000")["rooms"].items()) {
      if (j["id"].num() == room) return j;
    }
    return Json();
  }
  Json Search(User& u, const std::string& query, int status = 200) {
    Response r = u->Get("/api/search?" + query);
    EXPECT_EQ(r.status, status) << query << ": " << r.Describe();
    return r.json();
  }
  static std::vector<std::string> Texts(const Json& results) {
    std::vector<std::string> out;
    for (const Json& j : results.items()) out.push_back(j["text"].str());
    return out;
  }
};

// `r` is refused with `status` and the error `code`.
::testing::AssertionResult Refused(const Response& r, long status, const std::string& code) {
  if (r.status == status && r.ErrorCode() == code) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "want " << status << " " << code << ", got " << r.Describe();
}

// --- Room list ---

TEST_F(ConversationsTest, RoomListIsPagedByLatestActivityWithLastMessage) {
  User alice = Register("alice");
  const int64_t a = CreateRoom(alice, "room-a", "public");
  const int64_t b = CreateRoom(alice, "room-b", "private");
  const int64_t c = CreateRoom(alice, "room-c", "public");
  Send(alice, b, "in b");
  Send(alice, a, "in a");  // a is now the most recent, then b, then c

  Json first = RoomPage(alice, "?limit=2");
  ASSERT_EQ(Ids(first["rooms"]), (std::vector<int64_t>{a, b})) << first.Dump();
  ASSERT_TRUE(first["next"].is_string()) << first.Dump();
  Json ra = first["rooms"][size_t{0}];
  EXPECT_EQ(ra["last_message"]["text"].str(), "in a") << ra.Dump();
  EXPECT_EQ(ra["unread"].num(), 0) << "my own messages are read";
  EXPECT_EQ(ra["unread_mentions"].num(), 0) << ra.Dump();
  EXPECT_EQ(ra["notifications"].str(), "all") << ra.Dump();
  EXPECT_GE(ra["last_event_id"].num(), ra["last_message"]["id"].num());

  Json second = RoomPage(alice, "?limit=2&before=" + first["next"].str());
  std::vector<int64_t> rest = Ids(second["rooms"]);
  ASSERT_EQ(rest.size(), 2u) << second.Dump();
  EXPECT_EQ(rest[0], c) << second.Dump();
  EXPECT_EQ(rest[1], General(alice)) << second.Dump();
  EXPECT_TRUE(second["rooms"][size_t{0}]["last_message"].is_null()) << "no message in c yet: " << second.Dump();
  EXPECT_TRUE(second["next"].is_null()) << second.Dump();

  // Another room's activity moves it to the top.
  Send(alice, c, "now in c");
  EXPECT_EQ(Ids(RoomPage(alice, "?limit=1")["rooms"]), std::vector<int64_t>{c});
  // Without limit: today's list, public rooms I am not in included, with the new fields for mine.
  Json all = RoomPage(alice, "");
  EXPECT_GE(all["rooms"].size(), 4u);
  for (const Json& r : all["rooms"].items()) {
    if (r["id"].num() == a) {
      EXPECT_EQ(r["last_message"]["text"].str(), "in a") << r.Dump();
    }
  }
}

TEST_F(ConversationsTest, RoomListCountsUnreadFromOthers) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = CreateRoom(alice, "chat", "public");
  Join(bob, room);
  Send(alice, room, "one");
  Json two = Send(alice, room, "two");
  Json listed = Listed(bob, room);
  EXPECT_EQ(listed["unread"].num(), 2) << listed.Dump();
  EXPECT_EQ(listed["last_message"]["text"].str(), "two");
  ASSERT_EQ(bob->Post(RoomPath(room, "/read"), "{\"event_id\":" + std::to_string(two["id"].num()) + "}").status, 204);
  EXPECT_EQ(Listed(bob, room)["unread"].num(), 0);
}

TEST_F(ConversationsTest, ChangedSinceReturnsOnlyChangedRoomsAndTheOnesLeft) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t quiet = CreateRoom(alice, "quiet", "public");
  const int64_t busy = CreateRoom(alice, "busy", "public");
  const int64_t gone = CreateRoom(alice, "gone", "public");
  Join(bob, quiet);
  Join(bob, busy);
  Join(bob, gone);
  const int64_t since = DbHead();
  Send(alice, busy, "while you were away");
  ASSERT_EQ(bob->Post(RoomPath(gone, "/leave")).status, 204);

  Json page = RoomPage(bob, "?changed_since=" + std::to_string(since));
  EXPECT_EQ(Ids(page["rooms"]), std::vector<int64_t>{busy}) << page.Dump();
  EXPECT_EQ(page["rooms"][size_t{0}]["unread"].num(), 1) << page.Dump();
  ASSERT_TRUE(page["left"].is_array()) << page.Dump();
  ASSERT_EQ(page["left"].size(), 1u) << page.Dump();
  EXPECT_EQ(page["left"][size_t{0}].num(), gone) << page.Dump();
  EXPECT_TRUE(page["next"].is_null()) << page.Dump();

  // Nothing after the head: nothing changed.
  Json none = RoomPage(bob, "?changed_since=" + std::to_string(DbHead()));
  EXPECT_EQ(none["rooms"].size(), 0u) << none.Dump();
  EXPECT_EQ(none["left"].size(), 0u) << none.Dump();
}

TEST_F(ConversationsTest, CatchUpBringsEachChangedRoomsLatestPage) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t quiet = CreateRoom(alice, "quiet", "public");
  const int64_t busy = CreateRoom(alice, "busy", "public");
  Join(bob, quiet);
  Join(bob, busy);
  const int64_t since = DbHead();
  Send(alice, busy, "first while away");
  Send(alice, busy, "second while away");

  Json page = RoomPage(bob, "?changed_since=" + std::to_string(since) + "&with=latest");
  ASSERT_EQ(Ids(page["rooms"]), std::vector<int64_t>{busy}) << page.Dump();
  Json latest = page["rooms"][size_t{0}]["latest"];
  ASSERT_EQ(latest["messages"].size(), 2u) << page.Dump();
  EXPECT_EQ(latest["messages"][size_t{0}]["text"].str(), "first while away");
  EXPECT_EQ(latest["messages"][size_t{1}]["text"].str(), "second while away");
  EXPECT_FALSE(latest["has_more"].boolean()) << page.Dump();
  // The same page as GET /api/rooms/{id}/messages gives.
  Response history = bob->Get(RoomPath(busy, "/messages"));
  ASSERT_EQ(history.status, 200) << history.Describe();
  EXPECT_EQ(latest.Dump(), history.json().Dump());
  // Without with=latest the rooms carry no page.
  EXPECT_FALSE(RoomPage(bob, "?changed_since=" + std::to_string(since))["rooms"][size_t{0}].has("latest"));

  for (const char* q : {"?with=", "?with=oldest", "?changed_since=1&with=latest,members"}) {
    Response r = bob->Get(std::string("/api/rooms") + q);
    EXPECT_EQ(r.status, 400) << q << ": " << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "invalid_field") << q << ": " << r.body;
  }
}

// with=latest is bounded by its size as well as by counts: 200 rooms of 50
// messages of 16,000 bytes made one answer of 164 MB (audit-c). Here 8
// rooms of 800 KB of latest pages each, past the 4 MiB budget: every
// answer stays under it plus one room's page, `next` is given, and
// following it brings every room once.
TEST_F(ConversationsTest, CatchUpWithLatestIsPagedByItsSize) {
  constexpr size_t kBudget = size_t{4} << 20;       // kLatestBytes, fcgi/handlers_conversations.cc
  constexpr size_t kOneRoom = 50 * (16000 + 1024);  // a room's page of the largest messages, and some
  constexpr int kRooms = 8;
  User alice = Register("alice");
  User bob = Register("bob");
  std::string big;  // 4,000 code points of 4 bytes: the largest text a message holds
  for (int i = 0; i < 4000; ++i) big += "\xF0\x9F\x8E\x89";
  std::vector<int64_t> rooms;
  for (int i = 0; i < kRooms; ++i) {
    rooms.push_back(CreateRoom(alice, "big-" + std::to_string(i), "public"));
    Join(bob, rooms.back());
  }
  const int64_t since = DbHead();
  for (int64_t room : rooms) {
    for (int k = 0; k < 50; ++k) Send(alice, room, big);
  }

  const std::string catch_up = "/api/rooms?changed_since=" + std::to_string(since) + "&with=latest";
  std::vector<int64_t> seen;
  std::string query = catch_up;
  int answers = 0;
  for (;;) {
    ASSERT_LT(answers++, kRooms) << "next never ends";
    Response r = bob->Get(query);
    ASSERT_EQ(r.status, 200) << r.Describe();
    EXPECT_LE(r.body.size(), kBudget + kOneRoom) << query;
    Json page = r.json();
    ASSERT_GE(page["rooms"].size(), 1u) << query;
    for (const Json& room : page["rooms"].items()) {
      seen.push_back(room["id"].num());
      EXPECT_EQ(room["latest"]["messages"].size(), 50u);
      EXPECT_FALSE(room["latest"]["has_more"].boolean());  // the room holds these 50 alone
    }
    EXPECT_TRUE(page["left"].is_array()) << query;
    if (page["next"].is_null()) break;
    query = catch_up + "&before=" + page["next"].str();
  }
  EXPECT_GE(answers, 2) << "one answer of " << kRooms << " rooms of 800 KB";
  std::vector<int64_t> want = rooms;
  std::sort(want.begin(), want.end());
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, want) << "each room exactly once";
  // Without with=latest, nothing is held back: one page.
  Json plain = RoomPage(bob, "?changed_since=" + std::to_string(since));
  EXPECT_EQ(plain["rooms"].size(), static_cast<size_t>(kRooms));
  EXPECT_TRUE(plain["next"].is_null());
}

TEST_F(ConversationsTest, RoomListRefusesBadCursorsAndLimits) {
  User alice = Register("alice");
  for (const char* q : {"?before=abc", "?before=12", "?before=1:x", "?before=:3", "?before=-1:2",
                        "?before=99999999999999999999:1", "?limit=0", "?limit=1001", "?limit=ten",
                        "?changed_since=-1", "?changed_since=x", "?limit=2&before="}) {
    Response r = alice->Get(std::string("/api/rooms") + q);
    EXPECT_EQ(r.status, 400) << q << ": " << r.Describe();
    EXPECT_TRUE(r.ErrorCode() == "invalid_cursor" || r.ErrorCode() == "invalid_field") << q << ": " << r.body;
  }
}

TEST_F(ConversationsTest, DirectoryListsRoomsICouldJoin) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t math = CreateRoom(alice, "Math club", "public");
  const int64_t maths_qa = CreateRoom(alice, "maths Q&A", "qa");
  CreateRoom(alice, "math secret", "private");
  const int64_t joined = CreateRoom(alice, "math joined", "public");
  CreateRoom(alice, "physics", "public");
  Join(bob, joined);

  Response r = bob->Get("/api/rooms/directory?prefix=MATH");
  ASSERT_EQ(r.status, 200) << r.Describe();
  std::vector<int64_t> ids = Ids(r.json()["rooms"]);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<int64_t>{math, maths_qa})) << r.body;
  for (const Json& j : r.json()["rooms"].items()) EXPECT_FALSE(j["member"].boolean()) << j.Dump();

  Response all = bob->Get("/api/rooms/directory");
  ASSERT_EQ(all.status, 200) << all.Describe();
  EXPECT_GE(all.json()["rooms"].size(), 3u) << all.body;
  EXPECT_EQ(bob->Get("/api/rooms/directory?limit=51").status, 400);
  EXPECT_EQ(bob->Get("/api/rooms/directory?prefix=" + std::string(65, 'x')).status, 400);
  EXPECT_EQ(bob->Get("/api/rooms/directory?prefix=%FF").status, 400);
}

// --- Mentions and notification levels ---

TEST_F(ConversationsTest, MentionsNameMembersAndCountUntilRead) {
  User alice = Register("alice");
  User bob = Register("bob");
  User carol = Register("carol");  // not in the room
  const int64_t room = CreateRoom(alice, "mentions", "public");
  Join(bob, room);
  Json m = Send(alice, room, "hi @" + bob.name + ", @" + carol.name + " and @nobody_at_all; mail a@" + bob.name);
  ASSERT_TRUE(m["mentions"].is_array()) << m.Dump();
  ASSERT_EQ(m["mentions"].size(), 1u) << "only members are mentioned: " << m.Dump();
  EXPECT_EQ(m["mentions"][size_t{0}].num(), bob.id);

  Json listed = Listed(bob, room);
  EXPECT_EQ(listed["unread_mentions"].num(), 1) << listed.Dump();
  EXPECT_EQ(Listed(alice, room)["unread_mentions"].num(), 0) << "my own message mentions nobody for me";
  Response h = bob->Get(RoomPath(room, "/messages"));
  ASSERT_EQ(h.status, 200);
  Json last = h.json()["messages"][h.json()["messages"].size() - 1];
  EXPECT_EQ(last["mentions"][size_t{0}].num(), bob.id) << last.Dump();

  // Edited away: no longer a mention.
  Response e = alice->Patch(MessagePath(m["id"].num()), "{\"text\":\"never mind\"}");
  ASSERT_EQ(e.status, 200) << e.Describe();
  EXPECT_FALSE(e.json()["message"].has("mentions")) << e.body;
  EXPECT_EQ(Listed(bob, room)["unread_mentions"].num(), 0);

  // Read: counted no more.
  Json again = Send(alice, room, "@" + bob.name + " again");
  EXPECT_EQ(Listed(bob, room)["unread_mentions"].num(), 1);
  ASSERT_EQ(bob->Post(RoomPath(room, "/read"), "{\"event_id\":" + std::to_string(again["id"].num()) + "}").status,
            204);
  EXPECT_EQ(Listed(bob, room)["unread_mentions"].num(), 0);
}

// Someone I block cannot ping me: GET /api/rooms leaves their mentions of
// me out of unread_mentions, whether they came before or after the block,
// in the whole list and in a page of it; an unblock counts them again.
TEST_F(ConversationsTest, MentionsBySomeoneIBlockAreNotCounted) {
  User alice = Register("alice");
  User bob = Register("bob");
  User troll = Register("troll");
  const int64_t room = CreateRoom(alice, "pings", "public");
  Join(bob, room);
  Join(troll, room);
  Send(troll, room, "@" + bob.name + " before");
  ASSERT_EQ(bob->Put("/api/me/blocks/" + troll.name, "").status, 204);
  Send(troll, room, "@" + bob.name + " after");
  Send(alice, room, "@" + bob.name + " hello");
  auto mentions = [&] {
    int64_t whole = -1;
    for (const Json& j : RoomPage(bob, "")["rooms"].items()) {
      if (j["id"].num() == room) whole = j["unread_mentions"].num();
    }
    EXPECT_EQ(Listed(bob, room)["unread_mentions"].num(), whole) << "a page and the whole list agree";
    return whole;
  };
  EXPECT_EQ(mentions(), 1) << "alice's only";
  ASSERT_EQ(bob->Delete("/api/me/blocks/" + troll.name).status, 204);
  EXPECT_EQ(mentions(), 3) << "unblocked: troll's count again";
}

TEST_F(ConversationsTest, NotificationLevelIsStoredPerMember) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = CreateRoom(alice, "levels", "public");
  Response r = alice->Put(RoomPath(room, "/notifications"), "{\"level\":\"mentions\"}");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.json()["room"]["notifications"].str(), "mentions") << r.body;
  EXPECT_EQ(Listed(alice, room)["notifications"].str(), "mentions");
  ASSERT_EQ(alice->Put(RoomPath(room, "/notifications"), "{\"level\":\"none\"}").status, 200);
  EXPECT_EQ(Listed(alice, room)["notifications"].str(), "none");

  for (const char* body : {"{\"level\":\"loud\"}", "{\"level\":3}", "{}"}) {
    Response bad = alice->Put(RoomPath(room, "/notifications"), body);
    EXPECT_EQ(bad.status, 400) << body << ": " << bad.Describe();
  }
  EXPECT_TRUE(Refused(bob->Put(RoomPath(room, "/notifications"), "{\"level\":\"all\"}"), 403, "not_a_member"));
}

// --- Reactions ---

TEST_F(ConversationsTest, ReactionsAreIdempotentCountedAndPushed) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = CreateRoom(alice, "reactions", "public");
  Join(bob, room);
  Json m = Send(alice, room, "react to me");
  const std::string path = MessagePath(m["id"].num(), std::string("/reactions/") + kThumbsUp);
  auto stream = Subscribe(alice.token);

  Response first = bob->Put(path, "");
  ASSERT_EQ(first.status, 200) << first.Describe();
  Json reactions = first.json()["message"]["reactions"];
  ASSERT_EQ(reactions.size(), 1u) << first.body;
  EXPECT_EQ(reactions[size_t{0}]["emoji"].str(), kThumbsUpUtf8);
  EXPECT_EQ(reactions[size_t{0}]["count"].num(), 1);
  EXPECT_TRUE(reactions[size_t{0}]["me"].boolean());
  Response again = bob->Put(path, "");
  ASSERT_EQ(again.status, 200) << again.Describe();
  EXPECT_EQ(again.json()["message"]["reactions"][size_t{0}]["count"].num(), 1) << "idempotent";
  ASSERT_EQ(alice->Put(path, "").status, 200);
  ASSERT_EQ(alice->Put(MessagePath(m["id"].num(), "/reactions/ok"), "").status, 200);

  Response h = alice->Get(RoomPath(room, "/messages"));
  ASSERT_EQ(h.status, 200);
  Json listed = h.json()["messages"][h.json()["messages"].size() - 1]["reactions"];
  ASSERT_EQ(listed.size(), 2u) << h.body;
  EXPECT_EQ(listed[size_t{0}]["emoji"].str(), kThumbsUpUtf8) << "first used first";
  EXPECT_EQ(listed[size_t{0}]["count"].num(), 2);
  EXPECT_TRUE(listed[size_t{0}]["me"].boolean());
  EXPECT_EQ(listed[size_t{1}]["emoji"].str(), "ok");

  Response removed = bob->Delete(path);
  ASSERT_EQ(removed.status, 200) << removed.Describe();
  Json after = removed.json()["message"]["reactions"][size_t{0}];
  EXPECT_EQ(after["count"].num(), 1) << removed.body;
  EXPECT_FALSE(after["me"].boolean()) << removed.body;
  EXPECT_EQ(bob->Delete(path).status, 200) << "removing twice is fine";

  // Events: bob's add, alice's two adds, bob's removal; the repeats appended nothing.
  ASSERT_TRUE(stream->WaitForEvent("reaction", 5s, 3));
  std::vector<Json> events;
  for (const SseEvent& e : stream->Events()) {
    if (e.type == "reaction") events.push_back(e.json());
  }
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0]["message_id"].num(), m["id"].num()) << events[0].Dump();
  EXPECT_EQ(events[0]["room_id"].num(), room);
  EXPECT_EQ(events[0]["user"]["id"].num(), bob.id);
  EXPECT_EQ(events[0]["emoji"].str(), kThumbsUpUtf8);
  EXPECT_TRUE(events[0]["added"].boolean());
  EXPECT_FALSE(events[3]["added"].boolean()) << events[3].Dump();
}

TEST_F(ConversationsTest, ReactionsAreRefusedToOutsidersBadEmojiAndDeletedMessages) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t open = CreateRoom(alice, "open", "public");
  const int64_t closed = CreateRoom(alice, "closed", "private");
  Json in_open = Send(alice, open, "public text");
  Json in_closed = Send(alice, closed, "private text");

  Response not_member = bob->Put(MessagePath(in_open["id"].num(), "/reactions/ok"), "");
  EXPECT_EQ(not_member.status, 403) << not_member.Describe();
  EXPECT_TRUE(Refused(bob->Put(MessagePath(in_closed["id"].num(), "/reactions/ok"), ""), 404, "message_not_found"));
  EXPECT_EQ(alice->Put(MessagePath(999999, "/reactions/ok"), "").status, 404);

  const std::string base = MessagePath(in_open["id"].num(), "/reactions/");
  for (const std::string& bad : {std::string(33, 'x'), std::string("%01"), std::string("%FF"),
                                 std::string("a%20b"), std::string("%E2%80%AE"), std::string("%E3%80%80"),
                                 std::string("%C2%A0"), std::string("%E2%80%83")}) {
    EXPECT_TRUE(Refused(alice->Put(base + bad, ""), 400, "invalid_emoji")) << bad;
  }
  // A ZWJ sequence (family) is one emoji: 18 bytes.
  EXPECT_EQ(alice->Put(base + "%F0%9F%91%A8%E2%80%8D%F0%9F%91%A9%E2%80%8D%F0%9F%91%A7", "").status, 200);

  // 20 reactions a person on one message (the family above is one of them).
  for (int i = 1; i < 20; ++i) ASSERT_EQ(alice->Put(base + "e" + std::to_string(i), "").status, 200) << i;
  EXPECT_TRUE(Refused(alice->Put(base + "e20", ""), 403, "reaction_limit_reached"));
  EXPECT_EQ(alice->Delete(base + "e1").status, 200);
  EXPECT_EQ(alice->Put(base + "e20", "").status, 200);

  ASSERT_EQ(alice->Delete(MessagePath(in_open["id"].num())).status, 204);
  EXPECT_TRUE(Refused(alice->Put(base + "ok", ""), 409, "message_deleted"));
}

TEST_F(ConversationsTest, RepliesStayInTheirRoom) {
  User alice = Register("alice");
  const int64_t one = CreateRoom(alice, "one", "public");
  const int64_t two = CreateRoom(alice, "two", "public");
  Json original = Send(alice, one, "original");
  Response across = alice->Post(RoomPath(two, "/messages"),
                                "{\"text\":\"reply\",\"reply_to\":" + std::to_string(original["id"].num()) + "}");
  EXPECT_TRUE(Refused(across, 400, "invalid_reply"));
}

// --- Receipts ---

TEST_F(ConversationsTest, ReceiptsReachSmallRoomsAndMembersShowTheMarker) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = CreateRoom(alice, "small", "private");
  InviteAndJoin(alice, room, bob);
  Json m = Send(alice, room, "did you read this?");
  auto a = Subscribe(alice.token);
  ASSERT_EQ(bob->Post(RoomPath(room, "/read"), "{\"event_id\":" + std::to_string(m["id"].num()) + "}").status, 204);
  ASSERT_TRUE(a->WaitForEvent("receipt", 5s)) << "alice got no receipt";
  for (const SseEvent& e : a->Events()) {
    if (e.type != "receipt") continue;
    EXPECT_FALSE(e.id.has_value()) << "receipts are ephemeral";
    EXPECT_EQ(e.json()["room_id"].num(), room) << e.data;
    EXPECT_EQ(e.json()["user"]["id"].num(), bob.id) << e.data;
    EXPECT_EQ(e.json()["event_id"].num(), m["id"].num()) << e.data;
  }
  Response members = alice->Get(RoomPath(room, "/members"));
  ASSERT_EQ(members.status, 200);
  // bob's marker where he read; alice's at her message, which she has read.
  for (const Json& j : members.json()["members"].items()) {
    EXPECT_EQ(j["read_event_id"].num(), m["id"].num()) << j.Dump();
  }
}

TEST_F(ConversationsTest, NoReceiptsInRoomsOverAHundredMembers) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = CreateRoom(alice, "big", "public");
  Join(bob, room);
  BulkUsers("crowd", 1);  // at least one more user row exists; the crowd below is written directly
  Sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100) "
         "INSERT INTO users(username, pw_hash, created_ts) SELECT 'crowdx' || i, 'x', 0 FROM n;"
         "INSERT INTO members(room_id, user_id, role, joined_ts) SELECT " + std::to_string(room) +
         ", id, 'member', 0 FROM users WHERE username LIKE 'crowdx%';");
  Json m = Send(alice, room, "to many");
  auto a = Subscribe(alice.token);
  ASSERT_EQ(bob->Post(RoomPath(room, "/read"), "{\"event_id\":" + std::to_string(m["id"].num()) + "}").status, 204);
  // A marker after the read: once alice has it, a receipt would have come first.
  Json marker = Send(bob, room, "marker");
  ASSERT_TRUE(a->WaitForId(marker["id"].num(), 5s));
  for (const SseEvent& e : a->Events()) EXPECT_NE(e.type, "receipt") << e.data;
}

// --- Search ---

TEST_F(ConversationsTest, SearchFindsTextAsItNowReadsInMyRoomsOnly) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t shared = CreateRoom(alice, "shared", "public");
  const int64_t secret = CreateRoom(alice, "secret", "private");
  Join(bob, shared);
  Json fox = Send(alice, shared, "the quick brown fox");
  Json edited = Send(alice, shared, "a slow tortoise");
  Json deleted = Send(bob, shared, "a deleted fox");
  Send(alice, secret, "secret fox");
  Json bobs = Send(bob, shared, "bob's Fox, capitalised");
  ASSERT_EQ(alice->Patch(MessagePath(edited["id"].num()), "{\"text\":\"a fast turtle\"}").status, 200);
  ASSERT_EQ(bob->Delete(MessagePath(deleted["id"].num())).status, 204);

  Json r = Search(bob, "q=fox");
  EXPECT_EQ(Texts(r["results"]), (std::vector<std::string>{"bob's Fox, capitalised", "the quick brown fox"}))
      << "newest first, no deleted text, nothing from a room bob is not in: " << r.Dump();
  EXPECT_FALSE(r["has_more"].boolean());
  EXPECT_FALSE(r.has("next_before")) << r.Dump();
  EXPECT_EQ(r["results"][size_t{1}]["snippet"].str(), "the quick brown \x02" "fox\x03") << r.Dump();
  EXPECT_EQ(r["results"][size_t{1}]["room_id"].num(), shared);

  EXPECT_EQ(Search(bob, "q=tortoise")["results"].size(), 0u) << "the old text is gone";
  EXPECT_EQ(Texts(Search(bob, "q=turtle")["results"]), std::vector<std::string>{"a fast turtle"});
  EXPECT_EQ(Texts(Search(bob, "q=turt*")["results"]), std::vector<std::string>{"a fast turtle"}) << "prefix";
  EXPECT_EQ(Texts(Search(bob, "q=quick+fox")["results"]), std::vector<std::string>{"the quick brown fox"});
  EXPECT_EQ(Texts(Search(bob, "q=fox&from=" + bob.name)["results"]),
            std::vector<std::string>{"bob's Fox, capitalised"});
  EXPECT_EQ(Search(bob, "q=fox&from=nobody_here")["results"].size(), 0u);
  // With a room I am not in, a name that wrote nothing still answers as
  // the room does (it answered an empty 200 before the room was checked).
  for (const std::string& from : {std::string("nobody_here"), bob.name}) {
    Response hidden = bob->Get("/api/search?q=fox&room_id=" + std::to_string(secret) + "&from=" + from);
    EXPECT_EQ(hidden.status, 404) << from << ": " << hidden.Describe();
    EXPECT_EQ(hidden.ErrorCode(), "room_not_found") << from;
  }
  EXPECT_EQ(Texts(Search(bob, "q=fox&before=" + std::to_string(bobs["id"].num()))["results"]),
            std::vector<std::string>{"the quick brown fox"});
  Json paged = Search(bob, "q=fox&limit=1");
  EXPECT_EQ(paged["results"].size(), 1u);
  EXPECT_TRUE(paged["has_more"].boolean());
  EXPECT_EQ(paged["next_before"].num(), bobs["id"].num()) << "the next page starts below the last result";
  EXPECT_EQ(Texts(Search(alice, "q=fox&room_id=" + std::to_string(secret))["results"]),
            std::vector<std::string>{"secret fox"});
  (void)fox;
}

// Search spans the FTS5 index and the messages still waiting for it
// (schema/store_search.cc): a worker's commit indexes what waits once that
// worker sent 256, so 600 sends leave some indexed and some waiting.
TEST_F(ConversationsTest, SearchSpansIndexedAndWaitingMessagesNewestFirst) {
  User alice = Register("alice");
  const int64_t room = CreateRoom(alice, "many", "public");
  std::vector<int64_t> ids;
  auto send = [&] {
    const int i = static_cast<int>(ids.size());
    ids.push_back(Send(alice, room, "olive " + std::to_string(i) + (i % 100 == 7 ? " rare" : ""))["id"].num());
  };
  for (int i = 0; i < 600; ++i) send();
  if (!OnPostgres()) {
    // A send right after an indexing commit cannot index again: at most
    // two more sends leave some waiting.
    for (int more = 0; more < 2 && std::stoi(Sql("SELECT COUNT(*) FROM messages_fts_pending")) == 0; ++more) send();
    EXPECT_GT(std::stoi(Sql("SELECT COUNT(*) FROM messages_fts_pending")), 0);
    EXPECT_GE(std::stoi(Sql("SELECT COUNT(*) FROM messages_fts_docsize")), 256) << "some were indexed";
  }
  EXPECT_EQ(Texts(Search(alice, "q=rare")["results"]),
            (std::vector<std::string>{"olive 507 rare", "olive 407 rare", "olive 307 rare", "olive 207 rare",
                                      "olive 107 rare", "olive 7 rare"}));
  // Pages of 50 walk every message once, newest first, across both parts.
  std::vector<int64_t> seen;
  std::string before;
  for (int page = 0; page < 20; ++page) {
    Json r = Search(alice, "q=olive&limit=50" + before);
    for (size_t i = 0; i < r["results"].size(); ++i) seen.push_back(r["results"][i]["id"].num());
    if (!r["has_more"].boolean() || seen.empty()) break;
    EXPECT_EQ(r["next_before"].num(), seen.back());
    before = "&before=" + std::to_string(r["next_before"].num());
  }
  EXPECT_EQ(seen, std::vector<int64_t>(ids.rbegin(), ids.rend()));
}

// Words apart by a Unicode blank are two terms that must both occur, not
// one phrase that needs them side by side: before, only ASCII white space
// split the query, so "kiwi<U+3000>mango" found only "kiwi mango" in a row,
// on both backends (FTS5's string and PostgreSQL's phraseto_tsquery).
TEST_F(ConversationsTest, SearchSplitsTermsOnUnicodeBlanks) {
  User alice = Register("alice");
  const int64_t room = CreateRoom(alice, "words", "public");
  Send(alice, room, "mango then kiwi");
  Send(alice, room, "kiwi mango");
  Send(alice, room, "only kiwi here");
  const std::vector<std::string> both{"kiwi mango", "mango then kiwi"};
  for (const char* blank : {"%E3%80%80", "%C2%A0", "%E2%80%83", "%E2%80%AF", "%E2%80%8B", "%EF%BB%BF"}) {
    EXPECT_EQ(Texts(Search(alice, std::string("q=kiwi") + blank + "mango")["results"]), both)
        << "U+3000, U+00A0, U+2003, U+202F, U+200B, U+FEFF: " << blank;
  }
  EXPECT_EQ(Texts(Search(alice, "q=kiwi%E3%80%80man*")["results"]), both) << "the prefix term after the blank";
  // A term of zero-width characters alone is no term: the search is "kiwi".
  EXPECT_EQ(Search(alice, "q=kiwi+%E2%80%8B%E2%81%A0")["results"].size(), 3u);
  ExpectHealthy();
}

// A word inside a host name, an address or a date is found on both
// backends: PostgreSQL's parser read "example.com" and "ann@host.org" as one
// token each, and "2026-12-06" as 2026, -12, -06 (migration 015).
TEST_F(ConversationsTest, SearchFindsWordsInsideHostsAddressesAndDates) {
  User alice = Register("alice");
  const int64_t room = CreateRoom(alice, "links", "public");
  Send(alice, room, "see example.com/docs");
  Send(alice, room, "mail ann@host.org");
  Send(alice, room, "due 2026-12-06");
  EXPECT_EQ(Texts(Search(alice, "q=example")["results"]), std::vector<std::string>{"see example.com/docs"});
  EXPECT_EQ(Texts(Search(alice, "q=docs")["results"]), std::vector<std::string>{"see example.com/docs"});
  EXPECT_EQ(Texts(Search(alice, "q=example.com")["results"]), std::vector<std::string>{"see example.com/docs"});
  EXPECT_EQ(Texts(Search(alice, "q=host")["results"]), std::vector<std::string>{"mail ann@host.org"});
  EXPECT_EQ(Texts(Search(alice, "q=12")["results"]), std::vector<std::string>{"due 2026-12-06"});
}

TEST_F(ConversationsTest, SearchRefusesOtherRoomsAndBadInputWithoutAnyServerError) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t open = CreateRoom(alice, "open", "public");
  const int64_t secret = CreateRoom(alice, "secret", "private");
  Send(alice, open, "AND OR NOT NEAR(a b) \"quoted\" text:col ^start");

  Json not_member = Search(bob, "q=text&room_id=" + std::to_string(open), 403);
  EXPECT_EQ(not_member["error"]["code"].str(), "not_a_member");
  Search(bob, "q=text&room_id=" + std::to_string(secret), 404);
  Search(bob, "q=text&room_id=0", 400);
  Search(bob, "q=text&room_id=abc", 400);

  for (const char* q : {"q=", "q=%20%20", "", "q=%FF", "q=a%01b"}) {
    Json e = Search(alice, q, 400);
    EXPECT_EQ(e["error"]["code"].str(), "invalid_query") << q;
  }
  Search(alice, "q=" + std::string(257, 'a'), 400);
  Search(alice, "q=a+b+c+d+e+f+g+h+i+j+k+l+m+n+o+p+q", 400);  // 17 words
  Search(alice, "q=fox&limit=51", 400);
  Search(alice, "q=fox&limit=0", 400);
  Search(alice, "q=fox&before=x", 400);
  Search(alice, "q=fox&from=bad%20name", 400);

  // FTS5 syntax is only words here: never a 500, and it finds the text.
  for (const char* q : {"q=%22", "q=AND", "q=OR+NOT", "q=NEAR(a", "q=text:col", "q=%5Estart", "q=*", "q=(",
                        "q=%22quoted%22", "q=-", "q=a*b"}) {
    Response r = alice->Get(std::string("/api/search?") + q);
    EXPECT_EQ(r.status, 200) << q << ": " << r.Describe();
  }
  EXPECT_EQ(Search(alice, "q=NEAR")["results"].size(), 1u);
  EXPECT_EQ(Search(alice, "q=%22quoted%22")["results"].size(), 1u);
  ExpectHealthy();
}

// A one-letter prefix has no prefix index on SQLite (2, 3 and 4 letters):
// FTS5 merged every indexed word starting with it, once per term, before
// the scan bound (audit-c: 1.5 s of CPU for "w*" sixteen times). Both
// backends refuse it alike (fcgi/search_query.cc), and a repeated term is
// searched once.
TEST_F(ConversationsTest, SearchRefusesAOneLetterPrefixAndSearchesARepeatOnce) {
  User alice = Register("alice");
  const int64_t room = CreateRoom(alice, "zoo", "public");
  Send(alice, room, "a wolf and a whale");
  Send(alice, room, "wombats");
  for (const char* q : {"q=w*", "q=W*", "q=wolf+w*", "q=a.w*", "q=caf%C3%A9+%C3%A9*", "q=a*b*"}) {
    Json e = Search(alice, q, 400);
    EXPECT_EQ(e["error"]["code"].str(), "invalid_query") << q << ": " << e.Dump();
    EXPECT_NE(e["error"]["message"].str().find("prefix"), std::string::npos) << q << ": " << e.Dump();
  }
  EXPECT_EQ(Texts(Search(alice, "q=wo*")["results"]), (std::vector<std::string>{"wombats", "a wolf and a whale"}));
  std::string sixteen = "q=wh*";
  for (int i = 1; i < 16; ++i) sixteen += i % 2 ? "+WH*" : "+wh*";
  EXPECT_EQ(Texts(Search(alice, sixteen)["results"]), std::vector<std::string>{"a wolf and a whale"});
  Search(alice, sixteen + "+wh*", 400);  // 17 words, as typed
  // "w" alone is a word: searched as such, and found nowhere here.
  EXPECT_EQ(Search(alice, "q=w")["results"].size(), 0u);
  ExpectHealthy();
}

// A prefix may end in katakana's prolonged sound mark: "コー*" finds
// "コーヒー" on both backends. It was refused (400 invalid_query), 'ー'
// taken for a separator before the star (fcgi/search_query.cc).
TEST_F(ConversationsTest, SearchAKanaPrefixEndingInTheProlongedSoundMark) {
  User alice = Register("alice");
  const int64_t room = CreateRoom(alice, "cafe", "public");
  Send(alice, room, "今日は コーヒー を");
  const std::vector<std::string> coffee = {"今日は コーヒー を"};
  // コーヒー and コー, percent-encoded.
  EXPECT_EQ(Texts(Search(alice, "q=%E3%82%B3%E3%83%BC%E3%83%92%E3%83%BC")["results"]), coffee);
  EXPECT_EQ(Texts(Search(alice, "q=%E3%82%B3%E3%83%BC*")["results"]), coffee);
  ExpectHealthy();
}

}  // namespace
}  // namespace parley::e2e
