#include "chaos_traffic.h"

#include <algorithm>

#include "client.h"
#include "json.h"
#include "sse.h"

namespace parley::e2e {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

void Ledger::Ack(const std::string& client_id, int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  acked_[client_id] = id;
  cv_.notify_all();
}

void Ledger::Fail(const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.push_back(what);
  cv_.notify_all();
}

size_t Ledger::count() {
  std::lock_guard<std::mutex> lock(mu_);
  return acked_.size();
}

bool Ledger::WaitCount(size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return acked_.size() >= n || !failures_.empty(); }) &&
         failures_.empty();
}

std::map<std::string, int64_t> Ledger::acked() {
  std::lock_guard<std::mutex> lock(mu_);
  return acked_;
}

std::vector<std::string> Ledger::failures() {
  std::lock_guard<std::mutex> lock(mu_);
  return failures_;
}

void Seen::Add(int64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  ids_.push_back(id);
  max_ = std::max(max_, id);
}

void Seen::Fail(const std::string& what) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failure_.empty()) failure_ = what;
}

int64_t Seen::max() {
  std::lock_guard<std::mutex> lock(mu_);
  return max_;
}

std::vector<int64_t> Seen::ids() {
  std::lock_guard<std::mutex> lock(mu_);
  return ids_;
}

void Seen::Heard(std::string what) {
  std::lock_guard<std::mutex> lock(mu_);
  heard_ = std::move(what);
  heard_at_ = std::chrono::steady_clock::now();
}

std::string Seen::last_heard() {
  std::lock_guard<std::mutex> lock(mu_);
  if (heard_.empty()) return "nothing heard";
  const auto ago = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - heard_at_);
  return "last heard " + std::to_string(ago.count()) + " ms ago: " + heard_ + "; " + std::to_string(reconnects()) +
         " reconnections";
}

std::string Seen::failure() {
  std::lock_guard<std::mutex> lock(mu_);
  return failure_;
}

std::string Compare(const std::vector<int64_t>& seen, const std::vector<int64_t>& want) {
  if (seen == want) return "";
  std::map<int64_t, int> times;
  for (int64_t id : seen) ++times[id];
  size_t dups = 0, missing = 0, unknown = 0, disorder = 0;
  for (const auto& [id, n] : times) dups += n > 1 ? static_cast<size_t>(n - 1) : 0;
  for (int64_t id : want) missing += times.count(id) == 0;
  for (const auto& [id, n] : times) unknown += !std::binary_search(want.begin(), want.end(), id);
  for (size_t i = 1; i < seen.size(); ++i) disorder += seen[i] <= seen[i - 1];
  size_t at = 0;
  while (at < seen.size() && at < want.size() && seen[at] == want[at]) ++at;
  return "saw " + std::to_string(seen.size()) + " ids, want " + std::to_string(want.size()) + ": " +
         std::to_string(missing) + " missing, " + std::to_string(dups) + " duplicates, " +
         std::to_string(unknown) + " never acknowledged, " + std::to_string(disorder) +
         " out of order; first difference at index " + std::to_string(at) + " (saw " +
         (at < seen.size() ? std::to_string(seen[at]) : "-") + ", want " +
         (at < want.size() ? std::to_string(want[at]) : "-") + ")";
}

std::string Traffic::Start(int senders, int streams, int pollers) {
  const auto person = [&](const std::string& name) { return Person{name, cluster_.Register(name)}; };
  owner_ = person("owner");
  std::vector<Person> sending, subscribing;
  for (int i = 0; i < senders; ++i) sending.push_back(person("sender" + std::to_string(i)));
  for (int i = 0; i < streams + pollers; ++i) subscribing.push_back(person("sub" + std::to_string(i)));
  {
    Client c = cluster_.Api(owner_.token);
    Response r = c.Post("/api/rooms", R"({"name":"chaos","kind":"public"})");
    if (r.status != 201) return "a room: " + r.Describe();
    room_ = r.json()["room"]["id"].num();
  }
  for (const std::vector<Person>* group : {&sending, &subscribing}) {
    for (const Person& p : *group) {
      Client c = cluster_.Api(p.token);
      Response j = c.Post("/api/rooms/" + std::to_string(room_) + "/join");
      if (j.status / 100 != 2) return "join: " + j.Describe();
    }
  }
  // The subscribers' first cursor: a daemon's head, taken before the first
  // send. A daemon behind the database only makes it lower (a few join
  // events more), never past a message.
  int64_t cursor = -1;
  {
    Client c = cluster_.Api(subscribing[0].token);
    Response r = c.Get("/events/poll");
    if (r.status != 200 || !r.json()["next"].is_number()) return "the head: " + r.Describe();
    cursor = r.json()["next"].num();
  }
  StartSubscribers(subscribing, streams, cursor);
  StartSenders(sending);
  return "";
}

void Traffic::StartSubscribers(const std::vector<Person>& subscribers, int streams, int64_t cursor) {
  subscribers_ = subscribers;
  streams_ = streams;
  for (size_t i = 0; i < subscribers_.size(); ++i) seen_.push_back(std::make_unique<Seen>());
  for (size_t i = 0; i < subscribers_.size(); ++i) {
    const Person& p = subscribers_[i];
    Seen& s = *seen_[i];
    if (static_cast<int>(i) < streams) {
      subscriber_threads_.emplace_back([this, &p, cursor, &s] { Stream(p, cursor, s); });
    } else {
      subscriber_threads_.emplace_back([this, &p, cursor, &s] { Poll(p, cursor, s); });
    }
  }
}

void Traffic::StartSenders(const std::vector<Person>& senders) {
  senders_ = senders;
  for (size_t i = 0; i < senders_.size(); ++i) {
    sender_threads_.emplace_back([this, i] { Send(static_cast<int>(i), senders_[i]); });
  }
}

void Traffic::StopSenders() {
  stop_senders_ = true;
  for (auto& t : sender_threads_) t.join();
  sender_threads_.clear();
}

void Traffic::StopAll() {
  StopSenders();
  stop_subscribers_ = true;
  for (auto& t : subscriber_threads_) t.join();
  subscriber_threads_.clear();
}

int Traffic::reconnects() {
  int n = 0;
  for (auto& s : seen_) n += s->reconnects();
  return n;
}

// Sends until told to stop; each message is retried with its client_id
// until a 2xx answers it (the last one too, after the stop).
void Traffic::Send(int sender, const Person& p) {
  Client c = cluster_.Api(p.token);
  c.set_timeout_ms(options_.send_timeout_ms);
  const std::string path = "/api/rooms/" + std::to_string(room_) + "/messages";
  for (int k = 0; !stop_senders_; ++k) {
    const std::string client_id = "s" + std::to_string(sender) + "-" + std::to_string(k);
    const std::string body = R"({"text":"chaos )" + client_id + R"(","client_id":")" + client_id + R"("})";
    const auto give_up = Clock::now() + options_.recover_within;
    for (;;) {
      Response r = c.Post(path, body);
      if (r.status == 200 || r.status == 201) {
        Json m = r.json()["message"];
        if (m["client_id"].str() != client_id || !m["id"].is_number()) {
          ledger_.Fail(client_id + ": answered with another message: " + r.Describe());
          return;
        }
        ledger_.Ack(client_id, m["id"].num());
        break;
      }
      // 502/503/504 or no answer: a fault; anything else is a bug.
      if (r.status != 0 && r.status < 500) {
        ledger_.Fail(client_id + ": " + r.Describe());
        return;
      }
      if (Clock::now() > give_up) {
        ledger_.Fail(client_id + ": no 2xx within " +
                     std::to_string(options_.recover_within.count() / 1000) + " s of retries; last: " + r.Describe());
        return;
      }
      ledger_.Retried();
      std::this_thread::sleep_for(100ms);  // pace the retries
    }
    std::this_thread::sleep_for(options_.send_gap);
  }
}

// Long-polls through nginx from `cursor`, again after every error with the
// same cursor, until told to stop.
void Traffic::Poll(const Person& p, int64_t cursor, Seen& seen) {
  Client c = cluster_.Api(p.token);
  c.set_timeout_ms(options_.poll_client_timeout_ms);
  while (!stop_subscribers_) {
    Response r =
        c.Get("/events/poll?since=" + std::to_string(cursor) + "&timeout=" + std::to_string(options_.poll_timeout_s));
    seen.Heard("poll since=" + std::to_string(cursor) + ": " + r.Describe());
    if (r.status != 200) {
      if (r.status != 0 && r.status < 500) seen.Fail("poll: " + r.Describe());
      seen.Reconnected();
      std::this_thread::sleep_for(100ms);  // pace the reconnections
      continue;
    }
    Json j = r.json();
    for (const Json& e : j["events"].items()) {
      if (e["type"].str() == "reset") seen.Fail("poll: a reset at cursor " + std::to_string(cursor));
      if (e["type"].str() == "message" && OfRoom(e["data"]["room_id"].num())) seen.Add(e["id"].num());
    }
    if (!j["next"].is_number()) {
      seen.Fail("poll: no next: " + r.Describe());
      std::this_thread::sleep_for(100ms);
      continue;
    }
    cursor = j["next"].num();
  }
}

// Streams through nginx, reconnecting with Last-Event-ID after every end,
// error or (with stream_silence) silence, until told to stop.
void Traffic::Stream(const Person& p, int64_t cursor, Seen& seen) {
  while (!stop_subscribers_) {
    SseStream::Options o;
    o.headers = {"Authorization: Bearer " + p.token, "Last-Event-ID: " + std::to_string(cursor)};
    std::string error;
    std::unique_ptr<SseStream> s = SseStream::Open(cluster_.port(), o, &error);
    seen.Heard("stream opened at " + std::to_string(cursor) + (s ? "" : ": " + error));
    if (!s) {
      seen.Reconnected();
      std::this_thread::sleep_for(100ms);
      continue;
    }
    size_t used = 0;  // items of this stream already looked at
    bool ended = false;
    auto heard = Clock::now();  // the last time anything arrived
    while (!stop_subscribers_ && !ended) {
      s->WaitUntil([&](const SseState& st) { return st.eof || st.items().size() > used; }, 200ms);
      s->With([&](const SseState& st) {
        ended = st.eof;
        if (st.headers_done && st.status != 200) {
          if (st.status < 500) seen.Fail("stream: HTTP " + std::to_string(st.status));
          ended = true;
          return;
        }
        const auto& items = st.items();
        if (used < items.size()) heard = Clock::now();
        for (; used < items.size(); ++used) {
          if (items[used].kind != SseItem::Kind::kEvent) continue;
          const SseEvent& e = items[used].event;
          if (e.type == "reset") seen.Fail("stream: a reset at cursor " + std::to_string(cursor));
          if (e.id) cursor = *e.id;
          if (e.type == "message" && e.id && OfRoom(e.json()["room_id"].num())) seen.Add(*e.id);
        }
      });
      if (options_.stream_silence.count() > 0 && Clock::now() - heard > options_.stream_silence) ended = true;
    }
    if (ended) {
      seen.Heard("stream ended at " + std::to_string(cursor) + " after " + std::to_string(used) + " items");
      s->Close();
      seen.Reconnected();
      std::this_thread::sleep_for(100ms);
    }
  }
}

std::string Traffic::Verify(std::chrono::milliseconds catch_up) {
  StopSenders();
  std::string out;
  for (const std::string& f : ledger_.failures()) out += "send: " + f + "\n";
  if (ledger_.count() == 0) out += "nothing was acknowledged\n";
  if (!out.empty()) return out;
  if (std::string stored = CheckStored(); !stored.empty()) out += "history: " + stored + "\n";
  return out + CheckDelivered(catch_up);
}

std::string Traffic::CheckStored() {
  const std::map<std::string, int64_t> acked = ledger_.acked();
  std::map<std::string, std::vector<int64_t>> stored;  // client_id -> ids
  Client c = cluster_.Api(owner_.token);
  int64_t after = 0;
  for (bool more = true; more;) {
    const std::string page =
        "/api/rooms/" + std::to_string(room_) + "/messages?after=" + std::to_string(after) + "&limit=200";
    // A connection idle since the last fault may answer its first
    // statement 503 (try again), as a sender's would.
    Response r = c.Get(page);
    for (int retry = 0; r.status >= 500 && retry < 20; ++retry) {
      std::this_thread::sleep_for(100ms);
      r = c.Get(page);
    }
    if (r.status != 200) return "history: " + r.Describe() + "\n" + cluster_.LogTail();
    Json j = r.json();
    for (const Json& m : j["messages"].items()) {
      stored[m["client_id"].str()].push_back(m["id"].num());
      after = std::max(after, m["id"].num());
    }
    more = j["has_more"].boolean() && j["messages"].size() > 0;
  }
  size_t duplicates = 0, missing = 0, wrong_id = 0, never_sent = 0;
  for (const auto& [client_id, ids] : stored) {
    duplicates += ids.size() - 1;
    never_sent += acked.count(client_id) == 0;
  }
  for (const auto& [client_id, id] : acked) {
    auto it = stored.find(client_id);
    if (it == stored.end()) {
      ++missing;
    } else if (it->second.front() != id) {
      ++wrong_id;
    }
  }
  if (duplicates + missing + wrong_id + never_sent == 0) return "";
  return std::to_string(acked.size()) + " acknowledged, " + std::to_string(stored.size()) +
         " client ids stored: " + std::to_string(duplicates) + " duplicates, " + std::to_string(missing) +
         " missing, " + std::to_string(wrong_id) + " under another id, " + std::to_string(never_sent) + " never sent";
}

std::string Traffic::CheckDelivered(std::chrono::milliseconds catch_up) {
  std::vector<int64_t> want;
  for (const auto& [client_id, id] : ledger_.acked()) want.push_back(id);
  std::sort(want.begin(), want.end());
  if (want.empty()) return "nothing was acknowledged";
  const auto deadline = Clock::now() + catch_up;
  for (auto& s : seen_) {
    while (s->max() < want.back() && s->failure().empty() && Clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
    }
  }
  StopAll();
  std::string out;
  for (size_t i = 0; i < seen_.size(); ++i) {
    Seen& s = *seen_[i];
    const std::string who = (static_cast<int>(i) < streams_ ? "stream " : "poller ") + std::to_string(i);
    if (!s.failure().empty()) out += who + ": " + s.failure() + "\n";
    if (std::string diff = Compare(s.ids(), want); !diff.empty()) {
      out += who + ": " + diff + "  " + s.last_heard() + "\n";
    }
  }
  if (!out.empty()) out += cluster_.DaemonStats() + cluster_.LogTail();
  return out;
}

}  // namespace parley::e2e
