// Partition: an ordered list of segments with one writer and many readers.
//
// The partition assigns offsets, writes batches to the active segment, rolls segments, keeps
// the producer state (idempotence, open transactions) and the partition's ends, serves reads,
// and applies retention and compaction. Its methods are split over files by concern:
// partition.cc (open/close, ends, flush), partition_append.cc, partition_read.cc,
// partition_recovery.cc, partition_retention.cc and compaction.cc.
//
// Thread safety: thread-safe. Appends (and everything that changes the segment list) are
// serialized by append_mu_; readers only take segments_mu_ briefly, shared, to find a segment,
// and read up to the published ends without further locking.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "producer_state.h"
#include "segment.h"
#include "sluice/base/clock.h"
#include "sluice/base/file_system.h"
#include "sluice/base/mutex.h"
#include "sluice/logstore/log_types.h"
#include "sluice/logstore/open_report.h"
#include "sluice/logstore/topic_config.h"

namespace sluice::logstore {

// Where a batch comes from, which decides how much of it append() checks.
enum class BatchOrigin {
  kClient,  // from outside the process: checked as the topic's record.validation says
  kLocal,   // encoded by this process's RecordBatchBuilder: well-formed by construction
};

class Partition {
 public:
  // Opens (creating if needed) the partition in `dir`, recovering it: torn tails cut, missing or
  // corrupt indexes rebuilt, producer state restored. What was repaired goes into `report`.
  static Result<std::unique_ptr<Partition>> open(FileSystem& fs, Clock& clock, TopicPartition id,
                                                 std::string dir, const TopicConfig& config,
                                                 OpenReport& report);
  ~Partition();

  const TopicPartition& id() const { return id_; }
  const std::string& dir() const { return dir_; }
  void set_config(const TopicConfig& config) SLUICE_EXCLUDES(append_mu_);
  TopicConfig config() const SLUICE_EXCLUDES(append_mu_);

  // Appends one encoded batch: checks it, deduplicates retries of idempotent producers, assigns
  // offsets (rewriting `batch` in place), writes it and makes it durable as the flush policy
  // says. `batch` may be re-encoded when the topic's compression requires it.
  Result<AppendResult> append(Bytes& batch, BatchOrigin origin = BatchOrigin::kClient)
      SLUICE_EXCLUDES(append_mu_);

  // Appends a transaction marker for `producer` (commit or abort of its open transaction).
  Result<AppendResult> append_marker(ProducerId producer, ProducerEpoch epoch, ControlType type,
                                     int32_t coordinator_epoch) SLUICE_EXCLUDES(append_mu_);

  Result<FetchResult> read(const FetchRequest& request) const;
  Result<std::optional<Offset>> offset_for_timestamp(Timestamp ts) const;

  PartitionEnds ends() const;
  uint64_t size_bytes() const;
  size_t segment_count() const;
  // Producers with an open transaction in this partition.
  std::vector<std::pair<ProducerId, ProducerEpoch>> open_transactions() const
      SLUICE_EXCLUDES(append_mu_);

  // Makes everything written so far durable (the interval flusher; transaction markers).
  Status sync() SLUICE_EXCLUDES(append_mu_);
  // Whether the interval flusher should sync now.
  bool flush_due(int64_t now_ms) const;

  // Deletes sealed segments past the retention limits; rolls an expired active segment first.
  Status enforce_retention() SLUICE_EXCLUDES(append_mu_);
  // Makes `before` the new log start (never past the high watermark) and drops whole segments
  // below it.
  Status delete_records(Offset before) SLUICE_EXCLUDES(append_mu_);
  // Compacts the sealed segments if the dirty ratio says so (or `force`): the latest record per
  // key survives, aborted data goes, tombstones and markers go after delete_retention_ms.
  Status compact(bool force) SLUICE_EXCLUDES(append_mu_);

  // Syncs and closes the partition; later appends fail.
  Status close() SLUICE_EXCLUDES(append_mu_);

 private:
  Partition(FileSystem& fs, Clock& clock, TopicPartition id, std::string dir,
            const TopicConfig& config);

  // --- recovery (partition_recovery.cc) ---
  Status recover(OpenReport& report) SLUICE_EXCLUDES(append_mu_);

  // --- append internals (partition_append.cc) ---
  Result<AppendResult> append_locked(Bytes& batch, const BatchHeader& h)
      SLUICE_REQUIRES(append_mu_);
  Status maybe_roll(size_t incoming_bytes, const BatchHeader& h) SLUICE_REQUIRES(append_mu_);
  Status roll() SLUICE_REQUIRES(append_mu_);
  void advance_ends() SLUICE_REQUIRES(append_mu_);
  Status convert_compression(Bytes& batch, const BatchHeader& h) SLUICE_REQUIRES(append_mu_);

  // --- segments ---
  std::shared_ptr<Segment> active() const SLUICE_EXCLUDES(segments_mu_);
  std::vector<std::shared_ptr<Segment>> segments() const SLUICE_EXCLUDES(segments_mu_);
  // The segment holding `offset` (the last with base <= offset), or the one after `after`.
  std::shared_ptr<Segment> segment_for(Offset offset) const SLUICE_EXCLUDES(segments_mu_);
  std::shared_ptr<Segment> segment_after(Offset base) const SLUICE_EXCLUDES(segments_mu_);
  Status remove_segments(const std::vector<std::shared_ptr<Segment>>& doomed)
      SLUICE_REQUIRES(append_mu_);
  Status write_log_start(Offset start) SLUICE_REQUIRES(append_mu_);

  // --- read internals (partition_read.cc) ---
  Status read_segment(const Segment& segment, const FetchRequest& request, Offset bound,
                      FetchResult& out) const;
  std::vector<AbortedTransaction> aborted_between(Offset from, Offset to) const;
  std::string where(Offset offset) const;

  FileSystem& fs_;
  Clock& clock_;
  const TopicPartition id_;
  const std::string dir_;

  mutable Mutex append_mu_;
  TopicConfig config_ SLUICE_GUARDED_BY(append_mu_);
  ProducerState producers_ SLUICE_GUARDED_BY(append_mu_);
  bool closed_ SLUICE_GUARDED_BY(append_mu_) = false;
  // kInterval: transactional bytes appended since the active segment's writeback was last
  // started.
  int64_t unstarted_writeback_bytes_ SLUICE_GUARDED_BY(append_mu_) = 0;
  Mutex compaction_mu_;  // one compaction (or retention pass) at a time

  mutable SharedMutex segments_mu_;
  std::vector<std::shared_ptr<Segment>> segments_ SLUICE_GUARDED_BY(segments_mu_);

  // The ends, published with release stores and read with acquire loads.
  std::atomic<int64_t> log_start_{0};
  std::atomic<int64_t> written_{0};
  std::atomic<int64_t> durable_{0};
  std::atomic<int64_t> high_watermark_{0};
  std::atomic<int64_t> stable_{0};
  std::atomic<int64_t> first_unsynced_ms_{-1};  // when the oldest unsynced write happened
  // Whether sealed segments may have gaps between batches: the topic is compacted now or was
  // compacted before (a cleaner checkpoint exists). Otherwise offsets are dense and a gap means
  // lost data. The active segment is always dense.
  std::atomic<bool> may_have_gaps_;
  std::atomic<int32_t> flush_policy_;
  std::atomic<int32_t> record_validation_;
  std::atomic<int64_t> flush_ms_;
  // Set when an fsync failed: the kernel may have dropped the dirty pages, so nothing written
  // since the last good sync can be trusted; appends are refused until the partition reopens.
  std::atomic<bool> failed_{false};

  Mutex sync_mu_;  // one fsync at a time
  // The earliest future delete horizon compaction left behind. Unknown after a restart, which
  // counts as "not due" (as in Kafka): the next pass the dirty ratio triggers sets it again.
  std::atomic<int64_t> next_horizon_ms_{INT64_MAX};

  // Long-poll readers wait here for the high watermark to move.
  mutable Mutex wait_mu_;
  mutable CondVar data_cv_;
};

}  // namespace sluice::logstore
