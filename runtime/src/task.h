// Task: one sub-topology instantiated for one partition, with everything the runtime keeps
// beside the operators — its state, its output collector, its inputs — and how to open one.
//
// Thread safety: opened on a restore-pool thread, then handed to (and confined to) the stream
// thread that runs it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/logstore/log_client.h"
#include "sluice/operators/log_record_collector.h"
#include "sluice/operators/partition_queue.h"
#include "sluice/operators/stream_task.h"
#include "sluice/operators/topic_plan.h"
#include "sluice/runtime/runtime.h"
#include "sluice/state/task_state.h"

namespace sluice::runtime {

struct TaskId {
  int subtopology = 0;
  PartitionId partition{0};
  std::string to_string() const {
    return std::to_string(subtopology) + "_" + std::to_string(partition.value());
  }
  friend auto operator<=>(const TaskId& a, const TaskId& b) {
    return std::pair(a.subtopology, a.partition.value()) <=>
           std::pair(b.subtopology, b.partition.value());
  }
  friend bool operator==(const TaskId&, const TaskId&) = default;
};

class StreamTimeAlignment;

struct Task {
  TaskId id;
  int thread = 0;
  // Declared in dependency order: the stream task points into the state and the collector.
  std::unique_ptr<state::TaskState> state;
  std::unique_ptr<operators::LogRecordCollector> collector;
  std::unique_ptr<operators::StreamTask> stream;
  operators::TaskInputs inputs;
  std::vector<bool> purge_input;  // per input: a repartition topic, purged once consumed
  std::vector<Offset> purged;     // per input: the log start we last asked for

  // Processing time since the last commit, for the per-record latency metric.
  int64_t busy_ns = 0;
  int64_t busy_records = 0;
  double ns_per_record = 0;
  // Since when stream-time alignment holds the task back, and the wait last warned about;
  // the time it was held back before (ms).
  std::optional<int64_t> held_since_ms;
  int64_t held_total_ms = 0;
  std::optional<int64_t> held_warned_ms;
  // Store metrics (RocksDB properties, directory sizes) and when they were taken: refreshed
  // at most once a second.
  state::StateMetrics state_metrics;
  std::optional<int64_t> state_metrics_ms;
};

// What opening a task needs from the runtime; outlives every task.
struct TaskEnvironment {
  const operators::Topology* topology = nullptr;
  const operators::TopicPlan* plan = nullptr;
  const RuntimeConfig* config = nullptr;
  logstore::LogClient* log = nullptr;
  Clock* clock = nullptr;
  std::shared_ptr<state::StateMemoryBudget> budget;
  size_t cache_bytes_per_task = 0;
  StreamTimeAlignment* alignment = nullptr;  // shared by the stream threads
};

// Opens the task's state (restoring its stores), creates its operators and finds where each
// input resumes: the group's committed position, else per the offset-reset policy.
// `global_stores` resolves the global tables' stores of the thread that will run it.
Result<std::unique_ptr<Task>> open_task(
    const TaskEnvironment& env, TaskId id, int thread, state::RestoreListener on_restore,
    std::function<Result<state::KeyValueStore*>(std::string_view)> global_stores);

// The number of tasks (partitions) of a sub-topology: the most partitions of its inputs.
int32_t task_count(const operators::Topology& topology, const operators::TopicPlan& plan,
                   int subtopology);

}  // namespace sluice::runtime
