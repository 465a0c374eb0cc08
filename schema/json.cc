#include "schema/json.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace parley {

namespace {

constexpr uint64_t kOnes = 0x0101010101010101ULL;

// True when one of the 8 bytes in w needs an escape: a control character
// (below 0x20), '"' or '\\'. The word tests of "Bit Twiddling Hacks"
// (hasless, haszero): exact as a yes or no, whatever the other bytes hold.
bool NeedsEscape(uint64_t w) {
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  const uint64_t quote = w ^ (kOnes * '"');
  const uint64_t backslash = w ^ (kOnes * '\\');
  const uint64_t control = (w - kOnes * 0x20) & ~w;
  return ((control | ((quote - kOnes) & ~quote) | ((backslash - kOnes) & ~backslash)) & kHigh) != 0;
}

// The most bytes PutQuoted writes for n: six for a control character.
constexpr size_t QuotedRoom(size_t n) { return 6 * n + 2; }

// Writes s quoted and escaped at p; returns the end. Eight bytes at a time
// while none needs an escape: most strings need none.
char* PutQuoted(char* p, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  *p++ = '"';
  for (size_t i = 0; i < s.size();) {
    if (i + 8 <= s.size()) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      if (!NeedsEscape(w)) {
        std::memcpy(p, &w, 8);
        p += 8;
        i += 8;
        continue;
      }
    }
    const unsigned char c = static_cast<unsigned char>(s[i++]);
    if (c >= 0x20 && c != '"' && c != '\\') {
      *p++ = static_cast<char>(c);
      continue;
    }
    *p++ = '\\';
    switch (c) {
      case '"': *p++ = '"'; break;
      case '\\': *p++ = '\\'; break;
      case '\n': *p++ = 'n'; break;
      case '\r': *p++ = 'r'; break;
      case '\t': *p++ = 't'; break;
      default:
        std::memcpy(p, "u00", 3);
        p[3] = kHex[c >> 4];
        p[4] = kHex[c & 15];
        p += 5;
    }
  }
  *p++ = '"';
  return p;
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  const size_t start = out.size();
  out.resize(start + QuotedRoom(s.size()));
  out.resize(static_cast<size_t>(PutQuoted(out.data() + start, s) - out.data()));
}

char* JsonWriter::Grow(size_t n) {
  cap_ = std::max({cap_ * 2, len_ + n, size_t{1024}});
  auto bigger = std::make_unique_for_overwrite<char[]>(cap_);
  if (len_ > 0) std::memcpy(bigger.get(), buf_.get(), len_);
  buf_ = std::move(bigger);
  return buf_.get() + len_;
}

std::string JsonWriter::Take() {
  std::string out(str());
  len_ = 0;
  need_comma_ = false;
  return out;
}

JsonWriter& JsonWriter::Open(char c) {
  char* p = Separate(Room(2));
  *p++ = c;
  need_comma_ = false;
  Done(p);
  return *this;
}

JsonWriter& JsonWriter::Close(char c) {
  char* p = Room(1);
  *p++ = c;
  need_comma_ = true;
  Done(p);
  return *this;
}

JsonWriter& JsonWriter::Key(std::string_view key) {
  char* p = PutQuoted(Separate(Room(QuotedRoom(key.size()) + 2)), key);
  *p++ = ':';
  need_comma_ = false;  // the value follows without a comma
  Done(p);
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view v) {
  Done(PutQuoted(Separate(Room(QuotedRoom(v.size()) + 1)), v));
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t v) {
  char* p = Separate(Room(21));  // a comma and "-9223372036854775808"
  Done(std::to_chars(p, p + 20, v).ptr);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool v) { return Raw(v ? "true" : "false"); }

JsonWriter& JsonWriter::Null() { return Raw("null"); }

JsonWriter& JsonWriter::Raw(std::string_view json) {
  char* p = Separate(Room(json.size() + 1));
  if (!json.empty()) std::memcpy(p, json.data(), json.size());
  Done(p + json.size());
  return *this;
}

namespace {

// What a client reads when the message is not for it (Status::message_is_private).
std::string_view PublicMessage(const Status& st) {
  if (st.reason() == "storage_unavailable") return "the server's storage failed; try again later";
  switch (st.code()) {
    case Code::kUnavailable:
      return "the database is busy; try again shortly";
    case Code::kConflict:
      return "the request conflicted with another one; try again";
    case Code::kTooLarge:
      return "too large to store";
    case Code::kInternal:
      return "internal error";
    default:
      return "the request failed";
  }
}

}  // namespace

std::string ErrorJson(const Status& st) {
  std::string_view msg = st.message_is_private() ? PublicMessage(st) : std::string_view(st.message());
  JsonWriter w;
  w.BeginObject().Key("error").BeginObject().Key("code").String(st.reason()).Key("message").String(msg);
  w.EndObject().EndObject();
  return w.Take();
}

void Write(JsonWriter& w, const User& u) {
  w.BeginObject().Key("id").Int(u.id).Key("username").String(u.username).EndObject();
}

void Write(JsonWriter& w, const Room& r) {
  w.BeginObject().Key("id").Int(r.id);
  // A direct conversation is named after the other person, as seen by the reader.
  w.Key("name").String(r.peer ? r.peer->username : r.name);
  w.Key("kind").String(ToString(r.kind));
  if (!r.topic.empty()) w.Key("topic").String(r.topic);
  w.Key("owner");
  if (r.owner) {
    Write(w, *r.owner);
  } else {
    w.Null();
  }
  w.Key("member").Bool(r.member);
  w.Key("role");
  if (r.role) {
    w.String(ToString(*r.role));
  } else {
    w.Null();
  }
  w.Key("unread").Int(r.unread).Key("last_event_id").Int(r.last_event_id);
  // Only members have a marker; clients put a "New messages" line after it.
  if (r.member) w.Key("read_event_id").Int(r.read_event_id);
  w.Key("answers_per_professor");
  if (r.answers_per_professor) {
    w.Int(*r.answers_per_professor);
  } else {
    w.Null();
  }
  if (r.peer) {
    w.Key("peer");
    Write(w, *r.peer);
  }
  if (r.member) {
    w.Key("unread_mentions").Int(r.unread_mentions).Key("notifications").String(ToString(r.notifications));
    if (r.request) w.Key("request").Bool(true);
    w.Key("last_message");
    if (r.last_message) {
      Write(w, *r.last_message);
    } else {
      w.Null();
    }
  }
  w.EndObject();
}

namespace {

// Who did something, or null once that account is gone.
void WriteBy(JsonWriter& w, const std::optional<User>& by) {
  w.Key("by");
  if (by) {
    Write(w, *by);
  } else {
    w.Null();
  }
}

}  // namespace

void Write(JsonWriter& w, const Ban& b) {
  w.BeginObject().Key("user");
  Write(w, b.user);
  w.Key("reason").String(b.reason);
  WriteBy(w, b.by);
  w.Key("ts").Int(b.ts).EndObject();
}

void Write(JsonWriter& w, const Invitation& i) {
  w.BeginObject().Key("room").BeginObject().Key("id").Int(i.room_id).Key("name").String(i.room_name);
  w.Key("kind").String(ToString(i.room_kind));
  if (!i.room_topic.empty()) w.Key("topic").String(i.room_topic);
  w.EndObject().Key("user");
  Write(w, i.user);
  WriteBy(w, i.by);
  w.Key("ts").Int(i.ts).EndObject();
}

void Write(JsonWriter& w, const Member& m) {
  w.BeginObject().Key("user");
  Write(w, m.user);
  w.Key("role").String(ToString(m.role)).Key("owner").Bool(m.owner).Key("moderator").Bool(m.moderator);
  w.Key("online").Bool(m.online);
  if (m.muted_until) w.Key("muted_until").Int(*m.muted_until);
  w.Key("read_event_id").Int(m.read_event_id).EndObject();
}

namespace {

void WriteUpload(JsonWriter& w, const Upload& u, bool with_url) {
  w.BeginObject().Key("id").Int(u.id).Key("name").String(u.name).Key("mime").String(u.mime).Key("size").Int(u.size);
  if (u.width) w.Key("width").Int(*u.width);
  if (u.height) w.Key("height").Int(*u.height);
  if (with_url) w.Key("url").String("/api/uploads/" + std::to_string(u.id));
  w.EndObject();
}

}  // namespace

void Write(JsonWriter& w, const Message& m) {
  w.BeginObject().Key("id").Int(m.id).Key("room_id").Int(m.room_id).Key("user");
  Write(w, m.user);
  w.Key("kind").String(m.kind).Key("text").String(m.text);
  if (m.reply_to) w.Key("reply_to").Int(*m.reply_to);
  if (m.answer_id) w.Key("answer_id").Int(*m.answer_id);
  w.Key("ts").Int(m.ts);
  if (m.client_id && !IsReplayKey(*m.client_id)) w.Key("client_id").String(*m.client_id);
  if (m.edited) w.Key("edited").Bool(true);
  if (m.deleted) w.Key("deleted").Bool(true);
  if (m.deleted_by) {
    w.Key("deleted_by");
    Write(w, *m.deleted_by);
  }
  // Both omitted when empty, as reply_to is when absent.
  if (!m.mentions.empty()) {
    w.Key("mentions").BeginArray();
    for (int64_t id : m.mentions) w.Int(id);
    w.EndArray();
  }
  if (!m.reactions.empty()) {
    w.Key("reactions").BeginArray();
    for (const Reaction& r : m.reactions) {
      w.BeginObject().Key("emoji").String(r.emoji).Key("count").Int(r.count).Key("me").Bool(r.me).EndObject();
    }
    w.EndArray();
  }
  if (!m.attachments.empty()) {
    w.Key("attachments").BeginArray();
    for (const Upload& u : m.attachments) WriteUpload(w, u, true);
    w.EndArray();
  }
  w.EndObject();
}

void Write(JsonWriter& w, const Upload& u) { WriteUpload(w, u, false); }

}  // namespace parley
