// parley-loadgen: subscribers, pollers and senders against Parley (or Nchan)
// on the loopback interface; one JSON report line on stdout. See runner.h
// for the phases and README-level usage in `parley-loadgen --help`.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "tools/loadgen/options.h"
#include "tools/loadgen/runner.h"

namespace {

// Async-signal-safe: the report would need the loop, which may be what is
// stuck; say so and leave.
void OnAlarm(int) {
  static const char kLine[] = "{\"error\":\"watchdog: the run did not finish within its bound\"}\n";
  ssize_t ignored = write(STDOUT_FILENO, kLine, sizeof kLine - 1);
  (void)ignored;
  _exit(3);
}

// One descriptor per connection, and a process may hold 12,000 of them:
// raise the soft limit to the hard one.
rlim_t RaiseNofile() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

int Fail(const std::string& message, int code) {
  std::fprintf(stderr, "parley-loadgen: %s\n", message.c_str());
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace parley::loadgen;
  auto opt = ParseOptions(argc, argv);
  if (!opt.ok()) {
    if (opt.status().reason() == "help") {
      std::fputs(Usage(), stdout);
      return 0;
    }
    std::fprintf(stderr, "parley-loadgen: %s\n%s", opt.status().message().c_str(), Usage());
    return 2;
  }

  std::vector<std::string> tokens;
  if (!opt->tokens_file.empty()) {
    std::ifstream in(opt->tokens_file);
    if (!in) return Fail("cannot read " + opt->tokens_file + ": " + std::strerror(errno), 2);
    std::stringstream ss;
    ss << in.rdbuf();
    auto parsed = ParseTokens(ss.str());
    if (!parsed.ok()) return Fail(opt->tokens_file + ": " + parsed.status().message(), 2);
    tokens = std::move(parsed).value();
    if (tokens.empty() && !opt->nchan) return Fail(opt->tokens_file + " has no tokens", 2);
    size_t want = static_cast<size_t>(std::max(opt->receivers(), opt->senders));
    if (tokens.size() < want) {
      std::fprintf(stderr, "parley-loadgen: %zu tokens for %zu clients: some users get several connections\n",
                   tokens.size(), want);
    }
  }

  rlim_t nofile = RaiseNofile();
  rlim_t need = static_cast<rlim_t>(opt->receivers()) + static_cast<rlim_t>(opt->senders) + 64;
  if (need > nofile) {
    return Fail("needs about " + std::to_string(need) + " descriptors, the limit is " + std::to_string(nofile), 2);
  }
  signal(SIGPIPE, SIG_IGN);
  signal(SIGALRM, OnAlarm);

  Runner runner(std::move(opt).value());
  return runner.Run(tokens);
}
