// Hostile input, one kind per test. Each must get a clear 4xx with a JSON
// error body ({"error":{"code","message"}}), never a 5xx, and the stack must
// still answer afterwards.
#include <set>

#include "fixture.h"

namespace parley::e2e {
namespace {

class InputTest : public StackTest {
 protected:
  void SetUp() override {
    StackTest::SetUp();
    if (HasFatalFailure()) return;
    alice_ = Register("alice");
    room_ = CreateRoom(alice_, "lobby", "public");
  }
  void TearDown() override {
    if (stack_) ExpectHealthy();
    StackTest::TearDown();
  }

  // The answer is an API error: that status, a JSON body with error.code
  // among `codes` (any code if empty) and a message.
  void ExpectError(const Response& r, long status, const std::set<std::string>& codes,
                   const std::string& what) {
    EXPECT_EQ(r.status, status) << what << ": " << r.Describe();
    EXPECT_NE(r.Header("content-type").find("application/json"), std::string::npos)
        << what << ": content-type " << r.Header("content-type");
    Json e = r.json()["error"];
    EXPECT_TRUE(e["code"].is_string() && e["message"].is_string())
        << what << ": not an API error body: " << r.body;
    if (!codes.empty()) {
      EXPECT_TRUE(codes.count(e["code"].str())) << what << ": code " << e["code"].str();
    }
  }
  Response SendRaw(const std::string& body, const HeaderList& headers = {}) {
    return alice_->Post(RoomPath(room_, "/messages"), body, headers);
  }
  std::string Text(const std::string& text) { return "{\"text\":" + Quote(text) + "}"; }

  User alice_;
  int64_t room_ = 0;
};

TEST_F(InputTest, BodyLargerThan16KiBIs413) {
  std::string body = Text(std::string(17000, 'a'));
  ExpectError(SendRaw(body), 413, {"body_too_large"}, "17000-byte body");
  std::string exact = "{\"text\":\"hi\"}" + std::string(16385 - 13, ' ');
  ASSERT_EQ(exact.size(), 16385u);
  ExpectError(SendRaw(exact), 413, {"body_too_large"}, "16 KiB + 1");
  ExpectError(alice_->Post("/api/register", body), 413, {"body_too_large"}, "register");
}

TEST_F(InputTest, BodyOfExactly16KiBIsAccepted) {
  std::string body = "{\"text\":\"padded\"}";
  body += std::string(16384 - body.size(), ' ');
  ASSERT_EQ(body.size(), 16384u);
  Response r = SendRaw(body);
  EXPECT_EQ(r.status, 201) << r.Describe();
}

TEST_F(InputTest, WrongContentTypeIs415) {
  for (const char* type : {"text/plain", "application/x-www-form-urlencoded",
                           "multipart/form-data; boundary=x", "application/jsonx"}) {
    ExpectError(SendRaw(Text("hi"), {std::string("Content-Type: ") + type}), 415,
                {"unsupported_media_type"}, type);
  }
  // Without any Content-Type at all.
  ExpectError(SendRaw(Text("hi"), {"Content-Type:"}), 415, {"unsupported_media_type"}, "none");
  Response ok = SendRaw(Text("hi"), {"Content-Type: application/json; charset=utf-8"});
  EXPECT_EQ(ok.status, 201) << "parameters are allowed: " << ok.Describe();
}

TEST_F(InputTest, MalformedJsonIs400) {
  for (const std::string& body : {std::string("{\"text\":"), std::string("{\"text\":\"a\",}"),
                                  std::string("not json"), std::string("{\"text\":\"a\"} trailing"),
                                  std::string("{'text':'a'}"), std::string("{\"text\":\"a")}) {
    ExpectError(SendRaw(body), 400, {"invalid_json"}, body);
  }
  // Valid JSON that is not an object.
  for (const std::string& body : {std::string("[\"text\"]"), std::string("\"text\""),
                                  std::string("42"), std::string("null")}) {
    ExpectError(SendRaw(body), 400, {}, body);
  }
}

TEST_F(InputTest, JsonNested100DeepIs400) {
  std::string arrays = "{\"text\":\"x\",\"deep\":" + std::string(100, '[') + std::string(100, ']') + "}";
  ExpectError(SendRaw(arrays), 400, {"nesting_too_deep"}, "100 nested arrays");
  std::string objects;
  for (int i = 0; i < 100; ++i) objects += "{\"a\":";
  objects += "1" + std::string(100, '}');
  ExpectError(SendRaw(objects), 400, {"nesting_too_deep"}, "100 nested objects");
  // Far deeper than any recursion limit must not crash a worker either.
  std::string abyss = std::string(5000, '[') + std::string(5000, ']');
  ExpectError(SendRaw(abyss), 400, {}, "5000 nested arrays");
}

TEST_F(InputTest, InvalidUtf8Is400) {
  for (const std::string& bad : {std::string("\xff\xfe"), std::string("\xc0\xaf"),  // overlong '/'
                                 std::string("\xed\xa0\x80"),                       // surrogate
                                 std::string("ok \xe2\x82"),                         // truncated
                                 std::string("\xf4\x90\x80\x80")}) {                 // > U+10FFFF
    ExpectError(SendRaw("{\"text\":\"" + bad + "\"}"), 400, {"invalid_utf8"}, "text bytes");
  }
  ExpectError(alice_->Post("/api/rooms", "{\"name\":\"r\xff\",\"kind\":\"public\"}"), 400,
              {"invalid_utf8"}, "room name");
}

TEST_F(InputTest, RawNulInTextIs400) {
  std::string body = "{\"text\":\"a";
  body += '\0';
  body += "b\"}";
  ASSERT_EQ(body.size(), 14u);
  ExpectError(SendRaw(body), 400, {"invalid_json", "invalid_field"}, "raw NUL");
}

TEST_F(InputTest, EscapedNulInTextIs400) {
  ExpectError(SendRaw("{\"text\":\"a\\u0000b\"}"), 400, {"invalid_field"}, "\\u0000");
  ExpectError(alice_->Post("/api/register", "{\"username\":\"nul\\u0000x\",\"password\":\"" +
                                                std::string(kPassword) + "\"}"),
              400, {"invalid_field"}, "\\u0000 in username");
  // Nothing got stored.
  Response h = alice_->Get(RoomPath(room_, "/messages"));
  EXPECT_EQ(h.json()["messages"].size(), 0u) << h.body;
}

TEST_F(InputTest, WrongFieldTypesAre400) {
  auto c = NewClient(Client::Cookies::kOff);
  ExpectError(c->Post("/api/register", "{\"username\":42,\"password\":\"long-enough\"}"), 400,
              {"invalid_field"}, "number for username");
  ExpectError(c->Post("/api/register", "{\"username\":\"bob\",\"password\":true}"), 400,
              {"invalid_field"}, "bool for password");
  ExpectError(alice_->Post(RoomPath(room_, "/read"), "{\"event_id\":\"5\"}"), 400,
              {"invalid_field"}, "string for event_id");
  ExpectError(alice_->Post(RoomPath(room_, "/read"), "{\"event_id\":1.5}"), 400,
              {"invalid_field"}, "fraction for event_id");
  ExpectError(alice_->Post(RoomPath(room_, "/read"), "{\"event_id\":-1}"), 400,
              {"invalid_field"}, "negative event_id");
  ExpectError(SendRaw("{\"text\":[\"a\"]}"), 400, {"invalid_field"}, "array for text");
  ExpectError(SendRaw("{\"text\":{\"a\":1}}"), 400, {"invalid_field"}, "object for text");
  ExpectError(SendRaw("{\"text\":\"hi\",\"client_id\":7}"), 400, {"invalid_field"},
              "number for client_id");
  ExpectError(alice_->Post("/api/rooms", "{\"name\":\"r\",\"kind\":1}"), 400, {"invalid_field"},
              "number for kind");
}

TEST_F(InputTest, MissingFieldsAre400) {
  auto c = NewClient(Client::Cookies::kOff);
  ExpectError(c->Post("/api/register", "{}"), 400, {"missing_field"}, "register {}");
  ExpectError(c->Post("/api/login", "{\"username\":\"x\"}"), 400, {"missing_field"}, "login");
  ExpectError(SendRaw("{}"), 400, {"missing_field"}, "send {}");
  ExpectError(SendRaw("{\"client_id\":\"c1\"}"), 400, {"missing_field"}, "send without text");
  ExpectError(alice_->Post("/api/dm", "{}"), 400, {"missing_field"}, "dm {}");
  ExpectError(alice_->Post(RoomPath(room_, "/read"), "{}"), 400, {"missing_field"}, "read {}");
  ExpectError(alice_->Post(RoomPath(room_, "/members"), "{}"), 400, {"missing_field"},
              "invite {}");
  // A route that takes a body, called with none.
  ExpectError(SendRaw(""), 400, {}, "empty body");
}

TEST_F(InputTest, Text4001CharactersIs400) {
  ExpectError(SendRaw(Text(std::string(4001, 'a'))), 400, {"invalid_field"}, "4001 chars");
  ExpectError(SendRaw(Text("")), 400, {"invalid_field"}, "empty text");
  ExpectError(SendRaw(Text("  \n\t ")), 400, {"invalid_field"}, "blank text");
  std::string long_id(65, 'c');
  ExpectError(SendRaw("{\"text\":\"hi\",\"client_id\":" + Quote(long_id) + "}"), 400,
              {"invalid_field"}, "65-char client_id");
}

// 4000 code points is the limit, not 4000 bytes: 4000 four-byte characters
// (16,000 bytes; 8,000 UTF-16 units) are accepted and stored intact.
TEST_F(InputTest, Text4000MultiByteCharactersIs201) {
  std::string text;
  for (int i = 0; i < 4000; ++i) text += "\xf0\x9f\x98\x80";  // U+1F600
  Response r = SendRaw(Text(text));
  ASSERT_EQ(r.status, 201) << r.Describe().substr(0, 200);
  EXPECT_EQ(r.json()["message"]["text"].str(), text);
  std::string euro;
  for (int i = 0; i < 4000; ++i) euro += "\xe2\x82\xac";  // U+20AC
  EXPECT_EQ(SendRaw(Text(euro)).status, 201);
  ExpectError(SendRaw(Text(euro + "\xe2\x82\xac")), 400, {"invalid_field"}, "4001 euros");
  Response h = alice_->Get(RoomPath(room_, "/messages"));
  ASSERT_EQ(h.json()["messages"].size(), 2u);
  EXPECT_EQ(h.json()["messages"][size_t{0}]["text"].str(), text) << "stored intact";
}

TEST_F(InputTest, UnknownRouteIs404) {
  for (const char* path : {"/api/nope", "/api/rooms/abc/messages", "/api/rooms/1/nope",
                           "/api/rooms//messages", "/api/messages/", "/api/", "/api/me/extra", "/api", "/api?x=1",
                           "/events"}) {
    ExpectError(alice_->Get(path), 404, {"not_found"}, path);
  }
}

TEST_F(InputTest, WrongMethodIs405WithAllow) {
  Response login = alice_->Get("/api/login");
  ExpectError(login, 405, {"method_not_allowed"}, "GET /api/login");
  EXPECT_NE(login.Header("allow").find("POST"), std::string::npos) << login.Header("allow");
  Response rooms = alice_->Delete("/api/rooms");
  ExpectError(rooms, 405, {"method_not_allowed"}, "DELETE /api/rooms");
  EXPECT_NE(rooms.Header("allow").find("GET"), std::string::npos) << rooms.Header("allow");
  EXPECT_NE(rooms.Header("allow").find("POST"), std::string::npos) << rooms.Header("allow");
  ExpectError(alice_->Put("/api/me", "{}"), 405, {"method_not_allowed"}, "PUT /api/me");
  ExpectError(alice_->Get(RoomPath(room_, "/join")), 405, {"method_not_allowed"}, "GET join");
}

TEST_F(InputTest, GarbageAuthorizationIs401) {
  auto c = NewClient(Client::Cookies::kOff);
  for (const std::string& auth :
       {std::string("Bearer"), std::string("Bearer "), std::string("Bearer !!!garbage!!!"),
        std::string("Bearer ") + std::string(64, 'f'), std::string("Bearer ") + std::string(5000, 'a'),
        std::string("Basic YWxpY2U6cGFzc3dvcmQ="), std::string("bearer"),
        "Bearer " + alice_.token + "x", "Bearer " + alice_.token.substr(1),
        std::string("Bearer \xff\xfe\xfd")}) {
    Response r = c->Get("/api/me", {"Authorization: " + auth});
    ExpectError(r, 401, {"not_signed_in"}, "Authorization: " + auth.substr(0, 40));
  }
  ExpectError(c->Get("/api/me", {"Cookie: parley_session=nothex; other=1"}), 401,
              {"not_signed_in"}, "garbage cookie");
}

TEST_F(InputTest, HugeCookieHeader) {
  auto c = NewClient(Client::Cookies::kOff);
  // Within nginx's header limits it reaches the server, which must parse it.
  const std::string junk = "junk=" + std::string(6000, 'j');
  ExpectError(c->Get("/api/me", {"Cookie: " + junk}), 401, {"not_signed_in"}, "6 KB cookie");
  Response ok = c->Get("/api/me", {"Cookie: " + junk + "; parley_session=" + alice_.token});
  EXPECT_EQ(ok.status, 200) << "session cookie after a large one: " << ok.Describe();
  std::string many;
  for (int i = 0; i < 500; ++i) many += "c" + std::to_string(i) + "=v; ";
  ExpectError(c->Get("/api/me", {"Cookie: " + many}), 401, {"not_signed_in"}, "500 cookies");
  // Beyond them nginx refuses it, still in the API's error format.
  Response huge = c->Get("/api/me", {"Cookie: big=" + std::string(40000, 'b')});
  EXPECT_GE(huge.status, 400) << huge.Describe();
  EXPECT_LT(huge.status, 500) << huge.Describe();
  EXPECT_TRUE(huge.json()["error"]["code"].is_string()) << huge.body;
}

TEST_F(InputTest, OutOfRangeIdsAreClientErrors) {
  for (const char* path : {"/api/rooms/99999999999999999999999/messages",
                           "/api/rooms/-1/messages", "/api/rooms/0/messages",
                           "/api/rooms/1e3/messages", "/api/rooms/0x10/messages"}) {
    Response r = alice_->Get(path);
    EXPECT_TRUE(r.status == 400 || r.status == 404) << path << ": " << r.Describe();
    EXPECT_TRUE(r.json()["error"]["code"].is_string()) << path << ": " << r.body;
  }
  Response m = alice_->Patch("/api/messages/99999999999999999999", Text("x"));
  EXPECT_TRUE(m.status == 400 || m.status == 404) << m.Describe();
}

}  // namespace
}  // namespace parley::e2e
