// Partition: the read path. Readers take no partition lock: they find their segment under a
// shared lock, then read up to the published ends.
#include <algorithm>
#include <chrono>
#include <string>

#include "partition.h"
#include "sluice/base/check.h"

namespace sluice::logstore {
namespace {

// A batch header as read from a segment, checked for what the CRC cannot cover: magic, length
// within the visible bytes, and base offset against the offset expected there.
Result<BatchHeader> checked_header(ByteView bytes, uint64_t pos, uint64_t visible, Offset expected,
                                   bool dense) {
  SLUICE_ASSIGN_OR_RETURN(BatchHeader h, parse_batch_header(bytes));
  if (pos + h.size_bytes() > visible) {
    return corruption("batch length " + std::to_string(h.batch_length) +
                      " runs past the end of the segment");
  }
  if (dense ? h.base_offset != expected : h.base_offset < expected) {
    return corruption("batch has base offset " + std::to_string(h.base_offset.value()) +
                      " where offset " + std::to_string(expected.value()) + " was expected");
  }
  return h;
}

}  // namespace

std::string Partition::where(Offset offset) const {
  return id_.to_string() + " at offset " + std::to_string(offset.value());
}

Result<FetchResult> Partition::read(const FetchRequest& request) const {
  const bool committed = request.isolation == IsolationLevel::kReadCommitted;
  auto bound_of = [&](const PartitionEnds& e) {
    return committed ? e.stable.offset() : e.high_watermark.offset();
  };
  PartitionEnds e = ends();
  if (request.offset < e.log_start) {
    return out_of_range("offset " + std::to_string(request.offset.value()) + " of " +
                        id_.to_string() + " is below the log start " +
                        std::to_string(e.log_start.value()) + " (deleted by retention)");
  }
  if (request.offset > e.high_watermark.offset()) {
    return out_of_range("offset " + std::to_string(request.offset.value()) + " of " +
                        id_.to_string() + " is past the end " +
                        std::to_string(e.high_watermark.offset().value()));
  }
  if (request.offset >= bound_of(e) && request.max_wait_ms > 0) {
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(request.max_wait_ms);
    MutexLock lock(wait_mu_);
    while (request.offset >= bound_of(ends())) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      data_cv_.wait_for(wait_mu_, left);
    }
    e = ends();
  }

  FetchResult out;
  out.log_start = e.log_start;
  out.high_watermark = e.high_watermark;
  out.last_stable = e.stable;
  out.next_offset = request.offset;
  const Offset bound = bound_of(e);
  if (request.offset >= bound) return out;

  std::shared_ptr<Segment> seg = segment_for(request.offset);
  while (seg != nullptr) {
    SLUICE_RETURN_IF_ERROR(read_segment(*seg, request, bound, out));
    if (!out.batches.empty()) break;
    // Nothing at or after the offset in this segment (compaction can leave a gap at its end).
    // Look the next one up by offset: if compaction swapped a group of segments in meanwhile,
    // the segment after this (old) one's base would skip the whole new one.
    std::shared_ptr<Segment> next = segment_for(std::max(request.offset, seg->next_offset()));
    if (next == seg || next->base_offset() < seg->base_offset()) {
      next = segment_after(seg->base_offset());
    }
    seg = std::move(next);
    if (seg == nullptr || seg->base_offset() >= bound) break;
    if (!may_have_gaps_.load(std::memory_order_relaxed) && request.offset < seg->base_offset()) {
      // A dense log has no gaps: these offsets were lost (recovery reported it).
      return corruption("no record batch holds " + where(request.offset) +
                        ": the stored data ends before it and resumes at offset " +
                        std::to_string(seg->base_offset().value()));
    }
  }
  if (committed && !out.batches.empty()) {
    out.aborted = aborted_between(request.offset, out.next_offset);
  }
  return out;
}

Status Partition::read_segment(const Segment& seg, const FetchRequest& request, Offset bound,
                               FetchResult& out) const {
  const Offset target = std::max(request.offset, seg.base_offset());
  const uint64_t visible = seg.visible_bytes();
  const bool dense = !may_have_gaps_.load(std::memory_order_relaxed) || &seg == active().get();
  SegmentIndex::OffsetEntry entry = seg.index().floor(target);
  uint64_t pos = entry.position;
  Offset expected = entry.offset;
  auto fail = [&](const Status& s, Offset at, uint64_t p) {
    return Status(s.code(), "corrupt record batch in " + where(at) + " (segment " +
                                seg.path(".log") + ", byte " + std::to_string(p) +
                                "): " + s.message());
  };

  // Skip the batches that end before the target, reading only their headers.
  char hdr[format::kHeaderSize];
  BatchHeader first;
  while (true) {
    if (pos + format::kHeaderSize > visible) {
      if (pos == visible) return Status();  // the segment holds nothing at or after target
      return fail(corruption("segment ends inside a batch header"), expected, pos);
    }
    SLUICE_ASSIGN_OR_RETURN(size_t n, seg.file().read_at(pos, hdr, sizeof(hdr)));
    if (n != sizeof(hdr)) return fail(corruption("short read of a batch header"), expected, pos);
    // Compacted segments have gaps between batches, so there the base offset can only be
    // checked to increase.
    auto h = checked_header(ByteView(hdr, n), pos, visible, expected, dense);
    if (!h.ok()) return fail(h.status(), expected, pos);
    if (h->base_offset >= bound) return Status();
    if (h->last_offset() >= target) {
      first = *h;
      break;
    }
    pos += h->size_bytes();
    expected = h->next_offset();
  }

  // Read whole batches from `pos`: at least the first, then as many as fit in max_bytes.
  size_t want = std::min<uint64_t>(visible - pos, request.max_bytes);
  want = std::max(want, first.size_bytes());
  Bytes& buf = out.batches;
  buf.resize(want);
  SLUICE_ASSIGN_OR_RETURN(size_t got, seg.file().read_at(pos, buf.data(), want));
  if (got != want) return fail(io_error("short read"), first.base_offset, pos);

  size_t off = 0;
  expected = first.base_offset;
  while (off + format::kHeaderSize <= want) {
    // The first batch's offset is known exactly: it was just read.
    auto h =
        checked_header(ByteView(buf).substr(off), pos + off, visible, expected, off == 0 || dense);
    if (!h.ok() || h->base_offset >= bound) {
      if (!h.ok() && off == 0) return fail(h.status(), expected, pos + off);
      break;
    }
    if (off + h->size_bytes() > want) break;
    auto view = RecordBatchView::parse(ByteView(buf).substr(off));
    Status crc = view.ok() ? view->verify_crc() : view.status();
    if (!crc.ok()) {
      // Serve the good batches before it; the next read starting here reports the error.
      if (off == 0) return fail(crc, h->base_offset, pos + off);
      break;
    }
    off += h->size_bytes();
    expected = h->next_offset();
    out.next_offset = expected;
  }
  buf.resize(off);
  return Status();
}

std::vector<AbortedTransaction> Partition::aborted_between(Offset from, Offset to) const {
  // An abort marker is never before the data it aborts, so only segments from the one holding
  // `from` on can hold a relevant entry. Per read-committed fetch: no copies of the list.
  std::vector<AbortedTransaction> out;
  ReaderLock lock(segments_mu_);
  auto it = std::upper_bound(segments_.begin(), segments_.end(), from,
                             [](Offset o, const auto& s) { return o < s->base_offset(); });
  if (it != segments_.begin()) --it;
  for (; it != segments_.end(); ++it) (*it)->collect_aborted(from, to, out);
  return out;
}

Result<std::optional<Offset>> Partition::offset_for_timestamp(Timestamp ts) const {
  const PartitionEnds e = ends();
  const Offset hw = e.high_watermark.offset();
  for (const auto& seg : segments()) {
    if (seg->max_timestamp() < ts || seg->max_timestamp() == kNoTimestamp) continue;
    // Records below the log start are deleted, even where their segment is still on disk.
    if (seg->next_offset() <= e.log_start) continue;
    Offset start = seg->index().time_floor(ts);
    FetchRequest req{.partition = id_,
                     .offset = std::max({start, seg->base_offset(), e.log_start}),
                     .max_bytes = 1 << 20,
                     .isolation = IsolationLevel::kReadUncommitted};
    while (req.offset < hw) {
      FetchResult chunk;
      chunk.next_offset = req.offset;
      SLUICE_RETURN_IF_ERROR(read_segment(*seg, req, hw, chunk));
      if (chunk.batches.empty()) break;
      std::optional<Offset> found;
      ByteView rest = chunk.batches;
      while (!rest.empty() && !found) {
        SLUICE_ASSIGN_OR_RETURN(RecordBatchView batch, RecordBatchView::parse(rest));
        rest.remove_prefix(batch.bytes().size());
        if (batch.header().control() || batch.header().max_timestamp < ts) continue;
        SLUICE_ASSIGN_OR_RETURN(RecordIterator it, RecordIterator::open(batch));
        RecordView r;
        while (true) {
          SLUICE_ASSIGN_OR_RETURN(bool more, it.next(r));
          if (!more) break;
          if (r.offset >= req.offset && r.timestamp >= ts) {
            found = r.offset;
            break;
          }
        }
      }
      if (found) return found;
      req.offset = chunk.next_offset;
    }
  }
  return std::optional<Offset>();
}

}  // namespace sluice::logstore
