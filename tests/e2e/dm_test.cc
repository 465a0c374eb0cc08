// Leaving a direct conversation is respected (hardening item 12), through
// the real stack: when bob has left, alice's POST /api/dm brings back alice
// only, and what she sends there reaches neither bob's history nor his
// event stream; bob asking again brings him back.
#include <string>

#include "events_fixture.h"

namespace parley::e2e {
namespace {

class DmTest : public EventsTest {};

TEST_F(DmTest, TheOtherSideAskingAgainDoesNotBringTheLeaverBack) {
  User alice = Register("alice");
  User bob = Register("bob");
  Response created = alice->Post("/api/dm", "{\"username\":" + Quote(bob.name) + "}");
  ASSERT_EQ(created.status, 201) << created.Describe();
  const int64_t dm = created.json()["room"]["id"].num();
  Send(alice, dm, "hello bob");
  ASSERT_EQ(bob->Post(RoomPath(dm, "/leave")).status, 204);

  Response again = alice->Post("/api/dm", "{\"username\":" + Quote(bob.name) + "}");
  ASSERT_EQ(again.status, 200) << again.Describe();
  EXPECT_EQ(again.json()["room"]["id"].num(), dm);
  EXPECT_EQ(again.json()["room"]["peer"]["id"].num(), bob.id);

  const int64_t cursor = Head(bob.token);
  const int64_t secret = Send(alice, dm, "after you left")["id"].num();
  // Bob cannot read it, is not listed as a member, and his poll from before
  // the send does not carry it.
  Response reads = bob->Get(RoomPath(dm, "/messages"));
  EXPECT_EQ(reads.status, 404) << reads.Describe();
  EXPECT_EQ(reads.body.find("after you left"), std::string::npos);
  Json members = alice->Get(RoomPath(dm, "/members")).json()["members"];
  ASSERT_EQ(members.size(), 1u) << members.Dump();
  EXPECT_EQ(members[size_t{0}]["user"]["id"].num(), alice.id);
  WaitHead(alice.token, secret);
  PollResult polled = Poll(bob.token, "?since=" + std::to_string(cursor) + "&timeout=1");
  ASSERT_TRUE(polled.well_formed) << polled.response.Describe();
  for (const PolledEvent& e : polled.events) {
    EXPECT_EQ(e.data.Dump().find("after you left"), std::string::npos) << e.type;
  }

  // Bob asking brings bob back; he then reads the conversation.
  Response back = bob->Post("/api/dm", "{\"username\":" + Quote(alice.name) + "}");
  ASSERT_EQ(back.status, 200) << back.Describe();
  EXPECT_TRUE(back.json()["room"]["member"].boolean());
  EXPECT_EQ(bob->Get(RoomPath(dm, "/messages")).json()["messages"].size(), 2u);
}

}  // namespace
}  // namespace parley::e2e
