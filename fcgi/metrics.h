// parley-fcgi's own metrics: requests by route and status, a latency
// histogram, write batches, syncs and the writer queue (issue 9).
//
// Design note. The pool is several processes, and any of them may answer
// GET /api/_stats, so the counters live in one anonymous shared mapping that
// the master makes before it forks: every worker, including one restarted
// after a crash, adds to the same numbers. They are lock-free 64-bit atomics
// (relaxed: each is a count on its own, no ordering between them is
// promised). A worker killed mid-request loses at most that request's
// increments. Only loopback may read them (StatsAllowed); through nginx,
// REMOTE_ADDR is the client's address as nginx saw it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "fcgi/http.h"
#include "fcgi/router.h"
#include "schema/status.h"

namespace parley::fcgi {

class Metrics {
 public:
  static constexpr size_t kRoutes = 64;  // RouteId values; one more slot for "no route"
  // The statuses the API answers, each counted on its own; the last is "other".
  static constexpr int kStatuses[] = {200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 415, 429, 500, 503};
  static constexpr size_t kStatusSlots = sizeof(kStatuses) / sizeof(kStatuses[0]) + 1;
  // Upper bounds in microseconds of the latency buckets (Prometheus "le").
  static constexpr int64_t kLatencyUs[] = {250, 500, 1000, 2000, 5000, 10000, 20000, 50000, 100000, 250000, 1000000};
  static constexpr size_t kLatencySlots = sizeof(kLatencyUs) / sizeof(kLatencyUs[0]) + 1;
  // Upper bounds of the batch size buckets.
  static constexpr int64_t kBatchSizes[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
  static constexpr size_t kBatchSlots = sizeof(kBatchSizes) / sizeof(kBatchSizes[0]) + 1;

  // A shared mapping, inherited by every process forked after this.
  static Result<Metrics*> CreateShared();
  // In this process's memory only (unit tests).
  static Metrics* CreatePrivate();

  void Request(std::optional<RouteId> route, int status, int64_t latency_us);
  // One write batch committed (or failed) with this many requests in it.
  void Batch(size_t requests, bool committed);
  // Commits (Db::commits deltas): each one fsync of the WAL under
  // PARLEY_SYNC=full; under normal, commits that did not sync.
  void Syncs(uint64_t n) { syncs_.fetch_add(n, std::memory_order_relaxed); }
  // Requests now waiting for (or in) their batch, across the pool. Each
  // worker adds to its own slot (its index in the pool, below
  // kWorkerSlots) as well as to the total, so that what a worker killed
  // with writes queued had counted can be taken back out: WorkerGone, by the
  // master when it reaps the worker, before it forks the next one into that
  // slot. Without it the gauge stayed up for good after such a crash.
  static constexpr size_t kWorkerSlots = 256;  // parley-fcgi's --workers at most
  void QueueDepth(size_t worker, int64_t delta);
  void WorkerGone(size_t worker);
  // A connection from nginx accepted (keeper.h): far fewer than requests
  // while nginx keeps its connections.
  void ConnectionAccepted() { connections_.fetch_add(1, std::memory_order_relaxed); }
  // Connections a worker took over from its predecessor on a reload
  // (handoff.h): nginx went on using them, with no reconnect.
  void ConnectionsHandedOver(size_t n) { handed_over_.fetch_add(n, std::memory_order_relaxed); }

  std::string Json() const;
  std::string Prometheus() const;

 private:
  Metrics() = default;
  std::atomic<uint64_t> requests_[kRoutes + 1][kStatusSlots];
  std::atomic<uint64_t> latency_[kLatencySlots];
  std::atomic<uint64_t> latency_sum_us_;
  std::atomic<uint64_t> batches_, batch_failures_, batched_requests_;
  std::atomic<uint64_t> batch_sizes_[kBatchSlots];
  std::atomic<uint64_t> syncs_;
  std::atomic<uint64_t> connections_, handed_over_;
  std::atomic<int64_t> queue_depth_, queue_depth_max_;
  std::atomic<int64_t> worker_queue_depth_[kWorkerSlots];
};

// Whether the stats may be answered: to loopback addresses only.
bool StatsAllowed(const std::string& remote_addr);
// GET /api/_stats[?format=prometheus]: 200 with the numbers, or a JSON 403
// (not from loopback) or 405 (another method).
Response StatsResponse(const Request& req, const Metrics& m);
inline bool IsStatsPath(const std::string& path) { return path == "/api/_stats"; }

}  // namespace parley::fcgi
