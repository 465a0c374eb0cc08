#include "sse.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

#include "raw_http.h"

namespace parley::e2e {
namespace {

using Clock = std::chrono::steady_clock;

// A stream socket connected to a unix socket; -1 with *error set.
int ConnectUnix(const std::string& path, std::string* error) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    *error = "socket path too long: " + path;
    return -1;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *error = "connect " + path + ": " + std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

std::optional<int64_t> ParseId(std::string_view s) {
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

}  // namespace

// ---- SseParser -------------------------------------------------------------

void SseParser::Feed(std::string_view bytes) {
  for (char c : bytes) {
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;  // CRLF: the CR already ended the line
    }
    if (c == '\r') {
      Line(line_);
      line_.clear();
      after_cr_ = true;
    } else if (c == '\n') {
      Line(line_);
      line_.clear();
    } else {
      line_ += c;
    }
  }
}

void SseParser::Line(std::string_view line) {
  if (line.empty()) {
    if (has_data_) {
      SseItem item;
      item.kind = SseItem::Kind::kEvent;
      item.event.id = id_;
      item.event.type = type_.empty() ? "message" : type_;
      item.event.data = data_;
      if (!item.event.data.empty() && item.event.data.back() == '\n') item.event.data.pop_back();
      items_.push_back(std::move(item));
    }
    id_.reset();
    type_.clear();
    data_.clear();
    has_data_ = false;
    return;
  }
  if (line[0] == ':') {
    SseItem item;
    item.kind = SseItem::Kind::kComment;
    item.text = std::string(line.substr(1));
    items_.push_back(std::move(item));
    return;
  }
  std::string_view name = line, value;
  if (size_t colon = line.find(':'); colon != std::string_view::npos) {
    name = line.substr(0, colon);
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (name == "event") {
    type_ = std::string(value);
  } else if (name == "data") {
    data_.append(value);
    data_ += '\n';
    has_data_ = true;
  } else if (name == "id") {
    // Anything that is not a plain integer is recorded as -1, so a test sees it.
    id_ = ParseId(value).value_or(-1);
  } else if (name == "retry") {
    SseItem item;
    item.kind = SseItem::Kind::kRetry;
    item.text = std::string(value);
    items_.push_back(std::move(item));
  }
}

// ---- SseState --------------------------------------------------------------

std::string SseState::Header(const std::string& lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return v;
  }
  return "";
}

std::vector<SseEvent> SseState::Events() const {
  std::vector<SseEvent> out;
  for (const SseItem& i : parser.items()) {
    if (i.kind == SseItem::Kind::kEvent) out.push_back(i.event);
  }
  return out;
}

std::optional<int64_t> SseState::LastId() const {
  const auto& items = parser.items();
  for (auto it = items.rbegin(); it != items.rend(); ++it) {
    if (it->kind == SseItem::Kind::kEvent && it->event.id) return it->event.id;
  }
  return std::nullopt;
}

// ---- SseStream -------------------------------------------------------------

std::unique_ptr<SseStream> SseStream::Open(int port, Options options, std::string* error) {
  int fd = options.unix_socket.empty() ? ConnectLoopback(port, options.rcvbuf, error)
                                       : ConnectUnix(options.unix_socket, error);
  if (fd < 0) return nullptr;
  std::unique_ptr<SseStream> s(new SseStream(fd));
  std::string req = "GET " + options.path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nAccept: text/event-stream\r\nConnection: close\r\n";
  for (const auto& h : options.headers) req += h + "\r\n";
  req += "\r\n";
  size_t off = 0;
  while (off < req.size()) {
    ssize_t n = send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = std::string("send request: ") + std::strerror(errno);
      return nullptr;
    }
    off += static_cast<size_t>(n);
  }
  if (options.start_reading) s->StartReading();
  return s;
}

SseStream::~SseStream() {
  Close();
  if (fd_ >= 0) close(fd_);
}

void SseStream::StartReading() {
  if (reader_.joinable() || fd_ < 0) return;
  reader_ = std::thread([this] { ReadLoop(); });
}

void SseStream::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  // Wakes a poll() in the reader; the descriptor stays valid until the
  // destructor, so the reader never touches a reused number.
  if (fd_ >= 0) shutdown(fd_, SHUT_RDWR);
  if (reader_.joinable()) reader_.join();
}

void SseStream::ReadLoop() {
  char buf[65536];
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
    }
    pollfd p{fd_, POLLIN, 0};
    int r = poll(&p, 1, 50);
    if (r < 0 && errno != EINTR) {
      std::lock_guard<std::mutex> lock(mu_);
      state_.error = std::string("poll: ") + std::strerror(errno);
      state_.eof = true;
      cv_.notify_all();
      return;
    }
    if (r <= 0) continue;
    ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    std::lock_guard<std::mutex> lock(mu_);
    if (n <= 0) {
      if (n < 0 && !stop_) state_.error = std::string("recv: ") + std::strerror(errno);
      state_.eof = true;
      cv_.notify_all();
      return;
    }
    Consume(buf, static_cast<size_t>(n));
    cv_.notify_all();
  }
}

void SseStream::Consume(const char* data, size_t n) {
  std::string_view bytes(data, n);
  if (!state_.headers_done) {
    head_.append(bytes);
    size_t end = head_.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (head_.size() > 64 * 1024) state_.error = "response headers over 64 KiB";
      return;
    }
    std::string rest = head_.substr(end + 4);
    std::string head = head_.substr(0, end);
    head_.clear();
    size_t line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    // "HTTP/1.1 200 OK"
    size_t sp = status_line.find(' ');
    if (status_line.rfind("HTTP/1.", 0) != 0 || sp == std::string::npos) {
      state_.error = "bad status line: " + status_line;
      return;
    }
    state_.status = std::strtol(status_line.c_str() + sp + 1, nullptr, 10);
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      std::string line = head.substr(pos, e - pos);
      pos = e + 2;
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      size_t v = line.find_first_not_of(" \t", colon + 1);
      state_.headers.emplace_back(Lower(line.substr(0, colon)), v == std::string::npos ? "" : line.substr(v));
    }
    state_.headers_done = true;
    if (Lower(state_.Header("transfer-encoding")).find("chunked") != std::string::npos) {
      framing_ = Framing::kChunked;
    } else if (std::string len = state_.Header("content-length"); !len.empty()) {
      framing_ = Framing::kLength;
      remaining_ = std::strtoll(len.c_str(), nullptr, 10);
      if (remaining_ == 0) state_.complete = true;
    }
    if (!rest.empty() && !Body(rest)) state_.error = "malformed chunked body";
    return;
  }
  if (!Body(bytes)) state_.error = "malformed chunked body";
}

bool SseStream::Body(std::string_view bytes) {
  auto deliver = [this](std::string_view b) {
    if (state_.body.size() < SseState::kBodyKeep) {
      state_.body.append(b.substr(0, SseState::kBodyKeep - state_.body.size()));
    }
    state_.parser.Feed(b);
  };
  if (state_.complete) return true;  // bytes after the end: ignored
  if (framing_ == Framing::kUntilClose) {
    deliver(bytes);
    return true;
  }
  if (framing_ == Framing::kLength) {
    size_t take = std::min(bytes.size(), static_cast<size_t>(remaining_));
    deliver(bytes.substr(0, take));
    remaining_ -= static_cast<int64_t>(take);
    if (remaining_ == 0) state_.complete = true;
    return true;
  }
  size_t i = 0;
  while (i < bytes.size() && !state_.complete) {
    switch (chunk_state_) {
      case ChunkState::kSize:
      case ChunkState::kDataEnd:
      case ChunkState::kTrailer: {
        size_t nl = bytes.find('\n', i);
        if (nl == std::string_view::npos) {
          chunk_line_.append(bytes.substr(i));
          if (chunk_line_.size() > 1024) return false;
          i = bytes.size();
          break;
        }
        chunk_line_.append(bytes.substr(i, nl - i));
        i = nl + 1;
        if (!chunk_line_.empty() && chunk_line_.back() == '\r') chunk_line_.pop_back();
        std::string line;
        line.swap(chunk_line_);
        if (chunk_state_ == ChunkState::kDataEnd) {
          if (!line.empty()) return false;
          chunk_state_ = ChunkState::kSize;
        } else if (chunk_state_ == ChunkState::kTrailer) {
          if (line.empty()) state_.complete = true;
        } else {
          char* end = nullptr;
          long long size = std::strtoll(line.c_str(), &end, 16);
          if (end == line.c_str() || size < 0) return false;
          if (size == 0) {
            chunk_state_ = ChunkState::kTrailer;
          } else {
            remaining_ = size;
            chunk_state_ = ChunkState::kData;
          }
        }
        break;
      }
      case ChunkState::kData: {
        size_t take = std::min(bytes.size() - i, static_cast<size_t>(remaining_));
        deliver(bytes.substr(i, take));
        remaining_ -= static_cast<int64_t>(take);
        i += take;
        if (remaining_ == 0) chunk_state_ = ChunkState::kDataEnd;
        break;
      }
    }
  }
  return true;
}

bool SseStream::WaitUntil(const std::function<bool(const SseState&)>& pred, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return pred(state_); });
}

bool SseStream::WaitHeaders(std::chrono::milliseconds timeout) {
  return WaitUntil([](const SseState& s) { return s.headers_done || s.eof; }, timeout) && status() != 0;
}

bool SseStream::WaitForEvent(const std::string& type, std::chrono::milliseconds timeout, size_t skip) {
  bool found = false;
  WaitUntil(
      [&](const SseState& s) {
        size_t seen = 0;
        for (const SseItem& i : s.items()) {
          if (i.kind == SseItem::Kind::kEvent && i.event.type == type && seen++ >= skip) return found = true;
        }
        return s.eof;
      },
      timeout);
  return found;
}

bool SseStream::WaitForId(int64_t id, std::chrono::milliseconds timeout) {
  bool found = false;
  WaitUntil(
      [&](const SseState& s) {
        auto last = s.LastId();
        if (last && *last >= id) return found = true;
        return s.eof;
      },
      timeout);
  return found;
}

bool SseStream::WaitEof(std::chrono::milliseconds timeout) {
  return WaitUntil([](const SseState& s) { return s.eof; }, timeout);
}

long SseStream::status() {
  std::lock_guard<std::mutex> lock(mu_);
  return state_.status;
}

std::string SseStream::Header(const std::string& lower_name) {
  std::lock_guard<std::mutex> lock(mu_);
  return state_.Header(lower_name);
}

std::string SseStream::Body() {
  std::lock_guard<std::mutex> lock(mu_);
  return state_.body;
}

std::vector<SseItem> SseStream::Items() {
  std::lock_guard<std::mutex> lock(mu_);
  return state_.items();
}

std::vector<SseEvent> SseStream::Events() {
  std::lock_guard<std::mutex> lock(mu_);
  return state_.Events();
}

std::optional<int64_t> SseStream::LastId() {
  std::lock_guard<std::mutex> lock(mu_);
  return state_.LastId();
}

bool SseStream::eof() {
  std::lock_guard<std::mutex> lock(mu_);
  return state_.eof;
}

bool SseStream::complete() {
  std::lock_guard<std::mutex> lock(mu_);
  return state_.complete;
}

void SseStream::With(const std::function<void(const SseState&)>& fn) {
  std::lock_guard<std::mutex> lock(mu_);
  fn(state_);
}

// ---- helpers ---------------------------------------------------------------

std::vector<int64_t> MessageIds(const std::vector<SseEvent>& events, int64_t room) {
  std::vector<int64_t> out;
  for (const SseEvent& e : events) {
    if (e.type == "message" && e.id && e.json()["room_id"].num() == room) out.push_back(*e.id);
  }
  return out;
}

std::vector<int64_t> DurableIds(const std::vector<SseEvent>& events) {
  std::vector<int64_t> out;
  for (const SseEvent& e : events) {
    if (e.id) out.push_back(*e.id);
  }
  return out;
}

}  // namespace parley::e2e
