// Partition: the append path (one writer at a time, under append_mu_).
#include <string>

#include "log_files.h"
#include "partition.h"
#include "sluice/base/check.h"

namespace sluice::logstore {
namespace {

// Offsets inside a segment are stored relative to its base as u32 in the index.
constexpr int64_t kMaxRelativeOffset = INT32_MAX;
// kInterval partitions start the disk on their appends every this many bytes.
constexpr int64_t kWritebackBytes = 1 << 20;

Compression codec_for(TopicCompression c, Compression producer_codec) {
  switch (c) {
    case TopicCompression::kNone:
      return Compression::kNone;
    case TopicCompression::kLz4:
      return Compression::kLz4;
    case TopicCompression::kZstd:
      return Compression::kZstd;
    case TopicCompression::kProducer:
      return producer_codec;
  }
  return producer_codec;
}

}  // namespace

Result<AppendResult> Partition::append(Bytes& batch, BatchOrigin origin) {
  SLUICE_ASSIGN_OR_RETURN(RecordBatchView view, RecordBatchView::parse(batch));
  if (view.bytes().size() != batch.size()) {
    return invalid_argument("append of " + id_.to_string() +
                            ": bytes follow the record batch; send one batch per append");
  }
  const BatchHeader& h = view.header();
  if (h.control()) {
    return invalid_argument("append of " + id_.to_string() +
                            ": control batches are written by the log itself, not by producers");
  }
  // Validation outside the lock: it is CPU work that can run in parallel with other
  // partitions' appends and with this partition's disk write.
  if (origin == BatchOrigin::kClient) {
    Status valid;
    if (static_cast<RecordValidation>(record_validation_.load()) == RecordValidation::kFull) {
      valid = validate_batch(view, /*require_dense=*/true).status();
    } else {
      valid = view.verify_crc();
      if (valid.ok() && (h.record_count < 1 || h.last_offset_delta != h.record_count - 1)) {
        valid = invalid_argument("record batch's lastOffsetDelta " +
                                 std::to_string(h.last_offset_delta) + " does not match its " +
                                 std::to_string(h.record_count) + " records");
      }
    }
    if (!valid.ok()) return valid.with_context("append of " + id_.to_string() + " refused");
  }

  MutexLock lock(append_mu_);
  if (closed_) return failed_precondition(id_.to_string() + " is closed");
  if (failed_.load()) {
    return io_error(id_.to_string() +
                    " refuses appends after an fsync failure; restart to recover it from disk");
  }
  return append_locked(batch, h);
}

Result<AppendResult> Partition::append_locked(Bytes& batch, const BatchHeader& header) {
  if (batch.size() > static_cast<size_t>(config_.max_batch_bytes)) {
    return invalid_argument("record batch of " + std::to_string(batch.size()) + " bytes for " +
                            id_.to_string() + " exceeds max.batch.bytes (" +
                            std::to_string(config_.max_batch_bytes) + ")");
  }
  auto duplicate = producers_.check_append(header);
  if (!duplicate.ok()) return duplicate.status().with_context("append of " + id_.to_string());
  if (duplicate->has_value()) {
    const auto& original = **duplicate;
    return AppendResult{original.first_offset, original.last_offset, kNoTimestamp, true};
  }

  BatchHeader h = header;
  if (codec_for(config_.compression, h.compression()) != h.compression()) {
    SLUICE_RETURN_IF_ERROR(convert_compression(batch, h));
    SLUICE_ASSIGN_OR_RETURN(h, parse_batch_header(batch));
  }
  h.base_offset = Offset(written_.load(std::memory_order_relaxed));
  set_base_offset(batch.data(), h.base_offset);
  AppendResult result{h.base_offset, h.last_offset(), kNoTimestamp, false};
  if (config_.timestamp_type == TimestampType::kLogAppendTime) {
    Timestamp now = clock_.now();
    set_log_append_time(batch.data(), batch.size(), now);
    h.max_timestamp = now;
    h.attributes |= format::kTimestampTypeBit;
    result.log_append_time = now;
  }

  SLUICE_RETURN_IF_ERROR(maybe_roll(batch.size(), h));
  std::shared_ptr<Segment> seg = active();
  Status s = seg->append(h, batch, config_.index_interval_bytes);
  if (!s.ok()) return s.with_context("append to " + id_.to_string());
  producers_.on_append(h);
  written_.store(h.next_offset().value(), std::memory_order_release);
  if (config_.flush_policy == FlushPolicy::kEveryBatch) {
    Status synced = seg->sync();
    if (!synced.ok()) {
      failed_.store(true);
      return synced.with_context("append to " + id_.to_string() + " was written but not synced");
    }
  } else if (config_.flush_policy == FlushPolicy::kInterval && h.transactional()) {
    // The transaction's commit will sync this before its commit point, in the committing
    // thread: have the disk start on it now, a megabyte at a time, so that the commit waits for
    // the last megabyte rather than everything the transaction wrote (a stream thread's 100 ms
    // commit of 20 MB waited ~25 ms for it). Plain appends are synced by the background flusher,
    // which no appender waits for: starting their writeback would only slow a writer that is
    // faster than the disk.
    unstarted_writeback_bytes_ += static_cast<int64_t>(batch.size());
    if (unstarted_writeback_bytes_ >= kWritebackBytes) {
      seg->start_writeback();
      unstarted_writeback_bytes_ = 0;
    }
  }
  advance_ends();
  return result;
}

Result<AppendResult> Partition::append_marker(ProducerId producer, ProducerEpoch epoch,
                                              ControlType type, int32_t coordinator_epoch) {
  MutexLock lock(append_mu_);
  if (closed_) return failed_precondition(id_.to_string() + " is closed");
  if (failed_.load()) return io_error(id_.to_string() + " refuses appends after an fsync failure");
  SLUICE_RETURN_IF_ERROR(producers_.check_marker(producer, epoch));
  const Timestamp now = clock_.now();
  Bytes batch = build_control_batch(type, producer, epoch, coordinator_epoch, now);
  SLUICE_ASSIGN_OR_RETURN(BatchHeader h, parse_batch_header(batch));
  h.base_offset = Offset(written_.load(std::memory_order_relaxed));
  set_base_offset(batch.data(), h.base_offset);
  SLUICE_RETURN_IF_ERROR(maybe_roll(batch.size(), h));
  std::shared_ptr<Segment> seg = active();
  Status s = seg->append(h, batch, config_.index_interval_bytes);
  if (!s.ok()) return s.with_context("transaction marker for " + id_.to_string());
  if (auto aborted = producers_.on_marker(producer, epoch, type, h.base_offset, now)) {
    seg->add_aborted(*aborted);
  }
  written_.store(h.next_offset().value(), std::memory_order_release);
  if (config_.flush_policy == FlushPolicy::kEveryBatch) {
    Status synced = seg->sync();
    if (!synced.ok()) {
      failed_.store(true);
      return synced;
    }
  }
  advance_ends();
  return AppendResult{h.base_offset, h.base_offset, kNoTimestamp, false};
}

void Partition::advance_ends() {
  const int64_t written = written_.load(std::memory_order_relaxed);
  switch (config_.flush_policy) {
    case FlushPolicy::kEveryBatch:
      durable_.store(written, std::memory_order_release);
      break;
    case FlushPolicy::kInterval: {
      int64_t none = -1;
      first_unsynced_ms_.compare_exchange_strong(none, clock_.monotonic_ms());
      break;
    }
    case FlushPolicy::kNever:
      break;
  }
  std::shared_ptr<Segment> seg = active();
  seg->publish(seg->size());
  high_watermark_.store(written, std::memory_order_release);
  stable_.store(producers_.first_unstable_offset().value_or(Offset(written)).value(),
                std::memory_order_release);
  MutexLock lock(wait_mu_);
  data_cv_.notify_all();
}

Status Partition::maybe_roll(size_t incoming_bytes, const BatchHeader& h) {
  std::shared_ptr<Segment> seg = active();
  if (seg->empty()) return Status();
  const bool full = seg->size() + incoming_bytes > static_cast<uint64_t>(config_.segment_bytes);
  // Age is measured in the data's own time, as Kafka does (LogSegment.timeWaitedForRoll): the
  // incoming batch's largest timestamp minus the segment's first batch's. Measured against the
  // wall clock, records with old timestamps (a replayed history, a test's event times) would
  // make every append roll a new segment. Without timestamps, the segment's wall-clock age.
  const Timestamp first = seg->first_batch_timestamp();
  const int64_t age = first != kNoTimestamp && h.max_timestamp != kNoTimestamp
                          ? h.max_timestamp - first
                          : clock_.monotonic_ms() - seg->created_ms();
  const bool old = age >= config_.segment_ms;
  const bool offsets_overflow = h.last_offset() - seg->base_offset() > kMaxRelativeOffset;
  if (full || old || offsets_overflow) return roll();
  return Status();
}

Status Partition::roll() {
  // Ordered so that a failure at any step (a full disk, say) leaves the old segment active and
  // appendable, and a crash at any step leaves files that recovery understands.
  std::shared_ptr<Segment> old = active();
  if (config_.flush_policy != FlushPolicy::kNever) {
    Status s = old->sync();
    if (!s.ok()) {
      failed_.store(true);
      return s.with_context("rolling " + id_.to_string());
    }
  }
  const Offset base(written_.load(std::memory_order_relaxed));
  producers_.expire(clock_.now() - config_.producer_id_expiration_ms);
  // The producer state as of the new segment's start: recovery replays only from here.
  SLUICE_RETURN_IF_ERROR(write_file_atomically(
      fs_, dir_ + "/" + files::segment_name(base, files::kSnapshotSuffix), producers_.snapshot()));
  std::string path = dir_ + "/" + files::segment_name(base, files::kLogSuffix);
  if (fs_.exists(path)) {
    // Left by an earlier roll that failed after creating it; nothing was ever appended to it.
    SLUICE_ASSIGN_OR_RETURN(uint64_t size, fs_.file_size(path));
    SLUICE_CHECK(size == 0);
    SLUICE_RETURN_IF_ERROR(fs_.remove_file(path));
  }
  SLUICE_ASSIGN_OR_RETURN(auto seg, Segment::create(fs_, dir_, base, clock_.monotonic_ms()));
  Status sealed = old->seal();
  if (!sealed.ok()) {
    seg->remove_files().ignore_error();  // best effort: an empty file is also fine for recovery
    return sealed.with_context("sealing a segment of " + id_.to_string());
  }
  {
    WriterLock lock(segments_mu_);
    segments_.push_back(std::move(seg));
  }
  if (config_.flush_policy != FlushPolicy::kNever) {
    int64_t end = old->next_offset().value();
    int64_t cur = durable_.load();
    while (cur < end && !durable_.compare_exchange_weak(cur, end)) {
    }
  }
  return Status();
}

Status Partition::convert_compression(Bytes& batch, const BatchHeader& h) {
  SLUICE_ASSIGN_OR_RETURN(RecordBatchView view, RecordBatchView::parse(batch));
  SLUICE_ASSIGN_OR_RETURN(RecordIterator it, RecordIterator::open(view));
  RecordBatchBuilder builder({.compression = codec_for(config_.compression, h.compression()),
                              .timestamp_type = h.timestamp_type(),
                              .producer_id = h.producer_id,
                              .producer_epoch = h.producer_epoch,
                              .base_sequence = h.base_sequence,
                              .transactional = h.transactional(),
                              .partition_leader_epoch = h.partition_leader_epoch});
  RecordView r;
  while (true) {
    SLUICE_ASSIGN_OR_RETURN(bool more, it.next(r));
    if (!more) break;
    builder.add(Record{r.key, r.value, r.timestamp, r.headers}, r.offset_delta);
  }
  builder.set_last_offset_delta(h.last_offset_delta);
  SLUICE_ASSIGN_OR_RETURN(batch, builder.build(h.base_offset));
  return Status();
}

}  // namespace sluice::logstore
