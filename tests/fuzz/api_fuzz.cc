// Fuzz target: the whole REST API in-process. Each input is a short session
// of requests (arbitrary method, path, query, headers and body, or a JSON
// object built from the API's own field names) that Api::Handle serves over
// a real Store on a real SQLite file, the way tests/unit/fcgi/api_test.cc
// drives it. This reaches every handler and store query with hostile values.
//
// Each input starts from the same database (a copy of a template made once:
// three users with sessions, a public, a private and a Q&A room, messages),
// so a crash reproduces from its input alone.
//
// Oracles: every response is one of the statuses of DESIGN section 3, never
// 500 or 503 (an internal error is a bug; nothing else uses the database);
// a 204 has no body; every other body is a JSON object, and every error is
// exactly {"error":{"code","message"}}.
//
// Cost: a valid register or login costs one Argon2id hash (~50-100 ms), so
// inputs that reach it are slow; the fuzzer still explores them, only less
// often per second.
#include <fuzzer/FuzzedDataProvider.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "fcgi/api.h"
#include "schema/crypto.h"
#include "schema/db.h"
#include "schema/log.h"
#include "schema/migrate.h"
#include "schema/store.h"
#include "tests/fuzz/check.h"

namespace {

using namespace parley;
using namespace parley::fcgi;

constexpr const char* kHost = "chat.example";
constexpr const char* kFakeHash = "$argon2id$v=19$m=65536,t=2,p=1$fake$fake";
// alice owns every room; bob is in the public and Q&A rooms; carol in none.
const std::string kTokens[] = {std::string(64, 'a'), std::string(64, 'b'), std::string(64, 'c')};

struct Fixture {
  std::string dir;
  std::string template_db;
  std::string db;
  ~Fixture() {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

void Must(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "api_fuzz setup: %s: %s\n", what, s.ToString().c_str());
    std::abort();
  }
}

void MakeFixture(Fixture* f) {
  // /dev/shm when there is one: each input copies the database afresh.
  std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  std::string tmpl = base + "/parley-fuzz-api-XXXXXX";
  FUZZ_CHECK(mkdtemp(tmpl.data()) != nullptr);
  f->dir = tmpl;
  f->template_db = f->dir + "/template.db";
  f->db = f->dir + "/parley.db";
  Must(CryptoInit(), "crypto");
  g_log_level = LogLevel::kError;
  auto db = Db::Open(f->template_db, 5000, Sync::kNormal);
  Must(db.status(), "open");
  Must(Migrate(**db).status(), "migrate");
  Store store(**db);
  User users[3];
  const char* names[] = {"alice", "bob", "carol"};
  for (int i = 0; i < 3; ++i) {
    auto u = store.CreateUser(names[i], kFakeHash);
    Must(u.status(), "user");
    users[i] = *u;
    Must(store.CreateSession(users[i].id, TokenHash(kTokens[i])), "session");
  }
  auto lobby = store.CreateRoom(users[0], "lobby", RoomKind::kPublic, std::nullopt);
  auto secret = store.CreateRoom(users[0], "secret", RoomKind::kPrivate, std::nullopt);
  auto qa = store.CreateRoom(users[0], "class", RoomKind::kQa, 1);
  Must(lobby.status(), "lobby");
  Must(secret.status(), "secret");
  Must(qa.status(), "qa");
  Must(store.Join(users[1], lobby->id).status(), "join");
  Must(store.Join(users[1], qa->id).status(), "join qa");
  Must(store.Send(users[0], lobby->id, "hello\nworld", std::string("c-1")).status(), "send");
  Must(store.Send(users[0], secret->id, "secret text", std::nullopt).status(), "send");
  Must(store.Send(users[1], qa->id, "a question?", std::nullopt).status(), "ask");
}

// Each input's fresh database. libFuzzer's -timeout alarm (SIGALRM every
// timeout/2 + 1 seconds, installed without SA_RESTART) can interrupt the
// copy's sendfile(2), and copy_file reports that EINTR as a failure: it
// once ended a CI run with a "crash" whose input was two harmless requests.
// An interrupted copy is simply made again.
void CopyTemplate(const Fixture& f) {
  std::error_code ec;
  do {
    std::filesystem::copy_file(f.template_db, f.db, std::filesystem::copy_options::overwrite_existing, ec);
  } while (ec == std::errc::interrupted);
  if (ec) std::fprintf(stderr, "api_fuzz: copy %s: %s\n", f.template_db.c_str(), ec.message().c_str());
  FUZZ_CHECK(!ec);
}

// The API's own field names, so structured bodies reach the handlers.
const char* const kFields[] = {"text", "client_id", "name", "kind", "username", "password",
                               "role", "event_id", "answers_per_professor", "topic"};
const char* const kWords[] = {"public", "private", "qa", "dm", "professor", "student", "member",
                              "alice", "bob", "carol", "lobby", "correct-horse"};

// A FastCGI parameter: worker.cc reads every one but the body with
// FCGX_GetParam, a C string, so none can hold a NUL.
std::string Param(FuzzedDataProvider& in, size_t max) {
  std::string s = in.ConsumeRandomLengthString(max);
  return s.substr(0, s.find('\0'));
}

std::string Body(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange<int>(0, 2)) {
    case 0:
      return in.ConsumeRandomLengthString(512);
    case 1:
      return "";
    default: {
      JsonWriter w;
      w.BeginObject();
      for (int n = in.ConsumeIntegralInRange<int>(0, 4); n > 0; --n) {
        w.Key(kFields[in.ConsumeIntegralInRange<size_t>(0, std::size(kFields) - 1)]);
        switch (in.ConsumeIntegralInRange<int>(0, 4)) {
          case 0: w.String(in.ConsumeRandomLengthString(80)); break;
          case 1: w.String(kWords[in.ConsumeIntegralInRange<size_t>(0, std::size(kWords) - 1)]); break;
          case 2: w.Int(in.ConsumeIntegralInRange<int64_t>(-2, 40)); break;
          case 3: w.Int(in.ConsumeIntegral<int64_t>()); break;
          default: w.Null(); break;
        }
      }
      w.EndObject();
      return w.Take();
    }
  }
}

std::string Path(FuzzedDataProvider& in) {
  static const char* const kShapes[] = {
      "/api/rooms/%/messages", "/api/rooms/%/join",  "/api/rooms/%/leave", "/api/rooms/%/members",
      "/api/rooms/%/members/", "/api/rooms/%/typing", "/api/rooms/%/read",  "/api/messages/%",
      "/api/messages/%/answer", "/api/rooms",         "/api/dm",            "/api/me",
      "/api/users",             "/api/register",      "/api/login",         "/api/logout",
      "/api/health",            "/api/search",        "/api/rooms/%"};
  if (in.ConsumeIntegralInRange<int>(0, 7) == 0) return Param(in, 120);
  std::string shape = kShapes[in.ConsumeIntegralInRange<size_t>(0, std::size(kShapes) - 1)];
  std::string id = in.ConsumeBool() ? std::to_string(in.ConsumeIntegralInRange<int>(0, 24))
                                    : Param(in, 24);
  if (size_t p = shape.find('%'); p != std::string::npos) shape.replace(p, 1, id);
  if (shape.back() == '/') shape += in.ConsumeBool() ? "bob" : Param(in, 40);
  return shape;
}

Request MakeRequest(FuzzedDataProvider& in) {
  static const char* const kMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
  Request r;
  r.method = in.ConsumeIntegralInRange<int>(0, 15) == 0 ? Param(in, 10)
                                                        : kMethods[in.ConsumeIntegralInRange<size_t>(0, 4)];
  r.path = Path(in);
  r.query = Param(in, 80);
  r.host = kHost;
  r.remote_addr = "127.0.0.1";
  r.body = Body(in);
  r.content_type = in.ConsumeIntegralInRange<int>(0, 7) == 0 ? Param(in, 40) : "application/json";
  switch (in.ConsumeIntegralInRange<int>(0, 5)) {
    case 0: break;  // anonymous
    case 1: r.authorization = "Bearer " + kTokens[0]; break;
    case 2:  // a browser's same-origin request with the cookie
      r.cookie = "theme=dark; parley_session=" + kTokens[1];
      r.sec_fetch_site = "same-origin";
      break;
    case 3:  // the same cookie from a cross-site page
      r.cookie = "parley_session=" + kTokens[1];
      r.origin = "http://evil.example";
      break;
    case 4: r.authorization = "Bearer " + kTokens[2]; break;
    default:
      r.authorization = Param(in, 80);
      r.cookie = Param(in, 80);
      r.origin = Param(in, 30);
      break;
  }
  return r;
}

void CheckResponse(const Request& req, const Response& r) {
  static const int kStatuses[] = {200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 415, 429};
  bool known = false;
  for (int s : kStatuses) known |= r.status == s;
  if (!known) {
    std::fprintf(stderr, "%s %s?%s -> %d %s\n", req.method.c_str(), req.path.c_str(), req.query.c_str(), r.status,
                 r.body.c_str());
  }
  FUZZ_CHECK(known);
  if (r.status == 204) {
    FUZZ_CHECK(r.body.empty());
    return;
  }
  JsonPtr j(cJSON_ParseWithLength(r.body.data(), r.body.size()));
  FUZZ_CHECK(j && cJSON_IsObject(j.get()));
  if (r.status < 400) return;
  const cJSON* err = cJSON_GetObjectItemCaseSensitive(j.get(), "error");
  FUZZ_CHECK(cJSON_GetArraySize(j.get()) == 1 && cJSON_IsObject(err) && cJSON_GetArraySize(err) == 2);
  const cJSON* code = cJSON_GetObjectItemCaseSensitive(err, "code");
  const cJSON* message = cJSON_GetObjectItemCaseSensitive(err, "message");
  FUZZ_CHECK(cJSON_IsString(code) && *code->valuestring && cJSON_IsString(message) && *message->valuestring);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fixture;  // made once; removed when libFuzzer exits
  if (fixture.dir.empty()) MakeFixture(&fixture);
  CopyTemplate(fixture);
  {
    auto db = Db::Open(fixture.db, 5000, Sync::kNormal);
    FUZZ_CHECK(db.ok());
    Store store(**db);
    Notifier quiet("");
    Api api(store, quiet);
    FuzzedDataProvider in(data, size);
    // PARLEY_FUZZ_TRACE=1 prints each request and answer (checking seeds).
    static const bool trace = std::getenv("PARLEY_FUZZ_TRACE") != nullptr;
    for (int step = 0; step < 6 && in.remaining_bytes() > 0; ++step) {
      Request req = MakeRequest(in);
      Response resp = api.Handle(req);
      if (trace) std::fprintf(stderr, "%s %s?%s %s -> %d %s\n", req.method.c_str(), req.path.c_str(),
                              req.query.c_str(), req.body.c_str(), resp.status, resp.body.c_str());
      CheckResponse(req, resp);
    }
  }
  return 0;
}
