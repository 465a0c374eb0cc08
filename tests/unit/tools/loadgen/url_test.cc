#include "tools/loadgen/url.h"

#include <gtest/gtest.h>

namespace parley::loadgen {
namespace {

TEST(Url, LoopbackForms) {
  auto a = ParseLoopbackUrl("http://127.0.0.1:8080");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->ip, "127.0.0.1");
  EXPECT_EQ(a->port, 8080);
  EXPECT_EQ(a->path, "/");
  EXPECT_EQ(a->host_header, "127.0.0.1:8080");

  auto b = ParseLoopbackUrl("http://localhost/pub?id=x");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->ip, "127.0.0.1");
  EXPECT_EQ(b->port, 80);
  EXPECT_EQ(b->path, "/pub?id=x");

  auto c = ParseLoopbackUrl("http://[::1]:9000/sub");
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->v6);
  EXPECT_EQ(c->port, 9000);

  EXPECT_TRUE(ParseLoopbackUrl("http://127.1.2.3:1").ok());
}

TEST(Url, RefusesEverythingElse) {
  for (const char* bad : {"https://127.0.0.1:8080", "http://10.0.0.1:80", "http://example.org/",
                          "http://0.0.0.0:80", "http://[::2]:80", "http://127.0.0.1:0", "http://127.0.0.1:99999",
                          "http://127.0.0.1:", "http://user@127.0.0.1/", "127.0.0.1:8080", "http://128.0.0.1/"}) {
    EXPECT_FALSE(ParseLoopbackUrl(bad).ok()) << bad;
  }
}

TEST(Url, JoinPath) {
  auto t = ParseLoopbackUrl("http://127.0.0.1:1/prefix/");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(JoinPath(*t, "/events/stream"), "/prefix/events/stream");
  auto root = ParseLoopbackUrl("http://127.0.0.1:1");
  EXPECT_EQ(JoinPath(*root, "/api/me"), "/api/me");
}

}  // namespace
}  // namespace parley::loadgen
