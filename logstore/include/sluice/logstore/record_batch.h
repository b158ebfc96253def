// Records and record batches: building, parsing and iterating Kafka RecordBatch v2.
//
// A batch is the unit the log writes, reads, checksums and replicates. RecordBatchBuilder turns
// records into one encoded batch (optionally compressed); RecordBatchView wraps encoded bytes
// read back from a segment or received from a client and checks them; RecordIterator walks the
// records inside one batch. The byte layout is in batch_format.h and docs/LOG-FORMAT.md.
//
// Thread safety: builders and iterators are thread-confined; a RecordBatchView is an immutable
// view and may be shared, as long as the bytes it views outlive it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "sluice/base/bytes.h"
#include "sluice/base/ids.h"
#include "sluice/base/result.h"
#include "sluice/logstore/batch_format.h"

namespace sluice::logstore {

// How a batch's records are compressed (the low three attribute bits). gzip and snappy exist in
// the format but Sluice neither writes nor reads them: such batches are refused with
// kUnimplemented.
enum class Compression : int8_t { kNone = 0, kGzip = 1, kSnappy = 2, kLz4 = 3, kZstd = 4 };

// "none", "gzip", "snappy", "lz4", "zstd".
std::string_view compression_name(Compression c);
// Parses a name as above; kInvalidArgument for anything else.
Result<Compression> parse_compression(std::string_view name);

enum class TimestampType : int8_t { kCreateTime = 0, kLogAppendTime = 1 };

// A record header: a non-null key and a possibly-null value.
struct RecordHeader {
  ByteView key;
  std::optional<ByteView> value;
};

// A record to append. Views only: the bytes must live until the batch is built.
struct Record {
  std::optional<ByteView> key;         // nullopt = null key (distinct from an empty key)
  std::optional<ByteView> value;       // nullopt = null value: a tombstone in a compacted topic
  Timestamp timestamp = kNoTimestamp;  // kNoTimestamp: the builder's default timestamp
  std::span<const RecordHeader> headers = {};
};

// What a batch says about who wrote it and how.
struct BatchOptions {
  Compression compression = Compression::kNone;
  TimestampType timestamp_type = TimestampType::kCreateTime;
  ProducerId producer_id = kNoProducerId;
  ProducerEpoch producer_epoch = kNoProducerEpoch;
  Sequence base_sequence = kNoSequence;  // sequence of the first record (idempotent producers)
  bool transactional = false;
  bool control = false;
  int32_t partition_leader_epoch = 0;
  // Set by log compaction on batches that keep tombstones or markers: the time after which they
  // may be removed. Stored in baseTimestamp (attribute bit 6), as Kafka does (KIP-534).
  std::optional<Timestamp> delete_horizon;
  // Used for records whose timestamp is kNoTimestamp.
  Timestamp default_timestamp = kNoTimestamp;
};

// Encodes records into one RecordBatch v2.
//
// Usage: add() records, then build(); reset() to reuse the buffers for the next batch. Records
// are encoded as they are added (the builder copies their bytes), so the Record's views need only
// live for the duration of the add() call.
class RecordBatchBuilder {
 public:
  explicit RecordBatchBuilder(BatchOptions options = {});

  // Appends a record with offset delta = number of records added so far.
  void add(const Record& record);
  // Appends a record with an explicit offset delta (strictly increasing; compaction uses this
  // to keep the original offsets of surviving records).
  void add(const Record& record, int32_t offset_delta);

  int32_t record_count() const { return count_; }
  bool empty() const { return count_ == 0; }
  // Bytes of the encoded batch so far, before compression.
  size_t size_bytes() const { return used_; }
  // Makes room for `bytes` of encoded records, to avoid regrowing the buffer while adding.
  void reserve(size_t bytes) {
    if (buf_.size() < used_ + bytes) buf_.resize(used_ + bytes);
  }

  // Forces lastOffsetDelta (compaction keeps a batch's original last offset even when its last
  // records were removed). Must be >= the last added offset delta.
  void set_last_offset_delta(int32_t delta);

  // Finishes the batch: header filled in, records compressed if asked, CRC computed. Returns the
  // encoded bytes (moved out of the builder: call reset() before reuse). kInvalidArgument for an
  // empty batch or an unsupported compression.
  Result<Bytes> build(Offset base_offset = Offset(0));

  // Starts a new batch with the same options, or with new ones.
  void reset();
  void reset(const BatchOptions& options);

  // Gives back the bytes of a built batch once the caller is done with them, so the next batch
  // is encoded into memory that is already allocated and faulted in (a producer appending
  // batch after batch then allocates nothing).
  void recycle(Bytes&& spent) {
    if (spent.capacity() > buf_.capacity()) {
      buf_ = std::move(spent);
      if (buf_.size() < used_) buf_.resize(used_);
    }
  }

  const BatchOptions& options() const { return options_; }

 private:
  BatchOptions options_;
  Bytes buf_;             // header space followed by the uncompressed records, then spare room
  size_t used_ = 0;       // bytes of buf_ in use
  size_t last_size_ = 0;  // of the last batch built, to size the next one's buffer
  int32_t count_ = 0;
  int32_t last_offset_delta_ = -1;
  Timestamp first_timestamp_ = kNoTimestamp;
  Timestamp max_timestamp_ = kNoTimestamp;
};

// A generous estimate of the encoded size of `records` (for RecordBatchBuilder::reserve).
size_t estimated_batch_bytes(std::span<const Record> records);

// The fixed 61-byte header of a batch, decoded.
struct BatchHeader {
  Offset base_offset;
  int32_t batch_length = 0;
  int32_t partition_leader_epoch = 0;
  int8_t magic = 0;
  uint32_t crc = 0;
  int16_t attributes = 0;
  int32_t last_offset_delta = 0;
  Timestamp base_timestamp = kNoTimestamp;
  Timestamp max_timestamp = kNoTimestamp;
  ProducerId producer_id = kNoProducerId;
  ProducerEpoch producer_epoch = kNoProducerEpoch;
  Sequence base_sequence = kNoSequence;
  int32_t record_count = 0;

  Compression compression() const {
    return static_cast<Compression>(attributes & format::kCompressionMask);
  }
  TimestampType timestamp_type() const {
    return (attributes & format::kTimestampTypeBit) ? TimestampType::kLogAppendTime
                                                    : TimestampType::kCreateTime;
  }
  bool transactional() const { return attributes & format::kTransactionalBit; }
  bool control() const { return attributes & format::kControlBit; }
  bool has_delete_horizon() const { return attributes & format::kDeleteHorizonBit; }
  bool has_producer() const { return producer_id != kNoProducerId; }

  Offset last_offset() const { return base_offset + last_offset_delta; }
  Offset next_offset() const { return last_offset().next(); }
  // Sequence of the last record (wraps after INT32_MAX, as Kafka's does).
  Sequence last_sequence() const;
  // Bytes of the whole batch, header included.
  size_t size_bytes() const { return static_cast<size_t>(batch_length) + format::kLogOverhead; }
};

// Decodes the header at the start of `bytes` (at least kHeaderSize bytes). Checks magic and that
// batchLength is within bounds; does not check the CRC or that the whole batch is present.
// kCorruption on a bad magic or length; kOutOfRange when fewer than kHeaderSize bytes are given.
Result<BatchHeader> parse_batch_header(ByteView bytes);

// One whole encoded batch.
class RecordBatchView {
 public:
  // Wraps the batch at the start of `bytes` (which may continue past it). kCorruption if the
  // header is bad, kOutOfRange if `bytes` is shorter than the batch.
  static Result<RecordBatchView> parse(ByteView bytes);

  const BatchHeader& header() const { return header_; }
  // Exactly this batch's bytes.
  ByteView bytes() const { return bytes_; }
  // The bytes after the header: the (possibly compressed) records.
  ByteView records_bytes() const { return bytes_.substr(format::kHeaderSize); }

  // Checks the stored CRC against the bytes. kCorruption on mismatch.
  Status verify_crc() const;

 private:
  RecordBatchView(BatchHeader h, ByteView b) : header_(h), bytes_(b) {}
  BatchHeader header_;
  ByteView bytes_;
};

// One record, decoded. Views into the batch (or the iterator's decompression buffer): valid
// until the iterator moves on or is destroyed.
struct RecordView {
  Offset offset;
  Timestamp timestamp = kNoTimestamp;
  std::optional<ByteView> key;
  std::optional<ByteView> value;
  std::span<const RecordHeader> headers;
  int32_t offset_delta = 0;
};

// Walks the records of one batch, decompressing first if needed.
class RecordIterator {
 public:
  // kUnimplemented for gzip/snappy, kCorruption if decompression fails.
  static Result<RecordIterator> open(const RecordBatchView& batch);

  // Decodes the next record into `out`. Returns false after the last one; kCorruption when a
  // record is malformed (lengths past the end, a count that does not match recordCount, offset
  // deltas that do not increase).
  Result<bool> next(RecordView& out);

 private:
  RecordIterator() = default;
  BatchHeader header_;
  // The records not yet decoded: [pos_, end) of either the batch's bytes (uncompressed) or
  // decompressed_. A position rather than a view, so that moving the iterator (and with it a
  // short string's inline buffer) cannot leave it pointing at the old object.
  ByteView remaining() const {
    return (compressed_ ? ByteView(decompressed_) : source_).substr(pos_);
  }
  Bytes decompressed_;
  ByteView source_;
  bool compressed_ = false;
  size_t pos_ = 0;
  int32_t seen_ = 0;
  int32_t last_delta_ = -1;
  std::vector<RecordHeader> headers_;
};

// Checks a batch fully: CRC, and that every record decodes and its offset delta is within
// lastOffsetDelta. `require_dense` also demands offset deltas 0..recordCount-1 (as a freshly
// produced batch has). Returns the number of records.
Result<int32_t> validate_batch(const RecordBatchView& batch, bool require_dense);

// Rewrites the base offset of an encoded batch in place (not covered by the CRC).
void set_base_offset(char* batch, Offset base_offset);

// Sets the log-append timestamp of an encoded batch in place: attribute bit 3, maxTimestamp =
// `now`, and a new CRC.
void set_log_append_time(char* batch, size_t size, Timestamp now);

// --- Control batches (transaction markers) ---

enum class ControlType : int16_t { kAbort = 0, kCommit = 1 };

struct ControlRecord {
  ControlType type = ControlType::kAbort;
  int32_t coordinator_epoch = 0;
};

// Encodes a one-record control batch for the producer's transaction outcome.
Bytes build_control_batch(ControlType type, ProducerId producer_id, ProducerEpoch epoch,
                          int32_t coordinator_epoch, Timestamp timestamp);

// Decodes the single control record of a control batch. kCorruption if it is malformed.
Result<ControlRecord> read_control_record(const RecordBatchView& batch);

}  // namespace sluice::logstore
