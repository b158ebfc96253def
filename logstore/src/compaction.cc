#include "compaction.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "log_files.h"
#include "partition.h"
#include "sluice/base/check.h"

namespace sluice::logstore {
namespace {

constexpr std::string_view kCheckpointFile = "cleaner-checkpoint";

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
  int64_t next_horizon_ms;  // the earliest delete horizon among the batches kept
};

bool horizon_passed(const Pass& pass, const BatchHeader& h) {
  return h.has_delete_horizon() && pass.now >= h.base_timestamp;
}

// Rewrites one batch for the output: returns an empty Bytes if nothing of it survives.
Result<Bytes> clean_batch(const RecordBatchView& view, Pass& pass) {
  const BatchHeader& h = view.header();
  if (h.control()) {
    // A marker goes once its transaction has no data left and its horizon has passed.
    const bool data_left = pass.txn_has_data.erase(h.producer_id.value()) > 0;
    if (!data_left && horizon_passed(pass, h)) return Bytes();
    if (h.has_delete_horizon() || data_left) return Bytes(view.bytes());
    SLUICE_ASSIGN_OR_RETURN(ControlRecord marker, read_control_record(view));
    Bytes out = build_control_batch(marker.type, h.producer_id, h.producer_epoch,
                                    marker.coordinator_epoch, h.max_timestamp);
    // Re-encode with a horizon so that a later pass can drop it.
    SLUICE_ASSIGN_OR_RETURN(RecordBatchView rebuilt, RecordBatchView::parse(out));
    SLUICE_ASSIGN_OR_RETURN(RecordIterator it, RecordIterator::open(rebuilt));
    RecordView r;
    SLUICE_ASSIGN_OR_RETURN(bool has, it.next(r));
    SLUICE_CHECK(has);
    RecordBatchBuilder b({.producer_id = h.producer_id,
                          .producer_epoch = h.producer_epoch,
                          .transactional = true,
                          .control = true,
                          .delete_horizon = pass.now + pass.delete_retention_ms});
    b.add(Record{r.key, r.value, h.max_timestamp, {}});
    return b.build(h.base_offset);
  }
  if (is_aborted(pass.aborted, h)) return Bytes();

  SLUICE_ASSIGN_OR_RETURN(RecordIterator it, RecordIterator::open(view));
  BatchOptions opts{.compression = h.compression(),
                    .timestamp_type = h.timestamp_type(),
                    .producer_id = h.producer_id,
                    .producer_epoch = h.producer_epoch,
                    .base_sequence = h.base_sequence,
                    .transactional = h.transactional(),
                    .partition_leader_epoch = h.partition_leader_epoch};
  if (h.has_delete_horizon()) opts.delete_horizon = h.base_timestamp;
  const bool drop_tombstones = horizon_passed(pass, h);
  RecordBatchBuilder b(opts);
  bool has_tombstone = false;
  int32_t total = 0;
  RecordView r;
  while (true) {
    SLUICE_ASSIGN_OR_RETURN(bool more, it.next(r));
    if (!more) break;
    ++total;
    ++pass.records_in;
    if (r.key) {
      auto found = pass.latest.find(std::string(*r.key));
      if (found != pass.latest.end() && found->second > r.offset) continue;  // superseded
    }
    if (!r.value) {
      if (drop_tombstones) continue;
      has_tombstone = true;
    }
    b.add(Record{r.key, r.value, r.timestamp, r.headers}, r.offset_delta);
    ++pass.records_out;
  }
  if (b.empty()) return Bytes();
  if (h.transactional()) pass.txn_has_data.insert(h.producer_id.value());
  if (b.record_count() == total && (!has_tombstone || h.has_delete_horizon())) {
    return Bytes(view.bytes());  // nothing changed: keep the original bytes
  }
  if (has_tombstone && !h.has_delete_horizon()) {
    // Restart the batch with a horizon: record timestamps are stored relative to it.
    opts.delete_horizon = pass.now + pass.delete_retention_ms;
    RecordBatchBuilder with_horizon(opts);
    SLUICE_ASSIGN_OR_RETURN(RecordIterator again, RecordIterator::open(view));
    while (true) {
      SLUICE_ASSIGN_OR_RETURN(bool more, again.next(r));
      if (!more) break;
      if (r.key) {
        auto found = pass.latest.find(std::string(*r.key));
        if (found != pass.latest.end() && found->second > r.offset) continue;
      }
      with_horizon.add(Record{r.key, r.value, r.timestamp, r.headers}, r.offset_delta);
    }
    with_horizon.set_last_offset_delta(h.last_offset_delta);
    return with_horizon.build(h.base_offset);
  }
  b.set_last_offset_delta(h.last_offset_delta);  // the batch keeps its original last offset
  return b.build(h.base_offset);
}

std::string swap_name(Offset base, Offset end) {
  std::string b = files::segment_name(base, "");
  std::string e = files::segment_name(end, "");
  return b + "." + e + std::string(files::kSwapSuffix);
}

// Deletes the files of every segment with base in [from, to), except `keep_snapshot_of`'s
// snapshot.
Status delete_segment_files(FileSystem& fs, const std::string& dir, Offset from, Offset to,
                            Offset keep_snapshot_of) {
  SLUICE_ASSIGN_OR_RETURN(auto names, fs.list_dir(dir));
  for (const std::string& name : names) {
    for (std::string_view suffix : {files::kLogSuffix, files::kIndexSuffix,
                                    files::kTimeIndexSuffix, files::kTxnIndexSuffix,
                                    files::kSnapshotSuffix}) {
      auto base = files::parse_segment_name(name, suffix);
      if (!base || *base < from || *base >= to) continue;
      if (suffix == files::kSnapshotSuffix && *base == keep_snapshot_of) continue;
      SLUICE_RETURN_IF_ERROR(fs.remove_file(dir + "/" + name));
    }
  }
  return Status();
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
    if (!base || !end) continue;
    spdlog::info("{}: completing an interrupted compaction of offsets [{}, {})", dir,
                 base->value(), end->value());
    SLUICE_RETURN_IF_ERROR(delete_segment_files(fs, dir, *base, *end, *base));
    SLUICE_RETURN_IF_ERROR(
        fs.rename(dir + "/" + name, dir + "/" + files::segment_name(*base, files::kLogSuffix)));
    SLUICE_RETURN_IF_ERROR(fs.sync_dir(dir));
  }
  return Status();
}

Status Partition::compact(bool force) {
  MutexLock pass_lock(compaction_mu_);
  TopicConfig config = this->config();
  if (!config.compacted()) return Status();
  const Timestamp now = clock_.now();
  const Offset stable = ends().stable.offset();

  // Cleanable: sealed segments below the last stable offset, old enough.
  std::vector<std::shared_ptr<Segment>> all = segments();
  std::vector<std::shared_ptr<Segment>> cleanable;
  for (size_t i = 0; i + 1 < all.size(); ++i) {
    const auto& s = all[i];
    if (all[i + 1]->base_offset() > stable) break;
    if (s->max_timestamp() != kNoTimestamp &&
        now - s->max_timestamp() < config.min_compaction_lag_ms) {
      break;
    }
    cleanable.push_back(s);
  }
  if (cleanable.empty()) return Status();

  Offset checkpoint{0};
  const std::string checkpoint_path = dir_ + "/" + std::string(kCheckpointFile);
  if (fs_.exists(checkpoint_path)) {
    SLUICE_ASSIGN_OR_RETURN(Bytes data, read_file(fs_, checkpoint_path));
    if (data.size() == 8) checkpoint = Offset(load_be<int64_t>(data.data()));
  }
  uint64_t total = 0, dirty = 0;
  for (const auto& s : cleanable) {
    total += s->size();
    if (s->base_offset() >= checkpoint) dirty += s->size();
  }
  // A pass is due when enough is dirty, or when a tombstone or marker kept by an earlier pass
  // has reached its delete horizon.
  const bool horizon_due = now.value() >= next_horizon_ms_.load();
  if (!force && !horizon_due &&
      static_cast<double>(dirty) / static_cast<double>(total) < config.min_cleanable_dirty_ratio) {
    return Status();
  }

  Pass pass{now, config.delete_retention_ms, {}, {}, {}, 0, 0, INT64_MAX};
  const Offset end = all[cleanable.size()]->base_offset();
  pass.aborted = aborted_between(cleanable.front()->base_offset(), end);

  // 1. The offset map over the dirty part (committed data only).
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

  // 2. Rewrite, group by group.
  size_t i = 0;
  while (i < cleanable.size()) {
    size_t j = i;
    uint64_t group_bytes = 0;
    while (j < cleanable.size() &&
           (j == i || (group_bytes + cleanable[j]->size() <=
                           static_cast<uint64_t>(config.segment_bytes) &&
                       cleanable[j]->next_offset() - cleanable[i]->base_offset() < INT32_MAX))) {
      group_bytes += cleanable[j]->size();
      ++j;
    }
    std::vector<std::shared_ptr<Segment>> group(cleanable.begin() + i, cleanable.begin() + j);
    const Offset group_end = j < cleanable.size() ? cleanable[j]->base_offset() : end;
    const Offset base = group.front()->base_offset();

    const std::string cleaned_path = dir_ + "/" + files::segment_name(base, files::kCleanedSuffix);
    {
      SLUICE_ASSIGN_OR_RETURN(auto out, fs_.open(cleaned_path, {.create = true, .truncate = true}));
      for (const auto& s : group) {
        SLUICE_RETURN_IF_ERROR(for_each_batch(*s, [&](const RecordBatchView& view) -> Status {
          SLUICE_ASSIGN_OR_RETURN(Bytes cleaned, clean_batch(view, pass));
          if (cleaned.empty()) return Status();
          SLUICE_ASSIGN_OR_RETURN(BatchHeader kept, parse_batch_header(cleaned));
          if (kept.has_delete_horizon()) {
            pass.next_horizon_ms = std::min(pass.next_horizon_ms, kept.base_timestamp.value());
          }
          return out->append(cleaned);
        }));
      }
      SLUICE_RETURN_IF_ERROR(out->sync());
    }
    const std::string swap_path = dir_ + "/" + swap_name(base, group_end);
    SLUICE_RETURN_IF_ERROR(fs_.rename(cleaned_path, swap_path));
    SLUICE_RETURN_IF_ERROR(fs_.sync_dir(dir_));  // committed
    for (std::string_view suffix :
         {files::kIndexSuffix, files::kTimeIndexSuffix, files::kTxnIndexSuffix}) {
      std::string p = group.front()->path(suffix);
      if (fs_.exists(p)) SLUICE_RETURN_IF_ERROR(fs_.remove_file(p));
    }
    SLUICE_RETURN_IF_ERROR(delete_segment_files(fs_, dir_, base.next(), group_end, base));
    SLUICE_RETURN_IF_ERROR(fs_.rename(swap_path, group.front()->path(files::kLogSuffix)));
    SLUICE_RETURN_IF_ERROR(fs_.sync_dir(dir_));

    // Index the new segment, then swap it into the list in one step.
    SLUICE_ASSIGN_OR_RETURN(auto fresh, Segment::open(fs_, dir_, base, clock_.monotonic_ms()));
    uint64_t pos = 0;
    fresh->publish(fresh->size());
    SLUICE_RETURN_IF_ERROR(for_each_batch(*fresh, [&](const RecordBatchView& view) -> Status {
      fresh->note_batch(view.header(), pos, config.index_interval_bytes);
      pos += view.bytes().size();
      return Status();
    }));
    std::vector<AbortedTransaction> aborted;
    for (const auto& s : group) {
      for (const AbortedTransaction& a : s->aborted()) aborted.push_back(a);
    }
    fresh->set_aborted(std::move(aborted));
    fresh->set_facts({fresh->size(), group_end, fresh->max_timestamp()});
    SLUICE_RETURN_IF_ERROR(fresh->seal());
    {
      MutexLock lock(append_mu_);
      WriterLock seg_lock(segments_mu_);
      auto first = std::find(segments_.begin(), segments_.end(), group.front());
      SLUICE_CHECK(first != segments_.end());
      auto last = first + static_cast<std::ptrdiff_t>(group.size());
      *first = fresh;
      segments_.erase(first + 1, last);
    }
    i = j;
  }

  next_horizon_ms_.store(pass.next_horizon_ms);
  Bytes cp;
  append_be<int64_t>(cp, end.value());
  SLUICE_RETURN_IF_ERROR(write_file_atomically(fs_, checkpoint_path, cp));
  spdlog::debug("{}: compacted offsets [{}, {}): {} records kept of {}", id_.to_string(),
                cleanable.front()->base_offset().value(), end.value(), pass.records_out,
                pass.records_in);
  return Status();
}

}  // namespace sluice::logstore
