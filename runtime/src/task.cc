#include "task.h"

#include <algorithm>

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

Status add_inputs(const TaskEnvironment& env, Task& task) {
  const auto& app = env.config->application_id;
  for (const auto& topic : task.stream->input_topics()) {
    logstore::TopicPartition tp{topic, task.id.partition};
    const bool internal = std::ranges::any_of(
        env.plan->internal, [&](const std::string& t) { return env.plan->log_name(t) == topic; });
    SLUICE_ASSIGN_OR_RETURN(auto committed, env.log->committed_offset(app, tp));
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
