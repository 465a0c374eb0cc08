#include "fcgi/metrics.h"

#include <sys/mman.h>

#include <cerrno>
#include <new>
#include <optional>

#include "fcgi/response.h"
#include "schema/json.h"
#include "schema/posix.h"

namespace parley::fcgi {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

template <typename T, size_t N>
size_t Slot(const T (&bounds)[N], int64_t v) {
  for (size_t i = 0; i < N; ++i) {
    if (v <= bounds[i]) return i;
  }
  return N;
}

std::string RouteName(size_t i) {
  return i < Metrics::kRoutes ? RouteLabel(static_cast<RouteId>(i)) : "unrouted";
}

std::string StatusName(size_t i) {
  constexpr size_t n = Metrics::kStatusSlots - 1;
  return i < n ? std::to_string(Metrics::kStatuses[i]) : "other";
}

std::string BoundName(const int64_t* bounds, size_t n, size_t i, double scale) {
  if (i == n) return "+Inf";
  std::string s = std::to_string(static_cast<double>(bounds[i]) * scale);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

Result<Metrics*> Metrics::CreateShared() {
  void* p = mmap(nullptr, sizeof(Metrics), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return PosixError("mmap metrics", errno);
  // Zero-filled by the kernel, which is every atomic's initial value; the
  // mapping lives as long as the processes that share it.
  return new (p) Metrics();
}

Metrics* Metrics::CreatePrivate() {
  static_assert(std::atomic<uint64_t>::is_always_lock_free, "shared counters must be lock-free");
  return new Metrics();
}

void Metrics::Request(std::optional<RouteId> route, int status, int64_t latency_us) {
  size_t r = route ? static_cast<size_t>(*route) : kRoutes;
  if (r > kRoutes) r = kRoutes;
  size_t s = kStatusSlots - 1;
  for (size_t i = 0; i + 1 < kStatusSlots; ++i) {
    if (kStatuses[i] == status) s = i;
  }
  requests_[r][s].fetch_add(1, kRelaxed);
  latency_[Slot(kLatencyUs, latency_us)].fetch_add(1, kRelaxed);
  latency_sum_us_.fetch_add(static_cast<uint64_t>(latency_us < 0 ? 0 : latency_us), kRelaxed);
}

void Metrics::Batch(size_t requests, bool committed) {
  batches_.fetch_add(1, kRelaxed);
  if (!committed) batch_failures_.fetch_add(1, kRelaxed);
  batched_requests_.fetch_add(requests, kRelaxed);
  batch_sizes_[Slot(kBatchSizes, static_cast<int64_t>(requests))].fetch_add(1, kRelaxed);
}

void Metrics::QueueDepth(size_t worker, int64_t delta) {
  worker_queue_depth_[worker % kWorkerSlots].fetch_add(delta, kRelaxed);
  int64_t now = queue_depth_.fetch_add(delta, kRelaxed) + delta;
  int64_t max = queue_depth_max_.load(kRelaxed);
  while (now > max && !queue_depth_max_.compare_exchange_weak(max, now, kRelaxed)) {
  }
}

void Metrics::WorkerGone(size_t worker) {
  // The worker is dead: nothing adds to its slot until the next one is
  // forked into it, after this.
  const int64_t left = worker_queue_depth_[worker % kWorkerSlots].exchange(0, kRelaxed);
  if (left != 0) queue_depth_.fetch_sub(left, kRelaxed);
}

std::string Metrics::Json() const {
  JsonWriter w;
  w.BeginObject().Key("requests").BeginObject();
  for (size_t r = 0; r <= kRoutes; ++r) {
    bool any = false;
    for (size_t s = 0; s < kStatusSlots; ++s) any = any || requests_[r][s].load(kRelaxed) > 0;
    if (!any) continue;
    w.Key(RouteName(r)).BeginObject();
    for (size_t s = 0; s < kStatusSlots; ++s) {
      uint64_t n = requests_[r][s].load(kRelaxed);
      if (n > 0) w.Key(StatusName(s)).Int(static_cast<int64_t>(n));
    }
    w.EndObject();
  }
  w.EndObject();
  w.Key("latency_ms").BeginObject();
  uint64_t total = 0;
  for (size_t i = 0; i < kLatencySlots; ++i) {
    total += latency_[i].load(kRelaxed);
    w.Key("le_" + BoundName(kLatencyUs, kLatencySlots - 1, i, 0.001)).Int(static_cast<int64_t>(total));
  }
  w.Key("count").Int(static_cast<int64_t>(total));
  w.Key("sum_us").Int(static_cast<int64_t>(latency_sum_us_.load(kRelaxed)));
  w.EndObject();
  w.Key("batches").Int(static_cast<int64_t>(batches_.load(kRelaxed)));
  w.Key("batch_failures").Int(static_cast<int64_t>(batch_failures_.load(kRelaxed)));
  w.Key("batched_requests").Int(static_cast<int64_t>(batched_requests_.load(kRelaxed)));
  w.Key("batch_size").BeginObject();
  for (size_t i = 0; i < kBatchSlots; ++i) {
    w.Key("le_" + BoundName(kBatchSizes, kBatchSlots - 1, i, 1)).Int(static_cast<int64_t>(batch_sizes_[i].load(kRelaxed)));
  }
  w.EndObject();
  w.Key("syncs").Int(static_cast<int64_t>(syncs_.load(kRelaxed)));
  w.Key("queue_depth").Int(queue_depth_.load(kRelaxed));
  w.Key("queue_depth_max").Int(queue_depth_max_.load(kRelaxed));
  w.Key("connections_accepted").Int(static_cast<int64_t>(connections_.load(kRelaxed)));
  w.Key("connections_handed_over").Int(static_cast<int64_t>(handed_over_.load(kRelaxed)));
  w.EndObject();
  return w.Take();
}

std::string Metrics::Prometheus() const {
  std::string out;
  auto line = [&out](const std::string& name, const std::string& labels, uint64_t v) {
    out += name;
    if (!labels.empty()) out += "{" + labels + "}";
    out += " " + std::to_string(v) + "\n";
  };
  out += "# TYPE parley_fcgi_requests_total counter\n";
  for (size_t r = 0; r <= kRoutes; ++r) {
    for (size_t s = 0; s < kStatusSlots; ++s) {
      uint64_t n = requests_[r][s].load(kRelaxed);
      if (n > 0) line("parley_fcgi_requests_total", "route=\"" + RouteName(r) + "\",status=\"" + StatusName(s) + "\"", n);
    }
  }
  out += "# TYPE parley_fcgi_request_seconds histogram\n";
  uint64_t total = 0;
  for (size_t i = 0; i < kLatencySlots; ++i) {
    total += latency_[i].load(kRelaxed);
    line("parley_fcgi_request_seconds_bucket", "le=\"" + BoundName(kLatencyUs, kLatencySlots - 1, i, 1e-6) + "\"", total);
  }
  out += "parley_fcgi_request_seconds_sum " + std::to_string(static_cast<double>(latency_sum_us_.load(kRelaxed)) / 1e6) + "\n";
  line("parley_fcgi_request_seconds_count", "", total);
  out += "# TYPE parley_fcgi_batch_size histogram\n";
  uint64_t batches = 0;
  for (size_t i = 0; i < kBatchSlots; ++i) {
    batches += batch_sizes_[i].load(kRelaxed);
    line("parley_fcgi_batch_size_bucket", "le=\"" + BoundName(kBatchSizes, kBatchSlots - 1, i, 1) + "\"", batches);
  }
  line("parley_fcgi_batch_size_sum", "", batched_requests_.load(kRelaxed));
  line("parley_fcgi_batch_size_count", "", batches);
  out += "# TYPE parley_fcgi_batch_failures_total counter\n";
  line("parley_fcgi_batch_failures_total", "", batch_failures_.load(kRelaxed));
  out += "# TYPE parley_fcgi_syncs_total counter\n";
  line("parley_fcgi_syncs_total", "", syncs_.load(kRelaxed));
  out += "# TYPE parley_fcgi_queue_depth gauge\n";
  line("parley_fcgi_queue_depth", "", static_cast<uint64_t>(std::max<int64_t>(0, queue_depth_.load(kRelaxed))));
  out += "# TYPE parley_fcgi_queue_depth_max gauge\n";
  line("parley_fcgi_queue_depth_max", "", static_cast<uint64_t>(queue_depth_max_.load(kRelaxed)));
  out += "# TYPE parley_fcgi_connections_accepted_total counter\n";
  line("parley_fcgi_connections_accepted_total", "", connections_.load(kRelaxed));
  out += "# TYPE parley_fcgi_connections_handed_over_total counter\n";
  line("parley_fcgi_connections_handed_over_total", "", handed_over_.load(kRelaxed));
  return out;
}

bool StatsAllowed(const std::string& remote_addr) {
  return remote_addr == "::1" || remote_addr.rfind("127.", 0) == 0;
}

Response StatsResponse(const Request& req, const Metrics& m) {
  if (req.method != "GET") {
    Response r = ErrorResponse(Status(Code::kMethodNotAllowed, "method_not_allowed", "use GET"));
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  if (!StatsAllowed(req.remote_addr)) {
    return ErrorResponse(Status::Forbidden("forbidden", "/api/_stats is served to loopback only"));
  }
  if (req.query == "format=prometheus") {
    // WriteResponse labels non-empty bodies as JSON; this one says otherwise.
    Response r{200, {{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}}, m.Prometheus()};
    return r;
  }
  return JsonResponse(200, m.Json());
}

}  // namespace parley::fcgi
