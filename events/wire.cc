#include "events/wire.h"

#include "schema/json.h"

namespace parley::events {

std::string SsePreamble(std::string_view epoch, int64_t head, std::string_view user_json) {
  std::string out;
  out.reserve(kPaddingBytes + 256);
  out += ':';
  out.append(kPaddingBytes, ' ');
  out += "\n\n";
  out += SseRetry(kRetryMs);
  JsonWriter w;
  w.BeginObject().Key("epoch").String(epoch).Key("head").Int(head).Key("user").Raw(user_json).EndObject();
  out += SseEphemeral("hello", w.str());
  return out;
}

std::string SseEvent(int64_t id, std::string_view type, std::string_view data) {
  std::string out;
  out.reserve(data.size() + type.size() + 40);
  out += "id: ";
  out += std::to_string(id);
  out += "\nevent: ";
  out += type;
  out += "\ndata: ";
  out += data;
  out += "\n\n";
  return out;
}

std::string SseEphemeral(std::string_view type, std::string_view data) {
  std::string out;
  out.reserve(data.size() + type.size() + 20);
  out += "event: ";
  out += type;
  out += "\ndata: ";
  out += data;
  out += "\n\n";
  return out;
}

std::string SseComment(std::string_view text) {
  std::string out = ": ";
  out += text;
  out += "\n\n";
  return out;
}

std::string SseRetry(int ms) { return "retry: " + std::to_string(ms) + "\n\n"; }

std::string PollBody(std::string_view epoch, const std::vector<PollEvent>& events, int64_t next, bool more) {
  JsonWriter w;
  w.BeginObject().Key("epoch").String(epoch).Key("events").BeginArray();
  for (const PollEvent& e : events) {
    w.BeginObject();
    if (e.id > 0) w.Key("id").Int(e.id);
    w.Key("type").String(e.type).Key("data").Raw(e.data).EndObject();
  }
  w.EndArray().Key("next").Int(next).Key("more").Bool(more).EndObject();
  return w.Take();
}

}  // namespace parley::events
