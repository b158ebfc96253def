#include "sluice/logstore/record_batch.h"

#include <cstdio>
#include <string>

#include "compression.h"
#include "sluice/base/check.h"
#include "sluice/base/crc32c.h"

namespace sluice::logstore {
namespace {

using namespace format;

// A decompressed records section may be at most this large: a bound against malformed
// ("zip bomb") input, generous enough for any batch a producer can send.
constexpr size_t kMaxDecompressedSize = 256u << 20;

int16_t attributes_for(const BatchOptions& o) {
  int16_t a = static_cast<int16_t>(static_cast<int16_t>(o.compression) & kCompressionMask);
  if (o.timestamp_type == TimestampType::kLogAppendTime) a |= kTimestampTypeBit;
  if (o.transactional) a |= kTransactionalBit;
  if (o.control) a |= kControlBit;
  if (o.delete_horizon) a |= kDeleteHorizonBit;
  return a;
}

int nullable_size(const std::optional<ByteView>& v) {
  return v ? varint_size(static_cast<int64_t>(v->size())) + static_cast<int>(v->size()) : 1;
}

// Writes a varint length (-1 for null) and the bytes at `p`; returns the end.
char* put_nullable(char* p, const std::optional<ByteView>& v) {
  if (!v) {
    *p = 0x01;  // zig-zag -1
    return p + 1;
  }
  p += put_uvarint(p, zigzag_encode(static_cast<int64_t>(v->size())));
  if (!v->empty()) std::memcpy(p, v->data(), v->size());
  return p + v->size();
}

uint32_t crc_of(const char* batch, size_t size) {
  return crc32c::extend(0, batch + kAttributesPos, size - kAttributesPos);
}

// A zig-zag varint at `p` (at most `max_bytes` long, before `end`); advances `p`. The one-byte
// case, by far the most common in records, is inline.
bool varint_slow(const char*& p, const char* end, int max_bytes, int64_t& out) {
  uint64_t u = 0;
  for (int i = 0, shift = 0; i < max_bytes && p < end; ++i, shift += 7) {
    const auto b = static_cast<uint8_t>(*p++);
    u |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (b < 0x80) {
      out = zigzag_decode(u);
      return true;
    }
  }
  return false;
}

inline bool varint(const char*& p, const char* end, int64_t& out, int max_bytes) {
  if (end - p >= 2) [[likely]] {
    // One or two bytes cover nearly every field of a record: decode them without a loop.
    const uint32_t b0 = static_cast<uint8_t>(p[0]);
    const uint32_t b1 = static_cast<uint8_t>(p[1]);
    if (b0 < 0x80) {
      out = zigzag_decode(b0);
      p += 1;
      return true;
    }
    if (b1 < 0x80) {
      out = zigzag_decode((b0 & 0x7f) | (b1 << 7));
      p += 2;
      return true;
    }
  }
  return varint_slow(p, end, max_bytes, out);
}

// A length varint (-1 = null) and that many bytes, skipped.
inline bool skip_bytes(const char*& p, const char* end, bool nullable) {
  int64_t len;
  if (!varint(p, end, len, kMaxVarint32Bytes) || len < (nullable ? -1 : 0) || len > end - p) {
    return false;
  }
  if (len > 0) p += len;
  return true;
}

// validate_batch's fast path for uncompressed batches (the append hot path): the same checks
// as RecordIterator::next — every length within bounds, offset deltas increasing and within
// lastOffsetDelta, timestamps representable, nothing left over — without materializing the
// records, on raw pointers (each record costs a few nanoseconds).
Result<int32_t> walk_records(const RecordBatchView& batch, bool require_dense) {
  const BatchHeader& h = batch.header();
  const ByteView records = batch.records_bytes();
  const char* p = records.data();
  const char* const end = p + records.size();
  auto malformed = [&](int32_t i, const char* what) {
    return corruption("record " + std::to_string(i) + " of the batch at offset " +
                      std::to_string(h.base_offset.value()) + " is malformed: " + what);
  };
  int64_t last_delta = -1;
  for (int32_t i = 0; i < h.record_count; ++i) {
    int64_t length;
    if (!varint(p, end, length, kMaxVarint32Bytes) || length < 1 || length > end - p) {
      return malformed(i, "bad record length");
    }
    const char* const record_end = p + length;
    ++p;  // attributes
    int64_t ts_delta, offset_delta, header_count;
    if (!varint(p, record_end, ts_delta, kMaxVarint64Bytes) ||
        !varint(p, record_end, offset_delta, kMaxVarint32Bytes) ||
        !skip_bytes(p, record_end, true) || !skip_bytes(p, record_end, true) ||
        !varint(p, record_end, header_count, kMaxVarint32Bytes) || header_count < 0) {
      return malformed(i, "fields run past the record's length");
    }
    if (offset_delta <= last_delta || offset_delta > h.last_offset_delta) {
      return malformed(i, "offset delta out of order");
    }
    int64_t ts;
    if (__builtin_add_overflow(h.base_timestamp.value(), ts_delta, &ts)) {
      return malformed(i, "timestamp delta overflows");
    }
    for (int64_t j = 0; j < header_count; ++j) {
      if (!skip_bytes(p, record_end, false) || !skip_bytes(p, record_end, true)) {
        return malformed(i, "bad header");
      }
    }
    if (p != record_end) return malformed(i, "bytes left over inside the record");
    if (require_dense && offset_delta != i) {
      return invalid_argument("record batch's offset deltas are not 0, 1, 2, ...");
    }
    last_delta = offset_delta;
  }
  if (p != end) return corruption("record batch has bytes after its last record");
  return h.record_count;
}

}  // namespace

std::string_view compression_name(Compression c) {
  switch (c) {
    case Compression::kNone:
      return "none";
    case Compression::kGzip:
      return "gzip";
    case Compression::kSnappy:
      return "snappy";
    case Compression::kLz4:
      return "lz4";
    case Compression::kZstd:
      return "zstd";
  }
  return "unknown";
}

Result<Compression> parse_compression(std::string_view name) {
  for (auto c : {Compression::kNone, Compression::kGzip, Compression::kSnappy, Compression::kLz4,
                 Compression::kZstd}) {
    if (name == compression_name(c)) return c;
  }
  return invalid_argument("unknown compression '" + std::string(name) + "': use none, lz4 or zstd");
}

// --- RecordBatchBuilder ---

RecordBatchBuilder::RecordBatchBuilder(BatchOptions options) : options_(options) { reset(); }

void RecordBatchBuilder::reset(const BatchOptions& options) {
  options_ = options;
  reset();
}

void RecordBatchBuilder::reset() {
  // build() hands the buffer out; start the next batch with room for one like the last.
  // Room for a batch like the last one, so that adding does not regrow the buffer.
  if (buf_.size() < last_size_ + last_size_ / 8) buf_.resize(last_size_ + last_size_ / 8);
  if (buf_.size() < kHeaderSize) buf_.resize(kHeaderSize);
  used_ = kHeaderSize;
  count_ = 0;
  last_offset_delta_ = -1;
  first_timestamp_ = kNoTimestamp;
  max_timestamp_ = kNoTimestamp;
}

void RecordBatchBuilder::add(const Record& record) { add(record, last_offset_delta_ + 1); }

void RecordBatchBuilder::add(const Record& record, int32_t offset_delta) {
  SLUICE_CHECK(offset_delta > last_offset_delta_);
  Timestamp ts = record.timestamp == kNoTimestamp ? options_.default_timestamp : record.timestamp;
  if (count_ == 0) first_timestamp_ = ts;
  if (ts > max_timestamp_) max_timestamp_ = ts;
  const Timestamp base = options_.delete_horizon ? *options_.delete_horizon : first_timestamp_;
  const int64_t ts_delta = ts - base;

  int body = 1 + varint_size(ts_delta) + varint_size(offset_delta) + nullable_size(record.key) +
             nullable_size(record.value) + varint_size(static_cast<int64_t>(record.headers.size()));
  for (const RecordHeader& h : record.headers) {
    body += varint_size(static_cast<int64_t>(h.key.size())) + static_cast<int>(h.key.size()) +
            nullable_size(h.value);
  }
  // Encode straight into the buffer: grown geometrically, written through a pointer, trimmed to
  // used_ by build(). (Appending field by field to the string costs several times more.)
  const size_t need = static_cast<size_t>(body) + kMaxVarint32Bytes;
  if (used_ + need > buf_.size()) buf_.resize(std::max(buf_.size() * 2, used_ + need));
  char* const start = buf_.data() + used_;
  char* p = start;
  p += put_uvarint(p, zigzag_encode(body));
  *p++ = '\0';  // record attributes: unused, always 0
  p += put_uvarint(p, zigzag_encode(ts_delta));
  p += put_uvarint(p, zigzag_encode(offset_delta));
  p = put_nullable(p, record.key);
  p = put_nullable(p, record.value);
  p += put_uvarint(p, zigzag_encode(static_cast<int64_t>(record.headers.size())));
  for (const RecordHeader& h : record.headers) {
    p += put_uvarint(p, zigzag_encode(static_cast<int64_t>(h.key.size())));
    std::memcpy(p, h.key.data(), h.key.size());
    p += h.key.size();
    p = put_nullable(p, h.value);
  }
  used_ += static_cast<size_t>(p - start);
  ++count_;
  last_offset_delta_ = offset_delta;
}

void RecordBatchBuilder::set_last_offset_delta(int32_t delta) {
  SLUICE_CHECK(delta >= last_offset_delta_);
  last_offset_delta_ = delta;
}

Result<Bytes> RecordBatchBuilder::build(Offset base_offset) {
  if (count_ == 0) return invalid_argument("cannot build a record batch with no records");
  buf_.resize(used_);
  if (options_.compression != Compression::kNone) {
    Bytes compressed(kHeaderSize, '\0');
    SLUICE_RETURN_IF_ERROR(
        compress(options_.compression, ByteView(buf_).substr(kHeaderSize), compressed));
    buf_.swap(compressed);
  }
  if (buf_.size() - kLogOverhead > static_cast<size_t>(kMaxBatchLength)) {
    return invalid_argument("record batch of " + std::to_string(buf_.size()) +
                            " bytes exceeds the limit of " + std::to_string(kMaxBatchLength));
  }
  char* p = buf_.data();
  const Timestamp base_ts = options_.delete_horizon ? *options_.delete_horizon : first_timestamp_;
  store_be<int64_t>(p + kBaseOffsetPos, base_offset.value());
  store_be<int32_t>(p + kBatchLengthPos, static_cast<int32_t>(buf_.size() - kLogOverhead));
  store_be<int32_t>(p + kPartitionLeaderEpochPos, options_.partition_leader_epoch);
  p[kMagicPos] = kMagic;
  store_be<int16_t>(p + kAttributesPos, attributes_for(options_));
  store_be<int32_t>(p + kLastOffsetDeltaPos, last_offset_delta_);
  store_be<int64_t>(p + kBaseTimestampPos, base_ts.value());
  store_be<int64_t>(p + kMaxTimestampPos, max_timestamp_.value());
  store_be<int64_t>(p + kProducerIdPos, options_.producer_id.value());
  store_be<int16_t>(p + kProducerEpochPos, options_.producer_epoch.value());
  store_be<int32_t>(p + kBaseSequencePos, options_.base_sequence.value());
  store_be<int32_t>(p + kRecordCountPos, count_);
  store_be<uint32_t>(p + kCrcPos, crc_of(p, buf_.size()));
  last_size_ = buf_.size();
  Bytes out;
  out.swap(buf_);
  return out;
}

size_t estimated_batch_bytes(std::span<const Record> records) {
  size_t total = 0;
  for (const Record& r : records) {
    total += 24 + (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0);
    for (const RecordHeader& h : r.headers) {
      total += 10 + h.key.size() + (h.value ? h.value->size() : 0);
    }
  }
  return total;
}

// --- Parsing ---

Sequence BatchHeader::last_sequence() const {
  if (base_sequence == kNoSequence) return kNoSequence;
  int64_t last = static_cast<int64_t>(base_sequence.value()) + last_offset_delta;
  if (last > INT32_MAX) last -= static_cast<int64_t>(INT32_MAX) + 1;
  return Sequence(static_cast<int32_t>(last));
}

Result<BatchHeader> parse_batch_header(ByteView bytes) {
  if (bytes.size() < kHeaderSize) {
    return out_of_range("record batch header needs " + std::to_string(kHeaderSize) +
                        " bytes, have " + std::to_string(bytes.size()));
  }
  const char* p = bytes.data();
  BatchHeader h;
  h.base_offset = Offset(load_be<int64_t>(p + kBaseOffsetPos));
  h.batch_length = load_be<int32_t>(p + kBatchLengthPos);
  h.partition_leader_epoch = load_be<int32_t>(p + kPartitionLeaderEpochPos);
  h.magic = static_cast<int8_t>(p[kMagicPos]);
  h.crc = load_be<uint32_t>(p + kCrcPos);
  h.attributes = load_be<int16_t>(p + kAttributesPos);
  h.last_offset_delta = load_be<int32_t>(p + kLastOffsetDeltaPos);
  h.base_timestamp = Timestamp(load_be<int64_t>(p + kBaseTimestampPos));
  h.max_timestamp = Timestamp(load_be<int64_t>(p + kMaxTimestampPos));
  h.producer_id = ProducerId(load_be<int64_t>(p + kProducerIdPos));
  h.producer_epoch = ProducerEpoch(load_be<int16_t>(p + kProducerEpochPos));
  h.base_sequence = Sequence(load_be<int32_t>(p + kBaseSequencePos));
  h.record_count = load_be<int32_t>(p + kRecordCountPos);
  if (h.magic != kMagic) {
    return corruption("record batch has magic " + std::to_string(h.magic) + ", expected 2");
  }
  if (h.batch_length < kMinBatchLength || h.batch_length > kMaxBatchLength) {
    return corruption("record batch has an impossible length of " + std::to_string(h.batch_length));
  }
  if (h.last_offset_delta < 0 || h.record_count < 0) {
    return corruption("record batch has a negative record count or last offset delta");
  }
  // baseOffset is not covered by the CRC: keep every offset of the batch representable.
  if (h.base_offset.value() < 0 || h.base_offset.value() > INT64_MAX - 1 - h.last_offset_delta) {
    return corruption("record batch has an impossible base offset " +
                      std::to_string(h.base_offset.value()));
  }
  return h;
}

Result<RecordBatchView> RecordBatchView::parse(ByteView bytes) {
  SLUICE_ASSIGN_OR_RETURN(BatchHeader h, parse_batch_header(bytes));
  if (bytes.size() < h.size_bytes()) {
    return out_of_range("record batch of " + std::to_string(h.size_bytes()) +
                        " bytes is truncated to " + std::to_string(bytes.size()));
  }
  return RecordBatchView(h, bytes.substr(0, h.size_bytes()));
}

Status RecordBatchView::verify_crc() const {
  uint32_t actual = crc_of(bytes_.data(), bytes_.size());
  if (actual != header_.crc) {
    char buf[96];
    std::snprintf(buf, sizeof(buf), "record batch CRC mismatch (stored %08x, computed %08x)",
                  header_.crc, actual);
    return corruption(buf);
  }
  return Status();
}

// --- RecordIterator ---

Result<RecordIterator> RecordIterator::open(const RecordBatchView& batch) {
  RecordIterator it;
  it.header_ = batch.header();
  if (it.header_.compression() == Compression::kNone) {
    it.source_ = batch.records_bytes();
  } else {
    it.compressed_ = true;
    SLUICE_RETURN_IF_ERROR(decompress(it.header_.compression(), batch.records_bytes(),
                                      it.decompressed_, kMaxDecompressedSize));
  }
  return it;
}

Result<bool> RecordIterator::next(RecordView& out) {
  if (seen_ == header_.record_count) {
    if (!remaining().empty()) {
      return corruption("record batch has bytes after its last record");
    }
    return false;
  }
  auto malformed = [&](const char* what) {
    return corruption("record " + std::to_string(seen_) + " of the batch at offset " +
                      std::to_string(header_.base_offset.value()) + " is malformed: " + what);
  };
  const ByteView records = remaining();
  ByteReader in(records);
  int32_t length;
  if (!in.get_varint32(length) || length < 0 || static_cast<size_t>(length) > in.remaining()) {
    return malformed("bad record length");
  }
  ByteView body_bytes;
  (void)in.get_bytes(static_cast<size_t>(length), body_bytes);
  pos_ += static_cast<size_t>(in.position() - records.data());

  ByteReader body(body_bytes);
  int8_t attributes;
  int64_t ts_delta;
  int32_t offset_delta;
  int32_t header_count;
  if (!body.get_be(attributes) || !body.get_varint(ts_delta) || !body.get_varint32(offset_delta) ||
      !body.get_nullable_bytes(out.key) || !body.get_nullable_bytes(out.value) ||
      !body.get_varint32(header_count) || header_count < 0) {
    return malformed("fields run past the record's length");
  }
  if (offset_delta <= last_delta_ || offset_delta > header_.last_offset_delta) {
    return malformed("offset delta out of order");
  }
  headers_.clear();
  for (int32_t i = 0; i < header_count; ++i) {
    int32_t key_len;
    RecordHeader h;
    if (!body.get_varint32(key_len) || key_len < 0 ||
        !body.get_bytes(static_cast<size_t>(key_len), h.key) || !body.get_nullable_bytes(h.value)) {
      return malformed("bad header");
    }
    headers_.push_back(h);
  }
  if (body.remaining() != 0) return malformed("bytes left over inside the record");
  last_delta_ = offset_delta;
  ++seen_;
  int64_t ts = header_.max_timestamp.value();
  if (header_.timestamp_type() == TimestampType::kCreateTime &&
      __builtin_add_overflow(header_.base_timestamp.value(), ts_delta, &ts)) {
    return malformed("timestamp delta overflows");
  }
  out.offset_delta = offset_delta;
  out.offset = header_.base_offset + offset_delta;  // parse_batch_header bounds base_offset
  out.timestamp = Timestamp(ts);
  out.headers = headers_;
  return true;
}

Result<int32_t> validate_batch(const RecordBatchView& batch, bool require_dense) {
  SLUICE_RETURN_IF_ERROR(batch.verify_crc());
  const BatchHeader& h = batch.header();
  if (h.record_count == 0) return corruption("record batch holds no records");
  if (require_dense && h.last_offset_delta != h.record_count - 1) {
    return invalid_argument("record batch's lastOffsetDelta " +
                            std::to_string(h.last_offset_delta) + " does not match its " +
                            std::to_string(h.record_count) + " records");
  }
  if (h.compression() == Compression::kNone) return walk_records(batch, require_dense);
  SLUICE_ASSIGN_OR_RETURN(RecordIterator it, RecordIterator::open(batch));
  RecordView r;
  int32_t n = 0;
  while (true) {
    SLUICE_ASSIGN_OR_RETURN(bool more, it.next(r));
    if (!more) break;
    if (require_dense && r.offset_delta != n) {
      return invalid_argument("record batch's offset deltas are not 0, 1, 2, ...");
    }
    ++n;
  }
  return n;
}

void set_base_offset(char* batch, Offset base_offset) {
  store_be<int64_t>(batch + kBaseOffsetPos, base_offset.value());
}

void set_log_append_time(char* batch, size_t size, Timestamp now) {
  int16_t attrs = load_be<int16_t>(batch + kAttributesPos);
  store_be<int16_t>(batch + kAttributesPos, static_cast<int16_t>(attrs | kTimestampTypeBit));
  store_be<int64_t>(batch + kMaxTimestampPos, now.value());
  store_be<uint32_t>(batch + kCrcPos, crc_of(batch, size));
}

// --- Control batches ---

Bytes build_control_batch(ControlType type, ProducerId producer_id, ProducerEpoch epoch,
                          int32_t coordinator_epoch, Timestamp timestamp) {
  char key[kControlKeySize];
  store_be<int16_t>(key, 0);
  store_be<int16_t>(key + 2, static_cast<int16_t>(type));
  char value[kControlValueSize];
  store_be<int16_t>(value, 0);
  store_be<int32_t>(value + 2, coordinator_epoch);
  RecordBatchBuilder builder({.producer_id = producer_id,
                              .producer_epoch = epoch,
                              .transactional = true,
                              .control = true,
                              .default_timestamp = timestamp});
  builder.add(Record{.key = ByteView(key, sizeof(key)), .value = ByteView(value, sizeof(value))});
  auto built = builder.build();
  SLUICE_CHECK(built.ok());  // one small uncompressed record cannot fail
  return std::move(built).value();
}

Result<ControlRecord> read_control_record(const RecordBatchView& batch) {
  if (!batch.header().control()) return invalid_argument("not a control batch");
  SLUICE_ASSIGN_OR_RETURN(RecordIterator it, RecordIterator::open(batch));
  RecordView r;
  SLUICE_ASSIGN_OR_RETURN(bool has, it.next(r));
  if (!has || !r.key || r.key->size() < kControlKeySize) {
    return corruption("control batch at offset " +
                      std::to_string(batch.header().base_offset.value()) +
                      " has no valid control record");
  }
  int16_t type = load_be<int16_t>(r.key->data() + 2);
  if (type != kControlAbort && type != kControlCommit) {
    return corruption("control record has unknown type " + std::to_string(type));
  }
  ControlRecord out;
  out.type = static_cast<ControlType>(type);
  if (r.value && r.value->size() >= kControlValueSize) {
    out.coordinator_epoch = load_be<int32_t>(r.value->data() + 2);
  }
  return out;
}

}  // namespace sluice::logstore
