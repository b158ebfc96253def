// Crash safety of state (acceptance check 5 of the state issue): a child process commits state
// in a loop (exactly-once: changelog in a transaction, then the RocksDB apply) and reports each
// commit; the parent SIGKILLs it at random moments. After every restart the state equals the
// state as of the last reported commit or the one after it (killed after its transaction
// committed but before it reported), never a mix of two commits.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <set>
#include <thread>

#include "sluice/logstore/log_store.h"
#include "state_crash_workload.h"
#include "temp_dir.h"

namespace sluice::state {
namespace {

using namespace sluice::testing;

uint64_t test_seed() {
  if (const char* s = std::getenv("SLUICE_CRASH_SEED")) return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

// Runs the child until a random moment; returns the commit ids it reported.
std::vector<int64_t> run_and_kill(const std::string& log_dir, const std::string& state_dir,
                                  bool persistent, std::mt19937_64& rng) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 3);
    if (fds[0] != 3) close(fds[0]);
    if (fds[1] != 3) close(fds[1]);
    execl(SLUICE_STATE_CRASH_CHILD, SLUICE_STATE_CRASH_CHILD, log_dir.c_str(), state_dir.c_str(),
          persistent ? "1" : "0", static_cast<char*>(nullptr));
    _exit(127);
  }
  close(fds[1]);
  // A quarter of the rounds kill soon after the start (in the child's open and restore); the
  // others a moment after the child reported a random number of commits, so how far a round
  // gets does not depend on how fast the machine is (loaded, or a sanitizer build).
  const bool early = rng() % 4 == 0;
  const size_t commits_before_kill = 1 + rng() % 15;
  const auto start = std::chrono::steady_clock::now();
  const auto kill_at = start + std::chrono::milliseconds(20 + rng() % 150);
  const auto give_up = start + std::chrono::seconds(30);
  const auto extra = std::chrono::microseconds(rng() % 5000);
  std::string output;
  char buf[4096];
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (early ? now >= kill_at : now >= give_up) break;
    if (!early && static_cast<size_t>(std::count(output.begin(), output.end(), '\n')) >=
                      commits_before_kill) {
      std::this_thread::sleep_for(extra);
      break;
    }
    const auto wait_until = early ? kill_at : std::min(give_up, now + std::chrono::milliseconds(5));
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(wait_until - now).count();
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(std::max<int64_t>(left, 0))) > 0) {
      ssize_t n = read(fds[0], buf, sizeof(buf));
      if (n <= 0) break;
      output.append(buf, static_cast<size_t>(n));
    }
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  for (ssize_t n; (n = read(fds[0], buf, sizeof(buf))) > 0;) {
    output.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  EXPECT_TRUE(WIFSIGNALED(status)) << "the child stopped by itself (status " << status << ")";
  std::vector<int64_t> ids;
  size_t pos = 0;
  for (size_t nl; (nl = output.find('\n', pos)) != std::string::npos; pos = nl + 1) {
    ids.push_back(std::stoll(output.substr(pos, nl - pos)));
  }
  return ids;
}

class StateCrashTest : public ::testing::TestWithParam<bool> {};

TEST_P(StateCrashTest, SigkillAtRandomMomentsLeavesTheStateAtTheLastCommitOrTheNextNeverAMix) {
  const bool persistent = GetParam();
  const uint64_t seed = test_seed();
  std::printf("state crash test seed: %llu (rerun with SLUICE_CRASH_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  TempDir log_dir, state_dir;
  int64_t last_reported = 0;
  int rounds_with_commits = 0;
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round) + ", seed " + std::to_string(seed));
    std::vector<int64_t> ids = run_and_kill(log_dir.path(), state_dir.path(), persistent, rng);
    ASSERT_FALSE(HasFailure());
    if (!ids.empty()) {
      ++rounds_with_commits;
      ASSERT_GT(ids.front(), last_reported - 1) << "commit ids went backwards";
      last_reported = ids.back();
    }

    logstore::LogStoreOptions log_options;
    log_options.data_dir = log_dir.path();
    log_options.background_maintenance = false;
    auto log = logstore::LogStore::open(log_options);
    ASSERT_TRUE(log.ok()) << log.status().to_string();
    auto state = state_crash::open_state(**log, state_dir.path(), persistent);
    ASSERT_TRUE(state.ok()) << state.status().to_string();
    std::set<std::string> values;
    for (const char* name : state_crash::kStores) {
      auto store = (*state)->key_value_store({.name = name});
      ASSERT_TRUE(store.ok()) << store.status().to_string();
      for (int k = 0; k < state_crash::kKeys; ++k) {
        auto v = (*store)->get(state_crash::key(k));
        ASSERT_TRUE(v.ok()) << v.status().to_string();
        values.insert(v->value_or("none"));
      }
    }
    ASSERT_EQ(values.size(), 1u) << "the state mixes commits: " << *values.begin() << " and "
                                 << *values.rbegin();
    const std::string& v = *values.begin();
    const int64_t id = v == "none" ? 0 : std::stoll(v);
    EXPECT_TRUE(id == last_reported || id == last_reported + 1)
        << "state is at commit " << id << ", last reported commit " << last_reported;
    last_reported = id;  // the next round continues from here
  }
  std::printf("state crash test: reached commit %lld over %d rounds (%d with commits)\n",
              static_cast<long long>(last_reported), kRounds, rounds_with_commits);
  EXPECT_GE(rounds_with_commits, kRounds / 2);
}

INSTANTIATE_TEST_SUITE_P(RocksDbAndMemory, StateCrashTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "RocksDb" : "InMemory"; });

}  // namespace
}  // namespace sluice::state
