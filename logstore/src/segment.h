// Segment: one `<base-offset>.log` file of a partition with its sparse offset and time indexes
// and its list of aborted transactions.
//
// A partition's last segment is active (appended to); the others are sealed (immutable until
// retention or compaction replaces them). Indexes of the active segment live in memory and are
// rebuilt by recovery after a crash; sealing writes them to files, which are memory-mapped.
//
// Thread safety: one writer (the partition's append path, under its lock) calls the mutating
// methods; any number of readers call the const ones concurrently. A reader never reads past
// visible_bytes(), which the writer advances only after a batch is completely written (and
// synced, when the flush policy says so).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/base/file_system.h"
#include "sluice/base/mutex.h"
#include "sluice/base/result.h"
#include "sluice/logstore/log_types.h"
#include "sluice/logstore/record_batch.h"

namespace sluice::logstore {

// What a sealed segment's offset index records about it, so reopening needs no scan.
struct SegmentFacts {
  uint64_t size = 0;
  Offset next_offset{0};
  Timestamp max_timestamp = kNoTimestamp;
};

// The sparse offset index and time index of one segment.
//
// Offset entries map a batch's base offset to its byte position; one is added per
// index_interval_bytes of log. Time entries pair the largest timestamp seen so far in the
// segment with the base offset of the batch where the entry was taken; so every batch before an
// entry's offset has only older timestamps.
class SegmentIndex {
 public:
  struct OffsetEntry {
    Offset offset;
    uint32_t position;
  };
  struct TimeEntry {
    Timestamp max_timestamp;
    Offset offset;
  };

  explicit SegmentIndex(Offset base) : base_(base) {}

  void append_offset(OffsetEntry e) SLUICE_EXCLUDES(mu_);
  void append_time(TimeEntry e) SLUICE_EXCLUDES(mu_);
  void clear() SLUICE_EXCLUDES(mu_);

  // The last entry with offset <= target, or {base, 0}.
  OffsetEntry floor(Offset target) const SLUICE_EXCLUDES(mu_);
  // The offset of the last time entry whose timestamp is < ts, or base.
  Offset time_floor(Timestamp ts) const SLUICE_EXCLUDES(mu_);
  size_t offset_entries() const SLUICE_EXCLUDES(mu_);

  // Writes `.index` (with `facts`) and `.timeindex` atomically and switches to serving lookups
  // from the mapped files.
  Status persist(FileSystem& fs, const std::string& dir, const SegmentFacts& facts)
      SLUICE_EXCLUDES(mu_);

  // Maps an existing segment's index files and checks them against the log file's size.
  // kNotFound or kCorruption when they cannot be trusted: the caller rebuilds them. On error,
  // `bad_file` (when given) is set to the path of the file at fault.
  static Result<std::unique_ptr<SegmentIndex>> load(FileSystem& fs, const std::string& dir,
                                                    Offset base, uint64_t log_size,
                                                    SegmentFacts& facts,
                                                    std::string* bad_file = nullptr);

 private:
  OffsetEntry offset_at(size_t i) const SLUICE_REQUIRES(mu_);
  TimeEntry time_at(size_t i) const SLUICE_REQUIRES(mu_);
  size_t offset_count() const SLUICE_REQUIRES(mu_);
  size_t time_count() const SLUICE_REQUIRES(mu_);

  const Offset base_;
  mutable Mutex mu_;
  // Active segments: in memory.
  std::vector<OffsetEntry> offsets_ SLUICE_GUARDED_BY(mu_);
  std::vector<TimeEntry> times_ SLUICE_GUARDED_BY(mu_);
  // Sealed segments: the mapped files' entry bytes.
  std::unique_ptr<MappedFile> offset_file_ SLUICE_GUARDED_BY(mu_);
  std::unique_ptr<MappedFile> time_file_ SLUICE_GUARDED_BY(mu_);
  ByteView mapped_offsets_ SLUICE_GUARDED_BY(mu_);
  ByteView mapped_times_ SLUICE_GUARDED_BY(mu_);
};

class Segment {
 public:
  // Creates a new, empty segment file. kAlreadyExists if one is there.
  static Result<std::shared_ptr<Segment>> create(FileSystem& fs, const std::string& dir,
                                                 Offset base, int64_t now_ms);
  // Opens an existing segment's log file. Its indexes are loaded (or rebuilt) by the caller.
  static Result<std::shared_ptr<Segment>> open(FileSystem& fs, const std::string& dir, Offset base,
                                               int64_t now_ms);

  Offset base_offset() const { return base_; }
  const std::string& dir() const { return dir_; }
  std::string path(std::string_view suffix) const;
  File& file() const { return *file_; }
  SegmentIndex& index() const { return *index_; }
  void replace_index(std::unique_ptr<SegmentIndex> index) { index_ = std::move(index); }

  // --- read side: safe from any thread ---

  // Bytes a reader may read.
  uint64_t visible_bytes() const { return visible_bytes_.load(std::memory_order_acquire); }
  // One past the last offset of the last batch written.
  Offset next_offset() const { return Offset(next_offset_.load(std::memory_order_acquire)); }
  Timestamp max_timestamp() const {
    return Timestamp(max_timestamp_.load(std::memory_order_acquire));
  }
  // Bytes written, including those not yet visible.
  uint64_t size() const { return file_->size(); }
  bool empty() const { return size() == 0; }
  // Aborted transactions whose abort marker is in this segment, in marker order.
  std::vector<AbortedTransaction> aborted() const SLUICE_EXCLUDES(mu_);
  // Appends to `out` those that overlap [from, to): last offset >= from, first offset < to.
  void collect_aborted(Offset from, Offset to, std::vector<AbortedTransaction>& out) const
      SLUICE_EXCLUDES(mu_);

  // --- write side: the partition's writer only ---

  // Appends one encoded batch whose header is `h` and updates the indexes. On failure the
  // segment is cut back to where it was (kNoSpace leaves no partial batch behind).
  Status append(const BatchHeader& h, ByteView batch, int32_t index_interval_bytes);
  // Records a batch that is already in the file (recovery scan, index rebuild).
  void note_batch(const BatchHeader& h, uint64_t position, int32_t index_interval_bytes);
  void add_aborted(const AbortedTransaction& txn) SLUICE_EXCLUDES(mu_);
  void set_aborted(std::vector<AbortedTransaction> txns) SLUICE_EXCLUDES(mu_);
  void publish(uint64_t visible) { visible_bytes_.store(visible, std::memory_order_release); }
  Status sync() { return file_->sync(); }
  void start_writeback() { file_->start_writeback(); }
  // Cuts the file to `size` bytes and forgets everything past it (recovery of a torn tail).
  Status truncate(uint64_t size, Offset next_offset);
  // Restores facts of a sealed segment loaded from its index.
  void set_facts(const SegmentFacts& facts);
  SegmentFacts facts() const { return {size(), next_offset(), max_timestamp()}; }
  // Writes the index and txn index files; afterwards the segment must not be appended to.
  Status seal();
  // Deletes the segment's files. Readers holding the segment keep reading the unlinked file.
  Status remove_files();

  // Milliseconds (monotonic clock) when this segment started taking appends in this process.
  int64_t created_ms() const { return created_ms_; }
  // The largest timestamp in the segment's first batch, kNoTimestamp while it is empty (or when
  // that batch has none). segment.ms counts from it, as Kafka's does, so a segment's age
  // survives a restart and an idle segment is not rolled right after its first batch. Writer
  // only (like the other write-side methods).
  Timestamp first_batch_timestamp() const { return first_batch_timestamp_; }

 private:
  Segment(FileSystem& fs, std::string dir, Offset base, std::unique_ptr<File> file, int64_t now_ms);

  FileSystem& fs_;
  const std::string dir_;
  const Offset base_;
  std::unique_ptr<File> file_;
  std::unique_ptr<SegmentIndex> index_;
  const int64_t created_ms_;

  std::atomic<uint64_t> visible_bytes_{0};
  std::atomic<int64_t> next_offset_;
  std::atomic<int64_t> max_timestamp_{kNoTimestamp.value()};

  // Writer-confined index bookkeeping.
  uint64_t bytes_since_index_ = 0;
  Timestamp last_time_entry_ = kNoTimestamp;
  Offset max_timestamp_offset_{0};
  Timestamp first_batch_timestamp_ = kNoTimestamp;

  mutable Mutex mu_;
  std::vector<AbortedTransaction> aborted_ SLUICE_GUARDED_BY(mu_);
};

// Loads a segment's aborted-transaction index file. kNotFound / kCorruption: rebuild.
Result<std::vector<AbortedTransaction>> load_txn_index(FileSystem& fs, const std::string& path);

}  // namespace sluice::logstore
