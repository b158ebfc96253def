#include "stream_time_alignment.h"

#include <algorithm>

namespace sluice::runtime {

StreamTimeAlignment::StreamTimeAlignment(const std::vector<std::pair<int, int32_t>>& tasks,
                                         int64_t max_drift_ms)
    : max_drift_ms_(max_drift_ms) {
  if (max_drift_ms_ < 0) return;
  int ids = 0;
  for (const auto& [id, n] : tasks) ids = std::max(ids, id + 1);
  times_.resize(static_cast<size_t>(ids));
  counts_.resize(static_cast<size_t>(ids), 0);
  for (const auto& [id, n] : tasks) {
    auto& slots = times_[static_cast<size_t>(id)];
    slots = std::make_unique<std::atomic<int64_t>[]>(static_cast<size_t>(n));
    for (int32_t p = 0; p < n; ++p) slots[static_cast<size_t>(p)].store(kNotWaiting);
    counts_[static_cast<size_t>(id)] = n;
  }
}

void StreamTimeAlignment::publish(const TaskId& id, std::optional<Timestamp> stream_time) {
  if (max_drift_ms_ < 0) return;
  const auto st = static_cast<size_t>(id.subtopology);
  const int32_t p = id.partition.value();
  if (st >= times_.size() || p >= counts_[st]) return;  // not a task of the plan
  times_[st][static_cast<size_t>(p)].store(stream_time ? stream_time->value() : kNotWaiting,
                                           std::memory_order_relaxed);
}

Timestamp StreamTimeAlignment::limit(const TaskId& id) const {
  if (max_drift_ms_ < 0) return kUnbounded;
  const auto st = static_cast<size_t>(id.subtopology);
  if (st >= times_.size()) return kUnbounded;
  int64_t slowest = kNotWaiting;
  for (int32_t p = 0; p < counts_[st]; ++p) {
    if (p == id.partition.value()) continue;
    slowest = std::min(slowest, times_[st][static_cast<size_t>(p)].load(std::memory_order_relaxed));
  }
  if (slowest > kUnbounded.value() - max_drift_ms_) return kUnbounded;  // none waits
  return Timestamp(slowest + max_drift_ms_);
}

}  // namespace sluice::runtime
