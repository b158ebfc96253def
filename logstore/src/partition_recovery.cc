// Partition: opening and crash recovery.
//
// The .log files are the truth; everything else is derived and rebuilt when missing or bad.
// Sealed segments are trusted when their index files check out (they were synced before the
// segment was sealed). The active segment is always scanned batch by batch: length, magic,
// base offset and CRC; the first batch that fails ends the log, and the torn or corrupt tail is
// cut off and reported. The producer state is restored from the newest snapshot and the batches
// after it.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

#include "compaction.h"
#include "log_files.h"
#include "partition.h"

namespace sluice::logstore {
namespace {

// Reads a segment sequentially in large chunks, handing out whole batches.
class SegmentScanner {
 public:
  explicit SegmentScanner(const Segment& seg) : seg_(seg), size_(seg.size()) {}

  uint64_t size() const { return size_; }

  // The bytes [pos, pos + n) of the file, or fewer at its end.
  Result<ByteView> bytes(uint64_t pos, size_t n) {
    if (pos < start_ || pos + n > start_ + buf_.size()) {
      size_t want = std::max<size_t>(n, kChunk);
      want = static_cast<size_t>(std::min<uint64_t>(want, size_ - pos));
      buf_.resize(want);
      SLUICE_ASSIGN_OR_RETURN(size_t got, seg_.file().read_at(pos, buf_.data(), want));
      buf_.resize(got);
      start_ = pos;
    }
    ByteView v(buf_);
    v.remove_prefix(pos - start_);
    return v.substr(0, n);
  }

 private:
  static constexpr size_t kChunk = 4 << 20;
  const Segment& seg_;
  const uint64_t size_;
  Bytes buf_;
  uint64_t start_ = 0;
};

struct ScanOutcome {
  uint64_t valid_bytes = 0;
  Offset next_offset{0};
  std::string failure;  // empty: the whole segment is valid
};

// Validates every batch of `seg` in order, replaying each into `state` and, when `rebuild`,
// into the segment's indexes and aborted-transaction list.
Result<ScanOutcome> scan_segment(Segment& seg, ProducerState& state, bool rebuild, bool dense,
                                 int32_t index_interval) {
  SegmentScanner scanner(seg);
  ScanOutcome out;
  uint64_t pos = 0;
  Offset expected = seg.base_offset();
  while (pos < scanner.size()) {
    SLUICE_ASSIGN_OR_RETURN(ByteView head, scanner.bytes(pos, format::kHeaderSize));
    if (head.size() < format::kHeaderSize) {
      out.failure = "truncated batch header";
      break;
    }
    auto h = parse_batch_header(head);
    if (!h.ok()) {
      out.failure = h.status().message();
      break;
    }
    if (pos + h->size_bytes() > scanner.size()) {
      out.failure = "truncated batch (" + std::to_string(h->size_bytes()) + " bytes, " +
                    std::to_string(scanner.size() - pos) + " left in the file)";
      break;
    }
    if (dense ? h->base_offset != expected : h->base_offset < expected) {
      out.failure = "base offset " + std::to_string(h->base_offset.value()) + " where " +
                    std::to_string(expected.value()) + " was expected";
      break;
    }
    SLUICE_ASSIGN_OR_RETURN(ByteView whole, scanner.bytes(pos, h->size_bytes()));
    auto view = RecordBatchView::parse(whole);
    Status valid = view.ok() ? view->verify_crc() : view.status();
    if (!valid.ok()) {
      out.failure = valid.message();
      break;
    }
    auto aborted = state.replay(*view);
    if (!aborted.ok()) {
      out.failure = aborted.status().message();
      break;
    }
    if (rebuild) {
      seg.note_batch(*h, pos, index_interval);
      if (aborted->has_value()) seg.add_aborted(**aborted);
    }
    pos += h->size_bytes();
    expected = h->next_offset();
  }
  out.valid_bytes = pos;
  out.next_offset = expected;
  return out;
}

// In a dense (never compacted) log each segment starts where the one before it ends. A hole
// means lost data (a sealed segment cut short, a segment file gone): it is reported, and reads
// there fail instead of silently skipping to the next segment.
void report_offset_holes(const TopicPartition& id,
                         const std::vector<std::shared_ptr<Segment>>& segs, OpenReport& report) {
  for (size_t i = 0; i + 1 < segs.size(); ++i) {
    const Offset end = segs[i]->next_offset();
    const Offset next = segs[i + 1]->base_offset();
    if (end == next) continue;
    const std::string name = files::segment_name(segs[i]->base_offset(), files::kLogSuffix);
    const std::string reason =
        end < next
            ? "offsets " + std::to_string(end.value()) + " to " + std::to_string(next.value() - 1) +
                  " are missing: the segment ends at " + std::to_string(end.value()) +
                  ", the next one starts at " + std::to_string(next.value())
            : "the segment runs to offset " + std::to_string(end.value() - 1) +
                  ", past the start of the next one at " + std::to_string(next.value());
    spdlog::error("{}: sealed segment {}: {} (reads there will fail)", id.to_string(), name,
                  reason);
    report.corrupt.push_back({id, name, segs[i]->size(), reason});
  }
}

bool has_suffix(std::string_view name, std::string_view suffix) {
  return name.size() >= suffix.size() && name.substr(name.size() - suffix.size()) == suffix;
}

}  // namespace

Status Partition::recover(OpenReport& report) {
  SLUICE_RETURN_IF_ERROR(fs_.create_dirs(dir_));
  SLUICE_RETURN_IF_ERROR(finish_interrupted_compaction(fs_, dir_));
  SLUICE_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_.list_dir(dir_));
  std::vector<Offset> bases;
  std::set<Offset> snapshots;
  for (const std::string& name : names) {
    if (has_suffix(name, ".tmp")) {
      SLUICE_RETURN_IF_ERROR(fs_.remove_file(dir_ + "/" + name));  // an unfinished atomic write
    } else if (auto b = files::parse_segment_name(name, files::kLogSuffix)) {
      bases.push_back(*b);
    } else if (auto s = files::parse_segment_name(name, files::kSnapshotSuffix)) {
      snapshots.insert(*s);
    }
  }
  std::sort(bases.begin(), bases.end());

  Offset log_start{0};
  std::string start_path = dir_ + "/" + std::string(files::kLogStartFile);
  if (fs_.exists(start_path)) {
    SLUICE_ASSIGN_OR_RETURN(Bytes data, read_file(fs_, start_path));
    if (data.size() == 8) {
      log_start = Offset(load_be<int64_t>(data.data()));
    } else {
      spdlog::warn("{}: ignoring a malformed log-start file", id_.to_string());
    }
  }

  const int64_t now = clock_.monotonic_ms();
  MutexLock lock(append_mu_);
  const int32_t interval = config_.index_interval_bytes;
  if (fs_.exists(dir_ + "/" + std::string(files::kCleanerCheckpointFile))) {
    may_have_gaps_.store(true);
  }
  const bool dense = !may_have_gaps_.load();
  std::vector<std::shared_ptr<Segment>> segs;

  if (bases.empty()) {
    SLUICE_ASSIGN_OR_RETURN(auto seg, Segment::create(fs_, dir_, log_start, now));
    segs.push_back(std::move(seg));
  } else {
    // Sealed segments: trust their index files if they check out. The active segment's
    // in-memory indexes are always rebuilt by its scan.
    size_t first_rebuild = bases.size() - 1;
    std::vector<bool> rebuild_of(bases.size(), false);
    rebuild_of.back() = true;
    for (size_t i = 0; i < bases.size(); ++i) {
      SLUICE_ASSIGN_OR_RETURN(auto seg, Segment::open(fs_, dir_, bases[i], now));
      if (i + 1 < bases.size()) {
        SegmentFacts facts;
        std::string bad_index;
        auto index = SegmentIndex::load(fs_, dir_, bases[i], seg->size(), facts, &bad_index);
        auto txns = load_txn_index(fs_, seg->path(files::kTxnIndexSuffix));
        if (index.ok() && txns.ok()) {
          seg->replace_index(std::move(index).value());
          seg->set_facts(facts);
          seg->set_aborted(std::move(txns).value());
        } else {
          // All three are rewritten (sealing writes them together); the report names the
          // ones that were missing or bad.
          first_rebuild = std::min(first_rebuild, i);
          rebuild_of[i] = true;
          if (!index.ok()) {
            report.rebuilt.push_back(bad_index);
            spdlog::warn("{}: rebuilding the indexes of {}: {}", id_.to_string(),
                         files::segment_name(bases[i], files::kLogSuffix),
                         index.status().message());
          }
          if (!txns.ok()) {
            report.rebuilt.push_back(seg->path(files::kTxnIndexSuffix));
            spdlog::warn("{}: rebuilding the aborted-transaction index of {}: {}", id_.to_string(),
                         files::segment_name(bases[i], files::kLogSuffix), txns.status().message());
          }
        }
      }
      segs.push_back(std::move(seg));
    }

    // Producer state: the newest good snapshot at or before the first segment to rescan.
    size_t start = 0;
    ProducerState state;
    for (size_t j = first_rebuild + 1; j-- > 0;) {
      if (!snapshots.count(bases[j])) continue;
      auto data = read_file(fs_, segs[j]->path(files::kSnapshotSuffix));
      auto loaded = data.ok() ? ProducerState::from_snapshot(*data) : data.status();
      if (loaded.ok()) {
        state = std::move(loaded).value();
        start = j;
        break;
      }
      report.rebuilt.push_back(segs[j]->path(files::kSnapshotSuffix));
      spdlog::warn("{}: ignoring producer snapshot {}: {}", id_.to_string(),
                   segs[j]->path(files::kSnapshotSuffix), loaded.status().message());
    }

    const size_t last = segs.size() - 1;
    for (size_t i = start; i <= last; ++i) {
      Segment& seg = *segs[i];
      const bool active = i == last;
      // Segments between the snapshot and the last one to rebuild are only replayed (for the
      // producer state): their loaded indexes are mapped and immutable.
      const bool rebuild = rebuild_of[i];
      if (active && start < last) {
        // Save the replay of sealed segments for next time.
        SLUICE_RETURN_IF_ERROR(
            write_file_atomically(fs_, seg.path(files::kSnapshotSuffix), state.snapshot()));
      }
      SLUICE_ASSIGN_OR_RETURN(ScanOutcome scan,
                              scan_segment(seg, state, rebuild, dense || active, interval));
      const std::string name = files::segment_name(seg.base_offset(), files::kLogSuffix);
      if (active) {
        if (!scan.failure.empty()) {
          TruncatedTail cut{.partition = id_,
                            .segment = name,
                            .position = scan.valid_bytes,
                            .bytes_lost = seg.size() - scan.valid_bytes,
                            .first_lost_offset = scan.next_offset,
                            .reason = scan.failure};
          spdlog::warn("{}: cutting {} bytes from the end of {} at byte {} (from offset {}): {}",
                       id_.to_string(), cut.bytes_lost, name, cut.position,
                       cut.first_lost_offset.value(), cut.reason);
          report.truncated.push_back(std::move(cut));
          SLUICE_RETURN_IF_ERROR(seg.truncate(scan.valid_bytes, scan.next_offset));
        }
        SLUICE_RETURN_IF_ERROR(seg.sync());
        seg.publish(seg.size());
      } else if (!scan.failure.empty()) {
        spdlog::error("{}: sealed segment {} is corrupt at byte {}: {} (reads there will fail)",
                      id_.to_string(), name, scan.valid_bytes, scan.failure);
        report.corrupt.push_back({id_, name, scan.valid_bytes, scan.failure});
      }
      if (rebuild && !active) {
        // A compacted segment's offsets run up to the next segment even when its last batches
        // were compacted away.
        const bool to_next = !scan.failure.empty() || !dense;
        SegmentFacts facts{seg.size(), to_next ? segs[i + 1]->base_offset() : scan.next_offset,
                           seg.max_timestamp()};
        seg.set_facts(facts);
        SLUICE_RETURN_IF_ERROR(seg.seal());
      }
    }
    producers_ = std::move(state);
    if (dense) report_offset_holes(id_, segs, report);
  }

  // Snapshots of segments that do not exist (left by a roll that failed) are stray.
  for (Offset s : snapshots) {
    if (s > segs.back()->base_offset()) {
      SLUICE_RETURN_IF_ERROR(
          fs_.remove_file(dir_ + "/" + files::segment_name(s, files::kSnapshotSuffix)));
    }
  }

  const Offset end = segs.back()->next_offset();
  log_start = std::max(log_start, segs.front()->base_offset());
  if (log_start > end) log_start = end;
  {
    WriterLock seg_lock(segments_mu_);
    segments_ = std::move(segs);
  }
  log_start_.store(log_start.value());
  written_.store(end.value());
  durable_.store(end.value());
  high_watermark_.store(end.value());
  stable_.store(producers_.first_unstable_offset().value_or(end).value());
  return Status();
}

}  // namespace sluice::logstore
