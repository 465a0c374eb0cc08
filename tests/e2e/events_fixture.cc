#include "events_fixture.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

namespace parley::e2e {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

std::string FindProgram(const std::vector<std::string>& candidates, const std::string& name) {
  for (const auto& p : candidates) {
    if (access(p.c_str(), X_OK) == 0) return p;
  }
  return name;  // Child::Spawn falls back to a PATH search
}

// ---- EventsTest ------------------------------------------------------------

StackOptions EventsTest::Options() const {
  StackOptions o;
  o.events_flags = EventsFlags();
  return o;
}

std::unique_ptr<SseStream> EventsTest::OpenStream(SseStream::Options options) {
  std::string error;
  auto s = SseStream::Open(stack().port(), std::move(options), &error);
  if (!s) throw SetupError("open stream: " + error);
  return s;
}

std::unique_ptr<SseStream> EventsTest::Subscribe(const std::string& token, const std::string& query,
                                                 const HeaderList& headers) {
  // A stream without a cursor starts at the daemon's head: let it catch up
  // with the test's set-up first, so that set-up does not arrive as news.
  if (!token.empty()) Head(token);
  SseStream::Options o;
  o.path = "/events/stream" + query;
  o.headers = headers;
  if (!token.empty()) o.headers.push_back("Authorization: Bearer " + token);
  auto s = OpenStream(std::move(o));
  if (!s->WaitForEvent("hello", 5s)) {
    throw SetupError("no hello on /events/stream" + query + " within 5 s: HTTP " + std::to_string(s->status()) +
                     " " + s->Body().substr(0, 300));
  }
  return s;
}

PollResult EventsTest::Poll(const std::string& token, const std::string& query) {
  PollResult p;
  Client c(stack().base_url(), Client::Cookies::kOff);
  if (!token.empty()) c.set_bearer(token);
  auto start = Clock::now();
  p.response = c.Get("/events/poll" + query);
  p.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  Json j = p.response.json();
  p.epoch = j["epoch"].str();
  p.next = j["next"].is_number() ? j["next"].num() : -1;
  p.more = j["more"].boolean();
  for (const Json& e : j["events"].items()) {
    PolledEvent pe;
    if (e.has("id")) pe.id = e["id"].num();
    pe.type = e["type"].str();
    pe.data = e["data"];
    p.events.push_back(std::move(pe));
  }
  p.well_formed = p.response.status == 200 && j["epoch"].is_string() && j["events"].is_array() &&
                  j["next"].is_number() && j["more"].is_bool();
  return p;
}

Json EventsTest::Stats() {
  Response r = NewClient(Client::Cookies::kOff)->Get("/events/stats");
  if (r.status != 200) throw SetupError("GET /events/stats: " + r.Describe());
  return r.json();
}

int64_t EventsTest::DbHead() {
  Response r = NewClient(Client::Cookies::kOff)->Get("/api/health");
  if (r.status != 200 || !r.json()["head"].is_number()) throw SetupError("GET /api/health: " + r.Describe());
  return r.json()["head"].num();
}

int64_t EventsTest::Head(const std::string& token) {
  const int64_t db = DbHead();
  auto deadline = Clock::now() + 3s;
  while (true) {
    PollResult p = Poll(token, "");
    if (!p.well_formed) throw SetupError("poll without since: " + p.response.Describe());
    if (p.next >= db) return p.next;
    if (Clock::now() >= deadline) {
      throw SetupError("the daemon's head " + std::to_string(p.next) + " is behind the database's " +
                       std::to_string(db) + " after 3 s");
    }
    std::this_thread::sleep_for(20ms);
  }
}

std::string EventsTest::Sql(const std::string& sql, const std::string& url) {
  const std::string out = stack().dir() + "/sql-" + std::to_string(++runs_) + ".out";
  Child::Options o;
  if (OnPostgres()) {
    // Unaligned, tuples only: "a|b" lines, as sqlite3 prints them.
    o.argv = {FindProgram({"/usr/bin/psql"}, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
              "-d", url.empty() ? stack().db() : url, "-c", sql};
  } else {
    // .timeout: the daemons hold the database; wait for their locks as they do.
    o.argv = {FindProgram({"/usr/bin/sqlite3", "/usr/local/bin/sqlite3"}, "sqlite3"), "-bail", "-cmd", ".timeout 5000", stack().db_path(), sql};
  }
  o.log_path = out;
  std::string error;
  int rc = RunToCompletion(o, 15s, &error);
  std::string text = ReadText(out);
  if (rc != 0) throw SetupError(std::string(OnPostgres() ? "psql" : "sqlite3") + " '" + sql + "' exited " + std::to_string(rc) + ": " + error + text);
  return text;
}

std::string EventsTest::Ctl(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::string error;
  std::optional<std::string> out = stack().Ctl(args, env, &error);
  if (!out) throw SetupError(error);
  return *out;
}

std::vector<std::pair<std::string, std::string>> EventsTest::BulkUsers(const std::string& prefix, int n) {
  Ctl({"create-users", prefix, std::to_string(n)});
  std::istringstream lines(Ctl({"tokens", prefix, std::to_string(n)}));
  std::vector<std::pair<std::string, std::string>> users;
  std::string name, token;
  while (lines >> name >> token) users.emplace_back(name, token);
  if (users.size() != static_cast<size_t>(n)) {
    throw SetupError("parleyctl tokens gave " + std::to_string(users.size()) + " of " + std::to_string(n));
  }
  return users;
}

void EventsTest::SendPaced(User& from, int64_t room, int n, std::chrono::milliseconds pace, const std::string& prefix,
                           std::vector<int64_t>* sent) {
  for (int i = 0; i < n; ++i) {
    sent->push_back(Send(from, room, prefix + std::to_string(sent->size()))["id"].num());
    std::this_thread::sleep_for(pace);
  }
}

void EventsTest::WaitHead(const std::string& token, int64_t id, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (true) {
    PollResult p = Poll(token, "");
    if (!p.well_formed) throw SetupError("poll without since: " + p.response.Describe());
    if (p.next >= id) return;
    if (Clock::now() >= deadline) {
      throw SetupError("the daemon's head is " + std::to_string(p.next) + ", not " + std::to_string(id) +
                       ", after " + std::to_string(timeout.count()) + " ms");
    }
    std::this_thread::sleep_for(20ms);
  }
}

User EventsTest::AsUser(const std::string& name, const std::string& token) {
  User u;
  u.name = name;
  u.token = token;
  u.http = NewClient(Client::Cookies::kOff);
  u->set_bearer(token);
  Response r = u->Get("/api/me");
  if (r.status != 200) throw SetupError("GET /api/me for " + name + ": " + r.Describe());
  u.id = r.json()["user"]["id"].num();
  return u;
}

// ---- Resumer ---------------------------------------------------------------

Resumer::~Resumer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Resumer::Start() {
  thread_ = std::thread([this] { Run(); });
}

namespace {

// Until `flag` is set by the stream's thread; false after `timeout`.
bool WaitSet(const std::atomic<bool>& flag, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!flag.load()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace

bool Resumer::WaitConnected(std::chrono::milliseconds timeout) { return WaitSet(connected_, timeout); }

bool Resumer::WaitStreaming(std::chrono::milliseconds timeout) { return WaitSet(streaming_, timeout); }

bool Resumer::Join() {
  if (thread_.joinable()) thread_.join();
  return reached_;
}

void Resumer::Run() {
  const auto deadline = Clock::now() + options_.deadline;
  std::mt19937 rng(options_.seed);
  std::optional<int64_t> cursor = options_.cursor;
  int attempt = 0;
  while (!stop_.load() && Clock::now() < deadline) {
    SseStream::Options so;
    so.headers.push_back("Authorization: Bearer " + options_.token);
    if (cursor) {
      const std::string n = std::to_string(*cursor);
      switch (attempt % 3) {
        case 0: so.headers.push_back("Last-Event-ID: " + n); break;
        case 1: so.path += "?last_event_id=" + n; break;
        default: so.path += "?lastEventId=" + n; break;
      }
    }
    ++attempt;
    std::string error;
    auto s = SseStream::Open(options_.port, so, &error);
    if (!s || !s->WaitForEvent("hello", 5s)) {
      ++refused;
      // 502: nginx found no daemon; 503: the daemon is stopping. Both say
      // "retry shortly"; anything else is a problem.
      if (s && s->status() != 200 && s->status() != 502 && s->status() != 503) {
        problems.push_back("stream answered " + std::to_string(s->status()) + ": " + s->Body().substr(0, 200));
      }
      std::this_thread::sleep_for(100ms);
      continue;
    }
    ++connections;
    connected_ = true;
    streaming_ = true;
    auto life_end = deadline;
    if (options_.min_life.count() > 0) {
      std::uniform_int_distribution<int64_t> life(options_.min_life.count(), options_.max_life.count());
      life_end = std::min(deadline, Clock::now() + std::chrono::milliseconds(life(rng)));
    }
    size_t seen = 0;
    bool retry_after_hello = false;
    while (true) {
      s->WaitUntil([&](const SseState& st) { return st.items().size() > seen || st.eof; }, 50ms);
      std::vector<SseItem> fresh;
      bool eof = false;
      s->With([&](const SseState& st) {
        fresh.assign(st.items().begin() + static_cast<long>(seen), st.items().end());
        seen = st.items().size();
        eof = st.eof;
      });
      for (SseItem& item : fresh) {
        if (item.kind == SseItem::Kind::kRetry) {
          retry_after_hello = true;
          continue;
        }
        if (item.kind != SseItem::Kind::kEvent) continue;
        SseEvent& e = item.event;
        if (e.type == "hello") {
          retry_after_hello = false;
          // A stream opened without a cursor starts at hello's head; a
          // connection dropped before any event arrived must resume from
          // there, not from the head at its next connect (which would skip
          // what was sent in between).
          if (!cursor && e.json()["head"].is_number()) cursor = e.json()["head"].num();
        } else if (e.id) {
          retry_after_hello = false;
          if (cursor && *e.id <= *cursor) {
            problems.push_back("id " + std::to_string(*e.id) + " after " + std::to_string(*cursor) +
                               " (connection " + std::to_string(connections) + ")");
          }
          cursor = e.id;
          events.push_back(std::move(e));
        } else if (e.type == "reset") {
          problems.push_back("reset on resume: " + e.data);
        } else {
          ephemeral.push_back(std::move(e));
        }
      }
      if (cursor && *cursor >= target_.load()) {
        reached_ = true;
        return;
      }
      if (eof) {
        ++server_ends;
        if (retry_after_hello) ++server_ends_with_retry;
        break;
      }
      const auto now = Clock::now();
      if (stop_.load() || now >= deadline || (now >= life_end && !hold_.load())) break;
    }
    streaming_ = false;
    s->Close();
  }
}

// ---- helpers ---------------------------------------------------------------

bool SawPresence(const SseState& st, int64_t user_id, bool online) {
  for (const SseEvent& e : st.Events()) {
    if (e.type == "presence" && e.json()["user"]["id"].num() == user_id && e.json()["online"].boolean() == online) {
      return true;
    }
  }
  return false;
}

int64_t RoomOf(const Json& data) {
  if (data["room_id"].is_number()) return data["room_id"].num();
  return data["room"]["id"].num();
}

std::string IdList(const std::vector<int64_t>& ids, size_t max) {
  std::string out;
  for (size_t i = 0; i < ids.size() && i < max; ++i) {
    if (i) out += ", ";
    out += std::to_string(ids[i]);
  }
  if (ids.size() > max) out += ", ... (" + std::to_string(ids.size()) + " in all)";
  return out;
}

std::string FirstDifference(const std::vector<int64_t>& got, const std::vector<int64_t>& want) {
  size_t n = std::min(got.size(), want.size());
  for (size_t i = 0; i < n; ++i) {
    if (got[i] != want[i]) {
      return "at index " + std::to_string(i) + ": got " + std::to_string(got[i]) + ", want " +
             std::to_string(want[i]) + " (got " + std::to_string(got.size()) + " ids, want " +
             std::to_string(want.size()) + ")";
    }
  }
  if (got.size() != want.size()) {
    return "got " + std::to_string(got.size()) + " ids, want " + std::to_string(want.size()) +
           (got.size() > want.size() ? "; first extra: " + std::to_string(got[n])
                                     : "; first missing: " + std::to_string(want[n]));
  }
  return "";
}

}  // namespace parley::e2e
