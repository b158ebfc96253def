// The child of the runtime crash test: runs the windowed count (with its repartition step) on
// the embedded log in DIR until every input is consumed and committed, then prints "done" on
// fd 3 and exits 0. While it runs it prints a line on fd 3 for every commit it observes, so the
// parent can kill it after a random number of commits. With KILL_AT and N it kills itself
// (SIGKILL) the N-th time a thread reaches that named sync point: exactly at a boundary of the
// commit protocol. With SLUICE_CHILD_UNTIL_SIGNAL=1 in its environment it runs until SIGINT or
// SIGTERM instead (Runtime::run_until_signal), then prints "stopped" and exits 0.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>

#include "runtime_test_util.h"
#include "sluice/base/sync_point.h"

using namespace sluice;
using namespace sluice::runtime;

namespace {

void report(const std::string& line) {
  const std::string l = line + "\n";
  ssize_t n = write(3, l.data(), l.size());
  (void)n;  // the parent may be gone: nothing to do about it
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 6) {
    std::fprintf(stderr,
                 "usage: %s DIR exactly_once|at_least_once THREADS [KILL_AT N] "
                 "(progress goes to fd 3)\n",
                 argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  auto guarantee = parse_guarantee(argv[2]);
  if (!guarantee.ok()) {
    std::fprintf(stderr, "%s\n", guarantee.status().to_string().c_str());
    return 2;
  }
  if (argc == 6) {
    static std::atomic<int> left{std::atoi(argv[5])};
    sync_point::set_callback(argv[4], [] {
      if (--left == 0) raise(SIGKILL);
    });
  }
  RuntimeConfig c;
  c.application_id = "crash";
  c.state_dir = dir + "/state";
  c.threads = std::atoi(argv[3]);
  c.guarantee = *guarantee;
  c.commit_interval_ms = 20;
  c.memory_budget_bytes = 64 << 20;
  auto rt = Runtime::open(sluice::runtime::testing::windowed_count_topology(), dir + "/log", c);
  if (!rt.ok()) {
    std::fprintf(stderr, "crash child: %s\n", rt.status().to_string().c_str());
    return 1;
  }
  if (std::getenv("SLUICE_CHILD_UNTIL_SIGNAL") != nullptr) {
    Runtime& runtime = **rt;
    std::jthread reporter([&runtime](std::stop_token stop) {
      int64_t commits = 0;
      while (!stop.stop_requested()) {
        int64_t now = 0;
        for (const auto& t : runtime.metrics().threads) now += t.commits;
        for (; commits < now; ++commits) report("commit " + std::to_string(commits + 1));
        usleep(5000);
      }
    });
    Status s = runtime.run_until_signal();
    reporter.request_stop();
    reporter.join();
    if (!s.ok()) {
      std::fprintf(stderr, "crash child: %s\n", s.to_string().c_str());
      return 1;
    }
    report("stopped");
    return 0;
  }
  Status s = (*rt)->start();
  if (!s.ok()) {
    std::fprintf(stderr, "crash child: %s\n", s.to_string().c_str());
    return 1;
  }
  int64_t commits = 0;
  int clean_passes = 0;
  while (clean_passes < 2) {
    if ((*rt)->status().state != RuntimeState::kRunning) break;
    int64_t now = 0;
    for (const auto& t : (*rt)->metrics().threads) now += t.commits;
    for (; commits < now; ++commits) report("commit " + std::to_string(commits + 1));
    clean_passes = (*rt)->caught_up() ? clean_passes + 1 : 0;
    usleep(5000);
  }
  (*rt)->stop();
  s = (*rt)->wait();
  if (!s.ok()) {
    std::fprintf(stderr, "crash child: %s\n", s.to_string().c_str());
    return 1;
  }
  report("done");
  return 0;
}
