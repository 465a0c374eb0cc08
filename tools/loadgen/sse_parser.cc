#include "tools/loadgen/sse_parser.h"

#include <cstring>

namespace parley::loadgen {

namespace {
constexpr std::string_view kBom = "\xEF\xBB\xBF";
}

bool SseParser::Feed(std::string_view bytes, SseSink& sink) {
  if (failed_) return false;
  if (!started_) {
    // The BOM may itself arrive split; hold back a prefix of it.
    partial_.append(bytes);
    if (partial_.size() < kBom.size() && kBom.substr(0, partial_.size()) == partial_) return true;
    started_ = true;
    std::string buffered;
    buffered.swap(partial_);
    std::string_view rest = buffered;
    if (rest.substr(0, kBom.size()) == kBom) rest.remove_prefix(kBom.size());
    return Feed(rest, sink);
  }
  const char* p = bytes.data();
  const char* end = p + bytes.size();
  if (skip_lf_ && p < end) {
    skip_lf_ = false;
    if (*p == '\n') ++p;
  }
  while (p < end) {
    // The next line end: CR, LF or CRLF.
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', end - p));
    const char* cr = static_cast<const char*>(std::memchr(p, '\r', (nl ? nl : end) - p));
    const char* eol = cr ? cr : nl;
    if (!eol) {
      partial_.append(p, end);
      if (partial_.size() > kMaxLine) {
        failed_ = true;
        return false;
      }
      return true;
    }
    if (partial_.empty()) {
      Line(std::string_view(p, eol - p), sink);
    } else {
      partial_.append(p, eol);
      if (partial_.size() > kMaxLine) {
        failed_ = true;
        return false;
      }
      Line(partial_, sink);
      partial_.clear();
    }
    p = eol + 1;
    if (*eol == '\r') {
      if (p == end) {
        skip_lf_ = true;
      } else if (*p == '\n') {
        ++p;
      }
    }
  }
  return true;
}

void SseParser::Line(std::string_view line, SseSink& sink) {
  if (line.empty()) {
    Dispatch(sink);
    return;
  }
  if (line.front() == ':') {
    ++comments_;
    return;
  }
  std::string_view field = line;
  std::string_view value;
  if (size_t colon = line.find(':'); colon != std::string_view::npos) {
    field = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (have_data_) ev_.data += '\n';
    ev_.data.append(value);
    have_data_ = true;
  } else if (field == "event") {
    ev_.type.assign(value);
  } else if (field == "id") {
    // An id containing NUL is ignored (WHATWG).
    if (value.find('\0') == std::string_view::npos) {
      last_id_.assign(value);
      block_id_ = true;
    }
  } else if (field == "retry") {
    if (!value.empty() && value.size() < 10 &&
        value.find_first_not_of("0123456789") == std::string_view::npos) {
      retry_ms_ = 0;
      for (char c : value) retry_ms_ = retry_ms_ * 10 + (c - '0');
    }
  }
  // Any other field is ignored.
}

void SseParser::Dispatch(SseSink& sink) {
  if (have_data_) {
    if (ev_.type.empty()) ev_.type = "message";
    ev_.id = last_id_;
    ev_.has_id = block_id_;
    ++events_;
    sink.OnEvent(ev_);
  }
  ev_.type.clear();
  ev_.data.clear();
  ev_.id.clear();
  ev_.has_id = false;
  have_data_ = false;
  block_id_ = false;
}

}  // namespace parley::loadgen
