// Room moderation through the real stack (DESIGN section 3.1): the owner
// makes moderators; the owner or a moderator mutes, kicks, bans, unbans and
// deletes anyone's message; every refusal with its status and code; every
// action one event that members see live and on resume; a kicked member's
// stream and long-poll stop at the event; and the races the issue names.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <initializer_list>
#include <string>
#include <thread>
#include <vector>

#include "events_fixture.h"

namespace parley::e2e {
namespace {

using Clock = std::chrono::steady_clock;

class ModerationTest : public EventsTest {
 protected:
  std::string MemberPath(int64_t room, const User& who) { return RoomPath(room, "/members/" + who.name); }
  std::string BanPath(int64_t room, const User& who) { return RoomPath(room, "/bans/" + who.name); }
  // A mute's end an hour from now (ms since the epoch), as clients send it.
  static int64_t AnHourFromNow() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch()).count() + 3600 * 1000;
  }
  // Owner makes `who` a moderator of `room`.
  void MakeModerator(User& owner, int64_t room, const User& who) {
    Response r = owner->Put(MemberPath(room, who), "{\"moderator\":true}");
    if (r.status != 200) throw SetupError("make moderator: " + r.Describe());
  }
  // A room of `kind` owned by `owner`, which `mods` and then `members` join;
  // the owner makes each of `mods` a moderator.
  int64_t RoomWithModerators(User& owner, std::initializer_list<User*> mods, std::initializer_list<User*> members,
                             const std::string& kind = "public") {
    const int64_t room = CreateRoom(owner, kind == "qa" ? "physics" : "club", kind);
    for (User* u : mods) Join(*u, room);
    for (User* u : members) Join(*u, room);
    for (User* u : mods) MakeModerator(owner, room, *u);
    return room;
  }
  // The member object of `who` in `room` as `reader` lists it, or a null Json.
  Json MemberOf(User& reader, int64_t room, const User& who) {
    for (const Json& m : reader->Get(RoomPath(room, "/members")).json()["members"].items()) {
      if (m["user"]["id"].num() == who.id) return m;
    }
    return Json();
  }
  // The durable events of `room` after `since`, as `reader` polls them once
  // the events daemon has caught up with the store (its wake-up datagram
  // may still be on its way when the write's answer arrives).
  std::vector<PolledEvent> RoomEvents(User& reader, int64_t since) {
    Head(reader.token);
    PollResult p = Poll(reader.token, "?since=" + std::to_string(since) + "&timeout=0");
    if (!p.well_formed) throw SetupError("poll: " + p.response.Describe());
    return p.events;
  }
};

std::string Expect(const Response& r, long status, const std::string& code) {
  if (r.status == status && r.ErrorCode() == code) return "";
  return "want " + std::to_string(status) + " " + code + ", got " + r.Describe();
}

TEST_F(ModerationTest, OwnerMakesAModeratorAndTheMemberObjectSaysSo) {
  User owner = Register("owner");
  User mod = Register("mod");
  const int64_t room = CreateRoom(owner, "club", "public");
  Join(mod, room);
  Response r = owner->Put(MemberPath(room, mod), "{\"moderator\":true}");
  ASSERT_EQ(r.status, 200) << r.Describe();
  Json m = r.json()["member"];
  EXPECT_TRUE(m["moderator"].boolean()) << m.Dump();
  EXPECT_FALSE(m["owner"].boolean());
  EXPECT_TRUE(m.has("read_event_id")) << m.Dump();
  EXPECT_FALSE(m.has("muted_until")) << m.Dump();
  Json o = MemberOf(mod, room, owner);
  EXPECT_TRUE(o["owner"].boolean()) << o.Dump();
  EXPECT_FALSE(o["moderator"].boolean()) << o.Dump();
  // The owner unmakes it again; each change is one member event.
  const int64_t before = Head(owner.token);
  ASSERT_EQ(owner->Put(MemberPath(room, mod), "{\"moderator\":false}").status, 200);
  EXPECT_FALSE(MemberOf(owner, room, mod)["moderator"].boolean());
  std::vector<PolledEvent> ev = RoomEvents(owner, before);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, "member");
  EXPECT_EQ(ev[0].data["action"].str(), "moderator") << ev[0].data.Dump();
  EXPECT_FALSE(ev[0].data["moderator"].boolean());
  EXPECT_EQ(ev[0].data["by"]["id"].num(), owner.id);
}

TEST_F(ModerationTest, EveryRefusalHasItsStatusAndCode) {
  User owner = Register("owner");
  User mod = Register("mod");
  User mod2 = Register("modtwo");
  User member = Register("member");
  User outsider = Register("out");
  const int64_t room = RoomWithModerators(owner, {&mod, &mod2}, {&member});

  // Non-moderators: 403 not_moderator for every action; non-members 403 not_a_member.
  EXPECT_EQ(Expect(member->Delete(MemberPath(room, mod)), 403, "not_moderator"), "");
  EXPECT_EQ(Expect(member->Put(BanPath(room, owner), ""), 403, "not_moderator"), "");
  EXPECT_EQ(Expect(member->Put(MemberPath(room, mod), "{\"muted_until\":null}"), 403, "not_moderator"), "");
  EXPECT_EQ(Expect(member->Get(RoomPath(room, "/bans")), 403, "not_moderator"), "");
  EXPECT_EQ(Expect(outsider->Delete(MemberPath(room, member)), 403, "not_a_member"), "");
  // A moderator cannot act on the owner or another moderator, nor make moderators.
  EXPECT_EQ(Expect(mod->Delete(MemberPath(room, owner)), 403, "target_protected"), "");
  EXPECT_EQ(Expect(mod->Put(BanPath(room, mod2), ""), 403, "target_protected"), "");
  EXPECT_EQ(Expect(mod->Put(MemberPath(room, mod2), "{\"muted_until\":9007199254740991}"), 403,
                   "target_protected"), "");
  EXPECT_EQ(Expect(mod->Put(MemberPath(room, member), "{\"moderator\":true}"), 403, "not_owner"), "");
  EXPECT_EQ(Expect(mod->Delete(MemberPath(room, mod)), 403, "target_protected"), "") << "nor on themselves";
  // Unknown users and non-members: 404.
  EXPECT_EQ(Expect(mod->Delete(RoomPath(room, "/members/nobody_here")), 404, "user_not_found"), "");
  EXPECT_EQ(Expect(mod->Put(RoomPath(room, "/bans/nobody_here"), ""), 404, "user_not_found"), "");
  EXPECT_EQ(Expect(mod->Delete(RoomPath(room, "/members/bad%20name")), 404, "user_not_found"), "");
  EXPECT_EQ(Expect(mod->Delete(MemberPath(room, outsider)), 404, "member_not_found"), "");
  // Bad input: 400 with the field named.
  EXPECT_EQ(Expect(owner->Put(MemberPath(room, member), "{\"moderator\":\"yes\"}"), 400, "invalid_field"), "");
  EXPECT_EQ(Expect(owner->Put(MemberPath(room, member), "{\"muted_until\":-5}"), 400, "invalid_field"), "");
  EXPECT_EQ(Expect(owner->Put(MemberPath(room, member), "{\"muted_until\":\"soon\"}"), 400, "invalid_field"), "");
  EXPECT_EQ(Expect(owner->Put(BanPath(room, member), "{\"reason\":5}"), 400, "invalid_field"), "");
  EXPECT_EQ(Expect(owner->Put(BanPath(room, member), "{\"reason\":\"" + std::string(501, 'x') + "\"}"), 400,
                   "invalid_field"), "");
  EXPECT_EQ(Expect(owner->Put(BanPath(room, member), "{\"reason\":"), 400, "invalid_json"), "");
  // Unknown rooms: 404; direct conversations have no moderators.
  EXPECT_EQ(Expect(owner->Delete(RoomPath(987654, "/members/" + member.name)), 404, "room_not_found"), "");
  Response dm = owner->Post("/api/dm", "{\"username\":" + Quote(member.name) + "}");
  ASSERT_EQ(dm.status, 201) << dm.Describe();
  EXPECT_EQ(Expect(owner->Delete(MemberPath(dm.json()["room"]["id"].num(), member)), 403, "not_moderator"), "");
  // Nothing above changed the room.
  EXPECT_EQ(owner->Get(RoomPath(room, "/members")).json()["members"].size(), 4u);
  ExpectHealthy();
}

TEST_F(ModerationTest, AMutedMemberCannotSendOrAnswerUntilUnmuted) {
  User owner = Register("prof");
  User mod = Register("mod");
  User student = Register("student");
  const int64_t room = RoomWithModerators(owner, {&mod}, {&student}, "qa");
  const int64_t q = Send(student, room, "what is a moment?")["id"].num();

  const int64_t until = AnHourFromNow();
  const int64_t before = Head(owner.token);
  Response r = mod->Put(MemberPath(room, student), "{\"muted_until\":" + std::to_string(until) + "}");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.json()["member"]["muted_until"].num(), until);
  EXPECT_EQ(Expect(student->Post(RoomPath(room, "/messages"), "{\"text\":\"let me speak\"}"), 403, "muted"), "");
  std::vector<PolledEvent> ev = RoomEvents(owner, before);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].data["action"].str(), "muted");
  EXPECT_EQ(ev[0].data["muted_until"].num(), until);
  EXPECT_EQ(ev[0].data["by"]["id"].num(), mod.id);

  // The owner (a professor here) muted: answers are refused too.
  owner->Put(MemberPath(room, mod), "{\"moderator\":false}");
  SetRole(owner, room, mod, "professor");
  ASSERT_EQ(owner->Put(MemberPath(room, mod), "{\"muted_until\":" + std::to_string(until) + "}").status, 200);
  EXPECT_EQ(Expect(mod->Post(MessagePath(q, "/answer"), "{\"text\":\"r x F\"}"), 403, "muted"), "");

  // Lifting the mute (null) lets the student speak again.
  Response lift = owner->Put(MemberPath(room, student), "{\"muted_until\":null}");
  ASSERT_EQ(lift.status, 200) << lift.Describe();
  EXPECT_FALSE(lift.json()["member"].has("muted_until"));
  Send(student, room, "thank you");
  // A time already past is no mute at all.
  ASSERT_EQ(owner->Put(MemberPath(room, student), "{\"muted_until\":1000}").status, 200);
  Send(student, room, "still here");
}

// A mute outlives the membership (migration 017), so the owner or a
// moderator changes or lifts it while its user is out of the room, under
// the rules that hold for members: 200 {"member":null,"muted_until"}, one
// member event, and the return is muted as last set. A role or moderator
// change, or a user with no kept mute, stays 404 member_not_found.
TEST_F(ModerationTest, AKeptMuteIsMovedOrLiftedWhileTheUserIsOut) {
  User owner = Register("owner");
  User mod = Register("mod");
  User member = Register("member");
  User plain = Register("plain");
  const int64_t room = RoomWithModerators(owner, {&mod}, {&member, &plain});
  const int64_t hour = AnHourFromNow();
  auto mute = [&](const std::string& until) { return "{\"muted_until\":" + until + "}"; };
  ASSERT_EQ(mod->Put(MemberPath(room, member), mute(std::to_string(hour))).status, 200);
  ASSERT_EQ(mod->Delete(MemberPath(room, member)).status, 204);

  // Refusals, which change nothing: a plain member; a user with no kept
  // mute; anything but the mute for someone out of the room; bad bodies.
  User stranger = Register("stranger");  // never in the room: nothing kept
  const int64_t head = Head(owner.token);
  EXPECT_EQ(Expect(plain->Put(MemberPath(room, member), mute("null")), 403, "not_moderator"), "");
  EXPECT_EQ(Expect(mod->Put(MemberPath(room, stranger), mute("null")), 404, "member_not_found"), "");
  EXPECT_EQ(Expect(owner->Put(MemberPath(room, member), "{\"role\":\"member\"}"), 404, "member_not_found"), "");
  EXPECT_EQ(Expect(owner->Put(MemberPath(room, member), "{\"moderator\":false,\"muted_until\":null}"), 404,
                   "member_not_found"), "");
  for (const char* bad : {"\"soon\"", "-5", "1.5", "true", "1e300", "{}"}) {
    Response r = mod->Put(MemberPath(room, member), mute(bad));
    EXPECT_EQ(Expect(r, 400, "invalid_field"), "") << bad;
    EXPECT_TRUE(r.json()["error"]["message"].valid()) << r.Describe();
  }
  EXPECT_EQ(Expect(mod->Put(MemberPath(room, member), "{\"muted_until\":"), 400, "invalid_json"), "");
  EXPECT_TRUE(RoomEvents(owner, head).empty());

  // Moved while out: the return is muted until the new time.
  const int64_t later = hour + 3600 * 1000;
  Response moved = mod->Put(MemberPath(room, member), mute(std::to_string(later)));
  ASSERT_EQ(moved.status, 200) << moved.Describe();
  EXPECT_TRUE(moved.json()["member"].is_null()) << moved.Describe();
  EXPECT_EQ(moved.json()["muted_until"].num(), later);
  std::vector<PolledEvent> ev = RoomEvents(owner, head);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, "member");
  EXPECT_EQ(ev[0].data["action"].str(), "muted") << ev[0].data.Dump();
  EXPECT_EQ(ev[0].data["muted_until"].num(), later);
  EXPECT_EQ(ev[0].data["by"]["id"].num(), mod.id);
  EXPECT_EQ(RoomEvents(member, head).size(), 1u) << "the user, out of the room, hears of it";
  Join(member, room);
  EXPECT_EQ(MemberOf(owner, room, member)["muted_until"].num(), later);
  EXPECT_EQ(Expect(member->Post(RoomPath(room, "/messages"), "{\"text\":\"hello?\"}"), 403, "muted"), "");

  // Lifted while out (the mute set by mistake, then the kick): the return
  // is unmuted and speaks.
  ASSERT_EQ(owner->Delete(MemberPath(room, member)).status, 204);
  Response lifted = mod->Put(MemberPath(room, member), mute("null"));
  ASSERT_EQ(lifted.status, 200) << lifted.Describe();
  EXPECT_TRUE(lifted.json()["member"].is_null()) << lifted.Describe();
  EXPECT_TRUE(lifted.json()["muted_until"].is_null()) << lifted.Describe();
  EXPECT_EQ(Expect(mod->Put(MemberPath(room, member), mute("null")), 404, "member_not_found"), "")
      << "nothing kept any more";
  Join(member, room);
  EXPECT_FALSE(MemberOf(owner, room, member).has("muted_until"));
  Send(member, room, "back, and free");
}

TEST_F(ModerationTest, BannedUsersStayOutAndKickedOnesMayRejoin) {
  User owner = Register("owner");
  User kicked = Register("kicked");
  User banned = Register("banned");
  const int64_t room = CreateRoom(owner, "club", "public");
  const int64_t secret = CreateRoom(owner, "inner", "private");
  Join(kicked, room);
  Join(banned, room);

  const int64_t before = Head(owner.token);
  ASSERT_EQ(owner->Delete(MemberPath(room, kicked)).status, 204);
  EXPECT_TRUE(MemberOf(owner, room, kicked).is_null() || !MemberOf(owner, room, kicked).valid());
  ASSERT_EQ(owner->Put(BanPath(room, banned), "{\"reason\":\"spam\"}").status, 204);
  ASSERT_EQ(owner->Put(BanPath(secret, banned), "").status, 204) << "a ban need not follow a membership";
  std::vector<PolledEvent> ev = RoomEvents(owner, before);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].data["action"].str(), "kicked");
  EXPECT_EQ(ev[1].data["action"].str(), "banned");
  EXPECT_EQ(ev[1].data["reason"].str(), "spam");

  // Kicked: may rejoin a public room. Banned: join and invite refused.
  Join(kicked, room);
  EXPECT_EQ(Expect(banned->Post(RoomPath(room, "/join")), 403, "banned"), "");
  EXPECT_EQ(Expect(owner->Post(RoomPath(secret, "/members"), "{\"username\":" + Quote(banned.name) + "}"), 403,
                   "banned"), "");
  EXPECT_EQ(Expect(banned->Post(RoomPath(room, "/messages"), "{\"text\":\"hi\"}"), 403, "not_a_member"), "");
  Json list = owner->Get(RoomPath(room, "/bans")).json();
  Json bans = list["bans"];
  ASSERT_EQ(bans.size(), 1u) << bans.Dump();
  EXPECT_EQ(bans[size_t{0}]["user"]["id"].num(), banned.id);
  EXPECT_EQ(bans[size_t{0}]["reason"].str(), "spam");
  EXPECT_EQ(bans[size_t{0}]["by"]["id"].num(), owner.id);
  EXPECT_TRUE(list["next"].is_null()) << list.Dump();
  // In pages of user ids, as members.
  EXPECT_EQ(owner->Get(RoomPath(room, "/bans?after=" + std::to_string(banned.id))).json()["bans"].size(), 0u);
  EXPECT_EQ(Expect(owner->Get(RoomPath(room, "/bans?limit=0")), 400, "invalid_field"), "");
  // Banning twice is one ban and one event; lifting it lets them back.
  const int64_t mid = Head(owner.token);
  ASSERT_EQ(owner->Put(BanPath(room, banned), "").status, 204);
  EXPECT_TRUE(RoomEvents(owner, mid).empty());
  ASSERT_EQ(owner->Delete(BanPath(room, banned)).status, 204);
  EXPECT_EQ(owner->Get(RoomPath(room, "/bans")).json()["bans"].size(), 0u);
  std::vector<PolledEvent> lifted = RoomEvents(owner, mid);
  ASSERT_EQ(lifted.size(), 1u);
  EXPECT_EQ(lifted[0].data["action"].str(), "unbanned");
  Join(banned, room);
}

TEST_F(ModerationTest, ModeratorsDeleteAnyonesMessageAndTheTombstoneSaysWho) {
  User owner = Register("owner");
  User mod = Register("mod");
  User member = Register("member");
  const int64_t room = RoomWithModerators(owner, {&mod}, {&member});
  const int64_t rude = Send(member, room, "something rude")["id"].num();
  const int64_t owners = Send(owner, room, "house rules")["id"].num();

  EXPECT_EQ(Expect(member->Delete(MessagePath(owners)), 403, "not_author"), "");
  EXPECT_EQ(Expect(mod->Delete(MessagePath(owners)), 403, "target_protected"), "");
  const int64_t before = Head(owner.token);
  ASSERT_EQ(mod->Delete(MessagePath(rude)).status, 204);
  std::vector<PolledEvent> ev = RoomEvents(member, before);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].type, "delete");
  EXPECT_TRUE(ev[0].data["deleted"].boolean());
  EXPECT_EQ(ev[0].data["deleted_by"]["id"].num(), mod.id) << ev[0].data.Dump();
  EXPECT_EQ(ev[0].data["text"].str(), "");
  // History and a replay from before the send show the tombstone only.
  Json history = member->Get(RoomPath(room, "/messages")).json()["messages"];
  bool seen = false;
  for (const Json& m : history.items()) {
    if (m["id"].num() != rude) continue;
    seen = true;
    EXPECT_EQ(m["deleted_by"]["username"].str(), mod.name);
  }
  EXPECT_TRUE(seen);
  for (const PolledEvent& e : RoomEvents(owner, rude - 1)) {
    EXPECT_EQ(e.data.Dump().find("something rude"), std::string::npos) << e.type;
  }
  // An author deleting their own message leaves no deleted_by.
  const int64_t own = Send(member, room, "oops")["id"].num();
  ASSERT_EQ(member->Delete(MessagePath(own)).status, 204);
  for (const Json& m : member->Get(RoomPath(room, "/messages")).json()["messages"].items()) {
    if (m["id"].num() == own) {
      EXPECT_FALSE(m.has("deleted_by")) << m.Dump();
    }
  }
}

// The kicked member's stream receives the kick, then nothing more of the
// room; a waiting long-poll answers with the kick, and the next poll has
// nothing of the room; a replay from before the kick agrees.
TEST_F(ModerationTest, AKickedMembersStreamAndPollStopAtTheEvent) {
  User owner = Register("owner");
  User student = Register("student");
  const int64_t room = CreateRoom(owner, "club", "public");
  Join(student, room);
  auto stream = Subscribe(student.token);
  const int64_t cursor = Head(student.token);
  PollResult waiting;
  std::jthread poller([&] { waiting = Poll(student.token, "?since=" + std::to_string(cursor) + "&timeout=10"); });
  std::this_thread::sleep_for(300ms);  // the poll is waiting (it answers either way)

  ASSERT_EQ(owner->Delete(MemberPath(room, student)).status, 204);
  const int64_t after = Send(owner, room, "said after the kick")["id"].num();
  ASSERT_TRUE(stream->WaitForEvent("member", 5s));
  WaitHead(owner.token, after);
  Send(owner, General(owner), "a room the student is still in");
  ASSERT_TRUE(stream->WaitForEvent("message", 5s)) << "the stream stays open for the other rooms";
  poller.join();

  std::vector<SseEvent> events = stream->Events();
  int kicks = 0;
  for (const SseEvent& e : events) {
    EXPECT_EQ(e.data.find("said after the kick"), std::string::npos) << "delivered after the kick: " << e.data;
    if (e.type == "member" && e.json()["action"].str() == "kicked") ++kicks;
  }
  EXPECT_EQ(kicks, 1);
  ASSERT_TRUE(waiting.well_formed) << waiting.response.Describe();
  ASSERT_FALSE(waiting.events.empty());
  EXPECT_EQ(waiting.events[0].data["action"].str(), "kicked");
  PollResult next = Poll(student.token, "?since=" + std::to_string(waiting.next) + "&timeout=0");
  for (const PolledEvent& e : next.events) EXPECT_EQ(e.data.Dump().find("said after the kick"), std::string::npos);
  // A replay from before the kick: the kick reaches them (it is addressed to them), the rest of the room does not.
  PollResult replay = Poll(student.token, "?since=" + std::to_string(cursor) + "&timeout=0");
  bool kick_replayed = false;
  for (const PolledEvent& e : replay.events) {
    EXPECT_EQ(e.data.Dump().find("said after the kick"), std::string::npos);
    if (e.type == "member" && e.data["action"].str() == "kicked") kick_replayed = true;
  }
  EXPECT_TRUE(kick_replayed);
}

// A kick, then a typing notice and a receipt in the room, reach a daemon
// that was busy for a moment (SIGSTOP stands in for it) as one batch of
// wake-ups: the notices wait until the log is read up to the head their
// senders saw, which holds the kick, so the kicked member never gets them.
// Before, they went out at once to the room as the daemon last knew it,
// ahead of the kick itself (8 of 10 rounds for typing, 5 of 5 for receipts).
TEST_F(ModerationTest, NoticesSentAfterAKickNeverReachTheKickedMember) {
  User owner = Register("owner");
  User reader = Register("reader");
  User student = Register("student");
  const int64_t room = CreateRoom(owner, "club", "public");
  Join(reader, room);
  Join(student, room);
  auto stream = Subscribe(student.token);
  const pid_t daemon = stack().events()->pid();
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const int64_t said = Send(owner, room, "round " + std::to_string(round))["id"].num();
    ASSERT_TRUE(stream->WaitForId(said, 5s)) << "the student is in the room again";
    const size_t seen = stream->Events().size();
    ASSERT_EQ(::kill(daemon, SIGSTOP), 0);
    Response kick = owner->Delete(MemberPath(room, student));
    Response typing = owner->Post(RoomPath(room, "/typing"));
    Response read = reader->Post(RoomPath(room, "/read"), "{\"event_id\":" + std::to_string(said) + "}");
    ASSERT_EQ(::kill(daemon, SIGCONT), 0);
    ASSERT_EQ(kick.status, 204) << kick.Describe();
    ASSERT_EQ(typing.status, 204) << typing.Describe();
    ASSERT_EQ(read.status, 204) << read.Describe();
    ASSERT_TRUE(stream->WaitUntil([&](const SseState& st) {
      std::vector<SseEvent> events = st.Events();
      for (size_t i = seen; i < events.size(); ++i) {
        if (events[i].type == "member" && events[i].json()["action"].str() == "kicked") return true;
      }
      return false;
    }, 5s)) << "the kick never reached the student";
    std::this_thread::sleep_for(300ms);  // anything sent with it has arrived
    std::vector<SseEvent> after = stream->Events();
    for (size_t i = seen; i < after.size(); ++i) {
      EXPECT_TRUE(after[i].type != "typing" && after[i].type != "receipt")
          << "a notice of the room reached the member kicked before it: " << after[i].type << " " << after[i].data;
    }
    // Typing notices merge per typist and room within 2 s: wait it out.
    std::this_thread::sleep_for(2100ms);
    Join(student, room);
  }
}

// A member who left, or was kicked or banned, and resumes from a cursor of
// before: what was said while they were a member is replayed, as a stream
// open then delivered it live, and nothing said in a room they are still
// out of. Before, a room no longer theirs dropped out of the replay whole,
// leaving only their own member events.
TEST_F(ModerationTest, AResumeFromBeforeALeaveReplaysWhatWasSaidWhileAMember) {
  User owner = Register("owner");
  User student = Register("student");
  const int64_t left = CreateRoom(owner, "left", "public");
  const int64_t kicked = CreateRoom(owner, "kicked", "public");
  const int64_t banned = CreateRoom(owner, "banned", "public");
  for (int64_t room : {left, kicked, banned}) Join(student, room);
  const int64_t cursor = Head(student.token);
  std::vector<int64_t> said;
  for (int64_t room : {left, kicked, banned}) said.push_back(Send(owner, room, "said while a member")["id"].num());
  ASSERT_EQ(student->Post(RoomPath(left, "/leave")).status, 204);
  ASSERT_EQ(owner->Delete(MemberPath(kicked, student)).status, 204);
  ASSERT_EQ(owner->Put(BanPath(banned, student), "{}").status, 204);
  // Then the student comes back to one of them, whose log is theirs to
  // read again whole (history shows it to any member), what was said while
  // they were out included; the other two stay cut at the kick and the ban.
  std::vector<int64_t> expected = said;
  for (int64_t room : {left, kicked, banned}) {
    const int64_t id = Send(owner, room, "said while out of " + std::to_string(room))["id"].num();
    if (room == left) expected.push_back(id);
  }
  Join(student, left);
  const int64_t again = Send(owner, left, "said once back")["id"].num();
  expected.push_back(again);
  std::sort(expected.begin(), expected.end());

  auto check = [&](const std::string& how, const std::vector<std::pair<int64_t, std::string>>& got) {
    SCOPED_TRACE(how);
    std::vector<int64_t> messages;
    int64_t last = cursor;
    for (const auto& [id, data] : got) {
      EXPECT_GT(id, last) << "ascending";
      last = id;
      if (data.find("\"kind\":\"message\"") != std::string::npos) messages.push_back(id);
    }
    EXPECT_EQ(messages, expected);
  };
  WaitHead(owner.token, again);  // a poll answers up to what the daemon has read
  PollResult polled = Poll(student.token, "?since=" + std::to_string(cursor) + "&timeout=0");
  ASSERT_TRUE(polled.well_formed) << polled.response.Describe();
  std::vector<std::pair<int64_t, std::string>> got;
  for (const PolledEvent& e : polled.events) got.emplace_back(e.id.value_or(0), e.data.Dump());
  check("poll", got);

  auto stream = Subscribe(student.token, "", {"Last-Event-ID: " + std::to_string(cursor)});
  ASSERT_TRUE(stream->WaitForId(again, 5s)) << "the resume never reached the last message";
  got.clear();
  for (const SseEvent& e : stream->Events()) {
    if (e.id) got.emplace_back(*e.id, e.data);
  }
  check("stream", got);
}

// A ban of someone who was never in the room, and its unban, reach the
// room only. Before, each was addressed to them: a resume or poll from a
// cursor of before replayed the private room's log up to the ban as if they
// had been a member and left (what its owner said there included), and
// anyone who made a room could send anyone, blocked or not, bans with a
// reason of their choosing.
TEST_F(ModerationTest, ABanOfSomeoneNeverInTheRoomReachesTheRoomOnly) {
  User owner = Register("owner");
  User outsider = Register("outsider");
  const int64_t cursor = Head(outsider.token);
  const int64_t room = CreateRoom(owner, "secret", "private");
  Send(owner, room, "SECRET plans");
  ASSERT_EQ(outsider->Put("/api/me/blocks/" + owner.name, "").status, 204);
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(owner->Put(BanPath(room, outsider), "{\"reason\":\"abuse " + std::to_string(i) + "\"}").status, 204);
    ASSERT_EQ(owner->Delete(BanPath(room, outsider)).status, 204);
  }
  ASSERT_EQ(owner->Put(BanPath(room, outsider), "{}").status, 204);
  const int64_t last = Send(owner, room, "after the bans")["id"].num();
  // The room's moderators see every one of them, in the room's log.
  WaitHead(owner.token, last);
  PollResult mine = Poll(owner.token, "?since=" + std::to_string(cursor) + "&timeout=0");
  ASSERT_TRUE(mine.well_formed) << mine.response.Describe();
  int bans = 0;
  for (const PolledEvent& e : mine.events) {
    if (e.type == "member" && e.data["user"]["username"].str() == outsider.name) ++bans;
  }
  EXPECT_EQ(bans, 5) << "3 bans and 2 unbans in the room's log";

  auto expect_nothing_of_the_room = [&](const std::string& how, const std::vector<std::string>& got) {
    SCOPED_TRACE(how);
    for (const std::string& data : got) {
      EXPECT_EQ(data.find("SECRET"), std::string::npos) << data;
      EXPECT_EQ(data.find("\"room_id\":" + std::to_string(room)), std::string::npos) << data;
    }
  };
  PollResult polled = Poll(outsider.token, "?since=" + std::to_string(cursor) + "&timeout=0");
  ASSERT_TRUE(polled.well_formed) << polled.response.Describe();
  std::vector<std::string> got;
  for (const PolledEvent& e : polled.events) got.push_back(e.data.Dump());
  expect_nothing_of_the_room("poll", got);

  auto stream = Subscribe(outsider.token, "", {"Last-Event-ID: " + std::to_string(cursor)});
  // Something of theirs after the bans, to know the replay reached past them.
  ASSERT_EQ(outsider->Put("/api/me/blocks/" + owner.name, "").status, 204);  // a repeat: no event
  ASSERT_EQ(outsider->Delete("/api/me/blocks/" + owner.name).status, 204);
  const int64_t own = Head(outsider.token);
  ASSERT_TRUE(stream->WaitForId(own, 5s)) << "the resume never reached the unblock";
  got.clear();
  for (const SseEvent& e : stream->Events()) got.push_back(e.data);
  expect_nothing_of_the_room("stream", got);
}

// Two moderators ban and unban one member at once, many times: the state
// at the end is what the last event in the log says.
TEST_F(ModerationTest, ConcurrentBansAndUnbansEndAsTheLogSays) {
  User owner = Register("owner");
  User a = Register("moda");
  User b = Register("modb");
  User target = Register("target");
  const int64_t room = RoomWithModerators(owner, {&a, &b}, {&target});
  const int64_t start = Head(owner.token);
  auto churn = [&](User& mod, int seed) {
    for (int i = 0; i < 15; ++i) {
      const bool ban = (i + seed) % 2 == 0;
      Response r = ban ? mod->Put(BanPath(room, target), "") : mod->Delete(BanPath(room, target));
      EXPECT_EQ(r.status, 204) << r.Describe();
    }
  };
  {
    std::jthread ta([&] { churn(a, 0); });
    std::jthread tb([&] { churn(b, 1); });
  }
  const bool banned = owner->Get(RoomPath(room, "/bans")).json()["bans"].size() == 1;
  // Once the daemon has read the log to its head: a poll before that (the
  // last write's wake-up still on its way, on PostgreSQL a NOTIFY) would
  // end on an earlier event than the table's state.
  Head(owner.token);
  std::string last;
  int64_t cursor = start;
  for (int page = 0; page < 20; ++page) {
    PollResult p = Poll(owner.token, "?since=" + std::to_string(cursor) + "&timeout=0");
    ASSERT_TRUE(p.well_formed);
    for (const PolledEvent& e : p.events) {
      if (e.type == "member" && e.data["user"]["id"].num() == target.id) last = e.data["action"].str();
    }
    cursor = p.next;
    if (!p.more) break;
  }
  ASSERT_FALSE(last.empty());
  EXPECT_EQ(banned, last == "banned") << "last event " << last;
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM bans;"), banned ? "1\n" : "0\n");
}

// A member sends as fast as they can while a moderator bans them: every
// message they stored is before the ban event in the log, and every send
// after it is refused.
TEST_F(ModerationTest, ASendRacingABanIsBeforeTheBanOrRefused) {
  User owner = Register("owner");
  User spammer = Register("spammer");
  const int64_t room = CreateRoom(owner, "club", "public");
  Join(spammer, room);
  std::atomic<bool> stop{false};
  std::vector<int64_t> stored;
  int refused = 0;
  std::jthread sender([&] {
    const auto deadline = Clock::now() + 20s;
    for (int i = 0; !stop && Clock::now() < deadline; ++i) {
      Response r = spammer->Post(RoomPath(room, "/messages"), "{\"text\":\"spam " + std::to_string(i) + "\"}");
      if (r.status == 201) {
        stored.push_back(r.json()["message"]["id"].num());
      } else {
        EXPECT_EQ(r.status, 403) << r.Describe();
        ++refused;
        if (refused >= 5) return;
      }
    }
  });
  std::this_thread::sleep_for(400ms);
  ASSERT_EQ(owner->Put(BanPath(room, spammer), "").status, 204);
  sender.join();
  stop = true;
  const std::string ban_id = Sql("SELECT id FROM events WHERE type = 'member' AND data LIKE '%\"action\":\"banned\"%';");
  ASSERT_FALSE(ban_id.empty());
  const int64_t ban = std::stoll(ban_id);
  EXPECT_GE(refused, 1);
  EXPECT_FALSE(stored.empty()) << "the race needs sends before the ban";
  for (int64_t id : stored) EXPECT_LT(id, ban);
  EXPECT_EQ(Sql("SELECT COUNT(*) FROM messages WHERE user_id = " + std::to_string(spammer.id) +
                   " AND id > " + std::to_string(ban) + ";"),
            "0\n");
}

class ModerationQuotaTest : public ModerationTest {
  StackOptions Options() const override {
    StackOptions o = EventsTest::Options();
    o.limits = true;  // else PARLEY_LIMITS=off turns every bucket off
    o.fcgi_env.push_back("PARLEY_WRITE_RATES=moderate=0.01/2");
    return o;
  }
};

TEST_F(ModerationQuotaTest, ModerationWritesSpendTheModerateQuota) {
  User owner = Register("owner");
  User member = Register("member");
  const int64_t room = CreateRoom(owner, "club", "public");
  Join(member, room);
  const std::string mute = "{\"muted_until\":9007199254740991}";
  ASSERT_EQ(owner->Put(MemberPath(room, member), mute).status, 200);
  ASSERT_EQ(owner->Put(MemberPath(room, member), "{\"muted_until\":null}").status, 200);
  Response third = owner->Delete(MemberPath(room, member));
  EXPECT_EQ(third.status, 429) << third.Describe();
  EXPECT_EQ(third.ErrorCode(), "throttled");
  EXPECT_FALSE(third.Header("retry-after").empty());
  EXPECT_TRUE(MemberOf(owner, room, member).valid()) << "the refused kick changed nothing";
}

// PATCH /api/rooms/{id}: the owner or a moderator renames the room and
// sets its topic; everyone who lists the room hears of it live.
TEST_F(ModerationTest, TheOwnerOrAModeratorRenamesTheRoomAndSetsItsTopic) {
  User owner = Register("owner");
  User mod = Register("mod");
  User member = Register("member");
  User outsider = Register("outsider");
  const int64_t room = RoomWithModerators(owner, {&mod}, {&member});
  const int64_t head = Head(owner.token);
  Response r = owner->Patch(RoomPath(room), R"({"name":"Club House","topic":"Tuesdays at 6, room 4"})");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.json()["room"]["name"].str(), "Club House");
  EXPECT_EQ(r.json()["room"]["topic"].str(), "Tuesdays at 6, room 4");
  Response got = member->Get(RoomPath(room));
  ASSERT_EQ(got.status, 200) << got.Describe();
  EXPECT_EQ(got.json()["room"]["topic"].str(), "Tuesdays at 6, room 4");
  EXPECT_EQ(FindRoom(member, room)["topic"].str(), "Tuesdays at 6, room 4");
  // One `room` event, the room as it now is, to members and (a public
  // room, as its creation was) to everyone else.
  for (User* u : {&member, &outsider}) {
    std::vector<PolledEvent> ev = RoomEvents(*u, head);
    auto it = std::find_if(ev.begin(), ev.end(), [](const PolledEvent& e) { return e.type == "room"; });
    ASSERT_NE(it, ev.end()) << u->name;
    EXPECT_EQ(it->data["room"]["id"].num(), room);
    EXPECT_EQ(it->data["room"]["name"].str(), "Club House");
    EXPECT_EQ(it->data["room"]["topic"].str(), "Tuesdays at 6, room 4");
  }
  // A moderator clears the topic (null as "" does); the key is then gone.
  r = mod->Patch(RoomPath(room), R"({"topic":null})");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_FALSE(r.json()["room"].has("topic")) << r.body;
  EXPECT_EQ(r.json()["room"]["name"].str(), "Club House");
  // An empty patch changes nothing, after the same checks.
  const int64_t head2 = Head(owner.token);
  r = mod->Patch(RoomPath(room), "{}");
  ASSERT_EQ(r.status, 200) << r.Describe();
  EXPECT_EQ(r.json()["room"]["name"].str(), "Club House");
  EXPECT_EQ(Expect(member->Patch(RoomPath(room), "{}"), 403, "not_moderator"), "");
  // Nobody else; a taken name in any case; a direct conversation.
  EXPECT_EQ(Expect(member->Patch(RoomPath(room), R"({"topic":"mine"})"), 403, "not_moderator"), "");
  EXPECT_EQ(Expect(outsider->Patch(RoomPath(room), R"({"topic":"mine"})"), 403, "not_a_member"), "");
  CreateRoom(outsider, "lounge", "public");
  const int64_t head3 = Head(owner.token);
  EXPECT_EQ(Expect(owner->Patch(RoomPath(room), R"({"name":"LOUNGE"})"), 409, "room_name_taken"), "");
  Response dm = owner->Post("/api/dm", "{\"username\":" + Quote(member.name) + "}");
  ASSERT_EQ(dm.status, 201) << dm.Describe();
  const int64_t head4 = Head(owner.token);
  EXPECT_EQ(Expect(owner->Patch(RoomPath(dm.json()["room"]["id"].num()), R"({"name":"ours"})"), 403,
                   "not_moderator"),
            "");
  // A private room is not revealed to outsiders, by GET or by PATCH.
  const int64_t secret = CreateRoom(owner, "secret", "private");
  const int64_t head5 = Head(owner.token);
  EXPECT_EQ(Expect(outsider->Get(RoomPath(secret)), 404, "room_not_found"), "");
  EXPECT_EQ(Expect(outsider->Patch(RoomPath(secret), R"({"name":"found"})"), 404, "room_not_found"), "");
  EXPECT_EQ(Head(owner.token), head5) << "refusals append nothing";
  EXPECT_GT(head3, head2);
  EXPECT_GT(head4, head3);
}

// Hostile bodies: each a clear 4xx, nothing appended, the room unchanged.
TEST_F(ModerationTest, ARoomChangeRefusesBadInput) {
  User owner = Register("owner");
  const int64_t room = CreateRoom(owner, "club", "public");
  struct Case {
    std::string body;
    long status;
    const char* code;
  };
  const std::vector<Case> cases = {
      {R"({"name":null})", 400, "invalid_field"},
      {R"({"name":5})", 400, "invalid_field"},
      {R"({"topic":["a"]})", 400, "invalid_field"},
      {R"({"name":""})", 400, "invalid_field"},
      {R"({"name":" club"})", 400, "invalid_field"},
      {"{\"name\":" + Quote(std::string(65, 'n')) + "}", 400, "invalid_field"},
      {R"({"name":"a\u202eb"})", 400, "invalid_field"},
      {R"({"topic":"two\nlines"})", 400, "invalid_field"},
      {R"({"topic":"x\u2028y"})", 400, "invalid_field"},
      {R"({"topic":"a\u0000b"})", 400, "invalid_field"},
      {R"({"topic":"   "})", 400, "invalid_field"},
      {"{\"topic\":" + Quote(std::string(251, 't')) + "}", 400, "invalid_field"},
      {"{\"topic\":\"bad \xC3\x28\"}", 400, "invalid_utf8"},
      {R"({"name":"ok","topic":7})", 400, "invalid_field"},
      {"not json", 400, "invalid_json"},
      {"[]", 400, "invalid_json"},
      {"{\"topic\":" + Quote(std::string(17 * 1024, 't')) + "}", 413, "body_too_large"},
  };
  const int64_t head = Head(owner.token);
  for (const Case& c : cases) {
    Response r = owner->Patch(RoomPath(room), c.body);
    EXPECT_EQ(r.status, c.status) << c.body.substr(0, 60) << ": " << r.Describe();
    EXPECT_EQ(r.ErrorCode(), c.code) << c.body.substr(0, 60) << ": " << r.Describe();
  }
  Response plain = owner->Patch(RoomPath(room), R"({"topic":"x"})", {"Content-Type: text/plain"});
  EXPECT_EQ(plain.status, 415) << plain.Describe();
  EXPECT_EQ(owner->Patch(RoomPath(999999999), R"({"topic":"x"})").status, 404);
  EXPECT_EQ(owner->Patch("/api/rooms/0", R"({"topic":"x"})").status, 404);
  EXPECT_EQ(Head(owner.token), head) << "no refusal appends anything";
  Json now = FindRoom(owner, room);
  EXPECT_EQ(now["name"].str(), "club");
  EXPECT_FALSE(now.has("topic")) << now.Dump();
  ExpectHealthy();
}

// `general` has no owner, so nobody could remove spam from the room every
// user is in. The operator hands it to a member with parleyctl, on the
// running stack; every page hears of it live, and the new owner's
// moderator cleans up through the API.
TEST_F(ModerationTest, TheOperatorHandsGeneralToAMemberWhoAppointsAModerator) {
  User host = Register("host");
  User helper = Register("helper");
  User spammer = Register("spammer");
  const int64_t general = General(host);
  const int64_t spam = Send(spammer, general, "buy now")["id"].num();
  EXPECT_EQ(Expect(host->Delete("/api/messages/" + std::to_string(spam)), 403, "not_author"), "");
  // parleyctl rooms shows it without an owner ("-"), then with one.
  auto general_line = [&] {
    std::string rooms = Ctl({"rooms"});
    size_t at = rooms.find("\n" + std::to_string(general) + " ");
    return at == std::string::npos ? rooms : rooms.substr(at + 1, rooms.find('\n', at + 1) - at - 1);
  };
  EXPECT_NE(general_line().find(" - "), std::string::npos) << general_line();
  const int64_t head = Head(host.token);
  const std::string out = Ctl({"set-owner", std::to_string(general), host.name});
  EXPECT_NE(general_line().find(" " + host.name + " "), std::string::npos) << general_line();
  EXPECT_NE(out.find(host.name + " now owns room " + std::to_string(general)), std::string::npos) << out;
  WaitHead(host.token, head + 1);
  std::vector<PolledEvent> ev = RoomEvents(spammer, head);
  auto it = std::find_if(ev.begin(), ev.end(), [](const PolledEvent& e) { return e.type == "room"; });
  ASSERT_NE(it, ev.end()) << "every member hears of the new owner";
  EXPECT_EQ(it->data["room"]["owner"]["id"].num(), host.id);
  EXPECT_EQ(FindRoom(helper, general)["owner"]["id"].num(), host.id);
  MakeModerator(host, general, helper);
  Response del = helper->Delete("/api/messages/" + std::to_string(spam));
  EXPECT_EQ(del.status, 204) << del.Describe();
  EXPECT_EQ(helper->Put(BanPath(general, spammer), "").status, 204);
  EXPECT_EQ(Expect(spammer->Post(RoomPath(general, "/messages"), R"({"text":"again"})"), 403, "not_a_member"), "");
}

// parleyctl is no reader of a room: for a private room whose would-be
// owner is not in it, it says so, as for a public room, and "no such room"
// only where there is none (it said "no such room" for both before).
TEST_F(ModerationTest, SetOwnerOfAPrivateRoomNamesTheOutsiderNotTheRoom) {
  User owner = Register("owner");
  User outsider = Register("outsider");
  const int64_t secret = CreateRoom(owner, "secret", "private");
  std::string error;
  EXPECT_FALSE(stack().Ctl({"set-owner", std::to_string(secret), outsider.name}, {}, &error));
  EXPECT_NE(error.find(outsider.name + " is not a member of this room"), std::string::npos) << error;
  EXPECT_EQ(error.find("no such room"), std::string::npos) << error;
  error.clear();
  EXPECT_FALSE(stack().Ctl({"set-owner", std::to_string(secret + 1000), outsider.name}, {}, &error));
  EXPECT_NE(error.find("no such room"), std::string::npos) << error;
  InviteAndJoin(owner, secret, outsider);
  const std::string out = Ctl({"set-owner", std::to_string(secret), outsider.name});
  EXPECT_NE(out.find(outsider.name + " now owns room " + std::to_string(secret)), std::string::npos) << out;
  EXPECT_EQ(FindRoom(owner, secret)["owner"]["id"].num(), outsider.id);
}

}  // namespace
}  // namespace parley::e2e
