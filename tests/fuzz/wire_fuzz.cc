// Fuzz target: the SSE and long-poll wire formats round trip. A message
// with fuzzed text, username and client_id is encoded the way the server
// does (schema/json.cc's Write(Message)), framed with events/wire.h
// (SsePreamble, SseEvent, SseEphemeral, SseComment, PollBody), and read back
// with the load generator's WHATWG SSE parser (tools/loadgen/sse_parser.h),
// fed in fuzzed splits, and with cJSON.
//
// Oracles: the stream yields exactly hello, the event and the ephemeral
// event, in order, with the id, type and data byte for byte (no newline or
// CR in user text can end an event early or forge an id: line); the
// ephemeral event does not move the last event id; the decoded JSON gives
// back the text and the client_id (none for a replay key); the poll body
// parses and carries the same ids, types, data, next and more.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "events/wire.h"
#include "schema/json.h"
#include "tests/fuzz/check.h"
#include "tools/loadgen/sse_parser.h"

namespace {

using namespace parley;

const char* const kTypes[] = {"message", "question", "answer", "edit", "delete", "room", "member", "user",
                              "typing", "presence", "reset"};

struct Collect : loadgen::SseSink {
  std::vector<loadgen::SseEvent> events;
  void OnEvent(const loadgen::SseEvent& e) override { events.push_back(e); }
};

std::string StringField(const cJSON* obj, const char* key) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(obj, key);
  FUZZ_CHECK(cJSON_IsString(v));
  return v->valuestring;
}

// cJSON returns C strings: a NUL (escaped as \u0000) ends them early, so
// text is compared only up to its first NUL. Parley refuses NUL in text.
std::string UpToNul(const std::string& s) { return s.substr(0, s.find('\0')); }

void CheckMessageJson(const std::string& json, const Message& m) {
  JsonPtr j(cJSON_ParseWithLength(json.data(), json.size()));
  FUZZ_CHECK(j && cJSON_IsObject(j.get()));
  FUZZ_CHECK(StringField(j.get(), "text") == UpToNul(m.text));
  FUZZ_CHECK(StringField(cJSON_GetObjectItemCaseSensitive(j.get(), "user"), "username") == UpToNul(m.user.username));
  // A replay key (nginx's request id standing in for a client_id, model.h)
  // is never shown; any other client_id is, as it was sent.
  if (m.client_id && !IsReplayKey(*m.client_id)) {
    FUZZ_CHECK(StringField(j.get(), "client_id") == UpToNul(*m.client_id));
  } else {
    FUZZ_CHECK(!cJSON_HasObjectItem(j.get(), "client_id"));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  Message m;
  m.id = in.ConsumeIntegralInRange<int64_t>(1, INT64_MAX);
  m.room_id = in.ConsumeIntegral<int64_t>();
  m.user.id = in.ConsumeIntegral<int64_t>();
  m.user.username = in.ConsumeRandomLengthString(40);
  m.kind = "message";
  if (in.ConsumeBool()) m.client_id = in.ConsumeRandomLengthString(70);
  m.ts = in.ConsumeIntegral<int64_t>();
  std::string type = kTypes[in.ConsumeIntegralInRange<size_t>(0, std::size(kTypes) - 1)];
  std::string ephemeral_type = kTypes[in.ConsumeIntegralInRange<size_t>(0, std::size(kTypes) - 1)];
  std::string epoch = in.ConsumeRandomLengthString(20);
  int64_t head = in.ConsumeIntegral<int64_t>();
  bool more = in.ConsumeBool();
  std::vector<size_t> cuts;
  for (int n = in.ConsumeIntegralInRange<int>(0, 8); n > 0; --n) cuts.push_back(in.ConsumeIntegral<uint16_t>());
  m.text = in.ConsumeRemainingBytesAsString();

  const std::string message_json = ToJson(m);
  const std::string user_json = ToJson(m.user);
  CheckMessageJson(message_json, m);

  // --- SSE: framed as a stream delivers it, parsed in arbitrary splits.
  std::string stream = events::SsePreamble(epoch, head, user_json) + events::SseEvent(m.id, type, message_json) +
                       events::SseComment("hb") + events::SseEphemeral(ephemeral_type, user_json);
  loadgen::SseParser parser;
  Collect sink;
  size_t at = 0;
  for (size_t cut : cuts) {
    size_t len = std::min(cut % (stream.size() + 1), stream.size() - at);
    FUZZ_CHECK(parser.Feed(std::string_view(stream).substr(at, len), sink));
    at += len;
  }
  FUZZ_CHECK(parser.Feed(std::string_view(stream).substr(at), sink));
  FUZZ_CHECK(sink.events.size() == 3);
  FUZZ_CHECK(parser.retry_ms() == events::kRetryMs);
  FUZZ_CHECK(parser.comments() == 2);  // the padding and the heartbeat

  const loadgen::SseEvent& hello = sink.events[0];
  FUZZ_CHECK(hello.type == "hello" && !hello.has_id);
  JsonPtr hj(cJSON_ParseWithLength(hello.data.data(), hello.data.size()));
  FUZZ_CHECK(hj && StringField(hj.get(), "epoch") == UpToNul(epoch));
  const cJSON* hh = cJSON_GetObjectItemCaseSensitive(hj.get(), "head");
  FUZZ_CHECK(cJSON_IsNumber(hh));

  const loadgen::SseEvent& ev = sink.events[1];
  FUZZ_CHECK(ev.has_id && ev.id == std::to_string(m.id));
  FUZZ_CHECK(ev.type == type && ev.data == message_json);
  CheckMessageJson(ev.data, m);

  const loadgen::SseEvent& eph = sink.events[2];
  FUZZ_CHECK(!eph.has_id && eph.id == std::to_string(m.id));  // still the last durable id
  FUZZ_CHECK(eph.type == ephemeral_type && eph.data == user_json);
  FUZZ_CHECK(parser.last_event_id() == std::to_string(m.id));

  // --- Long-poll: one durable and one ephemeral event in a body.
  std::vector<events::PollEvent> poll = {{m.id, type, message_json}, {0, ephemeral_type, user_json}};
  int64_t next = m.id;
  std::string body = events::PollBody(epoch, poll, next, more);
  JsonPtr pj(cJSON_ParseWithLength(body.data(), body.size()));
  FUZZ_CHECK(pj && cJSON_IsObject(pj.get()));
  FUZZ_CHECK(StringField(pj.get(), "epoch") == UpToNul(epoch));
  FUZZ_CHECK(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(pj.get(), "more")) &&
             cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pj.get(), "more")) == more);
  const cJSON* list = cJSON_GetObjectItemCaseSensitive(pj.get(), "events");
  FUZZ_CHECK(cJSON_IsArray(list) && cJSON_GetArraySize(list) == 2);
  const cJSON* first = cJSON_GetArrayItem(list, 0);
  const cJSON* second = cJSON_GetArrayItem(list, 1);
  FUZZ_CHECK(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(first, "id")));
  FUZZ_CHECK(cJSON_GetObjectItemCaseSensitive(second, "id") == nullptr);
  FUZZ_CHECK(StringField(first, "type") == type && StringField(second, "type") == ephemeral_type);
  JsonPtr printed(cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(first, "data"), true));
  FUZZ_CHECK(printed && cJSON_IsObject(printed.get()));
  FUZZ_CHECK(StringField(printed.get(), "text") == UpToNul(m.text));
  return 0;
}
