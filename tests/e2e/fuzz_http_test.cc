// tools/fuzz-http against the real stack for ~20 s (issue 8, item 17):
// random request lines, headers, bodies and paths on every route through
// nginx, concurrently, with no 5xx, no hang and no connection dropped
// without an answer. The long run (minutes) is the same script by hand.
#include <chrono>
#include <cstdio>
#include <string>

#include "fixture.h"

namespace parley::e2e {
namespace {

class FuzzHttpTest : public StackTest {};

TEST_F(FuzzHttpTest, TwentySecondsOfRandomHttpGetNo5xxAndNoHang) {
  Child::Options o;
  o.argv = {"/usr/bin/python3", std::string(PARLEY_SOURCE_DIR) + "/tools/fuzz-http", "20",
            std::to_string(stack().port())};
  o.log_path = stack().dir() + "/fuzz-http.out";
  std::string error;
  // 20 s of requests, then at most one held long-poll (55 s) to finish.
  int code = RunToCompletion(o, std::chrono::milliseconds(100000), &error);
  const std::string report = ReadText(o.log_path);
  std::printf("%s\n", report.c_str());
  EXPECT_EQ(code, 0) << error << "\n" << report << "\n" << stack().LogTail();
  ExpectHealthy();
}

}  // namespace
}  // namespace parley::e2e
