// parley-events against hostile clients (issue 8): memory stays bounded
// whatever readers do, one user cannot hold more than their share of
// connections, and what reaches the daemon's sockets directly is checked
// as strictly as what comes through nginx.
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

#include "events_fixture.h"
#include "raw_http.h"

namespace parley::e2e {
namespace {

using Clock = std::chrono::steady_clock;

// Resident memory of a process in bytes, from /proc (0 if it is gone).
uint64_t Rss(pid_t pid) { return ProcStatusBytes(pid, "VmRSS"); }

// One HTTP/1.0 exchange straight with a unix socket (no nginx): the status
// line's code, the headers and the body, or status 0 if the exchange failed.
struct RawReply {
  int status = 0;
  std::string head;
  std::string body;
};
RawReply UnixHttp(const std::string& path, const std::string& request) {
  RawReply r;
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    return r;
  }
  std::string all;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) all.append(buf, static_cast<size_t>(n));
  close(fd);
  size_t sp = all.find(' ');
  size_t end = all.find("\r\n\r\n");
  if (sp == std::string::npos || end == std::string::npos) return r;
  r.status = std::atoi(all.c_str() + sp + 1);
  r.head = all.substr(0, end);
  r.body = all.substr(end + 4);
  return r;
}

// Sends one datagram to the daemon's wake-up socket as the current user.
bool SendDatagram(const std::string& path, const std::string& data) {
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  ssize_t n = sendto(fd, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  close(fd);
  return n == static_cast<ssize_t>(data.size());
}

std::string TypingDatagram(int64_t room, int64_t user) {
  return "{\"typing\":{\"room_id\":" + std::to_string(room) + ",\"user\":{\"id\":" + std::to_string(user) +
         ",\"username\":\"typist" + std::to_string(user) + "\"}}}";
}

// 200 slow readers resuming from an old cursor (a backlog of 24 MB each)
// while a typing flood runs: on the tree before issue 8, parley-events grew
// without bound (typing bytes queued behind every replaying stream; 1.5 GiB
// in 23 s at full scale). Now ephemeral events skip replaying streams, every
// connection is capped, and all of them share one budget (16 MiB here).
class MemoryAttackTest : public EventsTest {
 protected:
  std::vector<std::string> EventsFlags() const override {
    return {"--output-cap", "262144", "--output-budget", "16777216", "--max-user-connections", "64"};
  }
};

TEST_F(MemoryAttackTest, SlowResumingReadersAndATypingFloodKeepMemoryBounded) {
  // Writes its set-up rows with SQLite's SQL (WITH RECURSIVE into the log).
  PARLEY_E2E_SQLITE_ONLY();
  auto users = BulkUsers("slow", 4);
  User alice = Register("alice");
  const int64_t room = General(alice);
  // The backlog: 2,000 events of 12 KB in the room, written as another
  // program would (the daemon picks them up through data_version).
  Sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
         "INSERT INTO events(ts, type, room_id, audience, data) SELECT CAST(strftime('%s','now') AS INTEGER) * 1000, "
         "'message', " + std::to_string(room) + ", 'room', '{\"text\":\"' || hex(zeroblob(6000)) || '\"}' FROM n;");
  const int64_t head = DbHead();
  WaitHead(alice.token, head, 10s);
  const pid_t pid = stack().events()->pid();
  const uint64_t rss_before = Rss(pid);

  std::vector<std::unique_ptr<SseStream>> slow;
  for (int i = 0; i < 200; ++i) {
    SseStream::Options o;
    o.headers = {"Authorization: Bearer " + users[static_cast<size_t>(i % 4)].second, "Last-Event-ID: 1"};
    o.rcvbuf = 4096;
    o.start_reading = false;
    slow.push_back(OpenStream(o));
  }
  // The flood: 40,000 typing notices from 4,000 different typists.
  const std::string notify = stack().dir() + "/notify.sock";
  uint64_t rss_max = 0;
  const auto deadline = Clock::now() + 20s;
  int sent = 0;
  while (Clock::now() < deadline && sent < 40000) {
    for (int k = 0; k < 500; ++k, ++sent) SendDatagram(notify, TypingDatagram(room, 100000 + sent % 4000));
    rss_max = std::max(rss_max, Rss(pid));
    std::this_thread::sleep_for(50ms);
  }
  for (int i = 0; i < 20; ++i) {
    rss_max = std::max(rss_max, Rss(pid));
    std::this_thread::sleep_for(100ms);
  }
  Json stats = Stats();
  std::printf("parley-events RSS %.1f MiB before, at most %.1f MiB under attack; cuts: slow %lld, budget %lld; "
              "queued now %lld bytes\n",
              rss_before / 1048576.0, rss_max / 1048576.0,
              static_cast<long long>(stats["disconnects"]["slow"].num()),
              static_cast<long long>(stats["disconnects"]["budget"].num()),
              static_cast<long long>(stats["queued_bytes"].num()));
#if defined(__SANITIZE_ADDRESS__)
  // ASan's quarantine and shadow memory make RSS no measure of our heap;
  // queued_bytes below still bounds what the daemon holds.
#else
  EXPECT_LT(rss_max, rss_before + (96u << 20)) << stats.Dump();
#endif
  EXPECT_LE(stats["queued_bytes"].num(), 16 * 1048576 + 262144) << stats.Dump();

  // Live delivery still works for everybody else, at once.
  User bob = Register("bob");
  auto live = Subscribe(bob.token);
  const int64_t id = Send(alice, room, "still here")["id"].num();
  EXPECT_TRUE(live->WaitForId(id, 5s)) << stats.Dump();
}

// Slow readers that each stay under their own cap but together pass the
// daemon's budget (1 MiB here) are cut, the ones with most queued first; a
// cut reader resumes from its last id and loses nothing.
class BudgetTest : public EventsTest {
 protected:
  std::vector<std::string> EventsFlags() const override {
    return {"--output-cap", "1048576", "--output-budget", "1048576"};
  }
};

TEST_F(BudgetTest, SlowReadersPastTheBudgetAreCutAndResumeWithoutLoss) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = General(alice);
  std::vector<std::unique_ptr<SseStream>> slow;
  for (int i = 0; i < 10; ++i) {
    SseStream::Options o;
    o.headers = {"Authorization: Bearer " + bob.token};
    o.rcvbuf = 4096;
    o.start_reading = false;
    slow.push_back(OpenStream(o));
  }
  WaitForStats([](const Json& j) { return j["connections"]["stream"].num() == 10; }, 5s);
  std::string big;
  for (int i = 0; i < 4000; ++i) big += "\xe2\x82\xac";  // 12 KB of JSON per event
  std::vector<int64_t> sent;
  Json stats;
  const auto deadline = Clock::now() + 40s;
  while (Clock::now() < deadline && sent.size() < 1000) {
    sent.push_back(Send(alice, room, big)["id"].num());
    if (sent.size() % 5 != 0) continue;
    stats = Stats();
    if (stats["disconnects"]["budget"].num() >= 1) break;
  }
  ASSERT_GE(stats["disconnects"]["budget"].num(), 1) << "no budget cut after " << sent.size() << " messages";
  EXPECT_EQ(stats["disconnects"]["slow"].num(), 0) << "each reader stayed under its own cap";
  std::printf("budget cut after %zu messages of 12 KB to 10 readers\n", sent.size());

  // Which one was cut: its connection ends once it reads what was in flight.
  for (auto& s : slow) s->StartReading();
  SseStream* cut = nullptr;
  for (auto& s : slow) {
    if (s->WaitEof(3s)) {
      cut = s.get();
      break;
    }
  }
  ASSERT_NE(cut, nullptr) << "no reader saw its connection end";
  const int64_t cursor = cut->LastId().value_or(0);
  ASSERT_GT(cursor, 0);
  Resumer::Options ro;
  ro.port = stack().port();
  ro.token = bob.token;
  ro.cursor = cursor;
  ro.deadline = 15s;
  Resumer resumed(ro);
  resumed.Start();
  resumed.FinishAt(sent.back());
  EXPECT_TRUE(resumed.Join()) << Stats().Dump();
  std::vector<int64_t> got = MessageIds(cut->Events(), room);
  std::vector<int64_t> more = MessageIds(resumed.events, room);
  got.insert(got.end(), more.begin(), more.end());
  EXPECT_EQ(got, sent) << FirstDifference(got, sent);
}

// Descriptors a process holds open (0 if it is gone).
size_t OpenFiles(pid_t pid) {
  std::error_code ec;
  size_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  return n;
}

// Streams the daemon ends of a client that stopped reading: evhttp kept
// each connection and its unsent output after the reply's end, until it
// drained or the stream's timeout (its lifetime + 60 s), counted against no
// cap (a client repeating logout and login took the daemon from 12 to 68 MB
// in two rounds). Now a stream whose session ended is closed at once, and a
// rotated one is cut if its goodbye has not left within 5 s.
class EndedStreamsTest : public EventsTest {
 protected:
  // Eight streams of `token` straight on the daemon's socket, which nobody
  // reads, each with some 300 KB queued in the daemon (under the 1 MiB cap).
  std::vector<std::unique_ptr<SseStream>> FillUnread(const std::string& token, User& sender, int64_t room) {
    std::vector<std::unique_ptr<SseStream>> streams;
    for (int i = 0; i < 8; ++i) {
      SseStream::Options o;
      o.unix_socket = stack().dir() + "/events.sock";
      o.headers = {"Authorization: Bearer " + token};
      o.start_reading = false;
      streams.push_back(OpenStream(o));
    }
    Json st = WaitForStats([](const Json& j) { return j["connections"]["stream"].num() == 8; }, 5s);
    if (st["connections"]["stream"].num() != 8) throw SetupError("the streams did not open: " + st.Dump());
    std::string big;
    for (int i = 0; i < 4000; ++i) big += "\xe2\x82\xac";  // 12 KB of JSON per event
    for (int i = 0; i < 40; ++i) Send(sender, room, big);
    st = WaitForStats([](const Json& j) { return j["queued_bytes"].num() >= 8 * 100000; }, 10s);
    if (st["queued_bytes"].num() < 8 * 100000) throw SetupError("the streams did not fill: " + st.Dump());
    return streams;
  }
};

TEST_F(EndedStreamsTest, StreamsEndedByALogoutLetGoOfTheirOutputAndSocketsAtOnce) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = General(alice);
  Head(alice.token);
  const pid_t pid = stack().events()->pid();
  Stats();  // nginx's kept connection to the daemon, counted in `before`
  const size_t before = OpenFiles(pid);
  auto streams = FillUnread(bob.token, alice, room);
  ASSERT_GE(OpenFiles(pid), before + 8);

  ASSERT_EQ(bob->Post("/api/logout").status, 204);
  // The session check runs every 3 s.
  const auto deadline = Clock::now() + 8s;
  while (Clock::now() < deadline && OpenFiles(pid) > before + 2) std::this_thread::sleep_for(100ms);
  EXPECT_LE(OpenFiles(pid), before + 2) << "the ended streams still hold their sockets";
  Json st = WaitForStats(
      [](const Json& j) { return j["connections"]["stream"].num() == 0 && j["queued_bytes"].num() == 0; }, 5s);
  EXPECT_EQ(st["connections"]["stream"].num(), 0) << st.Dump();
  EXPECT_EQ(st["queued_bytes"].num(), 0) << st.Dump();
  EXPECT_GE(st["disconnects"]["revoked"].num(), 8) << st.Dump();
}

class RotatedStreamsTest : public EndedStreamsTest {
 protected:
  std::vector<std::string> EventsFlags() const override { return {"--stream-lifetime", "4"}; }
};

TEST_F(RotatedStreamsTest, ARotatedStreamWhoseGoodbyeDoesNotLeaveIsCutWithinSeconds) {
  User alice = Register("alice");
  User bob = Register("bob");
  const int64_t room = General(alice);
  Head(alice.token);
  const pid_t pid = stack().events()->pid();
  Stats();
  const size_t before = OpenFiles(pid);
  const auto opened = Clock::now();
  auto streams = FillUnread(bob.token, alice, room);
  ASSERT_GE(OpenFiles(pid), before + 8);
  // Rotated at 4 s (the sweep looks once a second), cut 5 s later.
  const auto deadline = opened + 14s;
  while (Clock::now() < deadline && OpenFiles(pid) > before + 2) std::this_thread::sleep_for(100ms);
  EXPECT_LE(OpenFiles(pid), before + 2) << "the rotated streams still hold their sockets";
  Json st = WaitForStats(
      [](const Json& j) { return j["connections"]["stream"].num() == 0 && j["queued_bytes"].num() == 0; }, 5s);
  EXPECT_EQ(st["connections"]["stream"].num(), 0) << st.Dump();
  EXPECT_EQ(st["queued_bytes"].num(), 0) << st.Dump();
  EXPECT_GE(st["disconnects"]["slow"].num(), 8) << "a goodbye that does not leave is a slow reader's: " << st.Dump();
}

// parley-events with few descriptors (128, hard: it cannot raise them).
// Past that limit accept() fails; libevent alone called it again at once,
// a busy loop at a full core that logged 2.4 million lines in 3 s
// (measured before the change). Now the listener rests, and the cap of
// held connections is kept below the limit, so clients hear 503.
class OpenFilesTest : public EventsTest {
 protected:
  StackOptions Options() const override {
    StackOptions o = EventsTest::Options();
    o.events_max_open_files = 128;
    return o;
  }
  std::vector<std::string> EventsFlags() const override { return {"--max-user-connections", "500"}; }
};

TEST_F(OpenFilesTest, OutOfDescriptorsTheDaemonRestsAndServesOnceTheyAreBack) {
  User alice = Register("files");
  const pid_t pid = stack().events()->pid();
  const std::string sock = stack().dir() + "/events.sock";
  // Connections that send nothing hold a descriptor each, past the limit.
  std::vector<int> idle;
  for (int i = 0; i < 200; ++i) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd);
      break;  // the backlog is full too
    }
    idle.push_back(fd);
  }
  ASSERT_GT(idle.size(), 128u);
  std::this_thread::sleep_for(200ms);
  const double before = CpuSeconds(pid);
  std::this_thread::sleep_for(1s);
  const double spent = CpuSeconds(pid) - before;
  EXPECT_LT(spent, 0.2) << "the daemon used " << spent << " s of CPU in 1 s";
  EXPECT_LT(ReadText(stack().dir() + "/events.log").size(), 64u << 10);
  EXPECT_NE(ReadText(stack().dir() + "/events.log").find("not accepting"), std::string::npos);
  for (int fd : idle) close(fd);
  // The listener takes connections again: a stream through nginx.
  auto stream = Subscribe(alice.token);
  EXPECT_GT(Stats()["accept_pauses"].num(), 0);
  ExpectHealthy();
}

TEST_F(OpenFilesTest, HeldConnectionsStayBelowTheLimitAndTheRestHear503) {
  User alice = Register("files");
  // 128 files, a quarter of them kept: at most 96 held.
  EXPECT_NE(ReadText(stack().dir() + "/events.log").find("holding at most 96 connections"), std::string::npos)
      << ReadText(stack().dir() + "/events.log");
  Head(alice.token);
  std::vector<std::unique_ptr<SseStream>> streams;
  int held = 0, refused = 0;
  for (int i = 0; i < 110; ++i) {
    SseStream::Options o;
    o.headers = {"Authorization: Bearer " + alice.token};
    auto s = OpenStream(std::move(o));
    ASSERT_TRUE(s->WaitHeaders(5s)) << "stream " << i << " had no answer within 5 s";
    if (s->status() == 200) {
      ++held;
      streams.push_back(std::move(s));
    } else {
      EXPECT_EQ(s->status(), 503) << s->Body();
      s->WaitEof(5s);
      EXPECT_NE(s->Body().find("\"busy\""), std::string::npos) << s->Body();
      ++refused;
    }
  }
  EXPECT_LE(held, 96);
  EXPECT_GT(refused, 0);
  streams.clear();
  WaitForStats([](const Json& j) { return j["connections"]["stream"].num() == 0; }, 10s);
  EXPECT_TRUE(Subscribe(alice.token) != nullptr);
}

// The cap counts connections per user id after authentication: the 4th
// stream of a user capped at 3 gets 429 too_many_connections, whatever else
// the request carries; other users are not affected; closing one frees a slot.
class UserCapTest : public EventsTest {
 protected:
  std::vector<std::string> EventsFlags() const override { return {"--max-user-connections", "3"}; }
};

TEST_F(UserCapTest, ConnectionsPerUserAreCappedByUserId) {
  User bob = Register("bob");
  User carol = Register("carol");
  std::vector<std::unique_ptr<SseStream>> streams;
  for (int i = 0; i < 3; ++i) streams.push_back(Subscribe(bob.token));
  for (const HeaderList& extra : {HeaderList{}, HeaderList{"Cookie: parley_session=junk" + std::to_string(1)},
                                  HeaderList{"X-Forwarded-For: 198.51.100.7"}}) {
    HeaderList h = extra;
    h.push_back("Authorization: Bearer " + bob.token);
    Response r = NewClient(Client::Cookies::kOff)->Get("/events/stream", h);
    EXPECT_EQ(r.status, 429) << r.Describe();
    EXPECT_EQ(r.ErrorCode(), "too_many_connections") << r.Describe();
    PollResult p = Poll(bob.token, "?timeout=0");
    EXPECT_EQ(p.response.status, 429) << p.response.Describe();
  }
  EXPECT_TRUE(Subscribe(carol.token) != nullptr);
  streams.back()->Close();
  streams.pop_back();
  WaitForStats([](const Json& j) { return j["connections"]["stream"].num() == 3; }, 5s);
  EXPECT_TRUE(Subscribe(bob.token) != nullptr);
  EXPECT_GE(Stats()["refused_user_cap"].num(), 6);
}

// A client that goes away while its poll is held frees its slot at once.
// evhttp reads nothing from a connection while its request is held, so such
// a poll stayed until its timeout, counted against its user's cap (streams
// and polls got 429 with no connection open) and keeping them online.
TEST_F(UserCapTest, APollWhoseClientWentAwayFreesItsSlotAtOnce) {
  User bob = Register("bob");
  const int64_t head = Head(bob.token);
  {
    std::vector<RawSocket> polls;
    for (int i = 0; i < 3; ++i) {
      std::string error;
      RawSocket s = RawSocket::Connect(stack().port(), &error);
      ASSERT_TRUE(s.valid()) << error;
      ASSERT_TRUE(s.Send("GET /events/poll?since=" + std::to_string(head) +
                             "&timeout=55 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + bob.token +
                             "\r\n\r\n",
                         5s));
      polls.push_back(std::move(s));
    }
    WaitForStats([](const Json& j) { return j["connections"]["poll"].num() == 3; }, 5s);
    Response refused = NewClient(Client::Cookies::kOff)->Get("/events/stream", {"Authorization: Bearer " + bob.token});
    EXPECT_EQ(refused.status, 429) << refused.Describe();
  }  // the three clients go away, their polls unanswered
  Json stats = WaitForStats([](const Json& j) { return j["connections"]["poll"].num() == 0; }, 5s);
  EXPECT_EQ(stats["connections"]["poll"].num(), 0) << "the polls were held after their clients left";
  EXPECT_TRUE(Subscribe(bob.token) != nullptr);
}

// Straight at the daemon's socket, bypassing nginx: wrong methods, bodies
// and non-loopback stats requests get JSON errors, never evhttp's HTML.
TEST_F(EventsTest, TheDaemonAnswersBadRequestsInJson) {
  const std::string sock = stack().dir() + "/events.sock";
  RawReply post = UnixHttp(sock, "POST /events/stream HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(post.status, 405) << post.head;
  EXPECT_NE(post.head.find("Allow: GET"), std::string::npos) << post.head;
  EXPECT_EQ(Json::Parse(post.body)["error"]["code"].str(), "method_not_allowed") << post.body;

  RawReply body = UnixHttp(sock, "GET /events/poll HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(body.status, 413) << body.head;
  EXPECT_EQ(Json::Parse(body.body)["error"]["code"].str(), "body_not_allowed") << body.body;

  RawReply far = UnixHttp(sock, "GET /events/stats HTTP/1.0\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n");
  EXPECT_EQ(far.status, 403) << far.head;
  EXPECT_EQ(Json::Parse(far.body)["error"]["code"].str(), "forbidden") << far.body;
  RawReply forged = UnixHttp(sock, "GET /events/stats HTTP/1.0\r\nX-Forwarded-For: 127.0.0.1, 203.0.113.9\r\n\r\n");
  EXPECT_EQ(forged.status, 403) << forged.head;
  RawReply local = UnixHttp(sock, "GET /events/stats HTTP/1.0\r\n\r\n");
  EXPECT_EQ(local.status, 200) << local.head;

  RawReply query = UnixHttp(sock, "GET /events/poll?since=%zz HTTP/1.0\r\n\r\n");
  EXPECT_EQ(query.status / 100, 4) << query.head;
  EXPECT_TRUE(Json::Parse(query.body)["error"].is_object()) << query.body;
  // Through nginx, this client is loopback: stats answer.
  EXPECT_EQ(NewClient()->Get("/events/stats", {"X-Forwarded-For: 203.0.113.9"}).status, 200);
}

// Wake-ups are accepted from the service's own uid only, and checked like
// any input: a datagram from another user (here nobody, with the socket
// opened to it on purpose) or a malformed one is dropped and counted.
TEST_F(EventsTest, WakeUpsFromAnotherUidOrMalformedAreDropped) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to send as another uid";
  const std::string notify = stack().dir() + "/notify.sock";
  const int64_t before = Stats()["datagrams_refused"].num();
  ASSERT_TRUE(SendDatagram(notify, "{\"head\":\"x\"}"));
  ASSERT_TRUE(SendDatagram(notify, "not json"));
  ASSERT_EQ(chmod(stack().dir().c_str(), 0755), 0);
  ASSERT_EQ(chmod(notify.c_str(), 0666), 0);
  pid_t child = fork();
  if (child == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(3);
    _exit(SendDatagram(notify, "{\"head\":999999}") ? 0 : 4);
  }
  int status = 0;
  waitpid(child, &status, 0);
  chmod(stack().dir().c_str(), 0700);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child could not send: " << status;
  Json s = WaitForStats([&](const Json& j) { return j["datagrams_refused"].num() >= before + 3; }, 5s);
  EXPECT_EQ(s["datagrams_refused"].num(), before + 3) << s.Dump();
  EXPECT_EQ(s["head"].num(), s["db_head"].num()) << "a forged head must not move anything";
}

}  // namespace
}  // namespace parley::e2e
