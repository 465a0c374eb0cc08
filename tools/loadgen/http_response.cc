#include "tools/loadgen/http_response.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace parley::loadgen {

namespace {

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool IContains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    if (IEquals(hay.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

void ResponseParser::Reset() {
  state_ = State::kStatus;
  line_.clear();
  head_bytes_ = 0;
  status_ = 0;
  chunked_ = false;
  keep_alive_ = true;
  content_length_ = -1;
  remaining_ = 0;
  content_type_.clear();
}

bool ResponseParser::TakeLine(std::string_view& in, std::string_view* line) {
  const char* nl = static_cast<const char*>(std::memchr(in.data(), '\n', in.size()));
  size_t take = nl ? static_cast<size_t>(nl - in.data()) + 1 : in.size();
  head_bytes_ += take;
  if (head_bytes_ > kMaxHead) {
    state_ = State::kError;
    return false;
  }
  if (!nl) {
    line_.append(in);
    in.remove_prefix(in.size());
    return false;
  }
  std::string_view got = in.substr(0, take - 1);
  in.remove_prefix(take);
  if (!line_.empty()) {
    line_.append(got);
    head_line_.swap(line_);
    line_.clear();
    got = head_line_;
  }
  if (!got.empty() && got.back() == '\r') got.remove_suffix(1);
  *line = got;
  return true;
}

bool ResponseParser::StatusLine(std::string_view line) {
  // HTTP/1.x SP 3DIGIT [SP reason]
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ') return false;
  int code = 0;
  for (int i = 9; i < 12; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(line[i]))) return false;
    code = code * 10 + (line[i] - '0');
  }
  status_ = code;
  keep_alive_ = line[7] == '1';  // HTTP/1.0 closes unless told otherwise
  return true;
}

bool ResponseParser::HeaderLine(std::string_view line) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view name = line.substr(0, colon);
  std::string_view value = Trim(line.substr(colon + 1));
  if (IEquals(name, "content-length")) {
    if (value.empty() || value.size() > 15) return false;
    int64_t n = 0;
    for (char c : value) {
      if (c < '0' || c > '9') return false;
      n = n * 10 + (c - '0');
    }
    content_length_ = n;
  } else if (IEquals(name, "transfer-encoding")) {
    chunked_ = IContains(value, "chunked");
  } else if (IEquals(name, "connection")) {
    if (IContains(value, "close")) keep_alive_ = false;
    if (IContains(value, "keep-alive")) keep_alive_ = true;
  } else if (IEquals(name, "content-type")) {
    content_type_.assign(value);
  }
  return true;
}

ResponseParser::Result ResponseParser::StartBody() {
  if ((status_ >= 100 && status_ < 200) || status_ == 204 || status_ == 304) {
    state_ = State::kDone;
  } else if (chunked_) {
    state_ = State::kChunkSize;
  } else if (content_length_ >= 0) {
    remaining_ = static_cast<uint64_t>(content_length_);
    state_ = remaining_ == 0 ? State::kDone : State::kBody;
  } else {
    state_ = State::kUntilClose;
    keep_alive_ = false;
  }
  return Result::kHead;
}

ResponseParser::Result ResponseParser::Feed(std::string_view& in, BodySink& sink) {
  std::string_view line;
  while (true) {
    switch (state_) {
      case State::kStatus:
        if (!TakeLine(in, &line)) return state_ == State::kError ? Result::kError : Result::kNeedMore;
        if (line.empty()) continue;  // tolerate a stray CRLF before the status line
        if (!StatusLine(line)) {
          state_ = State::kError;
          return Result::kError;
        }
        state_ = State::kHeaders;
        continue;
      case State::kHeaders:
        if (!TakeLine(in, &line)) return state_ == State::kError ? Result::kError : Result::kNeedMore;
        if (!line.empty()) {
          if (!HeaderLine(line)) {
            state_ = State::kError;
            return Result::kError;
          }
          continue;
        }
        if (status_ >= 100 && status_ < 200) {
          // An interim response: the real one follows.
          Reset();
          continue;
        }
        return StartBody();
      case State::kBody: {
        if (in.empty()) return Result::kNeedMore;
        size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size()));
        sink.OnBody(in.substr(0, n));
        in.remove_prefix(n);
        remaining_ -= n;
        if (remaining_ == 0) state_ = State::kDone;
        continue;
      }
      case State::kChunkSize: {
        if (!TakeLine(in, &line)) return state_ == State::kError ? Result::kError : Result::kNeedMore;
        head_bytes_ = 0;
        // hex size, optionally followed by ";extensions"
        uint64_t size = 0;
        size_t digits = 0;
        for (char c : line) {
          int v;
          if (c >= '0' && c <= '9') {
            v = c - '0';
          } else if (c >= 'a' && c <= 'f') {
            v = c - 'a' + 10;
          } else if (c >= 'A' && c <= 'F') {
            v = c - 'A' + 10;
          } else {
            break;
          }
          if (++digits > 15) break;
          size = size * 16 + static_cast<uint64_t>(v);
        }
        if (digits == 0 || digits > 15) {
          state_ = State::kError;
          return Result::kError;
        }
        remaining_ = size;
        state_ = size == 0 ? State::kTrailers : State::kChunkData;
        continue;
      }
      case State::kChunkData: {
        if (in.empty()) return Result::kNeedMore;
        size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, in.size()));
        sink.OnBody(in.substr(0, n));
        in.remove_prefix(n);
        remaining_ -= n;
        if (remaining_ == 0) state_ = State::kChunkDataEnd;
        continue;
      }
      case State::kChunkDataEnd:
        if (!TakeLine(in, &line)) return state_ == State::kError ? Result::kError : Result::kNeedMore;
        head_bytes_ = 0;
        if (!line.empty()) {
          state_ = State::kError;
          return Result::kError;
        }
        state_ = State::kChunkSize;
        continue;
      case State::kTrailers:
        if (!TakeLine(in, &line)) return state_ == State::kError ? Result::kError : Result::kNeedMore;
        head_bytes_ = 0;
        if (line.empty()) state_ = State::kDone;
        continue;
      case State::kUntilClose:
        if (!in.empty()) sink.OnBody(in);
        in.remove_prefix(in.size());
        return Result::kNeedMore;
      case State::kDone:
        return Result::kDone;
      case State::kError:
        return Result::kError;
    }
  }
}

ResponseParser::Result ResponseParser::Eof() {
  if (state_ == State::kUntilClose || state_ == State::kDone) {
    state_ = State::kDone;
    return Result::kDone;
  }
  state_ = State::kError;
  return Result::kError;
}

}  // namespace parley::loadgen
