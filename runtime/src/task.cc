#include "task.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace sluice::runtime {

int32_t task_count(const operators::Topology& topology, const operators::TopicPlan& plan,
                   int subtopology) {
  int32_t n = 0;
  for (const auto& t : topology.subtopologies()[static_cast<size_t>(subtopology)].source_topics) {
    n = std::max(n, plan.partitions_of(t));
  }
  return n;
}

namespace {

// Where an input without a committed position starts.
Result<Offset> reset_position(const TaskEnvironment& env, const logstore::TopicPartition& tp,
                              bool internal) {
  SLUICE_ASSIGN_OR_RETURN(auto ends, env.log->partition_ends(tp));
  if (internal || env.config->offset_reset == OffsetReset::kEarliest) return ends.log_start;
  return ends.high_watermark.offset();
}

// The group's committed position in `tp`. On Kafka a crashed instance's open transaction keeps
// the offsets it sent pending ("unstable") until it is aborted — by the instance's restart, or
// by the broker after the transaction timeout — and reading them times out meanwhile: keep
// asking until then rather than failing the task.
Result<std::optional<logstore::CommittedOffset>> committed_position(
    const TaskEnvironment& env, const logstore::TopicPartition& tp) {
  constexpr auto kPatience = std::chrono::seconds(120);  // > the 60 s transaction timeout
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  for (;;) {
    auto committed = env.log->committed_offset(env.config->application_id, tp);
    const StatusCode code = committed.status().code();
    if (committed.ok() || (code != StatusCode::kTimeout && code != StatusCode::kUnavailable) ||
        std::chrono::steady_clock::now() >= deadline) {
      return committed;
    }
    spdlog::warn("{}: committed offset of {} not readable yet ({}); retrying",
                 env.config->application_id, tp.to_string(), committed.status().to_string());
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

Status add_inputs(const TaskEnvironment& env, Task& task) {
  for (const auto& topic : task.stream->input_topics()) {
    logstore::TopicPartition tp{topic, task.id.partition};
    const bool internal = std::ranges::any_of(
        env.plan->internal, [&](const std::string& t) { return env.plan->log_name(t) == topic; });
    SLUICE_ASSIGN_OR_RETURN(auto committed, committed_position(env, tp));
    Offset start;
    if (committed) {
      start = committed->offset;
    } else {
      SLUICE_ASSIGN_OR_RETURN(start, reset_position(env, tp, internal));
    }
    task.inputs.add(tp, start);
    task.purge_input.push_back(internal);
    task.purged.push_back(start);
  }
  return Status();
}

}  // namespace

Result<std::unique_ptr<Task>> open_task(
    const TaskEnvironment& env, TaskId id, int thread, state::RestoreListener on_restore,
    std::function<Result<state::KeyValueStore*>(std::string_view)> global_stores) {
  auto task = std::make_unique<Task>();
  task->id = id;
  task->thread = thread;
  const RuntimeConfig& config = *env.config;
  state::TaskStateOptions so;
  so.state_dir = config.state_dir + "/" + id.to_string();
  so.application_id = config.application_id;
  so.partition = id.partition;
  so.changelog_partitions = task_count(*env.topology, *env.plan, id.subtopology);
  so.log = env.log;
  so.budget = env.budget;
  so.persistent = config.persistent_stores;
  so.cache_bytes = env.cache_bytes_per_task;
  so.clock = env.clock;
  so.on_restore = std::move(on_restore);
  SLUICE_ASSIGN_OR_RETURN(task->state, state::TaskState::open(std::move(so)));
  task->collector = std::make_unique<operators::LogRecordCollector>(
      operators::LogRecordCollectorOptions{.log = env.log});
  SLUICE_ASSIGN_OR_RETURN(task->stream,
                          operators::StreamTask::create({.topology = env.topology,
                                                         .subtopology = id.subtopology,
                                                         .partition = id.partition,
                                                         .application_id = config.application_id,
                                                         .state = task->state.get(),
                                                         .collector = task->collector.get(),
                                                         .clock = env.clock,
                                                         .global_stores = global_stores}));
  SLUICE_RETURN_IF_ERROR(add_inputs(env, *task));
  return task;
}

}  // namespace sluice::runtime
