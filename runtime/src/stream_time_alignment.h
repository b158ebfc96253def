// StreamTimeAlignment: keeps the tasks of a sub-topology within a bounded distance of each
// other in stream time, as Flink's watermark alignment keeps its sources together.
//
// Why: every task of a sub-topology that writes to a repartition topic appends to each of its
// partitions, in the order the tasks happen to run. When one task runs far ahead of another —
// a backlog replayed while one stream thread is faster, or stalled a moment — the downstream
// task reads the future first, its stream time jumps, and the lagging task's records arrive
// after their windows have closed and are dropped as late. Holding back a task that is more
// than `max_drift_ms` ahead of the slowest task with records waiting bounds that disorder to
// the drift plus what one commit interval of the slowest task holds: a window grace above that
// loses nothing. (Kafka Streams has no such bound: there, only the grace protects the counts.)
//
// Only tasks with records waiting count: a caught-up task, or one not running here (opening,
// restoring, or another member's), never holds the others back, and the slowest task is never
// held back itself, so processing always goes on.
//
// Thread safety: thread-safe (one atomic per task; each task's value written by its thread).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "sluice/base/ids.h"
#include "task.h"

namespace sluice::runtime {

class StreamTimeAlignment {
 public:
  // `tasks`: (sub-topology id, number of its tasks) for every sub-topology. A negative
  // `max_drift_ms` turns alignment off.
  StreamTimeAlignment(const std::vector<std::pair<int, int32_t>>& tasks, int64_t max_drift_ms);

  // Task `id` has records waiting and has processed up to `stream_time` (kNoTimestamp: nothing
  // yet), or (nullopt) nothing waits for it or it left this thread.
  void publish(const TaskId& id, std::optional<Timestamp> stream_time);
  // How far task `id` may go: it stops once its stream time passes this. The slowest other
  // waiting task's stream time plus the drift; unbounded when no other task waits.
  Timestamp limit(const TaskId& id) const;

  static constexpr Timestamp kUnbounded{INT64_MAX};

 private:
  static constexpr int64_t kNotWaiting = INT64_MAX;
  int64_t max_drift_ms_;
  // [sub-topology id][partition]: the published stream time, or kNotWaiting.
  std::vector<std::unique_ptr<std::atomic<int64_t>[]>> times_;
  std::vector<int32_t> counts_;
};

}  // namespace sluice::runtime
