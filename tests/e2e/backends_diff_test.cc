// The two storage backends against each other (DESIGN section 7: "Both
// backends sit behind one storage interface"): one seeded random sequence of
// REST calls runs in lockstep against a stack on SQLite and a stack on
// PostgreSQL, each call to the one and then the same call to the other, and
// the two answers must agree: status, error code and body. The first
// disagreement fails the seed with the call and both answers.
//
// Design note.
// - What may differ, and is normalised (Canon): times (`ts`, `*_ts`),
//   session tokens and the epoch (random, DESIGN section 2); and the ids of
//   rooms and users. Those come from identity
//   columns on PostgreSQL (schema/pg/migrations/002_schema.sql: nobody tails
//   them), where an INSERT ... ON CONFLICT DO NOTHING that inserts nothing (a
//   taken room name or username, a DM that exists) still uses an id up, and
//   SQLite's rowid does not. So the PostgreSQL stack's room and user ids are
//   mapped to the SQLite stack's, each pair learnt when one call creates the
//   row on both; an id without a pair is shown as "pg:N" and so differs.
//   Event ids (message ids, read markers, cursors, last_event_id) are
//   gapless on both by design (sections 2 and 7) and are compared as they
//   are.
// - The model of the world (users, rooms, messages) is only there to make
//   most calls meaningful: a member sending in its room, an owner muting one
//   of its members, a professor answering a question. It never decides what
//   is right (the two stacks do, between them) and it follows the SQLite
//   stack's answers.
// - About a third of the calls are wrong on purpose: ids that do not exist,
//   rooms the user is not in, other users' messages, limits out of range,
//   empty, oversized or mistyped fields, bodies that are not JSON.
// - A 5xx fails too, even when both stacks give it: none of these calls may
//   answer one.
// - Quotas off (PARLEY_LIMITS=off, StackOptions' default): the write quotas
//   are token buckets that refill with time, so two stacks a few ms apart
//   could answer one call 201 and 429; their rules are quota_test's
//   business, on both backends. Mutes end a day ahead or long ago, never
//   near the time of a call.
// - Uploads' ids are random on both backends by design
//   (schema/store_rules.h): mapped the same way, learnt from POST
//   /api/uploads.
// - Logins, password changes and the admin's (de)activations are covered
//   below the login throttle (see Account): a blocked login's Retry-After
//   counts seconds on each stack's clock. Not covered: live event streams
//   (the log is compared through long-poll at the end of each seed).
//
// Seeds: PARLEY_DIFF_SEEDS=7,8 runs those (default: 1, 2 and one from the
// clock, each printed); PARLEY_DIFF_OPS calls per seed (600);
// PARLEY_DIFF_TRACE=1 prints every call and both statuses.
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fixture.h"
#include "raw_http.h"  // Lower

namespace parley::e2e {
namespace {

constexpr int kSqlite = 0;  // the side whose answers the model follows
constexpr int kPg = 1;
constexpr const char* kSideName[2] = {"SQLite", "PostgreSQL"};

using Ids = std::array<int64_t, 2>;  // one row's id on each side
using Texts = std::array<std::string, 2>;

// Far above anything a run makes: "does not exist" on both sides.
constexpr int64_t kMissingBase = 900000;
constexpr int64_t kDayMs = 24 * 3600 * 1000;

// PostgreSQL's ids of one table to SQLite's, learnt pair by pair.
class IdMap {
 public:
  // A pair from one call that made the row on both sides; a pair that
  // contradicts one already learnt is ignored (the answers then differ).
  void Learn(int64_t sqlite, int64_t pg) {
    if (sqlite <= 0 || pg <= 0 || to_sqlite_.count(pg) != 0 || taken_.count(sqlite) != 0) return;
    to_sqlite_[pg] = sqlite;
    taken_.insert(sqlite);
  }
  std::string ToSqlite(int64_t pg) const {
    auto it = to_sqlite_.find(pg);
    return it == to_sqlite_.end() ? "pg:" + std::to_string(pg) : std::to_string(it->second);
  }

 private:
  std::map<int64_t, int64_t> to_sqlite_;
  std::set<int64_t> taken_;
};

// The PostgreSQL stack's ids of what has ids of its own on each backend.
// Uploads' are random on both by design (schema/store_rules.h).
struct IdMaps {
  IdMap rooms, users, uploads;
};

// A body as compared: compact JSON in document order with times, tokens and
// the epoch blanked, and on the PostgreSQL side room, user and upload ids
// as SQLite's.
class Canon {
 public:
  // pg null: the SQLite side, ids as they are.
  explicit Canon(const IdMaps* pg) : pg_(pg) {}

  std::string Of(const std::string& body) const {
    Json j = Json::Parse(body);
    if (!j.valid()) return "(not JSON) " + body;
    std::string out;
    Write(j, out);
    return out;
  }

 private:
  enum class Holder { kOther, kRoom, kUser, kUpload };  // what an object's "id" names

  std::string Id(const IdMap IdMaps::*map, const Json& v) const {
    return pg_ ? (pg_->*map).ToSqlite(v.num()) : std::to_string(v.num());
  }

  std::string IdList(const IdMap IdMaps::*map, const Json& list) const {
    std::string out = "[";
    for (const Json& v : list.items()) {
      if (out.size() > 1) out += ',';
      out += Id(map, v);
    }
    return out + "]";
  }

  // A member's value, with what is known of its key and its object.
  std::string Member(const std::string& key, const Json& v, Holder holder) const {
    if (v.is_number() && (key == "ts" || key.ends_with("_ts"))) return "\"<time>\"";
    if (v.is_string() && key == "token") return "\"<token>\"";
    // Random at the database's creation (DESIGN section 2).
    if (v.is_string() && key == "epoch") return "\"<epoch>\"";
    if (v.is_number() && (key == "room_id" || (key == "id" && holder == Holder::kRoom))) return Id(&IdMaps::rooms, v);
    if (v.is_number() && key == "id" && holder == Holder::kUser) return Id(&IdMaps::users, v);
    if (v.is_number() && key == "id" && holder == Holder::kUpload) return Id(&IdMaps::uploads, v);
    if (v.is_array() && key == "mentions") return IdList(&IdMaps::users, v);
    if (v.is_array() && key == "left") return IdList(&IdMaps::rooms, v);
    // "/api/uploads/ID", and the room list's cursor "LAST_EVENT_ID:ROOM_ID".
    const std::string s = v.str();
    if (pg_ && v.is_string() && key == "url" && holder == Holder::kUpload && s.rfind('/') != std::string::npos) {
      const size_t slash = s.rfind('/');
      return Quote(s.substr(0, slash + 1) + pg_->uploads.ToSqlite(std::atoll(s.c_str() + slash + 1)));
    }
    if (pg_ && v.is_string() && key == "next" && s.find(':') != std::string::npos) {
      const size_t colon = s.find(':');
      return Quote(s.substr(0, colon + 1) + pg_->rooms.ToSqlite(std::atoll(s.c_str() + colon + 1)));
    }
    std::string out;
    Write(v, out, key);
    return out;
  }

  // `key`: the member whose value j is (an array's elements get the
  // array's key, "" at the top).
  void Write(const Json& j, std::string& out, const std::string& key = "") const {
    if (j.is_object()) {
      // A room object has last_event_id and kind, or is a room event's
      // "room"; a user object, id and username (User, the peer of a DM, an
      // account); an upload is "upload" or one of a message's "attachments".
      Holder holder = Holder::kOther;
      if ((j.has("last_event_id") && j.has("kind")) || key == "room") {
        holder = Holder::kRoom;
      } else if (j.has("id") && j.has("username")) {
        holder = Holder::kUser;
      } else if (key == "upload" || key == "attachments") {
        holder = Holder::kUpload;
      }
      out += '{';
      bool first = true;
      for (const auto& [name, value] : j.members()) {
        if (!first) out += ',';
        first = false;
        out += Quote(name) + ":" + Member(name, value, holder);
      }
      out += '}';
    } else if (j.is_array()) {
      out += '[';
      bool first = true;
      for (const Json& v : j.items()) {
        if (!first) out += ',';
        first = false;
        Write(v, out, key);
      }
      out += ']';
    } else if (j.is_string()) {
      out += Quote(j.str());
    } else if (j.is_number()) {
      // Every number the API writes is an integer (schema/json.h); cJSON
      // would print one past 15 digits (an upload id) as 3.9e+15.
      out += std::to_string(j.num());
    } else {
      out += j.Dump();  // true, false, null
    }
  }

  const IdMaps* pg_;
};

// One call, as sent to each side: the paths and bodies differ only by the
// sides' room ids.
struct Call {
  std::string op;  // the generator's name for it
  int user = -1;   // index of the caller; -1: no credentials
  std::string method;
  Texts path;
  Texts body;
  HeaderList headers;
};

// The world as the generator sees it.
struct Person {
  std::string name;
  std::array<std::unique_ptr<Client>, 2> http;  // Bearer, each side's token
  Texts cursor;                                 // the last room list's "next", each side's
  std::string password = kPassword;
  bool deactivated = false;
};

struct RoomModel {
  Ids id{};
  std::string name;
  std::string kind;  // public, private, qa, dm
  int owner = -1;
  std::set<int> members, moderators, professors, banned;
};

struct MessageModel {
  Ids id{};
  size_t room = 0;
  int author = -1;
  std::string kind;  // message, question, answer
  bool deleted = false;
};

struct UploadModel {
  Ids id{};
  int owner = -1;
};

struct Tally {
  int calls = 0;
  int ok = 0;  // 2xx
};

class Differ {
 public:
  Differ(uint64_t seed, Stack& sqlite, Stack& pg)
      : seed_(seed), rng_(seed), stacks_{&sqlite, &pg}, canon_{Canon(nullptr), Canon(&pg_ids_)} {
    for (int s = 0; s < 2; ++s) anon_[s] = std::make_unique<Client>(stacks_[s]->base_url(), Client::Cookies::kOff);
    using namespace std::chrono;
    mute_until_ = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count() + kDayMs;
  }

  // Registers the first users, then makes `ops` random calls. False at the
  // first disagreement or 5xx (a test failure has then been added).
  bool Run(int ops) {
    // Mixed case and punctuation: the backends sort names by different
    // SQL (NOCASE against lower()).
    for (const char* name : {"ada", "Bob", "carol_x", "Dan.e", "eve-9", "fay"}) {
      if (!Register(name, true)) return false;
    }
    if (!LearnGeneral() || !MakeAdmin(0)) return false;
    using Op = void (Differ::*)();
    static constexpr std::pair<int, Op> kOps[] = {
        {17, &Differ::Send},        {4, &Differ::Ask},         {5, &Differ::Answer},   {6, &Differ::Edit},
        {4, &Differ::Delete},       {6, &Differ::React},       {4, &Differ::CreateRoom}, {5, &Differ::Join},
        {3, &Differ::Leave},        {4, &Differ::Invite},      {3, &Differ::Members},  {3, &Differ::SetRole},
        {4, &Differ::UpdateMember}, {2, &Differ::Kick},        {2, &Differ::Ban},      {2, &Differ::Unban},
        {1, &Differ::Bans},         {5, &Differ::Read},        {7, &Differ::History},  {3, &Differ::Dm},
        {2, &Differ::Blocks},       {5, &Differ::RoomList},    {1, &Differ::Directory}, {3, &Differ::Search},
        {1, &Differ::Notifications}, {1, &Differ::Typing},     {1, &Differ::MeAndUsers}, {1, &Differ::NewUser},
        {2, &Differ::Malformed},    {2, &Differ::Upload},      {1, &Differ::Download}, {3, &Differ::Account},
        {2, &Differ::Admin},
    };
    int total = 0;
    for (const auto& [w, op] : kOps) total += w;
    for (int i = 0; i < ops && !failed_; ++i) {
      int pick = static_cast<int>(R(static_cast<size_t>(total)));
      for (const auto& [w, op] : kOps) {
        if (pick < w) {
          (this->*op)();
          break;
        }
        pick -= w;
      }
    }
    if (!failed_) ComparePolls();
    return !failed_;
  }

  std::string Summary() const {
    std::string out = "seed " + std::to_string(seed_) + ": " + std::to_string(calls_) + " calls, " +
                      std::to_string(wrong_) + " wrong on purpose; per op (calls/2xx):";
    for (const auto& [op, t] : tally_) out += " " + op + " " + std::to_string(t.calls) + "/" + std::to_string(t.ok);
    return out;
  }

 private:
  // ---- randomness and picks ----------------------------------------------

  size_t R(size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng_() % n); }
  bool Chance(int percent) { return R(100) < static_cast<size_t>(percent); }
  // One call in three is wrong on purpose.
  bool Wrong() {
    const bool w = R(3) == 0;
    if (w) ++wrong_;
    return w;
  }
  template <typename T>
  const T& OneOf(const std::vector<T>& v) { return v[R(v.size())]; }

  int AnyUser() { return static_cast<int>(R(people_.size())); }
  int Other(int u) {
    const int o = static_cast<int>(R(people_.size() - 1));
    return o >= u ? o + 1 : o;
  }
  size_t AnyRoom() { return R(rooms_.size()); }
  static int Among(const std::set<int>& s, size_t k) {
    auto it = s.begin();
    std::advance(it, static_cast<long>(k));
    return *it;
  }
  // A member of the room most of the time (if it has any), anyone otherwise.
  int Member(const RoomModel& r) {
    if (r.members.empty() || Chance(15)) return AnyUser();
    return Among(r.members, R(r.members.size()));
  }
  int NonMember(const RoomModel& r) {
    for (int tries = 0; tries < 8; ++tries) {
      const int u = AnyUser();
      if (r.members.count(u) == 0) return u;
    }
    return AnyUser();
  }
  // Who may moderate the room: its owner, a moderator, now and then anyone.
  int Moderator(const RoomModel& r) {
    if (Chance(20) || r.owner < 0) return Member(r);
    if (!r.moderators.empty() && Chance(40)) return Among(r.moderators, R(r.moderators.size()));
    return r.owner;
  }
  // A member other than `u`, if the room has one.
  int MemberBut(const RoomModel& r, int u) {
    for (int tries = 0; tries < 8; ++tries) {
      const int m = Member(r);
      if (m != u) return m;
    }
    return Other(u);
  }
  // A room that passes `keep` most of the time, when there is one.
  size_t RoomWhere(const std::function<bool(const RoomModel&)>& keep) {
    for (int tries = 0; tries < 6; ++tries) {
      const size_t ri = AnyRoom();
      if (keep(rooms_[ri])) return ri;
    }
    return AnyRoom();
  }
  size_t RoomOfKind(const std::string& kind) {
    return RoomWhere([&kind](const RoomModel& r) { return r.kind == kind; });
  }
  // A room with an owner: not a DM, not general.
  size_t ModeratedRoom() {
    return RoomWhere([](const RoomModel& r) { return r.owner >= 0; });
  }
  // Now and then the edges a path id may take: 0 and 18 digits (fcgi/input.cc ParseId).
  Ids Missing() {
    const size_t edge = R(10);
    const int64_t id = edge == 0 ? 0 : edge == 1 ? 999999999999999999 : kMissingBase + static_cast<int64_t>(R(100000));
    return {id, id};
  }
  // A message that passes `keep` (recent ones more often), if there is one.
  std::optional<size_t> AnyMessage(const std::function<bool(const MessageModel&)>& keep = {}) {
    std::vector<size_t> found;
    const size_t from = messages_.size() > 300 ? messages_.size() - 300 : 0;
    for (size_t i = from; i < messages_.size(); ++i) {
      if (!keep || keep(messages_[i])) found.push_back(i);
    }
    if (found.empty()) return std::nullopt;
    return found[R(found.size())];
  }
  std::optional<size_t> MessageIn(size_t room) {
    return AnyMessage([room](const MessageModel& m) { return m.room == room; });
  }

  std::string Word() {
    static const std::vector<std::string> kWords = {"alpha", "bravo", "charlie", "delta", "echo",  "foxtrot",
                                                    "golf",  "hotel", "india",   "juliet", "kilo", "lima"};
    return OneOf(kWords);
  }
  // 1-6 words, now and then a mention, punctuation or letters beyond ASCII.
  // Not longer: a text of more than 16 words is a known difference, its
  // search snippet a window that FTS5's snippet() and PostgreSQL's
  // ts_headline choose each its own way (README, "PostgreSQL and several
  // hosts").
  std::string Text() {
    static const std::vector<std::string> kExtras = {"café", "naïve", "日本語", "✓", "hello,", "world.", "\"quoted\"",
                                                     "tab\there", "two\nlines", "<b>x</b>", "Дом", "ΩΜΕΓΑ"};
    // Tokens of PostgreSQL's parser (host, e-mail, URL, path, a date of
    // signed numbers) that were one word there before its migration 015.
    static const std::vector<std::string> kTokens = {"example.com/docs", "ann@host.org", "2026-12-06"};
    std::string t;
    const size_t n = 1 + R(6);
    for (size_t i = 0; i < n; ++i) {
      if (!t.empty()) t += ' ';
      if (Chance(10)) {
        t += "@" + people_[static_cast<size_t>(AnyUser())].name;
      } else if (Chance(15)) {
        t += OneOf(kExtras);
      } else if (Chance(10)) {
        t += OneOf(kTokens);
      } else {
        t += Word();
      }
    }
    return t;
  }
  std::string ClientId(int user) {
    auto& mine = client_ids_[user];
    if (!mine.empty() && Chance(25)) return OneOf(mine);
    mine.push_back("c" + std::to_string(++counter_));
    return mine.back();
  }
  static std::string SwapCase(std::string s) {
    for (char& c : s) {
      if (c >= 'a' && c <= 'z') {
        c = static_cast<char>(c - 'a' + 'A');
      } else if (c >= 'A' && c <= 'Z') {
        c = static_cast<char>(c - 'A' + 'a');
      }
    }
    return s;
  }
  const std::string& Name(int u) const { return people_[static_cast<size_t>(u)].name; }

  // ---- calls -----------------------------------------------------------

  static Texts Same(const std::string& s) { return {s, s}; }
  static Texts Both(const std::function<std::string(int)>& f) { return {f(kSqlite), f(kPg)}; }

  Call Make(const std::string& op, int user, const std::string& method, Texts path, Texts body = {}) {
    Call c;
    c.op = op;
    c.user = user;
    c.method = method;
    c.path = std::move(path);
    c.body = std::move(body);
    return c;
  }

  // Sends the call to both sides, learns the ids it made, and compares the
  // answers. Returns both answers (on a disagreement too; failed_ is set).
  std::array<Response, 2> Do(const Call& c) {
    std::array<Response, 2> r;
    for (int s = 0; s < 2; ++s) {
      Client& http = c.user < 0 ? *anon_[s] : *people_[static_cast<size_t>(c.user)].http[s];
      r[s] = http.Request(c.method, c.path[s], c.body[s], c.headers);
    }
    const int index = calls_++;
    Tally& t = tally_[c.op];
    ++t.calls;
    if (r[kSqlite].status / 100 == 2) ++t.ok;
    LearnIds(r);
    const std::string a = canon_[kSqlite].Of(r[kSqlite].body);
    const std::string b = canon_[kPg].Of(r[kPg].body);
    if (std::getenv("PARLEY_DIFF_TRACE") != nullptr) {
      std::printf("#%d %s by %d: %s %s -> %ld %s %zu bytes / %ld %s %zu bytes\n", index, c.op.c_str(), c.user,
                  c.method.c_str(), c.path[kSqlite].c_str(), r[kSqlite].status, r[kSqlite].ErrorCode().c_str(),
                  r[kSqlite].body.size(), r[kPg].status, r[kPg].ErrorCode().c_str(), r[kPg].body.size());
    }
    const bool same = r[kSqlite].status == r[kPg].status && a == b;
    const bool server_error = r[kSqlite].status >= 500 || r[kPg].status >= 500 || r[kSqlite].status == 0;
    if (!same || server_error) {
      failed_ = true;
      ADD_FAILURE() << (same ? "both stacks answered 5xx" : "the backends disagree") << " at seed " << seed_
                    << ", call #" << index << " (" << c.op << ") by "
                    << (c.user < 0 ? std::string("nobody") : Name(c.user)) << "\n"
                    << Describe(c) << "SQLite:     " << r[kSqlite].Describe() << "\nPostgreSQL: "
                    << r[kPg].Describe() << "\ncompared as\nSQLite:     " << a << "\nPostgreSQL: " << b
                    << "\nreproduce: PARLEY_DIFF_SEEDS=" << seed_;
    }
    return r;
  }

  // One line: escaped as a JSON string, cut at 300 bytes.
  static std::string Clip(const std::string& s) { return Quote(s.size() > 300 ? s.substr(0, 300) + "..." : s); }
  static std::string Describe(const Call& c) {
    std::string out = "request:    " + c.method + " " + c.path[kSqlite] + " " + Clip(c.body[kSqlite]) + "\n";
    if (c.path[kPg] != c.path[kSqlite] || c.body[kPg] != c.body[kSqlite]) {
      out += "on PostgreSQL: " + c.method + " " + c.path[kPg] + " " + Clip(c.body[kPg]) + "\n";
    }
    for (const std::string& h : c.headers) out += "  " + Clip(h) + "\n";
    return out;
  }

  // A room or user made by the call on both sides: its two ids are a pair.
  void LearnIds(const std::array<Response, 2>& r) {
    if (r[kSqlite].status / 100 != 2 || r[kPg].status / 100 != 2) return;
    const Json a = r[kSqlite].json();
    const Json b = r[kPg].json();
    if (a["room"].has("id")) pg_ids_.rooms.Learn(a["room"]["id"].num(), b["room"]["id"].num());
    if (a.has("token") && a["user"].has("id")) pg_ids_.users.Learn(a["user"]["id"].num(), b["user"]["id"].num());
    if (a["upload"].has("id")) pg_ids_.uploads.Learn(a["upload"]["id"].num(), b["upload"]["id"].num());
  }

  static bool Ok(const std::array<Response, 2>& r, long status = 0) {
    return status == 0 ? r[kSqlite].status / 100 == 2 : r[kSqlite].status == status;
  }

  // The message both sides stored, remembered under both ids.
  void Remember(const std::array<Response, 2>& r, size_t room, int author) {
    MessageModel m;
    m.id = {r[kSqlite].json()["message"]["id"].num(), r[kPg].json()["message"]["id"].num()};
    m.room = room;
    m.author = author;
    m.kind = r[kSqlite].json()["message"]["kind"].str();
    for (const MessageModel& known : messages_) {
      if (known.id == m.id) return;  // a client_id's replay
    }
    messages_.push_back(m);
  }

  // ---- setup -----------------------------------------------------------

  bool Register(const std::string& name, bool must) {
    Call c = Make("register", -1, "POST", Same("/api/register"),
                  Same("{\"username\":" + Quote(name) + ",\"password\":" + Quote(kPassword) + "}"));
    auto r = Do(c);
    if (r[kSqlite].status != 201 || r[kPg].status != 201) {
      if (must && !failed_) ADD_FAILURE() << "register " << name << ": " << r[kSqlite].Describe();
      return false;
    }
    Person p;
    p.name = name;
    for (int s = 0; s < 2; ++s) {
      p.http[s] = std::make_unique<Client>(stacks_[s]->base_url(), Client::Cookies::kOff);
      p.http[s]->set_bearer(r[s].json()["token"].str());
    }
    people_.push_back(std::move(p));
    // Every new user lands in general (DESIGN section 3), room 0 here.
    if (!rooms_.empty()) rooms_[0].members.insert(static_cast<int>(people_.size() - 1));
    return true;
  }

  bool LearnGeneral() {
    Ids general{};
    for (int s = 0; s < 2; ++s) {
      for (const Json& j : people_[0].http[s]->Get("/api/rooms").json()["rooms"].items()) {
        if (j["name"].str() == "general") general[s] = j["id"].num();
      }
    }
    if (general[kSqlite] <= 0 || general[kPg] <= 0) {
      ADD_FAILURE() << "no general room on one of the stacks";
      return false;
    }
    pg_ids_.rooms.Learn(general[kSqlite], general[kPg]);
    RoomModel g;
    g.id = general;
    g.name = "general";
    g.kind = "public";
    for (size_t u = 0; u < people_.size(); ++u) g.members.insert(static_cast<int>(u));
    rooms_.push_back(g);
    return true;
  }

  // `parleyctl admin` on both stacks: people_[u] is a site admin.
  bool MakeAdmin(int u) {
    for (int s = 0; s < 2; ++s) {
      std::string error;
      if (!stacks_[s]->Ctl({"admin", Name(u)}, {}, &error)) {
        ADD_FAILURE() << kSideName[s] << ": " << error;
        return false;
      }
    }
    return true;
  }

  // ---- the event log -------------------------------------------------------

  // Each daemon's head once it has read the whole log (GET /events/stats:
  // lag 0), or 0 after 5 s.
  int64_t SettledHead(int side) {
    for (int tries = 0; tries < 100; ++tries) {
      const Json stats = anon_[side]->Get("/events/stats").json();
      if (stats["head"].num() > 0 && stats["lag"].is_number() && stats["lag"].num() == 0) return stats["head"].num();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return 0;
  }

  // Every user's events from the start of the log, page by page through
  // long-poll: what each backend stored, replayed as the daemon serves it
  // (deleted messages as tombstones, edited ones as they now read). Event
  // ids are gapless on both, so the two heads and every cursor are equal.
  void ComparePolls() {
    const Ids head = {SettledHead(kSqlite), SettledHead(kPg)};
    if (head[kSqlite] == 0 || head[kSqlite] != head[kPg]) {
      failed_ = true;
      ADD_FAILURE() << "seed " << seed_ << ": the event log's heads differ or do not settle: SQLite "
                    << head[kSqlite] << ", PostgreSQL " << head[kPg];
      return;
    }
    for (size_t u = 0; u < people_.size() && !failed_; ++u) {
      int64_t since = 0;
      // A page holds up to 500 events; a run appends far fewer than 100 pages.
      for (int page = 0; page < 100 && !failed_; ++page) {
        auto r = Do(Make("poll", static_cast<int>(u), "GET",
                         Same("/events/poll?since=" + std::to_string(since) + "&timeout=0")));
        const Json body = r[kSqlite].json();
        if (r[kSqlite].status != 200 || !body["more"].boolean()) break;
        since = body["next"].num();
      }
    }
  }

  // ---- the operations ----------------------------------------------------

  void Send() { SendIn(AnyRoom()); }
  // In a Q&A room a student's message is a question (and a professor's is refused).
  void Ask() { SendIn(RoomOfKind("qa")); }

  void SendIn(const size_t ri) {
    const bool wrong = Wrong();
    int u = Member(rooms_[ri]);
    Ids room = rooms_[ri].id;
    std::string text = Quote(Text());
    std::optional<std::string> cid;
    if (Chance(50)) cid = Quote(ClientId(u));
    std::optional<Ids> reply;
    if (Chance(20)) {
      if (auto m = MessageIn(ri)) reply = messages_[*m].id;
    }
    // Files: the user's own uploads; the text may then be empty.
    std::vector<Ids> files;
    if (Chance(12)) {
      for (const UploadModel& up : uploads_) {
        if (up.owner == u && files.size() < 2 && Chance(50)) files.push_back(up.id);
      }
      if (!files.empty() && Chance(30)) text = "\"\"";
    }
    std::optional<std::string> raw_reply;  // reply_to as given, not an id
    std::optional<std::string> raw_body;
    if (wrong) {
      switch (R(12)) {
        case 11: files.push_back(uploads_.empty() || Chance(30) ? Missing() : uploads_[R(uploads_.size())].id); break;
        case 0: room = Missing(); break;
        case 1: u = NonMember(rooms_[ri]); break;
        case 2: text = "\"\""; break;
        case 3: text = "\" \\n\\t \""; break;
        case 4: text = Quote(std::string(4001, 'x')); break;
        case 5: text = "42"; break;
        case 6: cid = Quote(std::string(65, 'c')); break;
        case 7: cid = "\"two words\""; break;
        case 8: {
          auto m = AnyMessage([ri](const MessageModel& x) { return x.room != ri; });
          reply = m ? messages_[*m].id : Missing();
          break;
        }
        case 9: raw_reply = Chance(50) ? "\"5\"" : "0"; break;
        default: raw_body = "{\"text\":" + text; break;  // not closed
      }
    }
    Call c = Make("send", u, "POST", Both([&](int s) { return RoomPath(room[s], "/messages"); }));
    c.body = Both([&](int s) {
      if (raw_body) return *raw_body;
      std::string b = "{\"text\":" + text;
      if (cid) b += ",\"client_id\":" + *cid;
      if (reply) b += ",\"reply_to\":" + std::to_string((*reply)[s]);
      if (!files.empty()) {
        b += ",\"attachments\":[";
        for (size_t i = 0; i < files.size(); ++i) b += (i > 0 ? "," : "") + std::to_string(files[i][s]);
        b += "]";
      }
      if (raw_reply) b += ",\"reply_to\":" + *raw_reply;
      return b + "}";
    });
    auto r = Do(c);
    if (Ok(r) && !failed_) Remember(r, ri, u);
  }

  // Q&A: a professor answers a question; the first answer wins.
  void Answer() {
    const bool wrong = Wrong();
    // Most of the time a question that a professor of its room could answer.
    auto q = AnyMessage([this](const MessageModel& m) {
      return m.kind == "question" && !m.deleted && !rooms_[m.room].professors.empty();
    });
    if (!q || Chance(10)) q = AnyMessage([](const MessageModel& m) { return m.kind == "question"; });
    if (!q) q = AnyMessage();
    if (!q) return Send();
    const size_t ri = messages_[*q].room;
    const RoomModel& room = rooms_[ri];
    Ids target = messages_[*q].id;
    int u = !room.professors.empty() && Chance(85) ? Among(room.professors, R(room.professors.size())) : Member(room);
    std::string text = Quote(Text());
    if (wrong) {
      switch (R(5)) {
        case 0: target = Missing(); break;
        case 1: {
          auto m = AnyMessage([](const MessageModel& x) { return x.kind != "question"; });
          if (m) target = messages_[*m].id;
          break;
        }
        case 2: u = NonMember(room); break;
        case 3: text = "\"\""; break;
        default: text = "null"; break;
      }
    }
    std::string cid = Chance(40) ? ",\"client_id\":" + Quote(ClientId(u)) : "";
    Call c = Make("answer", u, "POST", Both([&](int s) { return MessagePath(target[s], "/answer"); }),
                  Same("{\"text\":" + text + cid + "}"));
    auto r = Do(c);
    if (Ok(r) && !failed_) Remember(r, ri, u);
  }

  void Edit() {
    const bool wrong = Wrong();
    auto m = AnyMessage();
    if (!m) return Send();
    Ids target = messages_[*m].id;
    int u = Chance(75) ? messages_[*m].author : AnyUser();
    std::string body = "{\"text\":" + Quote(Text()) + "}";
    if (wrong) {
      switch (R(6)) {
        case 0: target = Missing(); break;
        case 1: u = Other(messages_[*m].author); break;
        case 2: body = "{\"text\":\"\"}"; break;
        case 3: body = "{\"text\":" + Quote(std::string(4001, 'y')) + "}"; break;
        case 4: body = "{\"text\":[1]}"; break;
        default: body = "{}"; break;
      }
    }
    Do(Make("edit", u, "PATCH", Both([&](int s) { return MessagePath(target[s]); }), Same(body)));
  }

  void Delete() {
    const bool wrong = Wrong();
    auto m = AnyMessage();
    if (!m) return Send();
    const RoomModel& room = rooms_[messages_[*m].room];
    Ids target = messages_[*m].id;
    int u = Chance(60) ? messages_[*m].author : Moderator(room);
    if (wrong) {
      if (auto gone = AnyMessage([](const MessageModel& x) { return x.deleted; }); gone && Chance(50)) {
        target = messages_[*gone].id;
        u = messages_[*gone].author;
      } else {
        target = Missing();
      }
    }
    auto r = Do(Make("delete", u, "DELETE", Both([&](int s) { return MessagePath(target[s]); })));
    if (Ok(r) && !wrong) messages_[*m].deleted = true;
  }

  void React() {
    const bool wrong = Wrong();
    auto m = AnyMessage();
    if (!m) return Send();
    Ids target = messages_[*m].id;
    int u = Member(rooms_[messages_[*m].room]);
    static const std::vector<std::string> kEmoji = {"%F0%9F%91%8D", "ok", "%E2%9D%A4%EF%B8%8F", "+1"};
    std::string emoji = OneOf(kEmoji);
    if (wrong) {
      switch (R(5)) {
        case 0: target = Missing(); break;
        case 1: u = NonMember(rooms_[messages_[*m].room]); break;
        case 2: emoji = std::string(33, 'x'); break;
        case 3: emoji = "%ZZ"; break;
        default: emoji = Chance(50) ? "%20" : "a%E2%80%8Bb"; break;  // a space, a zero-width space
      }
    }
    const bool add = Chance(70);
    Do(Make(add ? "react" : "unreact", u, add ? "PUT" : "DELETE",
            Both([&](int s) { return MessagePath(target[s], "/reactions/" + emoji); })));
  }

  void CreateRoom() {
    const bool wrong = Wrong();
    const int u = AnyUser();
    static const std::vector<std::string> kKinds = {"public", "public", "private", "private", "qa", "qa"};
    std::string kind = Quote(OneOf(kKinds));
    const int n = ++counter_;
    std::string name = Quote(Chance(30) ? "Salle é " + std::to_string(n) : "room-" + std::to_string(n));
    std::string extra = kind == "\"qa\"" && Chance(30) ? ",\"answers_per_professor\":1" : "";
    if (wrong) {
      switch (R(9)) {
        case 0: {
          const RoomModel& taken = rooms_[AnyRoom()];
          if (taken.kind != "dm") name = Quote(SwapCase(taken.name));
          break;
        }
        case 1: name = "\"\""; break;
        case 2: name = Quote(std::string(65, 'n')); break;
        case 3: kind = "\"dm\""; break;
        case 4: kind = "\"bogus\""; break;
        case 5: {
          kind = "\"public\"";
          extra = ",\"answers_per_professor\":2";
          break;
        }
        case 6: {
          kind = "\"qa\"";
          extra = ",\"answers_per_professor\":0";
          break;
        }
        case 7: name = Quote("zero\xE2\x80\x8Bwidth"); break;
        default: name = "7"; break;
      }
    }
    auto r = Do(Make("create_room", u, "POST", Same("/api/rooms"),
                     Same("{\"name\":" + name + ",\"kind\":" + kind + extra + "}")));
    if (!Ok(r, 201) || failed_) return;
    RoomModel room;
    room.id = {r[kSqlite].json()["room"]["id"].num(), r[kPg].json()["room"]["id"].num()};
    room.name = r[kSqlite].json()["room"]["name"].str();
    room.kind = r[kSqlite].json()["room"]["kind"].str();
    room.owner = u;
    room.members.insert(u);
    if (room.kind == "qa") room.professors.insert(u);  // the owner of a classroom teaches in it
    rooms_.push_back(room);
  }

  void Join() {
    const bool wrong = Wrong();
    const size_t ri = Chance(80) ? RoomOfKind(Chance(50) ? "public" : "qa") : AnyRoom();
    Ids room = rooms_[ri].id;
    int u = Chance(75) ? NonMember(rooms_[ri]) : Member(rooms_[ri]);
    if (wrong) {
      if (!rooms_[ri].banned.empty() && Chance(50)) {
        u = Among(rooms_[ri].banned, R(rooms_[ri].banned.size()));
      } else {
        room = Missing();
      }
    }
    auto r = Do(Make("join", u, "POST", Both([&](int s) { return RoomPath(room[s], "/join"); })));
    if (Ok(r) && !wrong) rooms_[ri].members.insert(u);
  }

  void Leave() {
    const bool wrong = Wrong();
    const size_t ri = AnyRoom();
    Ids room = rooms_[ri].id;
    int u = Member(rooms_[ri]);
    if (wrong) {
      if (Chance(50)) {
        room = Missing();
      } else {
        u = NonMember(rooms_[ri]);
      }
    }
    auto r = Do(Make("leave", u, "POST", Both([&](int s) { return RoomPath(room[s], "/leave"); })));
    if (Ok(r) && !wrong) Gone(rooms_[ri], u);
  }

  static void Gone(RoomModel& room, int u) {
    room.members.erase(u);
    room.moderators.erase(u);
    room.professors.erase(u);
  }


  void Invite() {
    const bool wrong = Wrong();
    const size_t ri = RoomOfKind("private");
    Ids room = rooms_[ri].id;
    int u = Member(rooms_[ri]);
    const int invitee = NonMember(rooms_[ri]);
    std::string body = "{\"username\":" + Quote(Name(invitee)) + "}";
    if (wrong) {
      switch (R(5)) {
        case 0: room = Missing(); break;
        case 1: u = NonMember(rooms_[ri]); break;
        case 2: body = "{\"username\":\"nobody_here\"}"; break;
        case 3: body = "{\"username\":\"bad name!\"}"; break;
        default: body = "{\"username\":5}"; break;
      }
    }
    auto r = Do(Make("invite", u, "POST", Both([&](int s) { return RoomPath(room[s], "/members"); }), Same(body)));
    if (!Ok(r) || wrong) return;
    // The invitation waits; the invitee takes it by joining, or declines it.
    if (Chance(25)) {
      Do(Make("decline", invitee, "DELETE",
              Both([&](int s) { return "/api/me/invitations/" + std::to_string(room[s]); })));
      return;
    }
    auto joined = Do(Make("accept", invitee, "POST", Both([&](int s) { return RoomPath(room[s], "/join"); })));
    if (Ok(joined)) rooms_[ri].members.insert(invitee);
  }

  // A call on a room without a body, by a member; wrong: in a missing room
  // or by someone outside it.
  void OnRoom(const std::string& op, const std::string& method, const std::string& tail) {
    const bool wrong = Wrong();
    const size_t ri = AnyRoom();
    Ids room = wrong && Chance(50) ? Missing() : rooms_[ri].id;
    const int u = wrong ? NonMember(rooms_[ri]) : Member(rooms_[ri]);
    Do(Make(op, u, method, Both([&](int s) { return RoomPath(room[s], tail); })));
  }
  void Members() { OnRoom("members", "GET", "/members"); }
  void Typing() { OnRoom("typing", "POST", "/typing"); }

  void SetRole() {
    const bool wrong = Wrong();
    const size_t ri = RoomOfKind("qa");
    RoomModel& rm = rooms_[ri];
    Ids room = rm.id;
    int u = rm.owner >= 0 && Chance(85) ? rm.owner : Member(rm);
    int target = Member(rm);
    static const std::vector<std::string> kRoles = {"professor", "student", "student", "member"};
    std::string role = OneOf(kRoles);
    std::string name = Name(target);
    if (wrong) {
      switch (R(5)) {
        case 0: room = Missing(); break;
        case 1: u = NonMember(rm); break;
        case 2: role = "admin"; break;
        case 3: name = "nobody_here"; break;
        default: {
          target = NonMember(rm);
          name = Name(target);
          break;
        }
      }
    }
    auto r = Do(Make("set_role", u, "PUT", Both([&](int s) { return RoomPath(room[s], "/members/" + name); }),
                     Same("{\"role\":" + Quote(role) + "}")));
    if (Ok(r) && !wrong) Mark(rm.professors, target, role == "professor");
  }

  static void Mark(std::set<int>& s, int u, bool in) {
    if (in) {
      s.insert(u);
    } else {
      s.erase(u);
    }
  }

  // PUT members/{name} with moderator or muted_until (DESIGN section 3.1).
  void UpdateMember() {
    const bool wrong = Wrong();
    const size_t ri = ModeratedRoom();
    RoomModel& rm = rooms_[ri];
    Ids room = rm.id;
    const int u = Moderator(rm);
    const int target = MemberBut(rm, u);
    std::string name = Name(target);
    std::optional<bool> moderator;
    std::string body;
    switch (R(5)) {
      case 0: {
        moderator = Chance(60);
        body = std::string("{\"moderator\":") + (*moderator ? "true" : "false") + "}";
        break;
      }
      case 1: body = "{\"muted_until\":" + std::to_string(mute_until_) + "}"; break;
      case 2: body = "{\"muted_until\":null}"; break;
      case 3: body = "{\"muted_until\":1000}"; break;  // long past: not muted
      default: {
        moderator = true;
        body = "{\"role\":\"student\",\"moderator\":true}";
        break;
      }
    }
    if (wrong) {
      switch (R(5)) {
        case 0: room = Missing(); break;
        case 1: body = "{\"moderator\":\"yes\"}"; break;
        case 2: body = "{\"muted_until\":-5}"; break;
        case 3: body = "{\"muted_until\":\"soon\"}"; break;
        default: name = "nobody_here"; break;
      }
    }
    auto r = Do(Make("update_member", u, "PUT",
                     Both([&](int s) { return RoomPath(room[s], "/members/" + name); }), Same(body)));
    if (Ok(r) && !wrong && moderator) Mark(rm.moderators, target, *moderator);
  }

  void Kick() {
    const bool wrong = Wrong();
    const size_t ri = ModeratedRoom();
    Ids room = rooms_[ri].id;
    const int u = Moderator(rooms_[ri]);
    const int target = MemberBut(rooms_[ri], u);
    std::string name = Name(target);
    if (wrong) {
      switch (R(3)) {
        case 0: room = Missing(); break;
        case 1: name = rooms_[ri].owner >= 0 ? Name(rooms_[ri].owner) : "nobody_here"; break;
        default: name = "nobody_here"; break;
      }
    }
    auto r = Do(Make("kick", u, "DELETE", Both([&](int s) { return RoomPath(room[s], "/members/" + name); })));
    if (Ok(r) && !wrong) Gone(rooms_[ri], target);
  }

  void Ban() {
    const bool wrong = Wrong();
    const size_t ri = ModeratedRoom();
    Ids room = rooms_[ri].id;
    const int u = Moderator(rooms_[ri]);
    const int target = Chance(70) ? MemberBut(rooms_[ri], u) : AnyUser();
    std::string name = Name(target);
    std::string body = Chance(50) ? "" : "{\"reason\":" + Quote(Text()) + "}";
    if (wrong) {
      switch (R(5)) {
        case 0: room = Missing(); break;
        case 1: body = "{\"reason\":" + Quote(std::string(501, 'r')) + "}"; break;
        case 2: body = "{\"reason\":5}"; break;
        case 3: body = "{\"reason\":"; break;
        default: name = "nobody_here"; break;
      }
    }
    auto r = Do(Make("ban", u, "PUT", Both([&](int s) { return RoomPath(room[s], "/bans/" + name); }), Same(body)));
    if (!Ok(r) || wrong) return;
    Gone(rooms_[ri], target);
    rooms_[ri].banned.insert(target);
  }

  void Unban() {
    const bool wrong = Wrong();
    const size_t ri = ModeratedRoom();
    Ids room = rooms_[ri].id;
    const int u = Moderator(rooms_[ri]);
    const std::set<int>& banned = rooms_[ri].banned;
    const int target = !banned.empty() && Chance(70) ? Among(banned, R(banned.size())) : AnyUser();
    std::string name = Name(target);
    if (wrong) {
      if (Chance(50)) {
        room = Missing();
      } else {
        name = "nobody_here";
      }
    }
    auto r = Do(Make("unban", u, "DELETE", Both([&](int s) { return RoomPath(room[s], "/bans/" + name); })));
    if (Ok(r) && !wrong) rooms_[ri].banned.erase(target);
  }

  void Bans() {
    const bool wrong = Wrong();
    const size_t ri = ModeratedRoom();
    Ids room = wrong ? Missing() : rooms_[ri].id;
    Do(Make("bans", Moderator(rooms_[ri]), "GET", Both([&](int s) { return RoomPath(room[s], "/bans"); })));
  }

  // The read marker; the previous session's PostgreSQL bug (a marker in a
  // missing room answered 500) is the kind of thing this should find.
  void Read() {
    const bool wrong = Wrong();
    const size_t ri = AnyRoom();
    Ids room = rooms_[ri].id;
    int u = Member(rooms_[ri]);
    std::optional<Ids> event;
    std::string raw = "0";
    if (auto m = Chance(70) ? MessageIn(ri) : AnyMessage()) event = messages_[*m].id;
    if (Chance(10)) {  // beyond the head
      event.reset();
      raw = std::to_string(messages_.empty() ? 50 : messages_.back().id[kSqlite] + 50);
    }
    std::optional<std::string> body;
    if (wrong) {
      switch (R(6)) {
        case 0: room = Missing(); break;
        case 1: u = NonMember(rooms_[ri]); break;
        case 2: body = "{\"event_id\":-1}"; break;
        case 3: body = "{\"event_id\":\"5\"}"; break;
        case 4: body = "{}"; break;
        default: body = "{\"event_id\":9007199254740993}"; break;
      }
    }
    Do(Make("read", u, "POST", Both([&](int s) { return RoomPath(room[s], "/read"); }),
            Both([&](int s) {
              if (body) return *body;
              return "{\"event_id\":" + (event ? std::to_string((*event)[s]) : raw) + "}";
            })));
  }

  void History() {
    const bool wrong = Wrong();
    const size_t ri = AnyRoom();
    Ids room = rooms_[ri].id;
    int u = Member(rooms_[ri]);
    std::optional<Ids> before, after;
    if (Chance(40)) {
      if (auto m = MessageIn(ri)) before = messages_[*m].id;
    }
    if (Chance(30)) {
      if (auto m = MessageIn(ri)) after = messages_[*m].id;
    }
    std::string limit = Chance(60) ? "limit=" + std::to_string(1 + R(12)) : "";
    if (wrong) {
      switch (R(7)) {
        case 0: room = Missing(); break;
        case 1: u = NonMember(rooms_[ri]); break;
        case 2: limit = "limit=0"; break;
        case 3: limit = "limit=201"; break;
        case 4: limit = "limit=abc"; break;
        case 5: limit = "before=0"; break;
        default: limit = "after=-1"; break;
      }
    }
    Do(Make("history", u, "GET", Both([&](int s) {
              std::string q;
              auto add = [&q](const std::string& p) { q += (q.empty() ? "?" : "&") + p; };
              if (before) add("before=" + std::to_string((*before)[s]));
              if (after) add("after=" + std::to_string((*after)[s]));
              if (!limit.empty()) add(limit);
              return RoomPath(room[s], "/messages") + q;
            })));
  }

  void Dm() {
    const bool wrong = Wrong();
    const int u = AnyUser();
    const int peer = Other(u);
    std::string body = "{\"username\":" + Quote(Chance(20) ? SwapCase(Name(peer)) : Name(peer)) + "}";
    if (wrong) {
      switch (R(4)) {
        case 0: body = "{\"username\":" + Quote(Name(u)) + "}"; break;
        case 1: body = "{\"username\":\"nobody_here\"}"; break;
        case 2: body = "{\"username\":\"..\"}"; break;
        default: body = "{\"username\":7}"; break;
      }
    }
    auto r = Do(Make("dm", u, "POST", Same("/api/dm"), Same(body)));
    if (!Ok(r) || wrong || failed_) return;
    const Ids id = {r[kSqlite].json()["room"]["id"].num(), r[kPg].json()["room"]["id"].num()};
    for (RoomModel& room : rooms_) {
      if (room.id == id) {
        room.members.insert(u);
        return;
      }
    }
    RoomModel room;
    room.id = id;
    room.name = "dm";
    room.kind = "dm";
    room.members = {u, peer};
    rooms_.push_back(room);
  }

  void Blocks() {
    const bool wrong = Wrong();
    const int u = AnyUser();
    std::string name = Name(Other(u));
    if (wrong) name = Chance(50) ? Name(u) : "nobody_here";
    switch (R(3)) {
      case 0: Do(Make("block", u, "PUT", Same("/api/me/blocks/" + name), Same(""))); break;
      case 1: Do(Make("unblock", u, "DELETE", Same("/api/me/blocks/" + name))); break;
      default: Do(Make("blocks", u, "GET", Same("/api/me/blocks"))); break;
    }
  }

  void RoomList() {
    const bool wrong = Wrong();
    const int u = AnyUser();
    Person& p = people_[static_cast<size_t>(u)];
    const std::string limit = "limit=" + std::to_string(1 + R(4));
    Texts query;
    switch (R(5)) {
      case 0: query = Same(""); break;
      case 1: query = Same("?" + limit); break;
      case 2:
        query = Both([&](int s) { return "?" + limit + (p.cursor[s].empty() ? "" : "&before=" + p.cursor[s]); });
        break;
      case 3: {
        std::string since = "0";
        if (auto m = AnyMessage()) since = std::to_string(messages_[*m].id[kSqlite]);
        query = Same("?changed_since=" + since);
        break;
      }
      default: query = Same("?" + limit + "&with=latest"); break;
    }
    if (wrong) {
      static const std::vector<std::string> kBad = {"?limit=0", "?limit=1001", "?before=abc", "?before=5:x",
                                                    "?with=oldest", "?changed_since=-1"};
      query = Same(OneOf(kBad));
    }
    auto r = Do(Make("rooms", u, "GET", Both([&](int s) { return "/api/rooms" + query[s]; })));
    if (!Ok(r)) return;
    for (int s = 0; s < 2; ++s) p.cursor[s] = r[s].json()["next"].str();
  }

  void Directory() {
    const bool wrong = Wrong();
    // LIKE's wildcards and escape among them: a prefix is text, never a pattern.
    static const std::vector<std::string> kPrefixes = {"",      "room",  "ROOM-1",          "Salle",  "dm",
                                                       "gen",   "%25",   "_",               "room_",  "%5C",
                                                       "Salle%20%C3%A9", "SALLE%20%C3%89", "room-%25"};
    std::string q = "?prefix=" + OneOf(kPrefixes);
    if (Chance(50)) q += "&limit=" + std::to_string(1 + R(5));
    // A NUL (PostgreSQL refuses it as a parameter) or another control character.
    if (wrong) q = OneOf(std::vector<std::string>{"?limit=51", "?prefix=" + std::string(65, 'p'), "?prefix=a%00", "?prefix=%01"});
    Do(Make("directory", AnyUser(), "GET", Same("/api/rooms/directory" + q)));
  }

  void Search() {
    const bool wrong = Wrong();
    const int u = AnyUser();
    std::string q = "q=" + Word();
    if (Chance(25)) q += "+" + Word();
    if (Chance(15)) q = "q=" + Word().substr(0, 3) + "*";
    // Words beyond ASCII (the texts have "café", "naïve", "日本語", "Дом",
    // "ΩΜΕΓΑ"), and ones that differ from them only in accents or in case:
    // both backends fold them (FTS5's unicode61; PostgreSQL's migration 005,
    // and for the case of Cyrillic and Greek, tools/pg's LC_CTYPE C.UTF-8).
    static const std::vector<std::string> kOther = {
        "%E6%97%A5%E6%9C%AC%E8%AA%9E", "world",        "hello", "caf%C3%A9", "CAF%C3%89",
        "cafe",                         "naive",        "NA%C3%8FVE",
        "%D0%B4%D0%BE%D0%BC",           "%D0%94%D0%9E%D0%9C",   "%CF%89%CE%BC%CE%B5%CE%B3%CE%B1"};
    if (Chance(15)) q = "q=" + OneOf(kOther);
    // Words inside the texts' kTokens. Not a token as typed ("example.com"):
    // both find it, but FTS5 marks a phrase as one span, ts_headline each
    // of its words (README, known differences).
    static const std::vector<std::string> kInside = {"example", "docs", "host", "ann", "org", "12", "06"};
    if (Chance(15)) q = "q=" + OneOf(kInside);
    // Two words apart by a Unicode blank (U+3000, U+00A0) or a zero-width
    // character are two terms on both backends (fcgi/search_query.cc).
    static const std::vector<std::string> kBlanks = {"%E3%80%80", "%C2%A0", "%E2%80%8B", "%EF%BB%BF"};
    if (Chance(10)) q = "q=" + Word() + OneOf(kBlanks) + Word();
    std::optional<Ids> room;
    if (Chance(30)) room = rooms_[AnyRoom()].id;
    if (Chance(20)) q += "&from=" + Name(AnyUser());
    std::optional<Ids> before;
    if (Chance(20)) {
      if (auto m = AnyMessage()) before = messages_[*m].id;
    }
    if (Chance(30)) q += "&limit=" + std::to_string(1 + R(5));
    if (wrong) {
      static const std::vector<std::string> kBad = {"", "q=", "q=%20%20", "q=alpha&limit=0", "q=alpha&limit=51",
                                                    "q=alpha&from=bad!name", "q=" + std::string(300, 'q'),
                                                    "q=a*"};
      if (Chance(30)) {
        room = Missing();
      } else {
        q = OneOf(kBad);
      }
    }
    Do(Make("search", u, "GET", Both([&](int s) {
              std::string path = "/api/search?" + q;
              if (room) path += "&room_id=" + std::to_string((*room)[s]);
              if (before) path += "&before=" + std::to_string((*before)[s]);
              return path;
            })));
  }

  void Notifications() {
    const bool wrong = Wrong();
    const size_t ri = AnyRoom();
    Ids room = rooms_[ri].id;
    int u = Member(rooms_[ri]);
    static const std::vector<std::string> kLevels = {"all", "mentions", "none"};
    std::string level = OneOf(kLevels);
    if (wrong) {
      switch (R(3)) {
        case 0: room = Missing(); break;
        case 1: u = NonMember(rooms_[ri]); break;
        default: level = "loud"; break;
      }
    }
    Do(Make("notifications", u, "PUT", Both([&](int s) { return RoomPath(room[s], "/notifications"); }),
            Same("{\"level\":" + Quote(level) + "}")));
  }

  void MeAndUsers() {
    const bool wrong = Wrong();
    const int u = AnyUser();
    if (Chance(30)) {
      Do(Make("me", u, "GET", Same("/api/me")));
      return;
    }
    static const std::vector<std::string> kPrefixes = {"", "a", "B", "carol", "d", "zz", "n", "%25", "_", "carol_",
                                                       "dan.", "new_", "NEW.", "%5C", "e%25"};
    const std::string prefix = wrong ? OneOf(std::vector<std::string>{std::string(40, 'a'), "%00", "c%01"}) : OneOf(kPrefixes);
    Do(Make("users", u, "GET", Same("/api/users?prefix=" + prefix)));
  }

  void NewUser() {
    if (!Wrong()) {
      Register((Chance(50) ? "New_" : "new.") + std::to_string(++counter_), false);
      return;
    }
    std::string body;
    switch (R(4)) {
      case 0: body = "{\"username\":" + Quote(SwapCase(Name(AnyUser()))) + ",\"password\":" + Quote(kPassword) + "}"; break;
      case 1: body = "{\"username\":\"bad name\",\"password\":" + Quote(kPassword) + "}"; break;
      case 2: body = "{\"username\":\"shortpw\",\"password\":\"1234567\"}"; break;
      default: body = "{\"username\":\"nopassword\"}"; break;
    }
    Do(Make("register", -1, "POST", Same("/api/register"), Same(body)));
  }

  // POST /api/uploads: a small file, raw body (DESIGN section 3.2).
  void Upload() {
    const bool wrong = Wrong();
    const int u = AnyUser();
    const int n = ++counter_;
    std::string query = "?name=" + std::string(Chance(50) ? "notes-" : "caf%C3%A9%20") + std::to_string(n) + ".txt";
    std::string body;
    for (size_t i = 0, lines = 1 + R(40); i < lines; ++i) body += "line " + std::to_string(i) + " of file " + std::to_string(n) + "\n";
    if (wrong) {
      switch (R(4)) {
        case 0: query = ""; break;
        case 1: query = "?name=..%2Fescape"; break;
        case 2: query = "?name=" + std::string(201, 'f'); break;
        default: body.clear(); break;
      }
    }
    Call c = Make("upload", u, "POST", Same("/api/uploads" + query), Same(body));
    c.headers = {Chance(50) ? "Content-Type: text/plain" : "Content-Type: application/octet-stream"};
    auto r = Do(c);
    if (!Ok(r, 201) || failed_) return;
    uploads_.push_back(UploadModel{{r[kSqlite].json()["upload"]["id"].num(), r[kPg].json()["upload"]["id"].num()}, u});
  }

  // GET /api/uploads/{id}: the file to its uploader and to members of a room
  // where it was posted, through nginx (X-Accel-Redirect); the bytes compared.
  void Download() {
    if (uploads_.empty()) return Upload();
    const UploadModel& up = uploads_[R(uploads_.size())];
    const Ids id = Wrong() ? Missing() : up.id;
    const int u = Chance(50) ? up.owner : AnyUser();
    Do(Make("download", u, "GET", Both([&](int s) { return "/api/uploads/" + std::to_string(id[s]); })));
  }

  // ---- accounts (DESIGN section 3.1) --------------------------------------
  //
  // Every login and password change counts towards the address's throttle
  // (Limits::login_address_failures, 100 in 15 minutes), so a seed makes
  // at most kLoginAttempts of them; and a name is given a wrong password only
  // while it has failed fewer than 3 times in a row (at 5 it is blocked, and
  // the block's Retry-After counts seconds on each stack's own clock).
  static constexpr int kLoginAttempts = 80;

  bool MayGuess(const std::string& name) { return failures_[Lower(name)] < 3; }

  // POST /api/login; a success signs people_[u] in again on both sides
  // (u < 0: the attempt is nobody's).
  void SignIn(int u, const std::string& name, const std::string& password) {
    ++login_attempts_;
    auto r = Do(Make("login", -1, "POST", Same("/api/login"),
                     Same("{\"username\":" + Quote(name) + ",\"password\":" + Quote(password) + "}")));
    if (r[kSqlite].status == 401) ++failures_[Lower(name)];
    if (!Ok(r, 200) || failed_) return;
    failures_[Lower(name)] = 0;
    if (u < 0) return;
    for (int side = 0; side < 2; ++side) {
      people_[static_cast<size_t>(u)].http[side]->set_bearer(r[side].json()["token"].str());
    }
  }

  void Account() {
    if (login_attempts_ >= kLoginAttempts) return MeAndUsers();
    const bool wrong = Wrong();
    const int u = AnyUser();
    Person& p = people_[static_cast<size_t>(u)];
    switch (R(4)) {
      case 0:
      case 1: {  // sign in, as someone else's device would
        if (!wrong) return SignIn(u, Chance(30) ? SwapCase(p.name) : p.name, p.password);
        switch (R(4)) {
          case 0: return SignIn(-1, p.name, MayGuess(p.name) ? "not-" + p.password : p.password);
          case 1: return SignIn(-1, MayGuess("nobody_at_all") ? "nobody_at_all" : p.name, p.password);
          case 2: return SignIn(-1, "bad name!", p.password);  // refused before it counts
          default:
            Do(Make("login", -1, "POST", Same("/api/login"), Same("{\"username\":" + Quote(p.name) + "}")));
            return;
        }
      }
      case 2: {  // a new password; the caller's own session stays
        std::string old_password = p.password;
        std::string new_password = "pw-" + std::to_string(++counter_) + "-horse";
        if (wrong) {
          if (Chance(50) && MayGuess(p.name)) {
            old_password = "not-" + old_password;
          } else {
            new_password = "1234567";  // too short: refused before it counts
          }
        }
        if (new_password.size() >= 8) ++login_attempts_;
        auto r = Do(Make("password", u, "POST", Same("/api/me/password"),
                         Same("{\"old_password\":" + Quote(old_password) + ",\"new_password\":" +
                              Quote(new_password) + "}")));
        if (r[kSqlite].status == 403) ++failures_[Lower(p.name)];
        if (Ok(r, 204)) {
          p.password = new_password;
          failures_[Lower(p.name)] = 0;
        }
        return;
      }
      default: {  // sign out, then in again
        auto r = Do(Make("logout", u, "POST", Same("/api/logout"), Same("")));
        if (Ok(r, 204) && !failed_) SignIn(u, p.name, p.password);
        return;
      }
    }
  }

  // The site admin's listing and (de)activations; people_[0] is the admin.
  void Admin() {
    const bool wrong = Wrong();
    const int by = wrong && Chance(50) ? 1 + static_cast<int>(R(people_.size() - 1)) : 0;
    const int v = 1 + static_cast<int>(R(people_.size() - 1));
    Person& target = people_[static_cast<size_t>(v)];
    if (R(3) == 0) {
      static const std::vector<std::string> kPrefixes = {"", "a", "B", "new", "%25", "_", "carol_"};
      std::string q = "?prefix=" + OneOf(kPrefixes);
      if (Chance(40)) q += "&limit=" + std::to_string(1 + R(5));
      if (wrong && by == 0) q = Chance(50) ? "?limit=201" : "?prefix=" + std::string(40, 'a');
      Do(Make("admin_users", by, "GET", Same("/api/admin/users" + q)));
      return;
    }
    std::string name = target.name;
    if (wrong && by == 0) name = Chance(50) ? Name(0) : "nobody_at_all";  // self, or no one
    const bool off = !target.deactivated;
    auto r = Do(Make(off ? "deactivate" : "reactivate", by, "POST",
                     Same("/api/admin/users/" + name + (off ? "/deactivate" : "/reactivate")), Same("")));
    if (!Ok(r, 204) || failed_ || name != target.name) return;
    target.deactivated = off;
    // Deactivation ends the account's sessions: back in, once reactivated.
    if (!off && login_attempts_ < kLoginAttempts) SignIn(v, target.name, target.password);
  }

  // Requests no handler should get as far as a store with, on either side.
  void Malformed() {
    ++wrong_;
    const int u = AnyUser();
    const Ids room = rooms_[AnyRoom()].id;
    auto send = [&](int s) { return RoomPath(room[s], "/messages"); };
    Call c;
    switch (R(9)) {
      case 0: c = Make("malformed", u, "POST", Both(send), Same("{\"text\":")); break;
      case 1: c = Make("malformed", u, "POST", Both(send), Same("[\"text\"]")); break;
      case 2:
        c = Make("malformed", u, "POST", Both(send), Same("{\"text\":\"plain\"}"));
        c.headers = {"Content-Type: text/plain"};
        break;
      case 3: c = Make("malformed", u, "POST", Both(send), Same("{\"text\":" + Quote(std::string(17 * 1024, 'b')) + "}")); break;
      case 4: c = Make("malformed", u, "POST", Both(send), Same(std::string(40, '[') + std::string(40, ']'))); break;
      case 5: c = Make("malformed", -1, "GET", Same("/api/rooms")); break;
      case 6:
        c = Make("malformed", -1, "GET", Both([&](int s) { return RoomPath(room[s], "/messages"); }));
        c.headers = {"Authorization: Bearer 0000"};
        break;
      case 7: c = Make("malformed", u, "GET", Same("/api/nothing/here")); break;
      default: c = Make("malformed", u, "PATCH", Both([&](int s) { return RoomPath(room[s]); }), Same("{}")); break;
    }
    Do(c);
  }

  const uint64_t seed_;
  std::mt19937_64 rng_;
  std::array<Stack*, 2> stacks_;
  IdMaps pg_ids_;
  std::array<Canon, 2> canon_;
  std::array<std::unique_ptr<Client>, 2> anon_;
  int64_t mute_until_ = 0;

  std::vector<Person> people_;
  std::vector<RoomModel> rooms_;  // rooms_[0] is general
  std::vector<MessageModel> messages_;
  std::vector<UploadModel> uploads_;
  std::map<int, std::vector<std::string>> client_ids_;
  std::map<std::string, int> failures_;  // failed logins in a row, by lower-case name
  int login_attempts_ = 0;
  int counter_ = 0;

  bool failed_ = false;
  int calls_ = 0;
  int wrong_ = 0;
  std::map<std::string, Tally> tally_;
};

std::vector<uint64_t> Seeds() {
  std::vector<uint64_t> seeds;
  if (const char* env = std::getenv("PARLEY_DIFF_SEEDS"); env != nullptr && *env != '\0') {
    for (const char* p = env; *p != '\0';) {
      char* end = nullptr;
      seeds.push_back(std::strtoull(p, &end, 10));
      if (end == p) break;
      p = *end == ',' ? end + 1 : end;
    }
    return seeds;
  }
  using namespace std::chrono;
  const auto clock = static_cast<uint64_t>(system_clock::now().time_since_epoch().count());
  return {1, 2, clock % 1000000007};
}

int OpsPerSeed() {
  const char* env = std::getenv("PARLEY_DIFF_OPS");
  const int n = env != nullptr ? std::atoi(env) : 0;
  return n > 0 ? n : 600;
}

TEST(BackendsDiffTest, SameCallsGetTheSameAnswers) {
  if (!OnPostgres()) GTEST_SKIP() << "needs PostgreSQL: PARLEY_TEST_PG_DIR (the ctest fixture e2e_pg)";
  const int ops = OpsPerSeed();
  for (uint64_t seed : Seeds()) {
    std::printf("seed %llu, %d calls (PARLEY_DIFF_SEEDS=%llu runs it again)\n",
                static_cast<unsigned long long>(seed), ops, static_cast<unsigned long long>(seed));
    std::fflush(stdout);
    std::array<std::unique_ptr<Stack>, 2> stacks;
    for (int s = 0; s < 2; ++s) {
      StackOptions o;
      o.backend = s == kSqlite ? Backend::kSqlite : Backend::kPostgresql;
      o.workers = 1;  // one request at a time: the pool's size changes nothing here
      // The polls at the end read the whole log at once: unpaced.
      o.events_flags = {"--catchup-pages", "0", "--catchup-address-pages", "0"};
      std::string error;
      stacks[s] = Stack::Start(o, &error);
      ASSERT_NE(stacks[s], nullptr) << kSideName[s] << " stack: " << error;
    }
    Differ differ(seed, *stacks[kSqlite], *stacks[kPg]);
    const bool same = differ.Run(ops);
    std::printf("%s\n", differ.Summary().c_str());
    if (!same) {
      for (int s = 0; s < 2; ++s) {
        std::fprintf(stderr, "--- %s stack logs ---\n%s\n", kSideName[s], stacks[s]->LogTail().c_str());
      }
    }
  }
}

}  // namespace
}  // namespace parley::e2e
