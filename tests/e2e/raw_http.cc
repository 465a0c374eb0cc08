#include "raw_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace parley::e2e {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// The chunked body in `raw` decoded, once complete.
bool Dechunk(const std::string& raw, std::string* out) {
  out->clear();
  size_t pos = 0;
  while (true) {
    size_t eol = raw.find("\r\n", pos);
    if (eol == std::string::npos) return false;
    size_t size = std::strtoul(raw.substr(pos, eol - pos).c_str(), nullptr, 16);
    pos = eol + 2;
    if (size == 0) return raw.find("\r\n", pos) != std::string::npos;
    if (raw.size() < pos + size + 2) return false;
    out->append(raw, pos, size);
    pos += size + 2;
  }
}

}  // namespace

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

RawSocket::~RawSocket() { Close(); }

void RawSocket::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

int ConnectLoopback(int port, int rcvbuf, std::string* error) {
  RawSocket s(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s.valid()) {
    *error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  if (rcvbuf > 0) setsockopt(s.fd(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  timeval tv{5, 0};
  setsockopt(s.fd(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(s.fd(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *error = "connect 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno);
    return -1;
  }
  return s.Release();
}

RawSocket RawSocket::Connect(int port, std::string* error) {
  return RawSocket(ConnectLoopback(port, 0, error));
}

bool RawSocket::Send(const std::string& bytes, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  size_t sent = 0;
  while (sent < bytes.size()) {
    pollfd p{fd_, POLLOUT, 0};
    if (poll(&p, 1, RemainingMs(deadline)) <= 0) return false;
    ssize_t n = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::string RawResponse::Header(const std::string& lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return value;
  }
  return "";
}

std::string RawResponse::Describe() const {
  std::string s = "HTTP " + std::to_string(status) + " " + body.substr(0, 300);
  if (timed_out) s += " (timed out)";
  if (!error.empty()) s += " (" + error + ")";
  return s;
}

RawResponse ReadResponse(RawSocket& socket, milliseconds timeout) {
  RawResponse r;
  auto deadline = Clock::now() + timeout;
  std::string raw;
  size_t head_end = std::string::npos;
  long length = -1;
  bool chunked = false;
  bool eof = false;
  while (true) {
    if (head_end == std::string::npos) {
      head_end = raw.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::string head = raw.substr(0, head_end);
        size_t eol = head.find("\r\n");
        std::string status_line = head.substr(0, eol);
        if (status_line.rfind("HTTP/1.", 0) == 0 && status_line.size() >= 12) {
          r.status = std::strtol(status_line.c_str() + 9, nullptr, 10);
        }
        size_t pos = eol == std::string::npos ? head.size() : eol + 2;
        while (pos < head.size()) {
          size_t next = head.find("\r\n", pos);
          if (next == std::string::npos) next = head.size();
          std::string line = head.substr(pos, next - pos);
          size_t colon = line.find(':');
          if (colon != std::string::npos) {
            r.headers.emplace_back(Lower(line.substr(0, colon)), Trim(line.substr(colon + 1)));
          }
          pos = next + 2;
        }
        if (!r.Header("content-length").empty()) length = std::stol(r.Header("content-length"));
        chunked = Lower(r.Header("transfer-encoding")).find("chunked") != std::string::npos;
      }
    }
    if (head_end != std::string::npos) {
      std::string body = raw.substr(head_end + 4);
      if (chunked && Dechunk(body, &r.body)) return r;
      if (!chunked && length >= 0 && body.size() >= static_cast<size_t>(length)) {
        r.body = body.substr(0, static_cast<size_t>(length));
        return r;
      }
      if (eof) {
        r.body = body;
        if (chunked || length >= 0) r.error = "connection closed mid-body";
        return r;
      }
    } else if (eof) {
      r.error = raw.empty() ? "connection closed without a response" : "connection closed mid-head";
      r.body = raw;
      return r;
    }
    pollfd p{socket.fd(), POLLIN, 0};
    int ready = poll(&p, 1, RemainingMs(deadline));
    if (ready <= 0) {
      r.timed_out = true;
      if (head_end != std::string::npos) r.body = raw.substr(head_end + 4);
      return r;
    }
    char buf[16384];
    ssize_t n = recv(socket.fd(), buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) {
      eof = true;
      continue;
    }
    raw.append(buf, static_cast<size_t>(n));
  }
}

RawResponse RawExchange(int port, const std::string& request, milliseconds timeout) {
  std::string error;
  RawSocket s = RawSocket::Connect(port, &error);
  if (!s.valid()) {
    RawResponse r;
    r.error = error;
    return r;
  }
  auto started = Clock::now();
  // A failed send is not the end: nginx may answer and close before it has
  // read all we sent (a refused body), and that answer is what we want.
  (void)s.Send(request, timeout);
  auto left = timeout - std::chrono::duration_cast<milliseconds>(Clock::now() - started);
  return ReadResponse(s, std::max(left, milliseconds(1)));
}

}  // namespace parley::e2e
