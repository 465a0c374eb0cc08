// Both daemons listening on TCP (schema/listen_address.h) behind the real
// nginx, on one host: parley-fcgi --listen 127.0.0.1:P and parley-events
// --listen 127.0.0.1:Q, nginx's upstreams pointed at them, and a message
// sent through the API arrives on an SSE stream. Bad --listen values make
// either daemon exit 2 with a message that says why. Cheap: SQLite, one
// worker, no PostgreSQL.
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "client.h"
#include "json.h"
#include "sse.h"
#include "stack.h"

namespace parley::e2e {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Replaces every line of `path` that contains `needle` with `line`.
bool ReplaceLines(const std::string& path, const std::string& needle, const std::string& line) {
  std::istringstream in(ReadText(path));
  std::string out, l;
  bool found = false;
  while (std::getline(in, l)) {
    if (l.find(needle) != std::string::npos) {
      l = line;
      found = true;
    }
    out += l + "\n";
  }
  std::ofstream(path) << out;
  return found;
}

// Waits (bounded) until `url` answers 200.
bool Answers(const std::string& base, const std::string& path) {
  Client probe(base);
  const auto deadline = Clock::now() + 15s;
  while (Clock::now() < deadline) {
    if (probe.Get(path).status == 200) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

TEST(TcpListenTest, BothDaemonsOnLoopbackTcpBehindNginx) {
  std::string error;
  auto dir = TempDir::Make(&error);
  ASSERT_TRUE(dir) << error;
  const std::string d = dir->path();
  const std::string fcgi_addr = "127.0.0.1:" + std::to_string(FreeLoopbackPort());
  const std::string events_addr = "127.0.0.1:" + std::to_string(FreeLoopbackPort());
  const int port = FreeLoopbackPort();
  ASSERT_NE(fcgi_addr, events_addr);

  Child::Options fcgi;
  fcgi.argv = {PARLEY_FCGI_BIN, "--db", d + "/parley.db", "--data", d, "--listen", fcgi_addr,
               "--events-socket", d + "/notify.sock", "--workers", "1"};
  fcgi.env = {"PARLEY_LIMITS=off", "FCGI_WEB_SERVER_ADDRS=127.0.0.1"};
  fcgi.log_path = d + "/fcgi.log";
  auto pool = Child::Spawn(fcgi, &error);
  ASSERT_TRUE(pool) << error;

  Child::Options conf;
  conf.argv = {"/bin/bash", std::string(PARLEY_SOURCE_DIR) + "/tools/nginx-conf", d, std::to_string(port)};
  conf.env = {"PARLEY_LIMITS=off", "PARLEY_TLS=off"};
  conf.log_path = d + "/nginx-conf.log";
  ASSERT_EQ(RunToCompletion(conf, 10000ms, &error), 0) << error << ReadText(conf.log_path);
  ASSERT_TRUE(ReplaceLines(d + "/parley.conf", "server unix:" + d + "/fcgi.sock",
                           "    server " + fcgi_addr + " max_fails=0;"));
  ASSERT_TRUE(ReplaceLines(d + "/parley.conf", "server unix:" + d + "/events.sock",
                           "    server " + events_addr + " max_fails=0;"));
  Child::Options nginx;
  nginx.argv = {"/usr/sbin/nginx", "-p", d + "/", "-c", d + "/nginx.conf"};
  nginx.log_path = d + "/nginx.out";
  auto front = Child::Spawn(nginx, &error);
  ASSERT_TRUE(front) << error;
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  ASSERT_TRUE(Answers(base, "/api/health")) << ReadText(d + "/fcgi.log") << ReadText(d + "/nginx-error.log");

  Child::Options ev;
  ev.argv = {PARLEY_EVENTS_BIN, "--db", d + "/parley.db", "--data", d, "--listen", events_addr,
             "--notify", d + "/notify.sock"};
  ev.env = {"PARLEY_LIMITS=off"};
  ev.log_path = d + "/events.log";
  auto events = Child::Spawn(ev, &error);
  ASSERT_TRUE(events) << error;
  ASSERT_TRUE(Answers(base, "/events/stats")) << ReadText(d + "/events.log");
  EXPECT_NE(ReadText(d + "/events.log").find("listening on " + events_addr), std::string::npos);
  EXPECT_NE(ReadText(d + "/fcgi.log").find("listening on " + fcgi_addr), std::string::npos);

  Client c(base, Client::Cookies::kOff);
  Response reg = c.Post("/api/register", R"({"username":"tcp","password":"correct horse battery"})");
  ASSERT_EQ(reg.status, 201) << reg.Describe();
  const std::string token = reg.json()["token"].str();
  c.set_bearer(token);
  Response room = c.Post("/api/rooms", R"({"name":"tcp","kind":"public"})");
  ASSERT_EQ(room.status, 201) << room.Describe();
  const int64_t room_id = room.json()["room"]["id"].num();

  SseStream::Options o;
  o.headers = {"Authorization: Bearer " + token};
  auto stream = SseStream::Open(port, o, &error);
  ASSERT_TRUE(stream) << error;
  ASSERT_TRUE(stream->WaitForEvent("hello", 10000ms));
  Response sent = c.Post("/api/rooms/" + std::to_string(room_id) + "/messages", R"({"text":"over tcp"})");
  ASSERT_EQ(sent.status / 100, 2) << sent.Describe();
  const int64_t id = sent.json()["message"]["id"].num();
  ASSERT_TRUE(stream->WaitForId(id, 10000ms)) << stream->Body();
}

// Each class of bad --listen value: exit 2 and a line that names the flag
// and the reason (the parsing itself is unit-tested in
// tests/unit/schema/listen_address_test.cc).
TEST(TcpListenTest, BadListenValuesExitTwoWithAReason) {
  std::string error;
  auto dir = TempDir::Make(&error);
  ASSERT_TRUE(dir) << error;
  const std::string d = dir->path();
  struct Case {
    const char* value;
    const char* why;
  } cases[] = {{"127.0.0.1", "no :PORT"},
               {"127.0.0.1:99999", "the port must be"},
               {"localhost:9000", "not an IPv4 literal"},
               {"fcgi.sock", "no :PORT"}};
  int n = 0;
  for (const Case& c : cases) {
    for (const char* bin : {PARLEY_FCGI_BIN, PARLEY_EVENTS_BIN}) {
      Child::Options o;
      o.argv = {bin, "--db", d + "/parley.db", "--data", d, "--listen", c.value};
      if (std::string(bin) == PARLEY_EVENTS_BIN) o.argv.insert(o.argv.end(), {"--notify", d + "/notify.sock"});
      o.log_path = d + "/bad-" + std::to_string(n++) + ".log";
      EXPECT_EQ(RunToCompletion(o, 10000ms, &error), 2) << bin << " --listen " << c.value << ": " << error;
      const std::string out = ReadText(o.log_path);
      EXPECT_NE(out.find("--listen"), std::string::npos) << out;
      EXPECT_NE(out.find(c.why), std::string::npos) << bin << " --listen " << c.value << ": " << out;
    }
  }
}

}  // namespace
}  // namespace parley::e2e
