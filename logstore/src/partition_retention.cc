// Partition: retention (delete whole sealed segments by age and size) and delete_records.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "partition.h"

namespace sluice::logstore {

Status Partition::enforce_retention() {
  MutexLock pass_lock(compaction_mu_);
  MutexLock lock(append_mu_);
  if (closed_) return Status();
  const Timestamp now = clock_.now();
  // Compacted-only topics keep old segments (compaction shrinks them), except below a log
  // start moved by delete_records().
  const bool deletes = config_.deletes();

  // An active segment whose data has all expired is rolled, so that it can go too.
  std::shared_ptr<Segment> act = active();
  if (deletes && config_.retention_ms >= 0 && !act->empty() &&
      act->max_timestamp() != kNoTimestamp && now - act->max_timestamp() > config_.retention_ms) {
    SLUICE_RETURN_IF_ERROR(roll());
  }

  std::vector<std::shared_ptr<Segment>> all = segments();
  uint64_t total = 0;
  for (const auto& s : all) total += s->size();
  std::vector<std::shared_ptr<Segment>> doomed;
  for (size_t i = 0; i + 1 < all.size(); ++i) {  // never the active segment
    const auto& s = all[i];
    const bool expired = deletes && config_.retention_ms >= 0 &&
                         s->max_timestamp() != kNoTimestamp &&
                         now - s->max_timestamp() > config_.retention_ms;
    const bool too_big = deletes && config_.retention_bytes >= 0 &&
                         total - s->size() >= static_cast<uint64_t>(config_.retention_bytes);
    const bool below_start = s->next_offset() <= Offset(log_start_.load()) &&
                             all[i + 1]->base_offset() <= Offset(log_start_.load());
    if (!expired && !too_big && !below_start) break;  // only a prefix goes
    total -= s->size();
    doomed.push_back(s);
  }
  if (doomed.empty()) return Status();
  // delete_records() may have put the log start past the first segment left.
  const int64_t old_start = log_start_.load();
  const int64_t new_start = std::max(all[doomed.size()]->base_offset().value(), old_start);
  spdlog::info("{}: retention deletes {} segment(s), log start {} -> {}", id_.to_string(),
               doomed.size(), old_start, new_start);
  log_start_.store(new_start);
  return remove_segments(doomed);
}

Status Partition::delete_records(Offset before) {
  {
    MutexLock lock(append_mu_);
    if (closed_) return failed_precondition(id_.to_string() + " is closed");
    const Offset hw(high_watermark_.load());
    if (before > hw) {
      return out_of_range("cannot delete records of " + id_.to_string() + " before offset " +
                          std::to_string(before.value()) + ": the partition ends at " +
                          std::to_string(hw.value()));
    }
    if (before.value() <= log_start_.load()) return Status();
    SLUICE_RETURN_IF_ERROR(write_log_start(before));
    log_start_.store(before.value());
  }
  return enforce_retention();
}

}  // namespace sluice::logstore
