#include "tools/loadgen/stamp.h"

namespace parley::loadgen {

namespace {

// Reads "<key>=<digits>" at *p; advances past it and one following space.
bool Field(std::string_view text, size_t* p, char key, uint64_t* out) {
  if (*p + 2 > text.size() || text[*p] != key || text[*p + 1] != '=') return false;
  size_t i = *p + 2;
  uint64_t v = 0;
  size_t digits = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    if (++digits > 19) return false;
    v = v * 10 + static_cast<uint64_t>(text[i] - '0');
    ++i;
  }
  if (digits == 0) return false;
  if (i < text.size() && text[i] == ' ') ++i;
  *out = v;
  *p = i;
  return true;
}

}  // namespace

std::string FormatStamp(const Stamp& s) {
  std::string out = "lg t=";
  out += std::to_string(s.t_ns);
  out += " s=";
  out += std::to_string(s.sender);
  out += " n=";
  out += std::to_string(s.seq);
  out += " g=";
  out += std::to_string(s.g);
  out += " r=";
  out += std::to_string(s.run);
  return out;
}

std::optional<Stamp> NextStamp(std::string_view text, size_t* pos) {
  constexpr std::string_view kTag = "lg ";
  while (*pos < text.size()) {
    size_t at = text.find(kTag, *pos);
    if (at == std::string_view::npos) {
      *pos = text.size();
      return std::nullopt;
    }
    size_t p = at + kTag.size();
    Stamp s;
    uint64_t t = 0;
    if (Field(text, &p, 't', &t) && Field(text, &p, 's', &s.sender) && Field(text, &p, 'n', &s.seq) &&
        Field(text, &p, 'g', &s.g) && Field(text, &p, 'r', &s.run)) {
      s.t_ns = static_cast<int64_t>(t);
      *pos = p;
      return s;
    }
    *pos = at + 1;
  }
  return std::nullopt;
}

std::optional<int64_t> PollNext(std::string_view body) {
  constexpr std::string_view kKey = ",\"next\":";
  size_t at = body.rfind(kKey);
  if (at == std::string_view::npos) return std::nullopt;
  size_t i = at + kKey.size();
  int64_t v = 0;
  size_t digits = 0;
  while (i < body.size() && body[i] >= '0' && body[i] <= '9') {
    if (++digits > 18) return std::nullopt;
    v = v * 10 + (body[i] - '0');
    ++i;
  }
  if (digits == 0) return std::nullopt;
  return v;
}

}  // namespace parley::loadgen
