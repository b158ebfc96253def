#include "compaction.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <span>
#include <unordered_map>
#include <unordered_set>

#include "log_files.h"
#include "partition.h"
#include "sluice/base/check.h"
#include "sluice/base/sync_point.h"

namespace sluice::logstore {
namespace {

constexpr std::string_view kAllSuffixes[] = {files::kLogSuffix, files::kIndexSuffix,
                                             files::kTimeIndexSuffix, files::kTxnIndexSuffix,
                                             files::kSnapshotSuffix};
constexpr std::string_view kIndexSuffixes[] = {files::kIndexSuffix, files::kTimeIndexSuffix,
                                               files::kTxnIndexSuffix};
constexpr std::string_view kSnapshotSuffixes[] = {files::kSnapshotSuffix};

bool is_aborted(const std::vector<AbortedTransaction>& aborted, const BatchHeader& h) {
  return h.transactional() && detail::is_aborted(aborted, h);
}

// Calls fn(view) for every batch of a sealed segment, in order.
template <typename Fn>
Status for_each_batch(const Segment& seg, Fn&& fn) {
  const uint64_t size = seg.visible_bytes();
  Bytes buf;
  uint64_t pos = 0;
  while (pos < size) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(size - pos, 4 << 20));
    buf.resize(want);
    SLUICE_ASSIGN_OR_RETURN(size_t got, seg.file().read_at(pos, buf.data(), want));
    buf.resize(got);
    ByteView rest = buf;
    size_t consumed = 0;
    while (rest.size() >= format::kHeaderSize) {
      SLUICE_ASSIGN_OR_RETURN(BatchHeader h, parse_batch_header(rest));
      if (h.size_bytes() > rest.size()) {
        if (consumed == 0) {
          // One batch larger than the buffer: read it whole.
          buf.resize(h.size_bytes());
          SLUICE_ASSIGN_OR_RETURN(size_t n, seg.file().read_at(pos, buf.data(), buf.size()));
          if (n != buf.size()) return corruption("segment ends inside a batch");
          rest = buf;
          continue;
        }
        break;
      }
      SLUICE_ASSIGN_OR_RETURN(RecordBatchView view, RecordBatchView::parse(rest));
      SLUICE_RETURN_IF_ERROR(view.verify_crc());
      SLUICE_RETURN_IF_ERROR(fn(view));
      rest.remove_prefix(h.size_bytes());
      consumed += h.size_bytes();
    }
    if (consumed == 0) return corruption("segment ends inside a batch");
    pos += consumed;
  }
  return Status();
}

// The state of one pass.
struct Pass {
  Timestamp now;
  int64_t delete_retention_ms;
  std::vector<AbortedTransaction> aborted;
  std::unordered_map<std::string, Offset> latest;  // key -> offset of its newest record
  std::unordered_set<int64_t> txn_has_data;        // producers whose open txn kept data
  uint64_t records_in = 0, records_out = 0;
  // The earliest delete horizon still ahead among the batches kept (INT64_MAX: none).
  int64_t next_horizon_ms = INT64_MAX;
  // Whether the group being written dropped a transaction marker.
  bool dropped_marker = false;

  Timestamp new_horizon() const { return now + delete_retention_ms; }
};

bool horizon_passed(const Pass& pass, const BatchHeader& h) {
  return h.has_delete_horizon() && pass.now >= h.base_timestamp;
}

// Whether a later record of the same key exists in the dirty part.
bool superseded(const Pass& pass, const RecordView& r) {
  if (!r.key) return false;
  auto found = pass.latest.find(std::string(*r.key));
  return found != pass.latest.end() && found->second > r.offset;
}

// A marker goes once its transaction has no data left and its horizon has passed; it gets its
// horizon from the first pass that finds no data of its transaction left.
Result<Bytes> clean_marker(const RecordBatchView& view, Pass& pass) {
  const BatchHeader& h = view.header();
  const bool data_left = pass.txn_has_data.erase(h.producer_id.value()) > 0;
  if (!data_left && horizon_passed(pass, h)) {
    pass.dropped_marker = true;
    return Bytes();
  }
  if (data_left || h.has_delete_horizon()) return Bytes(view.bytes());
  SLUICE_ASSIGN_OR_RETURN(RecordIterator it, RecordIterator::open(view));
  RecordView r;
  SLUICE_ASSIGN_OR_RETURN(bool has, it.next(r));
  if (!has) return corruption("control batch without a control record");
  RecordBatchBuilder b({.producer_id = h.producer_id,
                        .producer_epoch = h.producer_epoch,
                        .transactional = true,
                        .control = true,
                        .partition_leader_epoch = h.partition_leader_epoch,
                        .delete_horizon = pass.new_horizon()});
  b.add(Record{r.key, r.value, r.timestamp, r.headers}, r.offset_delta);
  b.set_last_offset_delta(h.last_offset_delta);
  return b.build(h.base_offset);
}

// Rewrites a data batch: superseded records go, and tombstones once the batch's horizon has
// passed. A batch carries a delete horizon exactly while it holds a tombstone.
Result<Bytes> clean_data(const RecordBatchView& view, Pass& pass) {
  const BatchHeader& h = view.header();
  if (is_aborted(pass.aborted, h)) return Bytes();
  const bool drop_tombstones = horizon_passed(pass, h);
  auto survives = [&](const RecordView& r) {
    return !superseded(pass, r) && (r.value || !drop_tombstones);
  };

  int32_t total = 0, kept = 0;
  bool kept_tombstone = false;
  {
    SLUICE_ASSIGN_OR_RETURN(RecordIterator it, RecordIterator::open(view));
    RecordView r;
    while (true) {
      SLUICE_ASSIGN_OR_RETURN(bool more, it.next(r));
      if (!more) break;
      ++total;
      if (!survives(r)) continue;
      ++kept;
      kept_tombstone |= !r.value;
    }
  }
  pass.records_in += static_cast<uint64_t>(total);
  pass.records_out += static_cast<uint64_t>(kept);
  if (kept == 0) return Bytes();
  if (h.transactional()) pass.txn_has_data.insert(h.producer_id.value());

  std::optional<Timestamp> horizon;
  if (kept_tombstone) {
    horizon = h.has_delete_horizon() ? h.base_timestamp : pass.new_horizon();
  }
  if (kept == total && horizon.has_value() == h.has_delete_horizon()) {
    return Bytes(view.bytes());  // nothing changed: keep the original bytes
  }
  // Record timestamps are stored relative to the horizon when there is one, so the batch is
  // built knowing it from the start.
  RecordBatchBuilder b({.compression = h.compression(),
                        .timestamp_type = h.timestamp_type(),
                        .producer_id = h.producer_id,
                        .producer_epoch = h.producer_epoch,
                        .base_sequence = h.base_sequence,
                        .transactional = h.transactional(),
                        .partition_leader_epoch = h.partition_leader_epoch,
                        .delete_horizon = horizon});
  SLUICE_ASSIGN_OR_RETURN(RecordIterator it, RecordIterator::open(view));
  RecordView r;
  while (true) {
    SLUICE_ASSIGN_OR_RETURN(bool more, it.next(r));
    if (!more) break;
    if (survives(r)) b.add(Record{r.key, r.value, r.timestamp, r.headers}, r.offset_delta);
  }
  b.set_last_offset_delta(h.last_offset_delta);  // the batch keeps its original last offset
  return b.build(h.base_offset);
}

// Rewrites one batch for the output: returns an empty Bytes if nothing of it survives.
Result<Bytes> clean_batch(const RecordBatchView& view, Pass& pass) {
  return view.header().control() ? clean_marker(view, pass) : clean_data(view, pass);
}

std::string swap_name(Offset base, Offset end) {
  std::string b = files::segment_name(base, "");
  std::string e = files::segment_name(end, "");
  return b + "." + e + std::string(files::kSwapSuffix);
}

// Deletes the files with one of `suffixes` of every segment with base in [from, to).
Status delete_files(FileSystem& fs, const std::string& dir, Offset from, Offset to,
                    std::span<const std::string_view> suffixes) {
  SLUICE_ASSIGN_OR_RETURN(auto names, fs.list_dir(dir));
  for (const std::string& name : names) {
    for (std::string_view suffix : suffixes) {
      auto base = files::parse_segment_name(name, suffix);
      if (!base || *base < from || *base >= to) continue;
      SLUICE_RETURN_IF_ERROR(fs.remove_file(dir + "/" + name));
      SLUICE_SYNC_POINT("Compaction::AfterOldFileDeleted");
    }
  }
  return Status();
}

// After the commit point: deletes what the swap file `swap` replaces — the derived files of
// segment `base` and every file of the segments in (base, end) — then renames the swap file to
// `<base>.log` (replacing the old one in one step) and syncs the directory.
Status finish_swap(FileSystem& fs, const std::string& dir, const std::string& swap, Offset base,
                   Offset end) {
  SLUICE_RETURN_IF_ERROR(delete_files(fs, dir, base, base.next(), kIndexSuffixes));
  SLUICE_RETURN_IF_ERROR(delete_files(fs, dir, base.next(), end, kAllSuffixes));
  SLUICE_RETURN_IF_ERROR(fs.rename(swap, dir + "/" + files::segment_name(base, files::kLogSuffix)));
  SLUICE_SYNC_POINT("Compaction::AfterSwapRenamed");
  return fs.sync_dir(dir);
}

// Sealed segments below the last stable offset and old enough, from the first on: the part of
// `all` (whose last element is the active segment) a pass may rewrite.
std::vector<std::shared_ptr<Segment>> cleanable_segments(
    const std::vector<std::shared_ptr<Segment>>& all, Offset stable, Timestamp now,
    int64_t min_compaction_lag_ms) {
  std::vector<std::shared_ptr<Segment>> out;
  for (size_t i = 0; i + 1 < all.size(); ++i) {
    const auto& s = all[i];
    if (all[i + 1]->base_offset() > stable) break;
    // No lag means no limit, even for records stamped in the future (a producer's skewed clock).
    if (min_compaction_lag_ms > 0 && s->max_timestamp() != kNoTimestamp &&
        now - s->max_timestamp() < min_compaction_lag_ms) {
      break;
    }
    out.push_back(s);
  }
  return out;
}

Result<Offset> read_checkpoint(FileSystem& fs, const std::string& path) {
  if (!fs.exists(path)) return Offset(0);
  SLUICE_ASSIGN_OR_RETURN(Bytes data, read_file(fs, path));
  return data.size() == 8 ? Offset(load_be<int64_t>(data.data())) : Offset(0);
}

// Fills the offset map from the dirty segments (base >= checkpoint): committed data only, so
// that aborted records never hide an earlier committed value of their key.
Status build_offset_map(const std::vector<std::shared_ptr<Segment>>& cleanable, Offset checkpoint,
                        Pass& pass) {
  for (const auto& s : cleanable) {
    if (s->base_offset() < checkpoint) continue;
    SLUICE_RETURN_IF_ERROR(for_each_batch(*s, [&](const RecordBatchView& view) -> Status {
      const BatchHeader& h = view.header();
      if (h.control() || is_aborted(pass.aborted, h)) return Status();
      SLUICE_ASSIGN_OR_RETURN(RecordIterator it, RecordIterator::open(view));
      RecordView r;
      while (true) {
        SLUICE_ASSIGN_OR_RETURN(bool more, it.next(r));
        if (!more) return Status();
        if (r.key) pass.latest[std::string(*r.key)] = r.offset;
      }
    }));
  }
  return Status();
}

// Writes the cleaned batches of `group` to `path` and syncs it.
Status write_cleaned(FileSystem& fs, const std::string& path,
                     const std::vector<std::shared_ptr<Segment>>& group, Pass& pass) {
  SLUICE_ASSIGN_OR_RETURN(auto out, fs.open(path, {.create = true, .truncate = true}));
  for (const auto& s : group) {
    SLUICE_RETURN_IF_ERROR(for_each_batch(*s, [&](const RecordBatchView& view) -> Status {
      SLUICE_ASSIGN_OR_RETURN(Bytes cleaned, clean_batch(view, pass));
      if (cleaned.empty()) return Status();
      SLUICE_ASSIGN_OR_RETURN(BatchHeader kept, parse_batch_header(cleaned));
      // A horizon already passed on a kept batch (a marker whose transaction still has data)
      // is not a reason for a pass of its own.
      if (kept.has_delete_horizon() && kept.base_timestamp > pass.now) {
        pass.next_horizon_ms = std::min(pass.next_horizon_ms, kept.base_timestamp.value());
      }
      return out->append(cleaned);
    }));
  }
  return out->sync();
}

// Opens the segment a swap installed at `base` and seals it with fresh indexes.
Result<std::shared_ptr<Segment>> open_compacted(FileSystem& fs, const std::string& dir, Offset base,
                                                Offset end,
                                                const std::vector<std::shared_ptr<Segment>>& group,
                                                int32_t index_interval, int64_t now_ms) {
  SLUICE_ASSIGN_OR_RETURN(auto fresh, Segment::open(fs, dir, base, now_ms));
  uint64_t pos = 0;
  fresh->publish(fresh->size());
  SLUICE_RETURN_IF_ERROR(for_each_batch(*fresh, [&](const RecordBatchView& view) -> Status {
    fresh->note_batch(view.header(), pos, index_interval);
    pos += view.bytes().size();
    return Status();
  }));
  std::vector<AbortedTransaction> aborted;
  for (const auto& s : group) {
    for (const AbortedTransaction& a : s->aborted()) aborted.push_back(a);
  }
  fresh->set_aborted(std::move(aborted));
  fresh->set_facts({fresh->size(), end, fresh->max_timestamp()});
  SLUICE_RETURN_IF_ERROR(fresh->seal());
  return fresh;
}

}  // namespace

namespace detail {
bool is_aborted(const std::vector<AbortedTransaction>& aborted, const BatchHeader& h) {
  for (const AbortedTransaction& a : aborted) {
    if (a.producer_id == h.producer_id && a.first_offset <= h.base_offset &&
        h.base_offset <= a.last_offset) {
      return true;
    }
  }
  return false;
}
}  // namespace detail

Status finish_interrupted_compaction(FileSystem& fs, const std::string& dir) {
  if (!fs.exists(dir)) return Status();
  SLUICE_ASSIGN_OR_RETURN(auto names, fs.list_dir(dir));
  for (const std::string& name : names) {
    if (name.ends_with(files::kCleanedSuffix)) {
      SLUICE_RETURN_IF_ERROR(fs.remove_file(dir + "/" + name));  // never committed
      continue;
    }
    // "<base20>.<end20>.swap": committed; finish replacing [base, end).
    if (name.size() != 41 + files::kSwapSuffix.size() || !name.ends_with(files::kSwapSuffix)) {
      continue;
    }
    auto base = files::parse_segment_name(name.substr(0, 20), "");
    auto end = files::parse_segment_name(name.substr(21, 20), "");
    if (!base || !end || name[20] != '.' || *end <= *base) continue;
    spdlog::info("{}: completing an interrupted compaction of offsets [{}, {})", dir, base->value(),
                 end->value());
    SLUICE_RETURN_IF_ERROR(finish_swap(fs, dir, dir + "/" + name, *base, *end));
  }
  return Status();
}

Status Partition::compact(bool force) {
  MutexLock pass_lock(compaction_mu_);
  TopicConfig config = this->config();
  if (!config.compacted()) return Status();
  const Timestamp now = clock_.now();
  const Offset stable = ends().stable.offset();

  std::vector<std::shared_ptr<Segment>> all = segments();
  std::vector<std::shared_ptr<Segment>> cleanable =
      cleanable_segments(all, stable, now, config.min_compaction_lag_ms);
  if (cleanable.empty()) return Status();

  const std::string checkpoint_path = dir_ + "/" + std::string(files::kCleanerCheckpointFile);
  SLUICE_ASSIGN_OR_RETURN(Offset checkpoint, read_checkpoint(fs_, checkpoint_path));
  uint64_t total = 0, dirty = 0;
  for (const auto& s : cleanable) {
    total += s->size();
    if (s->base_offset() >= checkpoint) dirty += s->size();
  }
  if (total == 0) return Status();  // nothing left to clean
  // A pass is due when enough is dirty, or when a tombstone or marker kept by an earlier pass
  // has reached its delete horizon.
  const bool horizon_due = now.value() >= next_horizon_ms_.load();
  if (!force && !horizon_due &&
      static_cast<double>(dirty) / static_cast<double>(total) < config.min_cleanable_dirty_ratio) {
    return Status();
  }

  Pass pass{.now = now, .delete_retention_ms = config.delete_retention_ms};
  const Offset start = cleanable.front()->base_offset();
  const Offset end = all[cleanable.size()]->base_offset();
  pass.aborted = aborted_between(start, end);

  // 1. The offset map over the dirty part.
  SLUICE_RETURN_IF_ERROR(build_offset_map(cleanable, checkpoint, pass));

  // 2. Rewrite, group by group (consecutive segments whose input fits one segment).
  size_t i = 0;
  while (i < cleanable.size()) {
    size_t j = i;
    uint64_t group_bytes = 0;
    while (j < cleanable.size() &&
           (j == i ||
            (group_bytes + cleanable[j]->size() <= static_cast<uint64_t>(config.segment_bytes) &&
             cleanable[j]->next_offset() - cleanable[i]->base_offset() < INT32_MAX))) {
      group_bytes += cleanable[j]->size();
      ++j;
    }
    std::vector<std::shared_ptr<Segment>> group(cleanable.begin() + i, cleanable.begin() + j);
    const Offset group_end = j < cleanable.size() ? cleanable[j]->base_offset() : end;
    const Offset base = group.front()->base_offset();

    const std::string cleaned_path = dir_ + "/" + files::segment_name(base, files::kCleanedSuffix);
    pass.dropped_marker = false;
    SLUICE_RETURN_IF_ERROR(write_cleaned(fs_, cleaned_path, group, pass));
    if (pass.dropped_marker) {
      // A producer snapshot taken inside a transaction whose marker is now gone would reopen
      // that transaction forever if recovery replayed from it: drop such snapshots before the
      // commit point (recovery then replays from an earlier one, or from the start).
      SLUICE_RETURN_IF_ERROR(delete_files(fs_, dir_, start, group_end, kSnapshotSuffixes));
    }
    SLUICE_SYNC_POINT("Compaction::AfterCleanedWritten");
    const std::string swap_path = dir_ + "/" + swap_name(base, group_end);
    SLUICE_RETURN_IF_ERROR(fs_.rename(cleaned_path, swap_path));
    SLUICE_RETURN_IF_ERROR(fs_.sync_dir(dir_));  // the commit point
    SLUICE_SYNC_POINT("Compaction::AfterSwapCommitted");
    SLUICE_RETURN_IF_ERROR(finish_swap(fs_, dir_, swap_path, base, group_end));
    SLUICE_SYNC_POINT("Compaction::AfterSwapFinished");

    // Index the new segment, then swap it into the list in one step. Appends wait only here.
    SLUICE_ASSIGN_OR_RETURN(
        auto fresh, open_compacted(fs_, dir_, base, group_end, group, config.index_interval_bytes,
                                   clock_.monotonic_ms()));
    {
      MutexLock lock(append_mu_);
      WriterLock seg_lock(segments_mu_);
      auto first = std::find(segments_.begin(), segments_.end(), group.front());
      SLUICE_CHECK(first != segments_.end());
      auto last = first + static_cast<std::ptrdiff_t>(group.size());
      *first = fresh;
      segments_.erase(first + 1, last);
    }
    SLUICE_SYNC_POINT("Compaction::AfterGroupInstalled");
    i = j;
  }

  next_horizon_ms_.store(pass.next_horizon_ms);
  Bytes cp;
  append_be<int64_t>(cp, end.value());
  SLUICE_RETURN_IF_ERROR(write_file_atomically(fs_, checkpoint_path, cp));
  may_have_gaps_.store(true);
  spdlog::debug("{}: compacted offsets [{}, {}): {} records kept of {}", id_.to_string(),
                start.value(), end.value(), pass.records_out, pass.records_in);
  return Status();
}

}  // namespace sluice::logstore
