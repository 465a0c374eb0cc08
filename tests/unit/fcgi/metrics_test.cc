// fcgi/metrics.cc: the counters, their two formats, and who may read them.
#include "fcgi/metrics.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "schema/json.h"

namespace parley::fcgi {
namespace {

TEST(MetricsTest, CountsRequestsByRouteAndStatusWithLatencies) {
  std::unique_ptr<Metrics> m(Metrics::CreatePrivate());
  m->Request(RouteId::kSend, 201, 800);
  m->Request(RouteId::kSend, 201, 3000);
  m->Request(RouteId::kSend, 429, 100);
  m->Request(std::nullopt, 404, 50);
  m->Request(RouteId::kHistory, 299, 2000000);  // an unlisted status: "other"; past the last bucket
  JsonPtr j(cJSON_Parse(m->Json().c_str()));
  ASSERT_NE(j, nullptr) << m->Json();
  const cJSON* req = cJSON_GetObjectItem(j.get(), "requests");
  const cJSON* send = cJSON_GetObjectItem(req, "POST /api/rooms/{id}/messages");
  EXPECT_EQ(cJSON_GetObjectItem(send, "201")->valueint, 2);
  EXPECT_EQ(cJSON_GetObjectItem(send, "429")->valueint, 1);
  EXPECT_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(req, "unrouted"), "404")->valueint, 1);
  EXPECT_EQ(cJSON_GetObjectItem(cJSON_GetObjectItem(req, "GET /api/rooms/{id}/messages"), "other")->valueint, 1);
  const cJSON* lat = cJSON_GetObjectItem(j.get(), "latency_ms");
  EXPECT_EQ(cJSON_GetObjectItem(lat, "le_0.25")->valueint, 2);  // cumulative, as Prometheus buckets are
  EXPECT_EQ(cJSON_GetObjectItem(lat, "le_1")->valueint, 3);
  EXPECT_EQ(cJSON_GetObjectItem(lat, "le_5")->valueint, 4);
  EXPECT_EQ(cJSON_GetObjectItem(lat, "le_1000")->valueint, 4);
  EXPECT_EQ(cJSON_GetObjectItem(lat, "le_+Inf")->valueint, 5);
  EXPECT_EQ(cJSON_GetObjectItem(lat, "sum_us")->valueint, 800 + 3000 + 100 + 50 + 2000000);
}

TEST(MetricsTest, BatchesSyncsAndQueueDepth) {
  std::unique_ptr<Metrics> m(Metrics::CreatePrivate());
  m->Batch(1, true);
  m->Batch(5, true);
  m->Batch(300, false);
  m->Syncs(3);
  m->QueueDepth(0, 4);
  m->QueueDepth(0, -3);
  JsonPtr j(cJSON_Parse(m->Json().c_str()));
  ASSERT_NE(j, nullptr);
  EXPECT_EQ(cJSON_GetObjectItem(j.get(), "batches")->valueint, 3);
  EXPECT_EQ(cJSON_GetObjectItem(j.get(), "batch_failures")->valueint, 1);
  EXPECT_EQ(cJSON_GetObjectItem(j.get(), "batched_requests")->valueint, 306);
  const cJSON* sizes = cJSON_GetObjectItem(j.get(), "batch_size");
  EXPECT_EQ(cJSON_GetObjectItem(sizes, "le_1")->valueint, 1);
  EXPECT_EQ(cJSON_GetObjectItem(sizes, "le_8")->valueint, 1);
  EXPECT_EQ(cJSON_GetObjectItem(sizes, "le_+Inf")->valueint, 1);
  EXPECT_EQ(cJSON_GetObjectItem(j.get(), "syncs")->valueint, 3);
  EXPECT_EQ(cJSON_GetObjectItem(j.get(), "queue_depth")->valueint, 1);
  EXPECT_EQ(cJSON_GetObjectItem(j.get(), "queue_depth_max")->valueint, 4);

  const std::string p = m->Prometheus();
  EXPECT_NE(p.find("parley_fcgi_batch_size_bucket{le=\"8\"} 2\n"), std::string::npos) << p;
  EXPECT_NE(p.find("parley_fcgi_batch_size_count 3\n"), std::string::npos) << p;
  EXPECT_NE(p.find("parley_fcgi_syncs_total 3\n"), std::string::npos) << p;
  EXPECT_NE(p.find("parley_fcgi_queue_depth 1\n"), std::string::npos) << p;
}

TEST(MetricsTest, SharedCountersSurviveFork) {
  auto shared = Metrics::CreateShared();
  ASSERT_TRUE(shared.ok());
  Metrics* m = *shared;
  pid_t pid = fork();
  if (pid == 0) {
    m->Syncs(7);
    _exit(0);
  }
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_NE(m->Prometheus().find("parley_fcgi_syncs_total 7\n"), std::string::npos);
}

// A worker killed with writes queued never takes them back out of the
// gauge; the master, reaping it, does (WorkerGone), and only its share.
TEST(MetricsTest, AKilledWorkersQueuedWritesLeaveTheGaugeWhenItIsReaped) {
  auto shared = Metrics::CreateShared();
  ASSERT_TRUE(shared.ok());
  Metrics* m = *shared;
  m->QueueDepth(0, 2);  // another worker's, still queued
  pid_t pid = fork();
  if (pid == 0) {
    m->QueueDepth(1, 5);  // five writes queued, then the worker dies
    m->QueueDepth(1, -1);
    for (;;) pause();
  }
  ASSERT_GT(pid, 0);
  auto depth = [m] {
    JsonPtr j(cJSON_Parse(m->Json().c_str()));
    return j ? cJSON_GetObjectItem(j.get(), "queue_depth")->valueint : -1;
  };
  for (int i = 0; i < 5000 && depth() != 6; ++i) usleep(1000);
  EXPECT_EQ(depth(), 6);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_EQ(depth(), 6) << "nothing took the dead worker's writes out yet";
  m->WorkerGone(1);
  EXPECT_EQ(depth(), 2);
  EXPECT_NE(m->Prometheus().find("parley_fcgi_queue_depth 2\n"), std::string::npos);
  m->WorkerGone(1);  // twice, or for a worker that had nothing queued: no change
  EXPECT_EQ(depth(), 2);
  m->QueueDepth(0, -2);
  EXPECT_EQ(depth(), 0);
}

TEST(MetricsTest, ServedToLoopbackOnlyAndOnlyToGet) {
  std::unique_ptr<Metrics> m(Metrics::CreatePrivate());
  EXPECT_TRUE(StatsAllowed("127.0.0.1"));
  EXPECT_TRUE(StatsAllowed("127.1.2.3"));
  EXPECT_TRUE(StatsAllowed("::1"));
  EXPECT_FALSE(StatsAllowed(""));
  EXPECT_FALSE(StatsAllowed("203.0.113.9"));
  EXPECT_FALSE(StatsAllowed("::ffff:203.0.113.9"));
  EXPECT_FALSE(StatsAllowed("10.127.0.1"));

  Request req;
  req.method = "GET";
  req.path = "/api/_stats";
  req.remote_addr = "203.0.113.9";
  Response far = StatsResponse(req, *m);
  EXPECT_EQ(far.status, 403);
  EXPECT_NE(far.body.find("\"forbidden\""), std::string::npos) << far.body;
  req.remote_addr = "127.0.0.1";
  EXPECT_EQ(StatsResponse(req, *m).status, 200);
  req.query = "format=prometheus";
  Response prom = StatsResponse(req, *m);
  EXPECT_EQ(prom.status, 200);
  ASSERT_FALSE(prom.headers.empty());
  EXPECT_EQ(prom.headers[0].first, "Content-Type");
  req.method = "POST";
  Response post = StatsResponse(req, *m);
  EXPECT_EQ(post.status, 405);
  ASSERT_FALSE(post.headers.empty());
  EXPECT_EQ(post.headers[0].second, "GET");
}

TEST(RouteLabelTest, MethodAndPatternWithPlaceholders) {
  EXPECT_EQ(RouteLabel(RouteId::kSend), "POST /api/rooms/{id}/messages");
  EXPECT_EQ(RouteLabel(RouteId::kUpdateMember), "PUT /api/rooms/{id}/members/{name}");
  EXPECT_EQ(RouteLabel(RouteId::kHealth), "GET /api/health");
  EXPECT_EQ(RouteLabel(static_cast<RouteId>(63)), "?");
}

}  // namespace
}  // namespace parley::fcgi
