// The sanitizer pass relies on ~Stack failing a test when a daemon's log
// holds a sanitizer report (tests/e2e/stack.cc): a crashed worker is
// replaced by the pool master, so no request of the test need fail. This
// checks that the log scan finds one. Under PARLEY_SANITIZE the report is
// real: a worker gets SIGSEGV, which ASan reports before the worker dies;
// in the plain build nothing would report it, so a report line is written
// into the log as ASan would.
#include <signal.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "fixture.h"

namespace parley::e2e {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

class SanitizerReportTest : public StackTest {};

TEST_F(SanitizerReportTest, ReportInADaemonLogIsFound) {
  EXPECT_EQ(stack().SanitizerReport(), "") << "a fresh stack has no report";
  const std::string log = stack().dir() + "/fcgi.log";
  if (kSanitized) {
    std::vector<pid_t> workers = stack().FcgiWorkers();
    ASSERT_FALSE(workers.empty());
    kill(workers.front(), SIGSEGV);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    // Until the master has seen the worker die: the report is complete.
    while (ReadText(log).find("restarting") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  } else {
    std::ofstream(log, std::ios::app) << "==4242==ERROR: AddressSanitizer: SEGV on unknown address 0x0\n";
  }
  std::string report = stack().SanitizerReport();
  EXPECT_NE(report.find("sanitizer report in fcgi.log"), std::string::npos) << report;
  EXPECT_NE(report.find("ERROR: AddressSanitizer: SEGV"), std::string::npos) << report;
  // The report was wanted here: clear it so that ~Stack does not fail us.
  std::ofstream(log, std::ios::trunc);
  EXPECT_EQ(stack().SanitizerReport(), "");
}

}  // namespace
}  // namespace parley::e2e
