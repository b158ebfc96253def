#include "segment.h"

#include <algorithm>

#include "derived_file.h"
#include "log_files.h"
#include "sluice/base/check.h"

namespace sluice::logstore {

// --- SegmentIndex ---

void SegmentIndex::append_offset(OffsetEntry e) {
  MutexLock lock(mu_);
  SLUICE_CHECK(offset_file_ == nullptr);  // sealed indexes are immutable
  offsets_.push_back(e);
}

void SegmentIndex::append_time(TimeEntry e) {
  MutexLock lock(mu_);
  SLUICE_CHECK(time_file_ == nullptr);
  times_.push_back(e);
}

void SegmentIndex::clear() {
  MutexLock lock(mu_);
  offsets_.clear();
  times_.clear();
  offset_file_.reset();
  time_file_.reset();
  mapped_offsets_ = {};
  mapped_times_ = {};
}

size_t SegmentIndex::offset_count() const {
  return offset_file_ ? mapped_offsets_.size() / files::kOffsetEntrySize : offsets_.size();
}

size_t SegmentIndex::time_count() const {
  return time_file_ ? mapped_times_.size() / files::kTimeEntrySize : times_.size();
}

SegmentIndex::OffsetEntry SegmentIndex::offset_at(size_t i) const {
  if (!offset_file_) return offsets_[i];
  const char* p = mapped_offsets_.data() + i * files::kOffsetEntrySize;
  return {base_ + load_be<uint32_t>(p), load_be<uint32_t>(p + 4)};
}

SegmentIndex::TimeEntry SegmentIndex::time_at(size_t i) const {
  if (!time_file_) return times_[i];
  const char* p = mapped_times_.data() + i * files::kTimeEntrySize;
  return {Timestamp(load_be<int64_t>(p)), base_ + load_be<uint32_t>(p + 8)};
}

size_t SegmentIndex::offset_entries() const {
  MutexLock lock(mu_);
  return offset_count();
}

SegmentIndex::OffsetEntry SegmentIndex::floor(Offset target) const {
  MutexLock lock(mu_);
  // Binary search for the first entry with offset > target; the one before it is the floor.
  size_t lo = 0, hi = offset_count();
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (offset_at(mid).offset <= target) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo == 0 ? OffsetEntry{base_, 0} : offset_at(lo - 1);
}

Offset SegmentIndex::time_floor(Timestamp ts) const {
  MutexLock lock(mu_);
  size_t lo = 0, hi = time_count();
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (time_at(mid).max_timestamp < ts) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo == 0 ? base_ : time_at(lo - 1).offset;
}

Status SegmentIndex::persist(FileSystem& fs, const std::string& dir, const SegmentFacts& facts) {
  Bytes index, times;
  {
    MutexLock lock(mu_);
    index.reserve(files::kIndexHeaderSize + offsets_.size() * files::kOffsetEntrySize + 16);
    append_be<uint64_t>(index, facts.size);
    append_be<int64_t>(index, facts.next_offset.value());
    append_be<int64_t>(index, facts.max_timestamp.value());
    for (const OffsetEntry& e : offsets_) {
      append_be<uint32_t>(index, static_cast<uint32_t>(e.offset - base_));
      append_be<uint32_t>(index, e.position);
    }
    append_trailer(index, files::kIndexMagic, static_cast<uint32_t>(offsets_.size()));
    for (const TimeEntry& e : times_) {
      append_be<int64_t>(times, e.max_timestamp.value());
      append_be<uint32_t>(times, static_cast<uint32_t>(e.offset - base_));
    }
    append_trailer(times, files::kTimeIndexMagic, static_cast<uint32_t>(times_.size()));
  }
  std::string index_path = dir + "/" + files::segment_name(base_, files::kIndexSuffix);
  std::string time_path = dir + "/" + files::segment_name(base_, files::kTimeIndexSuffix);
  // The time index first: the offset index carries the facts that load() checks against the
  // log, so it is the one that makes the pair current. Stopped in between, a new time index
  // sits beside an offset index that no longer matches the log, and both are rebuilt.
  SLUICE_RETURN_IF_ERROR(write_file_atomically(fs, time_path, times));
  SLUICE_RETURN_IF_ERROR(write_file_atomically(fs, index_path, index));
  SegmentFacts ignored;
  SLUICE_ASSIGN_OR_RETURN(auto loaded, load(fs, dir, base_, facts.size, ignored));
  MutexLock lock(mu_);
  MutexLock other(loaded->mu_);
  offsets_ = {};
  times_ = {};
  offset_file_ = std::move(loaded->offset_file_);
  time_file_ = std::move(loaded->time_file_);
  mapped_offsets_ = loaded->mapped_offsets_;
  mapped_times_ = loaded->mapped_times_;
  return Status();
}

Result<std::unique_ptr<SegmentIndex>> SegmentIndex::load(FileSystem& fs, const std::string& dir,
                                                         Offset base, uint64_t log_size,
                                                         SegmentFacts& facts,
                                                         std::string* bad_file) {
  const std::string index_path = dir + "/" + files::segment_name(base, files::kIndexSuffix);
  const std::string time_path = dir + "/" + files::segment_name(base, files::kTimeIndexSuffix);
  auto bad = [&](const std::string& path, const Status& why) {
    if (bad_file != nullptr) *bad_file = path;
    return why.with_context(path);
  };
  if (!fs.exists(index_path)) return bad(index_path, not_found("index file missing"));
  if (!fs.exists(time_path)) return bad(time_path, not_found("time index file missing"));
  auto offset_file = fs.map_readonly(index_path);
  if (!offset_file.ok()) return bad(index_path, offset_file.status());
  auto time_file = fs.map_readonly(time_path);
  if (!time_file.ok()) return bad(time_path, time_file.status());
  auto ob = check_derived_file((*offset_file)->data(), files::kIndexMagic, files::kIndexHeaderSize,
                               files::kOffsetEntrySize);
  if (!ob.ok()) return bad(index_path, ob.status());
  auto tb =
      check_derived_file((*time_file)->data(), files::kTimeIndexMagic, 0, files::kTimeEntrySize);
  if (!tb.ok()) return bad(time_path, tb.status());
  facts.size = load_be<uint64_t>(ob->header.data());
  facts.next_offset = Offset(load_be<int64_t>(ob->header.data() + 8));
  facts.max_timestamp = Timestamp(load_be<int64_t>(ob->header.data() + 16));
  if (facts.size != log_size) {
    return bad(index_path, corruption("index describes a log of " + std::to_string(facts.size) +
                                      " bytes, the log has " + std::to_string(log_size)));
  }
  if (facts.next_offset < base) {
    return bad(index_path, corruption("index has a next offset below its base"));
  }
  auto index = std::make_unique<SegmentIndex>(base);
  MutexLock lock(index->mu_);
  index->offset_file_ = std::move(offset_file).value();
  index->time_file_ = std::move(time_file).value();
  index->mapped_offsets_ = ob->entries;
  index->mapped_times_ = tb->entries;
  // Entries must increase and point inside the log; otherwise the file cannot be trusted.
  for (size_t i = 0; i < index->offset_count(); ++i) {
    OffsetEntry e = index->offset_at(i);
    if (e.position >= log_size || e.offset >= facts.next_offset ||
        (i > 0 && (e.offset <= index->offset_at(i - 1).offset ||
                   e.position <= index->offset_at(i - 1).position))) {
      return bad(index_path, corruption("offset index entries out of order or out of bounds"));
    }
  }
  // Time entries: timestamps increase, offsets do not decrease and stay inside the segment
  // (a lookup starts its scan at one, so one past the end would skip the answer).
  for (size_t i = 0; i < index->time_count(); ++i) {
    TimeEntry e = index->time_at(i);
    if (e.offset >= facts.next_offset ||
        (i > 0 && (e.max_timestamp <= index->time_at(i - 1).max_timestamp ||
                   e.offset < index->time_at(i - 1).offset))) {
      return bad(time_path, corruption("time index entries out of order or out of bounds"));
    }
  }
  return index;
}

// --- Segment ---

Segment::Segment(FileSystem& fs, std::string dir, Offset base, std::unique_ptr<File> file,
                 int64_t now_ms)
    : fs_(fs),
      dir_(std::move(dir)),
      base_(base),
      file_(std::move(file)),
      index_(std::make_unique<SegmentIndex>(base)),
      created_ms_(now_ms),
      next_offset_(base.value()) {}

std::string Segment::path(std::string_view suffix) const {
  return dir_ + "/" + files::segment_name(base_, suffix);
}

Result<std::shared_ptr<Segment>> Segment::create(FileSystem& fs, const std::string& dir,
                                                 Offset base, int64_t now_ms) {
  std::string path = dir + "/" + files::segment_name(base, files::kLogSuffix);
  SLUICE_ASSIGN_OR_RETURN(auto file, fs.open(path, {.create = true, .exclusive = true}));
  SLUICE_RETURN_IF_ERROR(fs.sync_dir(dir));  // the new file must survive a power cut
  return std::shared_ptr<Segment>(new Segment(fs, dir, base, std::move(file), now_ms));
}

Result<std::shared_ptr<Segment>> Segment::open(FileSystem& fs, const std::string& dir, Offset base,
                                               int64_t now_ms) {
  std::string path = dir + "/" + files::segment_name(base, files::kLogSuffix);
  SLUICE_ASSIGN_OR_RETURN(auto file, fs.open(path, {.writable = true}));
  return std::shared_ptr<Segment>(new Segment(fs, dir, base, std::move(file), now_ms));
}

std::vector<AbortedTransaction> Segment::aborted() const {
  MutexLock lock(mu_);
  return aborted_;
}

void Segment::collect_aborted(Offset from, Offset to, std::vector<AbortedTransaction>& out) const {
  MutexLock lock(mu_);
  for (const AbortedTransaction& a : aborted_) {
    if (a.last_offset >= from && a.first_offset < to) out.push_back(a);
  }
}

void Segment::add_aborted(const AbortedTransaction& txn) {
  MutexLock lock(mu_);
  aborted_.push_back(txn);
}

void Segment::set_aborted(std::vector<AbortedTransaction> txns) {
  MutexLock lock(mu_);
  aborted_ = std::move(txns);
}

void Segment::note_batch(const BatchHeader& h, uint64_t position, int32_t index_interval_bytes) {
  if (position == 0) first_batch_timestamp_ = h.max_timestamp;
  if (position > 0 && bytes_since_index_ >= static_cast<uint64_t>(index_interval_bytes)) {
    index_->append_offset({h.base_offset, static_cast<uint32_t>(position)});
    bytes_since_index_ = 0;
    Timestamp max_ts = max_timestamp();
    if (max_ts > last_time_entry_) {
      index_->append_time({max_ts, h.base_offset});
      last_time_entry_ = max_ts;
    }
  }
  bytes_since_index_ += h.size_bytes();
  if (h.max_timestamp > max_timestamp()) {
    max_timestamp_.store(h.max_timestamp.value(), std::memory_order_release);
    max_timestamp_offset_ = h.base_offset;
  }
  next_offset_.store(h.next_offset().value(), std::memory_order_release);
}

Status Segment::append(const BatchHeader& h, ByteView batch, int32_t index_interval_bytes) {
  const uint64_t position = file_->size();
  Status s = file_->append(batch);
  if (!s.ok()) {
    // Leave no partial batch behind: recovery would cut it anyway, but a later append must not
    // land after garbage.
    Status cut = file_->truncate(position);
    if (!cut.ok())
      return s.with_context("append failed and the partial write could not be cut (" +
                            cut.to_string() + ")");
    return s;
  }
  note_batch(h, position, index_interval_bytes);
  return Status();
}

Status Segment::truncate(uint64_t size, Offset next_offset) {
  SLUICE_RETURN_IF_ERROR(file_->truncate(size));
  if (size == 0) first_batch_timestamp_ = kNoTimestamp;
  next_offset_.store(next_offset.value(), std::memory_order_release);
  if (visible_bytes() > size) publish(size);
  return Status();
}

void Segment::set_facts(const SegmentFacts& facts) {
  next_offset_.store(facts.next_offset.value(), std::memory_order_release);
  max_timestamp_.store(facts.max_timestamp.value(), std::memory_order_release);
  publish(facts.size);
}

Status Segment::seal() {
  Timestamp max_ts = max_timestamp();
  if (max_ts > last_time_entry_ && max_ts != kNoTimestamp) {
    // The last time entry carries the segment's largest timestamp, for time lookups.
    index_->append_time({max_ts, max_timestamp_offset_});
    last_time_entry_ = max_ts;
  }
  Bytes txn;
  std::vector<AbortedTransaction> aborted_now = aborted();
  for (const AbortedTransaction& a : aborted_now) {
    append_be<int64_t>(txn, a.producer_id.value());
    append_be<int64_t>(txn, a.first_offset.value());
    append_be<int64_t>(txn, a.last_offset.value());
  }
  append_trailer(txn, files::kTxnIndexMagic, static_cast<uint32_t>(aborted_now.size()));
  SLUICE_RETURN_IF_ERROR(write_file_atomically(fs_, path(files::kTxnIndexSuffix), txn));
  // Last: persisting switches the index to its mapped, immutable form.
  return index_->persist(fs_, dir_, facts());
}

Status Segment::remove_files() {
  Status first;
  for (std::string_view suffix : {files::kLogSuffix, files::kIndexSuffix, files::kTimeIndexSuffix,
                                  files::kTxnIndexSuffix, files::kSnapshotSuffix}) {
    std::string p = path(suffix);
    if (!fs_.exists(p)) continue;
    Status s = fs_.remove_file(p);
    if (!s.ok() && first.ok()) first = s;
  }
  return first;
}

Result<std::vector<AbortedTransaction>> load_txn_index(FileSystem& fs, const std::string& path) {
  if (!fs.exists(path)) return not_found(path + " is missing");
  SLUICE_ASSIGN_OR_RETURN(Bytes data, read_file(fs, path));
  SLUICE_ASSIGN_OR_RETURN(DerivedFileBody body,
                          check_derived_file(data, files::kTxnIndexMagic, 0, files::kTxnEntrySize));
  std::vector<AbortedTransaction> out;
  for (uint32_t i = 0; i < body.count; ++i) {
    const char* p = body.entries.data() + i * files::kTxnEntrySize;
    out.push_back({ProducerId(load_be<int64_t>(p)), Offset(load_be<int64_t>(p + 8)),
                   Offset(load_be<int64_t>(p + 16))});
  }
  return out;
}

}  // namespace sluice::logstore
