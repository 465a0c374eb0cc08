#include "tools/loadgen/http_conn.h"

#include <arpa/inet.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <cerrno>
#include <cstring>

namespace parley::loadgen {

void EventBaseFree::operator()(event_base* b) const { event_base_free(b); }
void EventFree::operator()(event* e) const { event_free(e); }
void BuffereventFree::operator()(bufferevent* b) const { bufferevent_free(b); }

namespace {

void ReadCb(evutil_socket_t, short what, void* self) { static_cast<HttpConn*>(self)->OnReadable(what); }
void EventCb(bufferevent*, short what, void* self) { static_cast<HttpConn*>(self)->OnEvent(what); }

timeval Seconds(int s) { return timeval{s, 0}; }

// One read buffer for every connection: the loop is single-threaded and
// OnReadable is never re-entered.
char g_read_buf[64 * 1024];

}  // namespace

const char* FailureName(HttpFailure f) {
  switch (f) {
    case HttpFailure::kConnect: return "connect";
    case HttpFailure::kReset: return "reset";
    case HttpFailure::kClosed: return "closed";
    case HttpFailure::kTimeout: return "timeout";
    case HttpFailure::kMalformed: return "malformed";
  }
  return "unknown";
}

Address ResolveTarget(const Target& t) {
  Address a;
  if (t.v6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&a.addr);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(t.port);
    inet_pton(AF_INET6, t.ip.c_str(), &s6->sin6_addr);
    a.len = sizeof *s6;
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&a.addr);
    s4->sin_family = AF_INET;
    s4->sin_port = htons(t.port);
    inet_pton(AF_INET, t.ip.c_str(), &s4->sin_addr);
    a.len = sizeof *s4;
  }
  return a;
}

bool HttpConn::Open() {
  bev_.reset(bufferevent_socket_new(base_, -1, BEV_OPT_CLOSE_ON_FREE));
  if (!bev_) return false;
  bufferevent_setcb(bev_.get(), nullptr, nullptr, &EventCb, this);
  if (bufferevent_socket_connect(bev_.get(), reinterpret_cast<sockaddr*>(&address_.addr),
                                 static_cast<int>(address_.len)) != 0) {
    Teardown();
    return false;
  }
  // The kernel stamps each segment as it queues it (arrival_ns()); without
  // it the load generator still runs, with no arrival figure.
  const int on = 1;
  (void)setsockopt(bufferevent_getfd(bev_.get()), SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
  // The bufferevent writes; the socket's reads are ours (see the header).
  read_ev_.reset(event_new(base_, bufferevent_getfd(bev_.get()), EV_READ | EV_PERSIST, &ReadCb, this));
  if (!read_ev_) {
    Teardown();
    return false;
  }
  bufferevent_enable(bev_.get(), EV_WRITE);
  return true;
}

void HttpConn::Teardown() {
  if (bev_) ++gen_;
  read_ev_.reset();  // before the socket it watches is closed
  bev_.reset();
  connected_ = false;
  busy_ = false;
  got_bytes_ = false;
  close_pending_ = false;
  parser_.Reset();
}

void HttpConn::Close() {
  if (in_read_) {
    close_pending_ = true;  // OnRead still holds the input buffer
    busy_ = false;
    return;
  }
  Teardown();
}

bool HttpConn::Request(std::string_view bytes, int head_timeout_s, int body_idle_s) {
  if (close_pending_) Teardown();
  if (!bev_ && !Open()) return false;
  parser_.Reset();
  busy_ = true;
  got_bytes_ = false;
  body_idle_s_ = body_idle_s;
  timeval t = Seconds(head_timeout_s);
  bufferevent_set_timeouts(bev_.get(), nullptr, &t);
  ReadTimeout(head_timeout_s);
  bufferevent_write(bev_.get(), bytes.data(), bytes.size());
  return true;
}

void HttpConn::ReadTimeout(int seconds) {
  if (seconds > 0) {
    timeval t = Seconds(seconds);
    event_add(read_ev_.get(), &t);
  } else {
    event_add(read_ev_.get(), nullptr);
  }
}

void HttpConn::OnBody(std::string_view bytes) {
  if (!close_pending_) handler_->OnBody(bytes);
}

void HttpConn::Fail(HttpFailure f) {
  bool was_busy = busy_;
  Teardown();
  // An idle kept-alive connection that the server closed is no failure:
  // the next request opens a new one.
  if (was_busy) handler_->OnFail(f);
}

void HttpConn::OnReadable(short what) {
  if (what & EV_TIMEOUT) {
    Fail(HttpFailure::kTimeout);
    return;
  }
  // One recv per readiness: what is left is reported again (level-triggered).
  iovec iov{g_read_buf, sizeof g_read_buf};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  const ssize_t n = recvmsg(bufferevent_getfd(bev_.get()), &msg, 0);
  if (n > 0) {
    arrival_ns_ = -1;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS && c->cmsg_len >= CMSG_LEN(sizeof(timespec))) {
        timespec ts;
        std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
        arrival_ns_ = int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
      }
    }
    OnBytes(static_cast<size_t>(n));
  } else if (n == 0) {
    OnEof();
  } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    Fail(SocketFailure());
  }
}

void HttpConn::OnBytes(size_t n) {
  const uint64_t gen = gen_;
  bool failed = !busy_;  // bytes nobody asked for
  in_read_ = true;
  if (!failed) {
    got_bytes_ = true;
    std::string_view s(g_read_buf, n);
    while (gen_ == gen && !close_pending_) {
      ResponseParser::Result r = parser_.Feed(s, *this);
      if (gen_ != gen || close_pending_) break;
      if (r == ResponseParser::Result::kHead) {
        ReadTimeout(body_idle_s_);
        handler_->OnHead(parser_);
        continue;
      }
      if (r == ResponseParser::Result::kDone) {
        if (!s.empty()) {
          failed = true;
          break;
        }
        busy_ = false;
        got_bytes_ = false;
        ReadTimeout(0);
        bool keep = parser_.keep_alive();
        if (!keep) close_pending_ = true;
        handler_->OnDone(parser_);
        break;
      }
      if (r == ResponseParser::Result::kError) failed = true;
      break;  // kNeedMore (s is empty), or an error
    }
  }
  in_read_ = false;
  if (gen_ != gen) return;  // a handler already replaced the connection
  if (failed) {
    Fail(HttpFailure::kMalformed);
  } else if (close_pending_) {
    Teardown();
  }
}

void HttpConn::OnEof() {
  if (busy_ && parser_.head_done() && parser_.Eof() == ResponseParser::Result::kDone) {
    busy_ = false;
    Teardown();
    handler_->OnDone(parser_);  // parser_ was reset: handlers read status in OnHead
    return;
  }
  Fail(got_bytes_ ? HttpFailure::kClosed : HttpFailure::kReset);
}

void HttpConn::OnEvent(short what) {
  if (what & BEV_EVENT_CONNECTED) {
    connected_ = true;
    int fd = bufferevent_getfd(bev_.get());
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return;
  }
  // The bufferevent does not read, so no EOF comes from it: a write's
  // timeout, or its error.
  Fail(what & BEV_EVENT_TIMEOUT ? HttpFailure::kTimeout : SocketFailure());
}

HttpFailure HttpConn::SocketFailure() const {
  // Before the connection was up it is a connect failure.
  return got_bytes_ ? HttpFailure::kClosed : connected_ ? HttpFailure::kReset : HttpFailure::kConnect;
}

}  // namespace parley::loadgen
