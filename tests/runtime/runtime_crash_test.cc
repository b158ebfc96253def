// Exactly-once under SIGKILL, with real processes: a child runs the windowed count with its
// repartition step over 1,000,000 pre-produced events; the parent kills it at random moments
// (after a random number of commits, or early during open and restore) and exactly at each
// boundary of the commit protocol (named sync points), at least 20 times, restarting it with
// one or two stream threads in turn. Then it lets a last run finish and reads the committed
// output: exactly-once must equal the oracle with no update seen twice; at-least-once must
// miss nothing.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <random>

#include "kill_child.h"
#include "runtime_test_util.h"
#include "temp_dir.h"

namespace sluice::runtime {
namespace {

using namespace testing;

constexpr int kRounds = 24;
// Named moments of the commit protocols (docs/EXACTLY-ONCE.md). Exactly-once: before the
// commit point, just after it (PrepareCommit durable), between markers, after the commit and
// before the stores are applied. At-least-once: after outputs are appended, before positions
// are committed.
const std::vector<std::string> kExactlyOncePoints = {
    "StreamThread::BeforeCommitTransaction",
    "TransactionCoordinator::AfterPrepareCommit",
    "TransactionCoordinator::AfterMarker",
    "StreamThread::AfterCommitTransaction",
};
const std::vector<std::string> kAtLeastOncePoints = {
    "StreamThread::AfterOutputsAppended",
    "StreamThread::BeforeCommitOffsets",
};

// The child's log: the windowed count's input topic holding `events`, and its output topic.
void prepare_log(const std::string& dir, const std::vector<Event>& events) {
  logstore::LogStoreOptions o;
  o.data_dir = dir;
  auto log = logstore::LogStore::open(o);
  ASSERT_TRUE(log.ok()) << log.status().to_string();
  ASSERT_OK(create_topic(**log, "views", 4));
  ASSERT_OK(create_topic(**log, "views-per-page-out", 4));
  ASSERT_OK(produce(**log, "views", events));
  ASSERT_OK((*log)->close());
}

class RuntimeCrashTest : public ::testing::TestWithParam<ProcessingGuarantee> {};

TEST_P(RuntimeCrashTest, CommittedOutputAfterRepeatedKillsEqualsTheOracle) {
  const ProcessingGuarantee guarantee = GetParam();
  sluice::testing::TempDir tmp;
  const uint64_t seed = std::random_device{}();
  std::printf("runtime crash test seed: %llu, %d events\n", static_cast<unsigned long long>(seed),
              SLUICE_RUNTIME_CRASH_EVENTS);
  const auto events = page_views(SLUICE_RUNTIME_CRASH_EVENTS, seed);
  prepare_log(tmp / "log", events);
  if (HasFatalFailure()) return;

  std::mt19937_64 rng(seed);
  int killed = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::string> argv = {SLUICE_RUNTIME_CRASH_CHILD, tmp.path(),
                                     std::string(guarantee_name(guarantee)),
                                     std::to_string(1 + round % 2)};
    sluice::testing::KillPlan plan;
    if (round % 3 == 2) {
      // The child kills itself at the n-th arrival at a protocol boundary.
      const auto& points =
          guarantee == ProcessingGuarantee::kExactlyOnce ? kExactlyOncePoints : kAtLeastOncePoints;
      argv.push_back(points[static_cast<size_t>(round / 3) % points.size()]);
      argv.push_back(std::to_string(1 + rng() % 8));
      plan.early_kills = false;
      plan.max_lines = 1 << 30;
      plan.give_up_s = 120;
    } else {
      plan.max_lines = 8;
      plan.give_up_s = 60;
    }
    auto child = sluice::testing::run_and_kill(argv, plan, rng);
    const auto commits = std::count(child.output.begin(), child.output.end(), '\n');
    std::printf("round %d (%s threads%s%s): %s after %ld commits\n", round, argv[3].c_str(),
                argv.size() > 4 ? ", kill at " : "", argv.size() > 4 ? argv[4].c_str() : "",
                child.killed ? "killed" : "exited", static_cast<long>(commits));
    if (child.killed) {
      ++killed;
    } else {
      ASSERT_TRUE(WIFEXITED(child.status) && WEXITSTATUS(child.status) == 0)
          << "round " << round << ": the child failed (status " << child.status << ")";
    }
  }
  EXPECT_GE(killed, 20);

  // The last run goes to the end.
  sluice::testing::KillPlan finish;
  finish.early_kills = false;
  finish.max_lines = 1 << 30;
  finish.give_up_s = 300;
  auto last = sluice::testing::run_and_kill(
      {SLUICE_RUNTIME_CRASH_CHILD, tmp.path(), std::string(guarantee_name(guarantee)), "2"}, finish,
      rng);
  ASSERT_FALSE(last.killed) << "the final run did not finish in time";
  ASSERT_NE(last.output.find("done"), std::string::npos);

  logstore::LogStoreOptions o;
  o.data_dir = tmp / "log";
  auto log = logstore::LogStore::open(o);
  ASSERT_TRUE(log.ok()) << log.status().to_string();
  auto out = read_committed<operators::Windowed<std::string>, int64_t>(**log, "views-per-page-out");
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  const FinalCounts f = final_counts(*out);
  const auto oracle = count_oracle(events);
  if (guarantee == ProcessingGuarantee::kExactlyOnce) {
    EXPECT_EQ(f.non_increasing, 0) << "updates seen twice; seed " << seed;
    EXPECT_EQ(f.last.size(), oracle.size()) << "seed " << seed;
    int64_t wrong = 0;
    for (const auto& [k, n] : oracle) {
      auto it = f.last.find(k);
      if (it == f.last.end() || it->second != n) ++wrong;
    }
    EXPECT_EQ(wrong, 0) << "windows whose final count differs from the oracle; seed " << seed;
  } else {
    int64_t missing = 0;
    for (const auto& [k, n] : oracle) {
      auto it = f.last.find(k);
      if (it == f.last.end() || it->second < n) ++missing;
    }
    EXPECT_EQ(missing, 0) << "windows missing counts; seed " << seed;
  }
}

// A program embedding the runtime stops cleanly on SIGTERM: it commits what it processed and
// leaves no transaction open; a later run finishes the job with exactly the oracle's counts.
TEST(RuntimeSignalTest, SigtermStopsTheRuntimeCleanlyAfterCommittingWhatItProcessed) {
  sluice::testing::TempDir tmp;
  const auto events = page_views(200'000, 11);
  prepare_log(tmp / "log", events);
  if (HasFatalFailure()) return;
  std::mt19937_64 rng(11);
  sluice::testing::KillPlan plan;
  plan.early_kills = false;
  plan.max_lines = 3;
  plan.signal = SIGTERM;
  setenv("SLUICE_CHILD_UNTIL_SIGNAL", "1", 1);
  auto child = sluice::testing::run_and_kill(
      {SLUICE_RUNTIME_CRASH_CHILD, tmp.path(), "exactly_once", "2"}, plan, rng);
  unsetenv("SLUICE_CHILD_UNTIL_SIGNAL");
  ASSERT_TRUE(WIFEXITED(child.status) && WEXITSTATUS(child.status) == 0)
      << "status " << child.status;
  EXPECT_NE(child.output.find("stopped"), std::string::npos) << child.output;
  {
    logstore::LogStoreOptions o;
    o.data_dir = tmp / "log";
    auto log = logstore::LogStore::open(o);
    ASSERT_TRUE(log.ok());
    int64_t committed = 0;
    for (int32_t p = 0; p < 4; ++p) {
      auto ends = (*log)->partition_ends({"views-per-page-out", PartitionId(p)});
      ASSERT_TRUE(ends.ok());
      EXPECT_EQ(ends->stable.offset(), ends->high_watermark.offset()) << "open transaction";
      auto c = (*log)->committed_offset("crash", {"views", PartitionId(p)});
      ASSERT_TRUE(c.ok());
      if (*c) committed += (*c)->offset.value();
    }
    EXPECT_GT(committed, 0);
  }
  sluice::testing::KillPlan finish;
  finish.early_kills = false;
  finish.max_lines = 1 << 30;
  finish.give_up_s = 300;
  auto last = sluice::testing::run_and_kill(
      {SLUICE_RUNTIME_CRASH_CHILD, tmp.path(), "exactly_once", "1"}, finish, rng);
  ASSERT_NE(last.output.find("done"), std::string::npos);
  logstore::LogStoreOptions o;
  o.data_dir = tmp / "log";
  auto log = logstore::LogStore::open(o);
  ASSERT_TRUE(log.ok());
  auto out = read_committed<operators::Windowed<std::string>, int64_t>(**log, "views-per-page-out");
  ASSERT_TRUE(out.ok());
  const FinalCounts f = final_counts(*out);
  EXPECT_EQ(f.non_increasing, 0);
  EXPECT_EQ(f.last, count_oracle(events));
}

INSTANTIATE_TEST_SUITE_P(Guarantees, RuntimeCrashTest,
                         ::testing::Values(ProcessingGuarantee::kExactlyOnce,
                                           ProcessingGuarantee::kAtLeastOnce),
                         [](const auto& info) {
                           return info.param == ProcessingGuarantee::kExactlyOnce ? "ExactlyOnce"
                                                                                  : "AtLeastOnce";
                         });

}  // namespace
}  // namespace sluice::runtime
