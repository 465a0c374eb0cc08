// schema/json.cc: the JSON writer and the model's JSON forms. Every output
// is also parsed back with cJSON, the parser the rest of Parley uses.
#include "schema/json.h"

#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <string>
#include <vector>

#include "tests/unit/json_read.h"

namespace parley {
namespace {

using test::Get;
using test::Parse;

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(out, s);
  return out;
}

TEST(AppendJsonStringTest, Escapes) {
  EXPECT_EQ(Quoted(""), R"("")");
  EXPECT_EQ(Quoted("plain"), R"("plain")");
  EXPECT_EQ(Quoted("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(Quoted("\n\r\t"), R"("\n\r\t")");
  EXPECT_EQ(Quoted("\x01"), R"("\u0001")");
  EXPECT_EQ(Quoted("\x1b[2J"), R"("\u001b[2J")");
  EXPECT_EQ(Quoted("\x1f"), R"("\u001f")");
  EXPECT_EQ(Quoted(std::string("a\0b", 3)), R"("a\u0000b")");
  EXPECT_EQ(Quoted("\x7f"), "\"\x7f\"");
  EXPECT_EQ(Quoted("caf\xC3\xA9 \xF0\x9F\x98\x80"), "\"caf\xC3\xA9 \xF0\x9F\x98\x80\"");  // UTF-8 as is
  EXPECT_EQ(Quoted("</script>"), R"("</script>")");
  std::string appended = "prefix:";
  AppendJsonString(appended, "x");
  EXPECT_EQ(appended, R"(prefix:"x")");
}

TEST(AppendJsonStringTest, RoundTripsEveryAsciiByte) {
  std::string all;
  for (int c = 1; c < 128; ++c) all += static_cast<char>(c);
  all += "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
  JsonPtr j = Parse("[" + Quoted(all) + "]");
  ASSERT_NE(j, nullptr);
  const cJSON* s = cJSON_GetArrayItem(j.get(), 0);
  ASSERT_TRUE(cJSON_IsString(s));
  EXPECT_EQ(std::string(s->valuestring), all);
}


// The escape is looked for eight bytes at a time: every byte value, at
// every place of a word and of the tail after the last whole word, among
// neighbours that need no escape and that do (bytes of 0x80 and over
// beside it too), must come out escaped (no raw control character, quote
// or backslash) and read back as it went in. (NUL, which cJSON's strings
// cannot hold, is left to Escapes above.)
TEST(AppendJsonStringTest, EveryByteAtEveryPlaceOfAWord) {
  for (const char fill : {'a', '\xff', '\x80', '\x1f', '"'}) {
    for (size_t length = 1; length <= 19; ++length) {
      for (size_t at = 0; at < length; ++at) {
        for (int c = 1; c < 256; ++c) {
          std::string s(length, fill);
          s[at] = static_cast<char>(c);
          const std::string quoted = Quoted(s);
          const std::string inside = quoted.substr(1, quoted.size() - 2);
          for (size_t i = 0; i < inside.size(); ++i) {
            const unsigned char b = static_cast<unsigned char>(inside[i]);
            ASSERT_GE(b, 0x20) << "length " << length << " at " << at << " byte " << c;
            if (b == '\\') {
              ++i;  // the escaped character
            } else {
              ASSERT_NE(b, '"') << "length " << length << " at " << at << " byte " << c;
            }
          }
          JsonPtr j = Parse("[" + quoted + "]");
          ASSERT_NE(j, nullptr) << quoted;
          ASSERT_EQ(std::string(cJSON_GetArrayItem(j.get(), 0)->valuestring), s)
              << "fill " << int(fill) << " length " << length << " at " << at << " byte " << c;
        }
      }
    }
  }
}

TEST(JsonWriterTest, PlacesCommasAndNests) {
  JsonWriter w;
  w.BeginObject();
  w.Key("a").BeginArray().Int(1).Int(2).BeginObject().EndObject().BeginArray().EndArray().EndArray();
  w.Key("b").Null();
  w.Key("c").Bool(true).Key("d").Bool(false);
  w.Key("e").String("x").Key("f").Raw(R"({"raw":1})");
  w.Key("g").BeginObject().Key("h").Int(-5).EndObject();
  w.EndObject();
  EXPECT_EQ(w.str(), R"({"a":[1,2,{},[]],"b":null,"c":true,"d":false,"e":"x","f":{"raw":1},"g":{"h":-5}})");
  EXPECT_NE(Parse(std::string(w.str())), nullptr);
}

TEST(JsonWriterTest, EmptyContainersAndExtremeInts) {
  JsonWriter empty_object;
  empty_object.BeginObject().EndObject();
  EXPECT_EQ(empty_object.Take(), "{}");
  JsonWriter empty_array;
  empty_array.BeginArray().EndArray();
  EXPECT_EQ(empty_array.Take(), "[]");
  JsonWriter ints;
  ints.BeginArray().Int(0).Int(INT64_MAX).Int(INT64_MIN).Int(int64_t{1} << 53).EndArray();
  EXPECT_EQ(ints.str(), "[0,9223372036854775807,-9223372036854775808,9007199254740992]");
  JsonWriter keys;
  keys.BeginObject().Key("we\"ird\n").Int(1).EndObject();
  JsonPtr j = Parse(std::string(keys.str()));
  EXPECT_NE(Get(j.get(), "we\"ird\n"), nullptr);
}

// The writer makes room ahead of each value and grows its buffer as it
// goes: values of every size, the worst case for escapes among them, come
// out whole across the growths, and a writer taken from starts afresh.
TEST(JsonWriterTest, GrowsAcrossValuesOfEverySize) {
  JsonWriter w;
  std::vector<std::string> values;
  w.BeginArray();
  for (size_t n = 0; n < 3000; n += 1 + n / 3) {
    std::string v(n, 'x');
    for (size_t i = 0; i < n; i += 7) v[i] = static_cast<char>(1 + i % 31);  // control characters: 6 bytes each
    values.push_back(v);
    w.BeginObject().Key(v).String(v).Key("n").Int(static_cast<int64_t>(n)).EndObject();
  }
  w.EndArray();
  const std::string json = w.Take();
  EXPECT_TRUE(w.str().empty());
  JsonPtr j = Parse(json);
  ASSERT_NE(j, nullptr);
  ASSERT_EQ(cJSON_GetArraySize(j.get()), static_cast<int>(values.size()));
  for (size_t i = 0; i < values.size(); ++i) {
    const cJSON* item = cJSON_GetArrayItem(j.get(), static_cast<int>(i));
    const cJSON* s = item->child;
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(std::string(s->string), values[i]) << i;
    EXPECT_EQ(std::string(s->valuestring), values[i]) << i;
    EXPECT_EQ(Get(item, "n")->valuedouble, static_cast<double>(values[i].size()));
  }
  w.BeginObject().Key("again").Bool(true).EndObject();
  EXPECT_EQ(w.Take(), R"({"again":true})");
}

TEST(ModelJsonTest, User) {
  EXPECT_EQ(ToJson(User{7, "alice"}), R"({"id":7,"username":"alice"})");
  EXPECT_EQ(Wrap("user", User{7, "al\"ice"}), R"({"user":{"id":7,"username":"al\"ice"}})");
}

TEST(ModelJsonTest, RoomHasEveryKeyWithNulls) {
  Room r;
  r.id = 3;
  r.name = "Lobby";
  r.kind = RoomKind::kPublic;
  JsonPtr j = Parse(ToJson(r));
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(Get(j.get(), "id")->valuedouble, 3);
  EXPECT_STREQ(Get(j.get(), "name")->valuestring, "Lobby");
  EXPECT_STREQ(Get(j.get(), "kind")->valuestring, "public");
  EXPECT_TRUE(cJSON_IsNull(Get(j.get(), "owner")));
  EXPECT_TRUE(cJSON_IsFalse(Get(j.get(), "member")));
  EXPECT_TRUE(cJSON_IsNull(Get(j.get(), "role")));
  EXPECT_EQ(Get(j.get(), "unread")->valuedouble, 0);
  EXPECT_EQ(Get(j.get(), "last_event_id")->valuedouble, 0);
  EXPECT_TRUE(cJSON_IsNull(Get(j.get(), "answers_per_professor")));
  EXPECT_EQ(Get(j.get(), "peer"), nullptr);  // dm only
  EXPECT_EQ(Get(j.get(), "read_event_id"), nullptr);  // members only

  r.owner = User{1, "alice"};
  r.member = true;
  r.role = Role::kProfessor;
  r.unread = 4;
  r.last_event_id = 99;
  r.read_event_id = 97;
  r.kind = RoomKind::kQa;
  r.answers_per_professor = 1;
  j = Parse(ToJson(r));
  EXPECT_STREQ(Get(Get(j.get(), "owner"), "username")->valuestring, "alice");
  EXPECT_TRUE(cJSON_IsTrue(Get(j.get(), "member")));
  EXPECT_STREQ(Get(j.get(), "role")->valuestring, "professor");
  EXPECT_EQ(Get(j.get(), "unread")->valuedouble, 4);
  EXPECT_EQ(Get(j.get(), "last_event_id")->valuedouble, 99);
  EXPECT_EQ(Get(j.get(), "read_event_id")->valuedouble, 97);
  EXPECT_EQ(Get(j.get(), "answers_per_professor")->valuedouble, 1);
}

// A direct conversation with bob, as alice sees it.
Room DmWithBob() {
  Room r;
  r.id = 9;
  r.name = "dm";
  r.kind = RoomKind::kDm;
  r.member = true;
  r.role = Role::kMember;
  r.peer = User{2, "bob"};
  return r;
}

TEST(ModelJsonTest, DirectConversationIsNamedAfterThePeer) {
  Room r = DmWithBob();
  JsonPtr j = Parse(ToJson(r));
  EXPECT_STREQ(Get(j.get(), "name")->valuestring, "bob");
  EXPECT_STREQ(Get(Get(j.get(), "peer"), "username")->valuestring, "bob");
  EXPECT_EQ(Get(Get(j.get(), "peer"), "id")->valuedouble, 2);
}

// Byte for byte: the JSON that clients parse did not change when kinds and
// roles became enums.
TEST(ModelJsonTest, RoomBytes) {
  Room r;
  r.id = 3;
  r.name = "Lobby";
  r.kind = RoomKind::kPrivate;
  EXPECT_EQ(ToJson(r), R"({"id":3,"name":"Lobby","kind":"private","owner":null,"member":false,"role":null,)"
                       R"("unread":0,"last_event_id":0,"answers_per_professor":null})");
  r.kind = RoomKind::kQa;
  r.owner = User{1, "alice"};
  r.member = true;
  r.role = Role::kStudent;
  r.answers_per_professor = 2;
  EXPECT_EQ(ToJson(r), R"({"id":3,"name":"Lobby","kind":"qa","owner":{"id":1,"username":"alice"},"member":true,)"
                       R"("role":"student","unread":0,"last_event_id":0,"read_event_id":0,"answers_per_professor":2,)"
                       R"("unread_mentions":0,"notifications":"all","last_message":null})");
  EXPECT_EQ(ToJson(DmWithBob()), R"({"id":9,"name":"bob","kind":"dm","owner":null,"member":true,"role":"member",)"
                        R"("unread":0,"last_event_id":0,"read_event_id":0,"answers_per_professor":null,"peer":{"id":2,"username":"bob"},)"
                        R"("unread_mentions":0,"notifications":"all","last_message":null})");
}

TEST(ModelJsonTest, Member) {
  EXPECT_EQ(ToJson(Member{User{2, "bob"}, Role::kStudent, false, true}),
            R"({"user":{"id":2,"username":"bob"},"role":"student","owner":false,"moderator":false,"online":true,)"
            R"("read_event_id":0})");
  Member muted{User{2, "bob"}, Role::kMember, false, false, true, 1795330742179, 42};
  EXPECT_EQ(ToJson(muted), R"({"user":{"id":2,"username":"bob"},"role":"member","owner":false,"moderator":true,)"
                           R"("online":false,"muted_until":1795330742179,"read_event_id":42})");
}

TEST(ModelJsonTest, MessageMentionsAndReactionsBytes) {
  Message m;
  m.id = 10;
  m.room_id = 1;
  m.user = User{1, "alice"};
  m.kind = "message";
  m.text = "@bob";
  m.ts = 5;
  m.mentions = {2, 3};
  m.reactions = {Reaction{"\xF0\x9F\x91\x8D", 2, true}, Reaction{"ok", 1, false}};
  EXPECT_EQ(ToJson(m), R"({"id":10,"room_id":1,"user":{"id":1,"username":"alice"},"kind":"message","text":"@bob",)"
                       R"("ts":5,"mentions":[2,3],"reactions":[{"emoji":")" "\xF0\x9F\x91\x8D" R"(","count":2,"me":true},)"
                       R"({"emoji":"ok","count":1,"me":false}]})");
}

TEST(ModelJsonTest, MessageOptionalKeysAreAbsentUnlessSet) {
  Message m;
  m.id = 10;
  m.room_id = 1;
  m.user = User{1, "alice"};
  m.kind = "message";
  m.text = "line\none \"quoted\"";
  m.ts = 1700000000000;
  JsonPtr j = Parse(ToJson(m));
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(Get(j.get(), "id")->valuedouble, 10);
  EXPECT_EQ(Get(j.get(), "room_id")->valuedouble, 1);
  EXPECT_STREQ(Get(Get(j.get(), "user"), "username")->valuestring, "alice");
  EXPECT_STREQ(Get(j.get(), "kind")->valuestring, "message");
  EXPECT_STREQ(Get(j.get(), "text")->valuestring, "line\none \"quoted\"");
  EXPECT_EQ(Get(j.get(), "ts")->valuedouble, 1700000000000.0);
  for (const char* absent : {"reply_to", "answer_id", "client_id", "edited", "deleted"}) {
    EXPECT_EQ(Get(j.get(), absent), nullptr) << absent;
  }

  m.kind = "answer";
  m.reply_to = 8;
  m.client_id = "c-1";
  m.edited = true;
  m.deleted = true;
  m.text = "";
  j = Parse(ToJson(m));
  EXPECT_EQ(Get(j.get(), "reply_to")->valuedouble, 8);
  EXPECT_STREQ(Get(j.get(), "client_id")->valuestring, "c-1");
  EXPECT_TRUE(cJSON_IsTrue(Get(j.get(), "edited")));
  EXPECT_TRUE(cJSON_IsTrue(Get(j.get(), "deleted")));
  EXPECT_STREQ(Get(j.get(), "text")->valuestring, "");

  Message q = m;
  q.kind = "question";
  q.reply_to.reset();
  q.answer_id = 11;
  j = Parse(ToJson(q));
  EXPECT_EQ(Get(j.get(), "answer_id")->valuedouble, 11);
}

TEST(ModelJsonTest, WrapsVectors) {
  EXPECT_EQ(Wrap("users", std::vector<User>{}), R"({"users":[]})");
  EXPECT_EQ(Wrap("users", std::vector<User>{User{1, "a"}, User{2, "b"}}),
            R"({"users":[{"id":1,"username":"a"},{"id":2,"username":"b"}]})");
}

// A client reads a status's message unless it is private (the database's
// own words: Status::WithPrivateMessage) or internal; then a fixed text for
// the code, and the code and reason are kept.
TEST(ErrorJsonTest, APrivateMessageIsNeverSentAndItsCodeIs) {
  EXPECT_EQ(ErrorJson(Status::Conflict("name_taken", "that name is taken")),
            R"({"error":{"code":"name_taken","message":"that name is taken"}})");
  EXPECT_EQ(ErrorJson(Status::Internal("SELECT secret FROM t: disk I/O error")),
            R"({"error":{"code":"internal","message":"internal error"}})");
  const Status busy = Status::Unavailable("connecting to PostgreSQL: connection to server at \"10.1.2.3\" failed")
                          .WithPrivateMessage();
  EXPECT_EQ(ErrorJson(busy), R"({"error":{"code":"busy","message":"the database is busy; try again shortly"}})");
  EXPECT_EQ(ErrorJson(Status::StorageUnavailable("step: disk I/O error in /var/lib/parley/parley.db-wal")),
            R"({"error":{"code":"storage_unavailable","message":"the server's storage failed; try again later"}})");
  const Status conflict = Status::Conflict("conflict", "INSERT INTO users: duplicate key").WithPrivateMessage();
  EXPECT_EQ(ErrorJson(conflict),
            R"({"error":{"code":"conflict","message":"the request conflicted with another one; try again"}})");
  // Context keeps the privacy, the code and the Retry-After.
  const Status wrapped = Status::StorageFull().WithContext("the batch failed");
  EXPECT_EQ(wrapped.retry_after_s(), 10);
  EXPECT_EQ(wrapped.message(), "the batch failed: the server's disk is full; try again later");
  const Status still = busy.WithContext("the batch failed and was rolled back");
  EXPECT_TRUE(still.message_is_private());
  EXPECT_EQ(ErrorJson(still), ErrorJson(busy));
}

}  // namespace
}  // namespace parley
