// Owners for libevent handles: every one is a unique_ptr with a deleter, so
// no code path frees (or forgets) one by hand. Only .cc files include
// event2/*; this header forward-declares the C structs.
#pragma once

#include <memory>

struct event_base;
struct event;
struct bufferevent;

namespace parley::loadgen {

struct EventBaseFree { void operator()(event_base* b) const; };
struct EventFree { void operator()(event* e) const; };
struct BuffereventFree { void operator()(bufferevent* b) const; };

using EventBasePtr = std::unique_ptr<event_base, EventBaseFree>;
using EventPtr = std::unique_ptr<event, EventFree>;
using BuffereventPtr = std::unique_ptr<bufferevent, BuffereventFree>;

}  // namespace parley::loadgen
