#include "schema/json.h"

#include <charconv>

namespace parley {

void AppendJsonString(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out += '"';
  size_t run = 0;  // start of the pending run of bytes that need no escape
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

JsonWriter& JsonWriter::Open(char c) {
  BeforeValue();
  out_ += c;
  need_comma_ = false;
  return *this;
}

JsonWriter& JsonWriter::Close(char c) {
  out_ += c;
  need_comma_ = true;
  return *this;
}

JsonWriter& JsonWriter::Key(std::string_view key) {
  BeforeValue();
  AppendJsonString(out_, key);
  out_ += ':';
  need_comma_ = false;  // the value follows without a comma
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view v) {
  BeforeValue();
  AppendJsonString(out_, v);
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t v) {
  BeforeValue();
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out_.append(buf, r.ptr);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool v) {
  BeforeValue();
  out_ += v ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::Null() {
  BeforeValue();
  out_ += "null";
  return *this;
}

JsonWriter& JsonWriter::Raw(std::string_view json) {
  BeforeValue();
  out_ += json;
  return *this;
}

namespace {

// What a client reads when the message is not for it (Status::message_is_private).
std::string_view PublicMessage(Code code) {
  switch (code) {
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
  std::string_view msg = st.message_is_private() ? PublicMessage(st.code()) : std::string_view(st.message());
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
    w.Key("last_message");
    if (r.last_message) {
      Write(w, *r.last_message);
    } else {
      w.Null();
    }
  }
  w.EndObject();
}

void Write(JsonWriter& w, const Ban& b) {
  w.BeginObject().Key("user");
  Write(w, b.user);
  w.Key("reason").String(b.reason).Key("by");
  if (b.by) {
    Write(w, *b.by);
  } else {
    w.Null();
  }
  w.Key("ts").Int(b.ts).EndObject();
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
  if (m.client_id) w.Key("client_id").String(*m.client_id);
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
