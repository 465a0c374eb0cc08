#include "schema/event_merge.h"

#include <algorithm>
#include <queue>
#include <utility>

namespace parley {

std::vector<EventSource> UserEventSources(int64_t user_id, const std::vector<int64_t>& rooms,
                                          const std::vector<RoomBound>& left, int limit) {
  std::vector<EventSource> sources;
  sources.reserve(rooms.size() + left.size() + 2);
  for (int64_t room : rooms) sources.push_back(EventSource{EventSource::Kind::kRoom, room});
  for (const RoomBound& l : left) sources.push_back(EventSource{EventSource::Kind::kRoom, l.room, l.upto});
  sources.push_back(EventSource{EventSource::Kind::kBroadcast, 0});
  sources.push_back(EventSource{EventSource::Kind::kAddressed, user_id});
  // A user in a thousand rooms reads about one row per quiet room; a busy
  // source doubles its batch on each further read.
  const int first = std::clamp(limit / static_cast<int>(sources.size()), 1, std::max(limit, 1));
  for (EventSource& src : sources) src.batch = first;
  return sources;
}

Result<std::vector<Event>> MergeEventSources(std::vector<EventSource>& sources, int limit,
                                             const ReadEventBatch& read_more) {
  std::vector<Event> out;
  // A min-heap of (the id of each source's next event, source index).
  using Head = std::pair<int64_t, size_t>;
  std::priority_queue<Head, std::vector<Head>, std::greater<Head>> heads;
  for (size_t i = 0; i < sources.size(); ++i) {
    if (sources[i].next < sources[i].events.size()) heads.emplace(sources[i].events[sources[i].next].id, i);
  }
  while (!heads.empty() && static_cast<int>(out.size()) < limit) {
    const size_t i = heads.top().second;
    heads.pop();
    EventSource& src = sources[i];
    Event& e = src.events[src.next++];
    const int64_t id = e.id;
    if (out.empty() || out.back().id != id) out.push_back(std::move(e));
    if (src.next < src.events.size()) {
      heads.emplace(src.events[src.next].id, i);
    } else if (!src.done) {
      src.batch = std::min(limit, src.batch * 2);
      PARLEY_ASSIGN_OR_RETURN(bool any, read_more(src, id));
      if (any) heads.emplace(src.events.front().id, i);
    }
  }
  return out;
}

}  // namespace parley
