#include "sluice/operators/partition_queue.h"

#include <spdlog/spdlog.h>

namespace sluice::operators {

void PartitionQueue::add(logstore::FetchResult result, Offset from) {
  if (result.batches.empty()) return;
  buffered_bytes_ += result.batches.size();
  fetched_.push_back({std::move(result), from});
}

void PartitionQueue::clear() {
  current_.reset();
  records_.reset();
  fetched_.clear();
  buffered_bytes_ = 0;
  rest_ = {};
  front_started_ = false;
}

Result<const logstore::RecordView*> PartitionQueue::head() {
  if (!current_) {
    SLUICE_ASSIGN_OR_RETURN(bool found, advance());
    if (!found) return nullptr;
  }
  return &*current_;
}

Result<bool> PartitionQueue::advance() {
  for (;;) {
    if (records_) {
      logstore::RecordView r;
      SLUICE_ASSIGN_OR_RETURN(bool more, records_->next(r));
      if (more) {
        if (r.offset < fetched_.front().from) continue;
        current_ = r;
        return true;
      }
      records_.reset();
    }
    bool opened = false;
    SLUICE_RETURN_IF_ERROR(open_next_batch(opened));
    if (!opened) return false;
  }
}

// Opens the next batch with records to show, dropping fetches that are used up.
Status PartitionQueue::open_next_batch(bool& opened) {
  while (!fetched_.empty()) {
    Fetched& front = fetched_.front();
    if (!front_started_) {
      rest_ = front.result.batches;
      front_started_ = true;
    }
    while (!rest_.empty()) {
      SLUICE_ASSIGN_OR_RETURN(auto batch, logstore::RecordBatchView::parse(rest_));
      rest_.remove_prefix(batch.bytes().size());
      const logstore::BatchHeader& h = batch.header();
      if (h.control() || h.last_offset() < front.from) continue;
      if (isolation_ == logstore::IsolationLevel::kReadCommitted && h.transactional() &&
          logstore::detail::is_aborted(front.result.aborted, h)) {
        continue;
      }
      SLUICE_ASSIGN_OR_RETURN(auto it, logstore::RecordIterator::open(batch));
      records_.emplace(std::move(it));
      opened = true;
      return Status();
    }
    buffered_bytes_ -= front.result.batches.size();
    fetched_.pop_front();
    front_started_ = false;
  }
  return Status();
}

}  // namespace sluice::operators

namespace sluice::operators {

void TaskInputs::add(logstore::TopicPartition partition, Offset start) {
  inputs_.push_back(Input{std::move(partition), start, start, PartitionQueue(), {}});
}

Result<size_t> TaskInputs::fill(logstore::LogClient& log, size_t max_buffered_bytes) {
  size_t fetched = 0;
  for (Input& in : inputs_) {
    // head() first: it lets go of fetches already used up, so an input whose records are all
    // processed always fetches (its next record may come before the other inputs').
    SLUICE_ASSIGN_OR_RETURN(const logstore::RecordView* head, in.queue.head());
    if (head && in.queue.buffered_bytes() >= max_buffered_bytes) continue;
    logstore::FetchRequest req{.partition = in.partition, .offset = in.fetch_position};
    auto result = log.fetch(req);
    if (!result.ok() && result.status().code() == StatusCode::kOutOfRange) {
      SLUICE_ASSIGN_OR_RETURN(auto ends, log.partition_ends(in.partition));
      if (in.fetch_position < ends.log_start) {
        spdlog::warn("{}: offset {} was removed by retention; continuing at the log start {}",
                     in.partition.to_string(), in.fetch_position.value(), ends.log_start.value());
        in.fetch_position = ends.log_start;
        if (in.consumed < ends.log_start) in.consumed = ends.log_start;
      }
      continue;
    }
    SLUICE_RETURN_IF_ERROR(result.status());
    in.end = result->high_watermark;
    in.stable = result->last_stable;
    const Offset from = in.fetch_position;
    in.fetch_position = result->next_offset;
    fetched += result->batches.size();
    in.queue.add(std::move(*result), from);
  }
  return fetched;
}

Result<TaskInputs::Next> TaskInputs::next() {
  Next best;
  for (Input& in : inputs_) {
    SLUICE_ASSIGN_OR_RETURN(const logstore::RecordView* head, in.queue.head());
    // Everything fetched is processed: the position moves past what followed the last record
    // too (transaction markers, aborted data), so a caught-up input shows no lag.
    if (!head) in.consumed = std::max(in.consumed, in.fetch_position);
    if (!head && in.fetch_position < in.stable.offset()) return Next{};  // fetch it first
    if (head && (!best.record || head->timestamp < best.record->timestamp)) {
      best = Next{&in, head};
    }
  }
  return best;
}

Result<bool> TaskInputs::pending() {
  for (Input& in : inputs_) {
    SLUICE_ASSIGN_OR_RETURN(const logstore::RecordView* head, in.queue.head());
    if (head || in.fetch_position < in.stable.offset()) return true;
  }
  return false;
}

}  // namespace sluice::operators
