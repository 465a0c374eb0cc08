// Who may see what on /events (DESIGN sections 3 to 5): credentials (none,
// bogus, Bearer, cookie), logout closing open streams, and room membership:
// private rooms and direct conversations reach their members only, and
// joining or leaving applies to streams already open. Also what a refusal
// for an unreachable database costs the daemon's log.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

#include "events_fixture.h"

namespace parley::e2e {
namespace {

using Clock = std::chrono::steady_clock;

class EventsAuthTest : public EventsTest {
 protected:
  // A cookie-authenticated browser: the session token of its cookie.
  std::pair<std::unique_ptr<Client>, std::string> CookieUser(const std::string& prefix) {
    auto c = NewClient(Client::Cookies::kOn);
    const std::string name = Unique(prefix);
    Response r = c->Post("/api/register",
                         "{\"username\":" + Quote(name) + ",\"password\":" + Quote(kPassword) + "}");
    if (r.status != 201) throw SetupError("register " + name + ": " + r.Describe());
    std::string cookie = c->Cookie("parley_session");
    if (cookie.empty()) throw SetupError("no session cookie: " + r.Describe());
    return {std::move(c), cookie};
  }
};

TEST_F(EventsAuthTest, NoOrBadCredentialsAre401Json) {
  const HeaderList none;
  const HeaderList bogus = {"Authorization: Bearer not-a-real-token-0123456789abcdef"};
  const HeaderList bogus_cookie = {"Cookie: parley_session=not-a-real-token"};
  for (const HeaderList* h : {&none, &bogus, &bogus_cookie}) {
    SseStream::Options o;
    o.headers = *h;
    auto s = OpenStream(o);
    ASSERT_TRUE(s->WaitUntil([](const SseState& st) { return st.complete || st.eof; }, 5s))
        << "the refusal did not end";
    EXPECT_EQ(s->status(), 401) << s->Body();
    EXPECT_NE(s->Header("content-type").find("application/json"), std::string::npos) << s->Header("content-type");
    Json j = Json::Parse(s->Body());
    EXPECT_FALSE(j["error"]["code"].str().empty()) << s->Body();
    EXPECT_TRUE(s->Events().empty());

    Client c(stack().base_url(), Client::Cookies::kOff);
    Response p = c.Get("/events/poll?since=0&timeout=1", *h);
    EXPECT_EQ(p.status, 401) << p.Describe();
    EXPECT_FALSE(p.ErrorCode().empty()) << p.body;
  }
}

TEST_F(EventsAuthTest, CookieAuthenticatesStreamAndPoll) {
  auto [browser, cookie] = CookieUser("carol");
  Response me = browser->Get("/api/me");
  ASSERT_EQ(me.status, 200) << me.Describe();
  const int64_t id = me.json()["user"]["id"].num();

  SseStream::Options o;
  o.headers = {"Cookie: parley_session=" + cookie};
  auto s = OpenStream(o);
  ASSERT_TRUE(s->WaitForEvent("hello", 5s)) << "HTTP " << s->status() << " " << s->Body().substr(0, 300);
  EXPECT_EQ(s->Events()[0].json()["user"]["id"].num(), id);

  // The browser's own jar, as fetch() would send it.
  Response p = browser->Get("/events/poll");
  EXPECT_EQ(p.status, 200) << p.Describe();
  EXPECT_TRUE(p.json()["next"].is_number()) << p.body;

  Response sent = browser->Post("/api/rooms/1/messages", "{\"text\":\"from a browser\"}", {"Origin: " + origin()});
  ASSERT_EQ(sent.status, 201) << sent.Describe();
  EXPECT_TRUE(s->WaitForId(sent.json()["message"]["id"].num(), 3s));
}

// The daemon re-checks the sessions of open connections every 3 s: a
// logout ends that session's streams within a few seconds, and the token
// opens nothing afterwards.
TEST_F(EventsAuthTest, LogoutClosesTheSessionsOpenStreams) {
  User alice = Register("alice");
  User bob = Register("bob");
  auto [browser, cookie] = CookieUser("carol");
  auto a = Subscribe(alice.token);
  auto b = Subscribe(bob.token);
  SseStream::Options o;
  o.headers = {"Cookie: parley_session=" + cookie};
  auto c = OpenStream(o);
  ASSERT_TRUE(c->WaitForEvent("hello", 5s));

  Response out = alice->Post("/api/logout");
  ASSERT_EQ(out.status, 204) << out.Describe();
  Response cookie_out = browser->Post("/api/logout", "", {"Origin: " + origin()});
  ASSERT_EQ(cookie_out.status, 204) << cookie_out.Describe();
  const auto logged_out = Clock::now();

  EXPECT_TRUE(a->WaitEof(6s)) << "alice's stream is still open 6 s after her logout";
  EXPECT_TRUE(c->WaitEof(6s)) << "the cookie stream is still open 6 s after its logout";
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - logged_out);
  EXPECT_LE(took, 5s) << "closing took " << took.count() << " ms";
  EXPECT_FALSE(b->eof()) << "another user's stream is untouched";

  Json st = Stats();
  EXPECT_GE(st["disconnects"]["revoked"].num(), 2) << st.Dump();
  SseStream::Options again;
  again.headers = {"Authorization: Bearer " + alice.token};
  auto d = OpenStream(again);
  ASSERT_TRUE(d->WaitHeaders(5s));
  EXPECT_EQ(d->status(), 401) << "a revoked token opens no stream: " << d->Body();
  // Nor a poll (the daemon trusts a session it has read for at most 3 s).
  Response p = alice->Get("/events/poll?timeout=0");
  EXPECT_EQ(p.status, 401) << p.Describe();
}

// A token used only for polls, revoked between two of them: refused
// within the 3 s the daemon may trust a session it has read.
TEST_F(EventsAuthTest, RevokedTokenPollsAreRefusedWithinSeconds) {
  User alice = Register("alice");
  Response first = alice->Get("/events/poll?timeout=0");
  ASSERT_EQ(first.status, 200) << first.Describe();
  ASSERT_EQ(alice->Post("/api/logout").status, 204);
  const auto deadline = Clock::now() + 5s;
  Response p;
  do {
    p = alice->Get("/events/poll?timeout=0");
    if (p.status == 401) break;
    std::this_thread::sleep_for(100ms);
  } while (Clock::now() < deadline);
  EXPECT_EQ(p.status, 401) << p.Describe();
  EXPECT_EQ(p.ErrorCode(), "not_signed_in") << p.body;
}

// A poll's session is trusted for 3 s, and a stream used to read that
// cache too: a stream opened just after a logout was admitted and ran until
// the next revocation check.
TEST_F(EventsAuthTest, AStreamOpenedJustAfterALogoutIsRefused) {
  User alice = Register("alice");
  Response first = alice->Get("/events/poll?timeout=0");
  ASSERT_EQ(first.status, 200) << first.Describe();  // the daemon now holds the session for polls
  ASSERT_EQ(alice->Post("/api/logout").status, 204);
  SseStream::Options o;
  o.headers = {"Authorization: Bearer " + alice.token};
  auto s = OpenStream(o);
  ASSERT_TRUE(s->WaitHeaders(5s));
  EXPECT_EQ(s->status(), 401) << "a stream opened after the logout: " << s->Body();
}

// A private room and a direct conversation between alice and bob: carol,
// who is in neither, never sees a byte of them, on a live stream, on a
// replay from an old cursor, or in a poll; bob sees all of it.
TEST_F(EventsAuthTest, NonMemberNeverReceivesPrivateRoomOrDirectMessages) {
  User alice = Register("alice");
  User bob = Register("bob");
  User carol = Register("carol");
  const int64_t start = Head(carol.token);
  auto b = Subscribe(bob.token);
  auto c = Subscribe(carol.token);

  const int64_t priv = CreateRoom(alice, "secret", "private");
  InviteAndJoin(alice, priv, bob);
  Response dm = alice->Post("/api/dm", "{\"username\":" + Quote(bob.name) + "}");
  ASSERT_TRUE(dm.status == 200 || dm.status == 201) << dm.Describe();
  const int64_t dm_room = dm.json()["room"]["id"].num();
  ASSERT_GT(dm_room, 0) << dm.body;
  std::vector<int64_t> secret;
  for (int i = 0; i < 3; ++i) {
    secret.push_back(Send(alice, priv, "private " + std::to_string(i))["id"].num());
    secret.push_back(Send(alice, dm_room, "direct " + std::to_string(i))["id"].num());
    secret.push_back(Send(bob, dm_room, "reply " + std::to_string(i))["id"].num());
  }
  Json marker = Send(alice, General(alice), "marker");
  const int64_t mark = marker["id"].num();

  ASSERT_TRUE(b->WaitForId(mark, 3s));
  ASSERT_TRUE(c->WaitForId(mark, 3s)) << "carol's stream is alive and past the secret ids";
  std::set<int64_t> bob_ids;
  for (int64_t id : DurableIds(b->Events())) bob_ids.insert(id);
  for (int64_t id : secret) EXPECT_EQ(bob_ids.count(id), 1u) << "bob, a member, did not get " << id;

  const std::set<int64_t> hidden = {priv, dm_room};
  auto check = [&](const std::string& how, int64_t id, const std::string& type, const Json& data) {
    EXPECT_EQ(hidden.count(RoomOf(data)), 0u) << how << ": carol got event " << id << " (" << type
                                              << ") of a room she is not in: " << data.Dump();
    EXPECT_EQ(std::find(secret.begin(), secret.end(), id), secret.end()) << how << ": carol got " << id;
  };
  for (const SseEvent& e : c->Events()) {
    if (e.id) check("live stream", *e.id, e.type, e.json());
  }
  auto replay = Subscribe(carol.token, "?last_event_id=" + std::to_string(start));
  ASSERT_TRUE(replay->WaitForId(mark, 3s));
  for (const SseEvent& e : replay->Events()) {
    if (e.id) check("replay", *e.id, e.type, e.json());
  }
  PollResult p = Poll(carol.token, "?since=" + std::to_string(start));
  ASSERT_TRUE(p.well_formed) << p.response.Describe();
  bool saw_marker = false;
  for (const PolledEvent& e : p.events) {
    check("poll", e.id.value_or(0), e.type, e.data);
    saw_marker |= e.id == mark;
  }
  EXPECT_TRUE(saw_marker) << p.response.body;
}

// Membership changes apply to open streams: bob, already streaming, joins
// a room and starts receiving it (on both of his devices), then leaves and
// stops.
TEST_F(EventsAuthTest, MembershipChangesApplyToOpenStreams) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = CreateRoom(alice, "club", "public");
  auto b = Subscribe(bob.token);
  auto b2 = Subscribe(bob.token);
  Join(bob, room);
  Json before = Send(alice, room, "while bob is a member");
  ASSERT_TRUE(b->WaitForId(before["id"].num(), 3s)) << "bob joined while streaming but got nothing";
  ASSERT_TRUE(b2->WaitForId(before["id"].num(), 3s)) << "bob's second device got nothing";

  Response leave = bob->Post(RoomPath(room, "/leave"));
  ASSERT_TRUE(leave.status == 200 || leave.status == 204) << leave.Describe();
  Json after = Send(alice, room, "after bob left");
  Json marker = Send(alice, General(alice), "marker");
  ASSERT_TRUE(b->WaitForId(marker["id"].num(), 3s));
  for (const SseEvent& e : b->Events()) {
    EXPECT_FALSE(e.id == after["id"].num()) << "bob got a message sent after he left: " << e.data;
  }
  PollResult p = Poll(bob.token, "?since=" + std::to_string(before["id"].num()));
  for (const PolledEvent& e : p.events) {
    EXPECT_FALSE(e.id == after["id"].num()) << "a poll gave bob a message sent after he left";
  }
}

// PostgreSQL out of parley-events' reach (its connections cut, new ones
// failing): every poll is refused 503, and the daemon's log gets a line a
// second about it, saying how many refusals it stands for, not a line
// each (16,000 polls/s wrote 22 MB of log in 5 s).
class EventsOutageTest : public EventsTest {
 protected:
  // A well-formed token (64 lowercase hex characters) that no session has.
  static std::string RandomToken(uint64_t n) {
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(n));
    std::string token;
    for (int i = 0; i < 4; ++i) token += hex;
    return token;
  }

  StackOptions Options() const override {
    StackOptions o = EventsTest::Options();
    o.pg_through_link = true;
    // libpq's application_name: the test cuts this daemon's connections
    // alone, not those of the other tests sharing the cluster.
    o.events_env = {"PGAPPNAME=" + app_name_};
    return o;
  }
  const std::string app_name_ =
      "parley-events-" + std::to_string(getpid()) + "-" + std::to_string(Clock::now().time_since_epoch().count());
};

TEST_F(EventsOutageTest, RefusalsDuringADatabaseOutageLogALineASecond) {
  if (!OnPostgres()) GTEST_SKIP() << "cuts PostgreSQL connections";
  User alice = Register("alice");
  ASSERT_EQ(alice->Get("/events/poll?timeout=0").status, 200);
  // The cluster's own socket directory, before the link to it goes.
  const std::string link = stack().dir() + "/pg";
  std::string url = stack().db();
  url.replace(url.find(link), link.size(), std::filesystem::read_symlink(link).string());
  ASSERT_TRUE(stack().SetPostgresReachable(false));
  const std::string cut = Sql(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '" + app_name_ + "'",
      url);
  ASSERT_NE(cut.substr(0, 1), "0") << "no connection of parley-events was found to cut";

  Client c(stack().base_url(), Client::Cookies::kOff);
  auto refused_by = Clock::now() + 5s;
  Response r;
  do {
    c.set_bearer(RandomToken(static_cast<uint64_t>(Clock::now().time_since_epoch().count())));
    r = c.Get("/events/poll?timeout=0");
  } while (r.status != 503 && Clock::now() < refused_by);
  ASSERT_EQ(r.status, 503) << r.Describe();

  const std::string log = stack().dir() + "/events.log";
  const size_t before = ReadText(log).size();
  constexpr auto kFor = 3s;
  std::atomic<int> refusals{0};
  {
    std::vector<std::jthread> pollers;
    const auto until = Clock::now() + kFor;
    for (int t = 0; t < 4; ++t) {
      pollers.emplace_back([&, t] {
        Client p(stack().base_url(), Client::Cookies::kOff);
        for (int i = 0; Clock::now() < until; ++i) {
          p.set_bearer(RandomToken((uint64_t{1} << 40) * static_cast<uint64_t>(t + 1) + static_cast<uint64_t>(i)));
          refusals += p.Get("/events/poll?timeout=0").status == 503;
        }
      });
    }
  }
  const std::string during = ReadText(log).substr(before);
  int lines = 0, refusal_lines = 0;
  std::istringstream in(during);
  for (std::string line; std::getline(in, line);) {
    ++lines;
    refusal_lines += line.find("refusals since the last such line") != std::string::npos;
  }
  ASSERT_GE(refusals.load(), 100) << "too few refusals to tell: " << refusals.load();
  EXPECT_GE(refusal_lines, 1) << during.substr(0, 2000);
  EXPECT_LE(refusal_lines, 5) << refusals.load() << " refusals in " << kFor.count() << " s: " << during.substr(0, 2000);
  // The rest: a line a second at most from each periodic chore.
  EXPECT_LE(lines, 40) << refusals.load() << " refusals: " << during.substr(0, 2000);

  ASSERT_TRUE(stack().SetPostgresReachable(true));
  const auto back_by = Clock::now() + 10s;
  while ((r = alice->Get("/events/poll?timeout=0")).status != 200 && Clock::now() < back_by) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(r.status, 200) << "the daemon did not come back with the database: " << r.Describe();
}

}  // namespace
}  // namespace parley::e2e
