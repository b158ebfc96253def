// The vocabulary of the log: which partition, where in it, what a read or an append returns.
//
// Shared by the LogClient interface and the built-in LogStore.
//
// Thread safety: values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sluice/base/bytes.h"
#include "sluice/base/check.h"
#include "sluice/base/ids.h"
#include "sluice/logstore/record_batch.h"

namespace sluice::logstore {

struct TopicPartition {
  std::string topic;
  PartitionId partition{0};

  friend auto operator<=>(const TopicPartition&, const TopicPartition&) = default;
  friend bool operator==(const TopicPartition&, const TopicPartition&) = default;
  // "orders/3"
  std::string to_string() const;
};

// The ends of a partition. They are distinct types so that they cannot be mixed up:
// `written` is the end of what has been written to the log files, `durable` the end of what has
// been synced, `high_watermark` the end readers may see (written or durable, depending on the
// flush policy), `stable` the end read-committed readers may see (the first offset of the oldest
// open transaction, or the high watermark). Invariants: durable <= written, stable <= hw <=
// written.
template <typename Tag>
class PartitionEnd {
 public:
  constexpr PartitionEnd() = default;
  constexpr explicit PartitionEnd(Offset o) : offset_(o) {}
  constexpr Offset offset() const { return offset_; }
  friend constexpr auto operator<=>(PartitionEnd, PartitionEnd) = default;

 private:
  Offset offset_{0};
};
using WrittenEnd = PartitionEnd<struct WrittenTag>;
using DurableEnd = PartitionEnd<struct DurableTag>;
using HighWatermark = PartitionEnd<struct HighWatermarkTag>;
using StableEnd = PartitionEnd<struct StableTag>;

struct PartitionEnds {
  Offset log_start{0};  // first offset still stored
  WrittenEnd written;
  DurableEnd durable;
  HighWatermark high_watermark;
  StableEnd stable;

  void check_invariants() const {
    SLUICE_CHECK(durable.offset() <= written.offset());
    SLUICE_CHECK(stable.offset() <= high_watermark.offset());
    SLUICE_CHECK(high_watermark.offset() <= written.offset());
    SLUICE_CHECK(log_start <= high_watermark.offset());
  }
};

enum class IsolationLevel : int8_t {
  kReadUncommitted,  // up to the high watermark, aborted transactional data included
  kReadCommitted,    // up to the last stable offset; aborted data is to be skipped
};

// A transaction that was aborted: its producer's transactional batches in [first, last] are to
// be skipped by read-committed readers (`last` is the abort marker's offset).
struct AbortedTransaction {
  ProducerId producer_id;
  Offset first_offset;
  Offset last_offset;
  friend bool operator==(const AbortedTransaction&, const AbortedTransaction&) = default;
};

struct FetchRequest {
  TopicPartition partition;
  Offset offset{0};
  // Stop adding batches once this many bytes are collected; the first batch is returned whole
  // even when it alone is larger, so a reader always makes progress.
  size_t max_bytes = 1 << 20;
  IsolationLevel isolation = IsolationLevel::kReadCommitted;
  // When there is no data at `offset` yet, wait up to this long for some (long poll).
  int64_t max_wait_ms = 0;
};

// Whole batches, in offset order, starting with the batch that contains the requested offset
// (which may begin before it: skip records below the offset).
struct FetchResult {
  Bytes batches;                            // concatenated encoded batches
  std::vector<AbortedTransaction> aborted;  // for read-committed: overlapping aborted txns
  Offset log_start{0};
  HighWatermark high_watermark;
  StableEnd last_stable;
  // Where the next fetch should start.
  Offset next_offset{0};
};

// Calls `fn(const RecordView&)` for each record at or after `from` in `result` that a reader
// at `isolation` should see: control batches are skipped, and so (for read-committed) is
// aborted transactional data. Returns the first error from decoding, or from `fn` if it returns
// a Status.
template <typename Fn>
Status for_each_record(const FetchResult& result, Offset from, IsolationLevel isolation, Fn&& fn);

// The outcome of an append.
struct AppendResult {
  Offset base_offset{0};
  Offset last_offset{0};
  Timestamp log_append_time = kNoTimestamp;  // set when the topic uses log-append time
  bool duplicate = false;  // a retried idempotent batch: these offsets are the original ones
};

// A producer id and epoch, as handed out by init_producer_id.
struct ProducerIdentity {
  ProducerId id = kNoProducerId;
  ProducerEpoch epoch = kNoProducerEpoch;
};

// A consumer group's committed position in one partition.
struct CommittedOffset {
  Offset offset{0};
  std::string metadata;
  Timestamp commit_time = kNoTimestamp;
  friend bool operator==(const CommittedOffset&, const CommittedOffset&) = default;
};
using OffsetMap = std::map<TopicPartition, CommittedOffset>;

// --- implementation of for_each_record ---

namespace detail {
bool is_aborted(const std::vector<AbortedTransaction>& aborted, const BatchHeader& h);
}

template <typename Fn>
Status for_each_record(const FetchResult& result, Offset from, IsolationLevel isolation, Fn&& fn) {
  ByteView rest = result.batches;
  while (!rest.empty()) {
    auto batch = RecordBatchView::parse(rest);
    if (!batch.ok()) return batch.status();
    rest.remove_prefix(batch->bytes().size());
    const BatchHeader& h = batch->header();
    if (h.control() || h.last_offset() < from) continue;
    if (isolation == IsolationLevel::kReadCommitted && h.transactional() &&
        detail::is_aborted(result.aborted, h)) {
      continue;
    }
    auto it = RecordIterator::open(*batch);
    if (!it.ok()) return it.status();
    RecordView r;
    while (true) {
      auto more = it->next(r);
      if (!more.ok()) return more.status();
      if (!*more) break;
      if (r.offset < from) continue;
      if constexpr (std::is_same_v<std::invoke_result_t<Fn, const RecordView&>, Status>) {
        Status s = fn(static_cast<const RecordView&>(r));
        if (!s.ok()) return s;
      } else {
        fn(static_cast<const RecordView&>(r));
      }
    }
  }
  return Status();
}

}  // namespace sluice::logstore
