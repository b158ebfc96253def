// StreamTimeAlignment's bound (runtime_test.cc checks its effect on a running job:
// AFastTaskWaitsForASlowerOne...): a task runs at most the drift ahead of the slowest other task of
// its sub-topology with records waiting.
#include "stream_time_alignment.h"

#include <gtest/gtest.h>

namespace sluice::runtime {
namespace {

TaskId task(int subtopology, int32_t partition) { return {subtopology, PartitionId(partition)}; }

TEST(StreamTimeAlignmentTest, ATaskMayRunTheDriftAheadOfTheSlowestOtherWaitingTask) {
  StreamTimeAlignment a({{0, 3}, {1, 2}}, 500);
  EXPECT_EQ(a.limit(task(0, 0)), StreamTimeAlignment::kUnbounded);  // nobody waits yet
  a.publish(task(0, 1), Timestamp(1'000));
  a.publish(task(0, 2), Timestamp(4'000));
  EXPECT_EQ(a.limit(task(0, 0)), Timestamp(1'500));
  // Its own stream time never holds a task back: the slowest goes on.
  EXPECT_EQ(a.limit(task(0, 1)), Timestamp(4'500));
  // Other sub-topologies are aligned on their own.
  EXPECT_EQ(a.limit(task(1, 0)), StreamTimeAlignment::kUnbounded);
  // A task with nothing waiting (caught up, or gone) holds nobody back.
  a.publish(task(0, 1), std::nullopt);
  EXPECT_EQ(a.limit(task(0, 0)), Timestamp(4'500));
  // One that has processed nothing yet holds the others at the drift past the epoch.
  a.publish(task(0, 1), kNoTimestamp);
  EXPECT_EQ(a.limit(task(0, 0)), Timestamp(499));
}

TEST(StreamTimeAlignmentTest, ANegativeDriftTurnsAlignmentOff) {
  StreamTimeAlignment a({{0, 2}}, -1);
  a.publish(task(0, 1), Timestamp(0));
  EXPECT_EQ(a.limit(task(0, 0)), StreamTimeAlignment::kUnbounded);
}

}  // namespace
}  // namespace sluice::runtime
