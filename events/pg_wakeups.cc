#include "events/pg_wakeups.h"

#include <event2/event.h>

#include <cstdint>

#include "schema/log.h"
#include "schema/wakeup.h"

namespace parley::events {

Status PgWakeups::Open(event_base* base, const std::string& url) {
  base_ = base;
  PARLEY_ASSIGN_OR_RETURN(std::string channel, pg::EventsChannel(url));
  PARLEY_ASSIGN_OR_RETURN(listener_, pg::Listener::Open(url, {channel}));
  retry_ev_.reset(evtimer_new(base_, &PgWakeups::OnRetry, this));
  Watch();
  return Status::Ok();
}

void PgWakeups::Watch() {
  read_ev_.reset();
  const int fd = listener_->fd();
  if (fd < 0) {
    const timeval second{1, 0};
    evtimer_add(retry_ev_.get(), &second);
    return;
  }
  read_ev_.reset(event_new(base_, fd, EV_READ | EV_PERSIST, &PgWakeups::OnReadable, this));
  event_add(read_ev_.get(), nullptr);
}

void PgWakeups::OnReadable(int, short, void* self) { static_cast<PgWakeups*>(self)->Drain(); }
void PgWakeups::OnRetry(int, short, void* self) { static_cast<PgWakeups*>(self)->Drain(); }

void PgWakeups::Drain() {
  auto drained = listener_->Drain();
  if (!drained.ok()) {
    LOG_WARN("LISTEN connection lost, retrying: %s", drained.status().message().c_str());
    Watch();  // fd() is -1 now: the retry timer
    return;
  }
  for (const pg::Notification& n : drained->notifications) {
    std::optional<Wakeup> w = DecodeWakeup(n.payload);
    if (!w) {
      ++stats_.datagrams_refused;
      continue;
    }
    ++stats_.wakeups;
    handler_(*w);
  }
  if (drained->reconnected) {
    LOG_INFO("LISTEN connection back");
    Watch();
    Wakeup head;  // what was sent meanwhile is lost: check the head
    head.head = INT64_MAX;
    handler_(head);
  }
}

}  // namespace parley::events
