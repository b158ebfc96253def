// Tests of the record batch format (Kafka RecordBatch v2): encoding against hand-computed bytes,
// decoding bytes written by an independent implementation (librdkafka), compression, and the
// catalogue of malformed input the decoder must reject.
#include "sluice/logstore/record_batch.h"

#include <gtest/gtest.h>
#include <lz4.h>
#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "compression.h"
#include "sluice/base/bytes.h"
#include "sluice/base/crc32c.h"
#include "sluice/logstore/batch_format.h"

namespace sluice::logstore {
namespace {

using namespace format;

// --- Helpers ---

// CRC-32C a bit at a time, straight from the definition (reflected polynomial 0x82F63B78): an
// implementation that shares nothing with sluice::crc32c.
uint32_t bitwise_crc32c(ByteView data) {
  uint32_t r = 0xFFFFFFFFu;
  for (char c : data) {
    r ^= static_cast<uint8_t>(c);
    for (int bit = 0; bit < 8; ++bit) r = (r >> 1) ^ ((r & 1) ? 0x82F63B78u : 0);
  }
  return ~r;
}

template <size_t N>
ByteView view_of(const uint8_t (&bytes)[N]) {
  return ByteView(reinterpret_cast<const char*>(bytes), N);
}

// The bytes as "0a 1b ...", so that a mismatch shows where the encodings part.
std::string hex(ByteView bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes) {
    auto b = static_cast<uint8_t>(c);
    if (!out.empty()) out.push_back(' ');
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
  return out;
}

// Recomputes the CRC of an encoded batch after a test has edited it, so that the edit is what
// the decoder sees and not a checksum mismatch.
void reseal(Bytes& batch) {
  store_be<uint32_t>(batch.data() + kCrcPos, crc32c::value(ByteView(batch).substr(kAttributesPos)));
}

Bytes build(const BatchOptions& options, const std::vector<Record>& records,
            Offset base_offset = Offset(0)) {
  RecordBatchBuilder builder(options);
  for (const Record& r : records) builder.add(r);
  Result<Bytes> built = builder.build(base_offset);
  EXPECT_TRUE(built.ok()) << built.status().to_string();
  return built.ok() ? std::move(built).value() : Bytes();
}

// A decoded record with its bytes copied out of the iterator.
struct Decoded {
  int64_t offset = 0;
  int32_t offset_delta = 0;
  int64_t timestamp = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

std::optional<std::string> owned(const std::optional<ByteView>& v) {
  return v ? std::optional<std::string>(*v) : std::nullopt;
}

// Decodes every record of `batch`; any failure on the way fails the test.
std::vector<Decoded> decode_all(ByteView batch) {
  std::vector<Decoded> out;
  Result<RecordBatchView> view = RecordBatchView::parse(batch);
  EXPECT_TRUE(view.ok()) << view.status().to_string();
  if (!view.ok()) return out;
  Result<RecordIterator> it = RecordIterator::open(*view);
  EXPECT_TRUE(it.ok()) << it.status().to_string();
  if (!it.ok()) return out;
  RecordView r;
  while (true) {
    Result<bool> more = it->next(r);
    EXPECT_TRUE(more.ok()) << more.status().to_string();
    if (!more.ok() || !*more) break;
    Decoded d{.offset = r.offset.value(),
              .offset_delta = r.offset_delta,
              .timestamp = r.timestamp.value(),
              .key = owned(r.key),
              .value = owned(r.value)};
    for (const RecordHeader& h : r.headers) d.headers.emplace_back(h.key, owned(h.value));
    out.push_back(std::move(d));
  }
  return out;
}

// The first error met reading `batch` from its header to past its last record (CRC not
// checked), or OK.
Status read_all(ByteView batch) {
  SLUICE_ASSIGN_OR_RETURN(RecordBatchView view, RecordBatchView::parse(batch));
  SLUICE_ASSIGN_OR_RETURN(RecordIterator it, RecordIterator::open(view));
  RecordView r;
  while (true) {
    SLUICE_ASSIGN_OR_RETURN(bool more, it.next(r));
    if (!more) return Status();
  }
}

StatusCode read_all_code(ByteView batch) { return read_all(batch).code(); }

// A batch with a valid header (CRC included) around hand-written record bytes, for tests where
// only the records are wrong.
Bytes batch_around(ByteView records, int32_t record_count, int32_t last_offset_delta,
                   int16_t attributes = 0) {
  Bytes b(kHeaderSize, '\0');
  b.append(records);
  char* p = b.data();
  store_be<int64_t>(p + kBaseOffsetPos, 500);
  store_be<int32_t>(p + kBatchLengthPos, static_cast<int32_t>(b.size() - kLogOverhead));
  store_be<int32_t>(p + kPartitionLeaderEpochPos, 0);
  p[kMagicPos] = kMagic;
  store_be<int16_t>(p + kAttributesPos, attributes);
  store_be<int32_t>(p + kLastOffsetDeltaPos, last_offset_delta);
  store_be<int64_t>(p + kBaseTimestampPos, 1000);
  store_be<int64_t>(p + kMaxTimestampPos, 1000);
  store_be<int64_t>(p + kProducerIdPos, -1);
  store_be<int16_t>(p + kProducerEpochPos, -1);
  store_be<int32_t>(p + kBaseSequencePos, -1);
  store_be<int32_t>(p + kRecordCountPos, record_count);
  reseal(b);
  return b;
}

// One record's bytes: null key, value "v", no headers, then `extra` inside the record; its
// length prefix is the true body length plus `length_error`.
Bytes raw_record(int32_t offset_delta, int64_t timestamp_delta = 0, ByteView extra = {},
                 int64_t length_error = 0) {
  Bytes body;
  body.push_back('\0');  // attributes
  append_varint(body, timestamp_delta);
  append_varint(body, offset_delta);
  append_varint(body, -1);  // null key
  append_varint(body, 1);
  body.push_back('v');
  append_varint(body, 0);  // no headers
  body.append(extra);
  Bytes out;
  append_varint(out, static_cast<int64_t>(body.size()) + length_error);
  out.append(body);
  return out;
}

// --- 1. The format, against bytes computed by hand ---

// Two records, one with headers, one with a null key; written out byte by byte from the Kafka
// "Message Format" page. The CRC was computed over bytes 21..96 with a bit-at-a-time CRC-32C
// (the bitwise_crc32c above, and separately in Python): 0x2D9244A0.
// clang-format off
constexpr uint8_t kHandBatch[] = {
    // --- batch header: 61 bytes ---
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xE8,  //  0 baseOffset = 1000
    0x00, 0x00, 0x00, 0x55,                          //  8 batchLength = 85 (97 bytes - 12)
    0x00, 0x00, 0x00, 0x07,                          // 12 partitionLeaderEpoch = 7
    0x02,                                            // 16 magic = 2
    0x2D, 0x92, 0x44, 0xA0,                          // 17 crc = CRC-32C(bytes 21..96)
    0x00, 0x00,                                      // 21 attributes: none, create time
    0x00, 0x00, 0x00, 0x01,                          // 23 lastOffsetDelta = 1
    0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE5, 0x68, 0x00,  // 27 baseTimestamp = 1700000000000
    0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE5, 0x68, 0xFA,  // 35 maxTimestamp = 1700000000250
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x92,  // 43 producerId = 4242
    0x00, 0x03,                                      // 51 producerEpoch = 3
    0x00, 0x00, 0x00, 0x11,                          // 53 baseSequence = 17
    0x00, 0x00, 0x00, 0x02,                          // 57 recordCount = 2
    // --- record 0: 28 bytes ---
    0x36,                                            // 61 length = 27 (zig-zag 54)
    0x00,                                            //    attributes
    0x00,                                            //    timestampDelta = 0
    0x00,                                            //    offsetDelta = 0
    0x00,                                            //    keyLength = 0: empty, not null
    0x0A, 'h', 'e', 'l', 'l', 'o',                   //    valueLength = 5, "hello"
    0x04,                                            //    headerCount = 2
    0x0A, 't', 'r', 'a', 'c', 'e',                   //    header 0 keyLength = 5, "trace"
    0x06, 't', '-', '1',                             //      valueLength = 3, "t-1"
    0x08, 'g', 'o', 'n', 'e',                        //    header 1 keyLength = 4, "gone"
    0x01,                                            //      valueLength = -1: null
    // --- record 1: 8 bytes ---
    0x0E,                                            // 89 length = 7 (zig-zag 14)
    0x00,                                            //    attributes
    0xF4, 0x03,                                      //    timestampDelta = 250 (zig-zag 500)
    0x02,                                            //    offsetDelta = 1
    0x01,                                            //    keyLength = -1: null key
    0x01,                                            //    valueLength = -1: null value
    0x00,                                            //    headerCount = 0
};
// clang-format on
constexpr uint32_t kHandBatchCrc = 0x2D9244A0;

const std::array<RecordHeader, 2> kHandHeaders = {
    RecordHeader{.key = "trace", .value = ByteView("t-1")},
    RecordHeader{.key = "gone", .value = std::nullopt}};

const BatchOptions kHandOptions = {.producer_id = ProducerId(4242),
                                   .producer_epoch = ProducerEpoch(3),
                                   .base_sequence = Sequence(17),
                                   .partition_leader_epoch = 7};

std::vector<Record> hand_records() {
  return {
      Record{.key = ByteView(""),
             .value = ByteView("hello"),
             .timestamp = Timestamp(1700000000000),
             .headers = kHandHeaders},
      Record{.key = std::nullopt, .value = std::nullopt, .timestamp = Timestamp(1700000000250)}};
}

TEST(RecordBatchTest, HandComputedCrcMatchesBitwiseAndLibraryCrc32c) {
  ByteView covered = view_of(kHandBatch).substr(kAttributesPos);
  EXPECT_EQ(bitwise_crc32c("123456789"), 0xE3069283u);  // the reference is CRC-32C
  EXPECT_EQ(bitwise_crc32c(covered), kHandBatchCrc);
  EXPECT_EQ(crc32c::value(covered), kHandBatchCrc);
  EXPECT_EQ(load_be<uint32_t>(view_of(kHandBatch).data() + kCrcPos), kHandBatchCrc);
}

TEST(RecordBatchTest, EncodesTwoRecordBatchToHandComputedBytes) {
  Bytes built = build(kHandOptions, hand_records(), Offset(1000));
  EXPECT_EQ(hex(built), hex(view_of(kHandBatch)));
}

TEST(RecordBatchTest, DecodesEveryHeaderFieldOfHandComputedBatch) {
  Result<BatchHeader> h = parse_batch_header(view_of(kHandBatch));
  ASSERT_TRUE(h.ok()) << h.status().to_string();
  EXPECT_EQ(h->base_offset, Offset(1000));
  EXPECT_EQ(h->batch_length, 85);
  EXPECT_EQ(h->size_bytes(), sizeof(kHandBatch));
  EXPECT_EQ(h->partition_leader_epoch, 7);
  EXPECT_EQ(h->magic, 2);
  EXPECT_EQ(h->crc, kHandBatchCrc);
  EXPECT_EQ(h->attributes, 0);
  EXPECT_EQ(h->compression(), Compression::kNone);
  EXPECT_EQ(h->timestamp_type(), TimestampType::kCreateTime);
  EXPECT_FALSE(h->transactional());
  EXPECT_FALSE(h->control());
  EXPECT_FALSE(h->has_delete_horizon());
  EXPECT_EQ(h->last_offset_delta, 1);
  EXPECT_EQ(h->last_offset(), Offset(1001));
  EXPECT_EQ(h->next_offset(), Offset(1002));
  EXPECT_EQ(h->base_timestamp, Timestamp(1700000000000));
  EXPECT_EQ(h->max_timestamp, Timestamp(1700000000250));
  EXPECT_EQ(h->producer_id, ProducerId(4242));
  EXPECT_TRUE(h->has_producer());
  EXPECT_EQ(h->producer_epoch, ProducerEpoch(3));
  EXPECT_EQ(h->base_sequence, Sequence(17));
  EXPECT_EQ(h->last_sequence(), Sequence(18));
  EXPECT_EQ(h->record_count, 2);
}

TEST(RecordBatchTest, ViewOfHandComputedBatchPassesCrcAndValidation) {
  Result<RecordBatchView> view = RecordBatchView::parse(view_of(kHandBatch));
  ASSERT_TRUE(view.ok()) << view.status().to_string();
  EXPECT_EQ(view->bytes().size(), sizeof(kHandBatch));
  EXPECT_EQ(view->records_bytes(), view_of(kHandBatch).substr(kHeaderSize));
  EXPECT_TRUE(view->verify_crc().ok());
  Result<int32_t> n = validate_batch(*view, /*require_dense=*/true);
  ASSERT_TRUE(n.ok()) << n.status().to_string();
  EXPECT_EQ(*n, 2);
}

TEST(RecordBatchTest, ViewEndsAtBatchLengthWhenMoreBytesFollow) {
  Bytes two(view_of(kHandBatch));
  two.append(view_of(kHandBatch));
  Result<RecordBatchView> view = RecordBatchView::parse(two);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->bytes().size(), sizeof(kHandBatch));
  EXPECT_TRUE(view->verify_crc().ok());
}

TEST(RecordBatchTest, DecodesEveryRecordFieldOfHandComputedBatch) {
  std::vector<Decoded> records = decode_all(view_of(kHandBatch));
  ASSERT_EQ(records.size(), 2u);

  EXPECT_EQ(records[0].offset, 1000);
  EXPECT_EQ(records[0].offset_delta, 0);
  EXPECT_EQ(records[0].timestamp, 1700000000000);
  ASSERT_TRUE(records[0].key.has_value());  // empty, not null
  EXPECT_EQ(*records[0].key, "");
  EXPECT_EQ(records[0].value, "hello");
  ASSERT_EQ(records[0].headers.size(), 2u);
  EXPECT_EQ(records[0].headers[0].first, "trace");
  EXPECT_EQ(records[0].headers[0].second, "t-1");
  EXPECT_EQ(records[0].headers[1].first, "gone");
  EXPECT_EQ(records[0].headers[1].second, std::nullopt);

  EXPECT_EQ(records[1].offset, 1001);
  EXPECT_EQ(records[1].offset_delta, 1);
  EXPECT_EQ(records[1].timestamp, 1700000000250);  // baseTimestamp + delta 250
  EXPECT_EQ(records[1].key, std::nullopt);
  EXPECT_EQ(records[1].value, std::nullopt);
  EXPECT_TRUE(records[1].headers.empty());
}

TEST(RecordBatchTest, IteratorKeepsReturningFalseAfterLastRecord) {
  Result<RecordBatchView> view = RecordBatchView::parse(view_of(kHandBatch));
  ASSERT_TRUE(view.ok());
  Result<RecordIterator> it = RecordIterator::open(*view);
  ASSERT_TRUE(it.ok());
  RecordView r;
  EXPECT_TRUE(it->next(r).value());
  EXPECT_TRUE(it->next(r).value());
  EXPECT_FALSE(it->next(r).value());
  EXPECT_FALSE(it->next(r).value());
}

TEST(RecordBatchTest, RecordsWithoutTimestampTakeBuilderDefault) {
  Bytes b = build({.default_timestamp = Timestamp(777)},
                  {Record{.value = ByteView("a")},
                   Record{.value = ByteView("b"), .timestamp = Timestamp(800)}});
  BatchHeader h = parse_batch_header(b).value();
  EXPECT_EQ(h.base_timestamp, Timestamp(777));
  EXPECT_EQ(h.max_timestamp, Timestamp(800));
  std::vector<Decoded> records = decode_all(b);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].timestamp, 777);
  EXPECT_EQ(records[1].timestamp, 800);
}

TEST(RecordBatchTest, MaxTimestampIsLargestNotLast) {
  Bytes b = build({}, {Record{.value = ByteView("a"), .timestamp = Timestamp(5000)},
                       Record{.value = ByteView("b"), .timestamp = Timestamp(9000)},
                       Record{.value = ByteView("c"), .timestamp = Timestamp(1000)}});
  BatchHeader h = parse_batch_header(b).value();
  EXPECT_EQ(h.base_timestamp, Timestamp(5000));
  EXPECT_EQ(h.max_timestamp, Timestamp(9000));
  std::vector<Decoded> records = decode_all(b);
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[2].timestamp, 1000);  // a negative delta
}

TEST(RecordBatchTest, BuilderRefusesEmptyBatch) {
  RecordBatchBuilder builder;
  Result<Bytes> built = builder.build();
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.status().code(), StatusCode::kInvalidArgument);
}

TEST(RecordBatchTest, BuilderIsReusableAfterReset) {
  RecordBatchBuilder builder(kHandOptions);
  builder.add(Record{.value = ByteView("first"), .timestamp = Timestamp(1)});
  ASSERT_TRUE(builder.build().ok());
  builder.reset();
  EXPECT_TRUE(builder.empty());
  for (const Record& r : hand_records()) builder.add(r);
  Result<Bytes> built = builder.build(Offset(1000));
  ASSERT_TRUE(built.ok());
  EXPECT_EQ(hex(*built), hex(view_of(kHandBatch)));
}

// --- 2. An independent implementation: bytes written by librdkafka ---

// A RecordBatch v2 as librdkafka 2.0.2 (Debian 12 package librdkafka1 2.0.2-1) encodes it,
// captured off the wire. How:
//   * A C program created a producer with test.mock.num.brokers=1, compression.codec=none,
//     enable.idempotence=false, linger.ms=50, acks=all; created topic "sluice-fixture" (1
//     partition) with rd_kafka_mock_topic_create; then called rd_kafka_producev twice:
//       TOPIC("sluice-fixture"), PARTITION(0), KEY("key-0", 5), VALUE("value-0", 7),
//         HEADER("trace", "abc", 3), TIMESTAMP(1700000000000), MSGFLAGS(RD_KAFKA_MSG_F_COPY)
//       TOPIC("sluice-fixture"), PARTITION(0), VALUE("value-1", 7), HEADER("h", NULL, 0),
//         TIMESTAMP(1700000000007), MSGFLAGS(RD_KAFKA_MSG_F_COPY)
//     and rd_kafka_flush.
//   * `tshark -i lo -w x.pcap` ran meanwhile (tshark 4.0, Debian 12).
//     `tshark -r x.pcap -Y frame.number==12 -T fields -e tcp.payload` printed the Produce v7
//     request: 000000a4 (size) 0000 (api key 0) 0007 (v7) 00000004 (correlation id) 0007
//     "rdkafka" (client id) ffff (no transactional id) ffff (acks -1) 00007530 (timeout) 00000001
//     (1 topic) 000e "sluice-fixture" 00000001 (1 partition) 00000000 (partition 0) 0000006b
//     (records: 107 bytes), then the 107 bytes below, verbatim.
// Every field is as our builder writes it for the same records, including partitionLeaderEpoch
// 0 (librdkafka writes 0, not -1) and producer id/epoch/sequence -1 (not idempotent).
// clang-format off
constexpr uint8_t kLibrdkafkaBatch[] = {
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // baseOffset = 0 (the broker assigns)
    0x00, 0x00, 0x00, 0x5f,                          // batchLength = 95
    0x00, 0x00, 0x00, 0x00,                          // partitionLeaderEpoch = 0
    0x02,                                            // magic = 2
    0x56, 0x54, 0xa3, 0x6a,                          // crc
    0x00, 0x00,                                      // attributes = 0
    0x00, 0x00, 0x00, 0x01,                          // lastOffsetDelta = 1
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00,  // baseTimestamp = 1700000000000
    0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x07,  // maxTimestamp = 1700000000007
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  // producerId = -1
    0xff, 0xff,                                      // producerEpoch = -1
    0xff, 0xff, 0xff, 0xff,                          // baseSequence = -1
    0x00, 0x00, 0x00, 0x02,                          // recordCount = 2
    0x38, 0x00, 0x00, 0x00,                          // length 28, attributes, ts 0, offset 0
    0x0a, 0x6b, 0x65, 0x79, 0x2d, 0x30,              // key "key-0"
    0x0e, 0x76, 0x61, 0x6c, 0x75, 0x65, 0x2d, 0x30,  // value "value-0"
    0x02, 0x0a, 0x74, 0x72, 0x61, 0x63, 0x65,        // 1 header: "trace"
    0x06, 0x61, 0x62, 0x63,                          //   = "abc"
    0x20, 0x00, 0x0e, 0x02,                          // length 16, attributes, ts 7, offset 1
    0x01,                                            // null key
    0x0e, 0x76, 0x61, 0x6c, 0x75, 0x65, 0x2d, 0x31,  // value "value-1"
    0x02, 0x02, 0x68, 0x01,                          // 1 header: "h" = null
};
// clang-format on

TEST(RecordBatchTest, ParsesLibrdkafkaBatchHeader) {
  Result<RecordBatchView> view = RecordBatchView::parse(view_of(kLibrdkafkaBatch));
  ASSERT_TRUE(view.ok()) << view.status().to_string();
  const BatchHeader& h = view->header();
  EXPECT_EQ(h.base_offset, Offset(0));
  EXPECT_EQ(h.size_bytes(), sizeof(kLibrdkafkaBatch));
  EXPECT_EQ(h.partition_leader_epoch, 0);
  EXPECT_EQ(h.magic, 2);
  EXPECT_EQ(h.crc, 0x5654a36au);
  EXPECT_EQ(bitwise_crc32c(view_of(kLibrdkafkaBatch).substr(kAttributesPos)), 0x5654a36au);
  EXPECT_TRUE(view->verify_crc().ok());
  EXPECT_EQ(h.attributes, 0);
  EXPECT_EQ(h.last_offset_delta, 1);
  EXPECT_EQ(h.base_timestamp, Timestamp(1700000000000));
  EXPECT_EQ(h.max_timestamp, Timestamp(1700000000007));
  EXPECT_EQ(h.producer_id, kNoProducerId);
  EXPECT_FALSE(h.has_producer());
  EXPECT_EQ(h.producer_epoch, kNoProducerEpoch);
  EXPECT_EQ(h.base_sequence, kNoSequence);
  EXPECT_EQ(h.last_sequence(), kNoSequence);
  EXPECT_EQ(h.record_count, 2);
  EXPECT_EQ(validate_batch(*view, /*require_dense=*/true).value_or(-1), 2);
}

TEST(RecordBatchTest, DecodesLibrdkafkaRecords) {
  std::vector<Decoded> records = decode_all(view_of(kLibrdkafkaBatch));
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].offset, 0);
  EXPECT_EQ(records[0].timestamp, 1700000000000);
  EXPECT_EQ(records[0].key, "key-0");
  EXPECT_EQ(records[0].value, "value-0");
  ASSERT_EQ(records[0].headers.size(), 1u);
  EXPECT_EQ(records[0].headers[0].first, "trace");
  EXPECT_EQ(records[0].headers[0].second, "abc");

  EXPECT_EQ(records[1].offset, 1);
  EXPECT_EQ(records[1].timestamp, 1700000000007);
  EXPECT_EQ(records[1].key, std::nullopt);
  EXPECT_EQ(records[1].value, "value-1");
  ASSERT_EQ(records[1].headers.size(), 1u);
  EXPECT_EQ(records[1].headers[0].first, "h");
  EXPECT_EQ(records[1].headers[0].second, std::nullopt);
}

TEST(RecordBatchTest, BuilderReproducesLibrdkafkaBytes) {
  const std::array<RecordHeader, 1> h0 = {RecordHeader{.key = "trace", .value = ByteView("abc")}};
  const std::array<RecordHeader, 1> h1 = {RecordHeader{.key = "h", .value = std::nullopt}};
  Bytes built = build({}, {Record{.key = ByteView("key-0"),
                                  .value = ByteView("value-0"),
                                  .timestamp = Timestamp(1700000000000),
                                  .headers = h0},
                           Record{.key = std::nullopt,
                                  .value = ByteView("value-1"),
                                  .timestamp = Timestamp(1700000000007),
                                  .headers = h1}});
  EXPECT_EQ(hex(built), hex(view_of(kLibrdkafkaBatch)));
}

// --- 3. Compression ---

class RecordBatchCodecTest : public testing::TestWithParam<Compression> {};

INSTANTIATE_TEST_SUITE_P(EveryKafkaCodec, RecordBatchCodecTest,
                         testing::Values(Compression::kGzip, Compression::kSnappy,
                                         Compression::kLz4, Compression::kZstd),
                         [](const testing::TestParamInfo<Compression>& info) {
                           return std::string(compression_name(info.param));
                         });

std::vector<Record> sample_records(const std::vector<std::string>& values) {
  std::vector<Record> out;
  for (size_t i = 0; i < values.size(); ++i) {
    out.push_back(Record{.key = i % 3 == 0 ? std::nullopt : std::optional<ByteView>("key"),
                         .value = ByteView(values[i]),
                         .timestamp = Timestamp(1700000000000 + static_cast<int64_t>(i)),
                         .headers = kHandHeaders});
  }
  return out;
}

std::vector<std::string> repetitive_values(int n, size_t size) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("value-" + std::to_string(i) + std::string(size, 'x'));
  return out;
}

// Decompresses with liblz4's frame API, libzstd, zlib or libsnappy directly, not through
// compression.h.
Bytes decompress_with_library(Compression codec, ByteView blob, size_t expected_size) {
  Bytes out(expected_size + 64, '\0');
  if (codec == Compression::kGzip) {
    z_stream zs{};
    EXPECT_EQ(inflateInit2(&zs, 15 + 16), Z_OK);  // gzip only, not zlib
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(blob.data()));
    zs.avail_in = static_cast<uInt>(blob.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(inflate(&zs, Z_FINISH), Z_STREAM_END) << "not one whole gzip stream";
    EXPECT_EQ(zs.avail_in, 0u);
    out.resize(zs.total_out);
    inflateEnd(&zs);
  } else if (codec == Compression::kSnappy) {
    size_t n = out.size();
    EXPECT_EQ(snappy_uncompress(blob.data(), blob.size(), out.data(), &n), SNAPPY_OK)
        << "not one raw snappy block";
    out.resize(n);
  } else if (codec == Compression::kLz4) {
    LZ4F_dctx* dctx = nullptr;
    EXPECT_FALSE(LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)));
    size_t dst_size = out.size();
    size_t src_size = blob.size();
    size_t hint = LZ4F_decompress(dctx, out.data(), &dst_size, blob.data(), &src_size, nullptr);
    LZ4F_freeDecompressionContext(dctx);
    EXPECT_EQ(hint, 0u) << "not one whole LZ4 frame";
    EXPECT_EQ(src_size, blob.size());
    out.resize(dst_size);
  } else {
    EXPECT_EQ(ZSTD_findFrameCompressedSize(blob.data(), blob.size()), blob.size())
        << "not exactly one zstd frame";
    size_t n = ZSTD_decompress(out.data(), out.size(), blob.data(), blob.size());
    EXPECT_FALSE(ZSTD_isError(n)) << ZSTD_getErrorName(n);
    out.resize(ZSTD_isError(n) ? 0 : n);
  }
  return out;
}

TEST_P(RecordBatchCodecTest, CompressedBatchRoundTrips) {
  std::vector<std::string> values = repetitive_values(20, 100);
  Bytes b = build({.compression = GetParam()}, sample_records(values), Offset(42));
  Result<RecordBatchView> view = RecordBatchView::parse(b);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->header().compression(), GetParam());
  EXPECT_TRUE(view->verify_crc().ok());
  EXPECT_EQ(validate_batch(*view, /*require_dense=*/true).value_or(-1), 20);
  std::vector<Decoded> records = decode_all(b);
  ASSERT_EQ(records.size(), 20u);
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].offset, 42 + static_cast<int64_t>(i));
    EXPECT_EQ(records[i].timestamp, 1700000000000 + static_cast<int64_t>(i));
    EXPECT_EQ(records[i].key, i % 3 == 0 ? std::nullopt : std::optional<std::string>("key"));
    EXPECT_EQ(records[i].value, values[i]);
    ASSERT_EQ(records[i].headers.size(), 2u);
    EXPECT_EQ(records[i].headers[1].second, std::nullopt);
  }
}

TEST_P(RecordBatchCodecTest, HeaderStaysUncompressedAndBlobIsAStandardFrame) {
  std::vector<std::string> values = repetitive_values(20, 100);
  Bytes plain = build({}, sample_records(values), Offset(42));
  Bytes packed = build({.compression = GetParam()}, sample_records(values), Offset(42));
  EXPECT_LT(packed.size(), plain.size());
  // Same header apart from batchLength, attributes and CRC; recordCount in the clear.
  EXPECT_EQ(load_be<int32_t>(packed.data() + kRecordCountPos), 20);
  EXPECT_EQ(load_be<int16_t>(packed.data() + kAttributesPos), static_cast<int16_t>(GetParam()));
  EXPECT_EQ(ByteView(packed).substr(kLastOffsetDeltaPos, kHeaderSize - kLastOffsetDeltaPos),
            ByteView(plain).substr(kLastOffsetDeltaPos, kHeaderSize - kLastOffsetDeltaPos));
  ByteView blob = ByteView(packed).substr(kHeaderSize);
  if (GetParam() == Compression::kGzip) {
    EXPECT_EQ(hex(blob.substr(0, 2)), "1f 8b") << "gzip magic";
  } else if (GetParam() != Compression::kSnappy) {  // a raw snappy block has no magic
    const uint32_t magic = GetParam() == Compression::kLz4 ? 0x184D2204u : 0xFD2FB528u;
    uint32_t first_word;
    std::memcpy(&first_word, blob.data(), 4);  // frame magic numbers are little-endian
    EXPECT_EQ(first_word, magic);
  }
  ByteView records = ByteView(plain).substr(kHeaderSize);
  EXPECT_EQ(decompress_with_library(GetParam(), blob, records.size()), records);
}

TEST_P(RecordBatchCodecTest, LargeHighlyCompressibleBatchRoundTrips) {
  // Inflates far more than the decompressor's first guess at the output size (4x the input).
  std::vector<std::string> values(300, std::string(4000, '\0'));
  Bytes b = build({.compression = GetParam()}, sample_records(values));
  EXPECT_LT(b.size(), 64u * 1024);
  std::vector<Decoded> records = decode_all(b);
  ASSERT_EQ(records.size(), 300u);
  EXPECT_EQ(records[299].value, values[299]);
}

TEST_P(RecordBatchCodecTest, IncompressibleBatchRoundTrips) {
  std::mt19937 rng(7);
  std::vector<std::string> values;
  for (int i = 0; i < 40; ++i) {
    std::string v(3000, '\0');
    for (char& c : v) c = static_cast<char>(rng());
    values.push_back(std::move(v));
  }
  Bytes b = build({.compression = GetParam()}, sample_records(values));
  std::vector<Decoded> records = decode_all(b);
  ASSERT_EQ(records.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(records[i].value, values[i]);
}

// Writes garbage over the stack area that a just-returned call used, so that a view into that
// call's locals reads garbage instead of happening to find the old bytes.
[[gnu::noinline]] void scribble_on_stack() {
  volatile char junk[16384];
  for (size_t i = 0; i < sizeof(junk); ++i) junk[i] = static_cast<char>(0xFF);
}

// One tiny record decompresses to 9 bytes: few enough for std::string's inline buffer, which
// moves with the iterator instead of staying put like a heap buffer.
TEST_P(RecordBatchCodecTest, TinyCompressedBatchDecodesAfterIteratorIsReturned) {
  Bytes b = build({.compression = GetParam()},
                  {Record{.key = std::nullopt, .value = ByteView("v"), .timestamp = Timestamp(5)}});
  Result<RecordBatchView> view = RecordBatchView::parse(b);
  ASSERT_TRUE(view.ok());
  Result<RecordIterator> it = RecordIterator::open(*view);
  ASSERT_TRUE(it.ok()) << it.status().to_string();
  scribble_on_stack();
  RecordView r;
  Result<bool> more = it->next(r);
  ASSERT_TRUE(more.ok()) << more.status().to_string();
  ASSERT_TRUE(*more);
  EXPECT_EQ(r.key, std::nullopt);
  EXPECT_EQ(owned(r.value), "v");
  EXPECT_EQ(r.timestamp, Timestamp(5));
}

TEST_P(RecordBatchCodecTest, CorruptFrameMagicIsCorruptionWithValidCrc) {
  Bytes b = build({.compression = GetParam()}, sample_records(repetitive_values(5, 50)));
  b[kHeaderSize] ^= 0x01;
  reseal(b);
  Result<RecordBatchView> view = RecordBatchView::parse(b);
  ASSERT_TRUE(view.ok());
  ASSERT_TRUE(view->verify_crc().ok());
  Result<RecordIterator> it = RecordIterator::open(*view);
  ASSERT_FALSE(it.ok());
  EXPECT_EQ(it.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(validate_batch(*view, false).status().code(), StatusCode::kCorruption);
}

TEST_P(RecordBatchCodecTest, TruncatedFrameIsCorruptionWithValidCrc) {
  Bytes b = build({.compression = GetParam()}, sample_records(repetitive_values(5, 50)));
  for (size_t cut : {1u, 4u, 10u}) {
    Bytes t = b.substr(0, b.size() - cut);
    store_be<int32_t>(t.data() + kBatchLengthPos, static_cast<int32_t>(t.size() - kLogOverhead));
    reseal(t);
    EXPECT_EQ(read_all_code(t), StatusCode::kCorruption) << "cut " << cut;
  }
}

TEST_P(RecordBatchCodecTest, BitFlipInCompressedBlobIsNeverACrash) {
  Bytes b = build({.compression = GetParam()}, sample_records(repetitive_values(5, 50)));
  int corruptions = 0;
  for (size_t i = kHeaderSize; i < b.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes c = b;
      c[i] = static_cast<char>(c[i] ^ (1 << bit));
      reseal(c);
      StatusCode code = read_all_code(c);
      // Without frame checksums some flips go unnoticed (a literal changes); the rest must be
      // reported as corruption, and none may crash (the sanitizer build checks this).
      EXPECT_TRUE(code == StatusCode::kOk || code == StatusCode::kCorruption)
          << "byte " << i << " bit " << bit << ": " << static_cast<int>(code);
      if (code == StatusCode::kCorruption) ++corruptions;
    }
  }
  EXPECT_GT(corruptions, 0);
}

TEST_P(RecordBatchCodecTest, DecompressRefusesOutputPastLimit) {
  Bytes big(100000, 'z');
  Bytes packed;
  ASSERT_TRUE(compress(GetParam(), big, packed).ok());
  Bytes out;
  EXPECT_EQ(decompress(GetParam(), packed, out, 1000).code(), StatusCode::kCorruption);
  Bytes ok;
  ASSERT_TRUE(decompress(GetParam(), packed, ok, big.size()).ok());
  EXPECT_EQ(ok, big);
}

// Kafka's Java reader refuses a frame without the block-independence flag
// (KafkaLZ4BlockOutputStream.FLG.validate: "Dependent block stream is unsupported") and
// decompresses each block on its own, without the previous block as dictionary
// (KafkaLZ4BlockInputStream.readBlock); librdkafka sets LZ4F_blockIndependent ("Required by
// Kafka"). liblz4 marks a frame of one block independent by itself, so only batches whose records
// exceed one 64 KiB block show the difference.
TEST(RecordBatchTest, Lz4FrameBlocksDecodeIndependentlyAsKafkaRequires) {
  std::mt19937 rng(3);
  std::string chunk(4096, '\0');
  for (char& c : chunk) c = static_cast<char>(rng());
  std::vector<std::string> values(50, chunk);  // 200 KiB that repeats every 4 KiB
  Bytes plain = build({}, sample_records(values));
  Bytes packed = build({.compression = Compression::kLz4}, sample_records(values));
  ByteView frame = ByteView(packed).substr(kHeaderSize);
  ASSERT_GE(frame.size(), 7u);
  const auto flg = static_cast<uint8_t>(frame[4]);
  EXPECT_EQ(flg >> 6, 1) << "frame version";
  EXPECT_TRUE(flg & 0x20) << "FLG " << hex(frame.substr(4, 1))
                          << ": block independence flag not set";
  // Walk the blocks the way Kafka's reader does.
  size_t pos = 7 + ((flg & 0x08) ? 8 : 0);  // magic, FLG, BD, [content size], HC
  Bytes out;
  int blocks = 0;
  while (true) {
    ASSERT_LE(pos + 4, frame.size());
    uint32_t word;
    std::memcpy(&word, frame.data() + pos, 4);
    pos += 4;
    if (word == 0) break;  // EndMark
    const bool stored = word & 0x80000000u;
    const size_t size = word & 0x7FFFFFFFu;
    ASSERT_LE(pos + size, frame.size());
    if (stored) {
      out.append(frame.substr(pos, size));
    } else {
      std::string block(64 * 1024, '\0');
      int n = LZ4_decompress_safe(frame.data() + pos, block.data(), static_cast<int>(size),
                                  static_cast<int>(block.size()));
      ASSERT_GE(n, 0) << "block " << blocks << " does not decode on its own";
      out.append(block.data(), static_cast<size_t>(n));
    }
    pos += size + ((flg & 0x10) ? 4 : 0);
    ++blocks;
  }
  EXPECT_GT(blocks, 1);
  EXPECT_EQ(out, ByteView(plain).substr(kHeaderSize));
}

// The Java client frames snappy the snappy-java (xerial) way: a 16-byte header, then blocks
// each prefixed by its big-endian length. Such a batch decodes like a raw snappy one.
TEST(RecordBatchTest, SnappyJavaFramedBatchDecodes) {
  std::vector<std::string> values = repetitive_values(30, 200);
  Bytes plain = build({}, sample_records(values), Offset(7));
  ByteView records = ByteView(plain).substr(kHeaderSize);
  Bytes framed("\x82SNAPPY\0", 8);
  append_be<int32_t>(framed, 1);                             // version
  append_be<int32_t>(framed, 1);                             // minimum compatible version
  for (size_t pos = 0; pos < records.size(); pos += 1000) {  // several blocks
    ByteView part = records.substr(pos, 1000);
    Bytes block(snappy_max_compressed_length(part.size()), '\0');
    size_t n = block.size();
    ASSERT_EQ(snappy_compress(part.data(), part.size(), block.data(), &n), SNAPPY_OK);
    append_be<int32_t>(framed, static_cast<int32_t>(n));
    framed.append(block.data(), n);
  }
  Bytes b = plain.substr(0, kHeaderSize) + framed;
  store_be<int32_t>(b.data() + kBatchLengthPos, static_cast<int32_t>(b.size() - kLogOverhead));
  store_be<int16_t>(b.data() + kAttributesPos, static_cast<int16_t>(Compression::kSnappy));
  reseal(b);
  std::vector<Decoded> decoded = decode_all(b);
  ASSERT_EQ(decoded.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(decoded[i].value, values[i]);
  // A frame cut inside a block is corruption, not a crash or a short read.
  Bytes cut = b.substr(0, b.size() - 5);
  store_be<int32_t>(cut.data() + kBatchLengthPos, static_cast<int32_t>(cut.size() - kLogOverhead));
  reseal(cut);
  EXPECT_EQ(read_all_code(cut), StatusCode::kCorruption);
}

TEST(RecordBatchTest, CompressionNamesRoundTrip) {
  for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kSnappy,
                        Compression::kLz4, Compression::kZstd}) {
    EXPECT_EQ(parse_compression(compression_name(c)).value(), c);
  }
  EXPECT_EQ(parse_compression("brotli").status().code(), StatusCode::kInvalidArgument);
}

// --- 4. Malformed input ---

TEST(RecordBatchTest, TruncatedHeaderIsOutOfRange) {
  for (size_t n = 0; n < kHeaderSize; ++n) {
    ByteView prefix = view_of(kHandBatch).substr(0, n);
    EXPECT_EQ(parse_batch_header(prefix).status().code(), StatusCode::kOutOfRange) << n;
    EXPECT_EQ(RecordBatchView::parse(prefix).status().code(), StatusCode::kOutOfRange) << n;
  }
  EXPECT_TRUE(parse_batch_header(view_of(kHandBatch).substr(0, kHeaderSize)).ok());
}

TEST(RecordBatchTest, TruncatedBatchIsOutOfRange) {
  for (size_t n = kHeaderSize; n < sizeof(kHandBatch); ++n) {
    EXPECT_EQ(RecordBatchView::parse(view_of(kHandBatch).substr(0, n)).status().code(),
              StatusCode::kOutOfRange)
        << n;
  }
}

TEST(RecordBatchTest, BadMagicIsCorruption) {
  for (int magic : {0, 1, 3, 0xFF}) {
    Bytes b(view_of(kHandBatch));
    b[kMagicPos] = static_cast<char>(magic);  // not covered by the CRC
    EXPECT_EQ(parse_batch_header(b).status().code(), StatusCode::kCorruption) << magic;
    EXPECT_EQ(RecordBatchView::parse(b).status().code(), StatusCode::kCorruption) << magic;
  }
}

TEST(RecordBatchTest, BatchLengthOutOfBoundsIsCorruption) {
  for (int32_t length : {std::numeric_limits<int32_t>::min(), -1, 0, kMinBatchLength - 1,
                         kMaxBatchLength + 1, std::numeric_limits<int32_t>::max()}) {
    Bytes b(view_of(kHandBatch));
    store_be<int32_t>(b.data() + kBatchLengthPos, length);
    EXPECT_EQ(parse_batch_header(b).status().code(), StatusCode::kCorruption) << length;
    EXPECT_EQ(RecordBatchView::parse(b).status().code(), StatusCode::kCorruption) << length;
  }
}

TEST(RecordBatchTest, BatchLengthPastAvailableBytesIsOutOfRange) {
  Bytes b(view_of(kHandBatch));
  store_be<int32_t>(b.data() + kBatchLengthPos, 86);
  EXPECT_TRUE(parse_batch_header(b).ok());
  EXPECT_EQ(RecordBatchView::parse(b).status().code(), StatusCode::kOutOfRange);
}

TEST(RecordBatchTest, BatchLengthShorterThanRecordsFailsCrc) {
  Bytes b(view_of(kHandBatch));
  store_be<int32_t>(b.data() + kBatchLengthPos, 84);
  Result<RecordBatchView> view = RecordBatchView::parse(b);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(view->bytes().size(), sizeof(kHandBatch) - 1);
  EXPECT_EQ(view->verify_crc().code(), StatusCode::kCorruption);
}

TEST(RecordBatchTest, NegativeRecordCountOrLastOffsetDeltaIsCorruption) {
  for (size_t pos : {kRecordCountPos, kLastOffsetDeltaPos}) {
    Bytes b(view_of(kHandBatch));
    store_be<int32_t>(b.data() + pos, -1);
    reseal(b);
    EXPECT_EQ(parse_batch_header(b).status().code(), StatusCode::kCorruption) << pos;
  }
}

TEST(RecordBatchTest, EverySingleBitFlipUnderCrcIsCorruption) {
  int crc_failures = 0;
  for (size_t i = kCrcPos; i < sizeof(kHandBatch); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes b(view_of(kHandBatch));
      b[i] = static_cast<char>(b[i] ^ (1 << bit));
      Result<RecordBatchView> view = RecordBatchView::parse(b);
      if (!view.ok()) {
        // A few flips already break the header (a negative recordCount, say).
        EXPECT_EQ(view.status().code(), StatusCode::kCorruption) << i << ":" << bit;
        continue;
      }
      EXPECT_EQ(view->verify_crc().code(), StatusCode::kCorruption) << i << ":" << bit;
      EXPECT_EQ(validate_batch(*view, false).status().code(), StatusCode::kCorruption)
          << i << ":" << bit;
      ++crc_failures;
    }
  }
  EXPECT_GT(crc_failures, 500);
}

TEST(RecordBatchTest, BaseOffsetLengthEpochAndMagicAreNotCoveredByCrc) {
  Bytes b(view_of(kHandBatch));
  store_be<int32_t>(b.data() + kPartitionLeaderEpochPos, 99);
  store_be<int64_t>(b.data() + kBaseOffsetPos, 123456789);
  Result<RecordBatchView> view = RecordBatchView::parse(b);
  ASSERT_TRUE(view.ok());
  EXPECT_TRUE(view->verify_crc().ok());
  EXPECT_EQ(crc32c::value(ByteView(b).substr(kAttributesPos)), kHandBatchCrc);
}

TEST(RecordBatchTest, RecordLengthRunningPastBatchIsCorruption) {
  Bytes records = raw_record(0, 0, {}, /*length_error=*/5);
  EXPECT_EQ(read_all_code(batch_around(records, 1, 0)), StatusCode::kCorruption);
}

TEST(RecordBatchTest, NegativeRecordLengthIsCorruption) {
  Bytes records;
  append_varint(records, -2);
  records.append(raw_record(0).substr(1));
  EXPECT_EQ(read_all_code(batch_around(records, 1, 0)), StatusCode::kCorruption);
}

TEST(RecordBatchTest, RecordFieldsRunningPastRecordLengthIsCorruption) {
  Bytes records = raw_record(0, 0, {}, /*length_error=*/-2);
  EXPECT_EQ(read_all_code(batch_around(records, 1, 0)), StatusCode::kCorruption);
}

TEST(RecordBatchTest, ValueLengthRunningPastRecordIsCorruption) {
  Bytes body;
  body.push_back('\0');
  append_varint(body, 0);   // timestamp delta
  append_varint(body, 0);   // offset delta
  append_varint(body, -1);  // null key
  append_varint(body, 50);  // value length past the end
  body.append("abc");
  append_varint(body, 0);
  Bytes records;
  append_varint(records, static_cast<int64_t>(body.size()));
  records.append(body);
  EXPECT_EQ(read_all_code(batch_around(records, 1, 0)), StatusCode::kCorruption);
}

TEST(RecordBatchTest, KeyLengthBelowMinusOneIsCorruption) {
  Bytes body;
  body.push_back('\0');
  append_varint(body, 0);
  append_varint(body, 0);
  append_varint(body, -2);  // key length
  append_varint(body, -1);
  append_varint(body, 0);
  Bytes records;
  append_varint(records, static_cast<int64_t>(body.size()));
  records.append(body);
  EXPECT_EQ(read_all_code(batch_around(records, 1, 0)), StatusCode::kCorruption);
}

TEST(RecordBatchTest, NullOrNegativeHeaderKeyIsCorruption) {
  for (int64_t key_length : {-1, -2}) {
    Bytes body;
    body.push_back('\0');
    append_varint(body, 0);
    append_varint(body, 0);
    append_varint(body, -1);
    append_varint(body, -1);
    append_varint(body, 1);  // one header
    append_varint(body, key_length);
    append_varint(body, -1);
    Bytes records;
    append_varint(records, static_cast<int64_t>(body.size()));
    records.append(body);
    EXPECT_EQ(read_all_code(batch_around(records, 1, 0)), StatusCode::kCorruption) << key_length;
  }
}

TEST(RecordBatchTest, HeaderCountPastRecordIsCorruption) {
  for (int64_t count : {-1, 3}) {
    Bytes body;
    body.push_back('\0');
    append_varint(body, 0);
    append_varint(body, 0);
    append_varint(body, -1);
    append_varint(body, -1);
    append_varint(body, count);
    append_varint(body, 1);
    body.push_back('k');
    append_varint(body, -1);
    Bytes records;
    append_varint(records, static_cast<int64_t>(body.size()));
    records.append(body);
    EXPECT_EQ(read_all_code(batch_around(records, 1, 0)), StatusCode::kCorruption) << count;
  }
}

TEST(RecordBatchTest, RecordCountAboveRecordsIsCorruption) {
  Bytes records = raw_record(0) + raw_record(1);
  EXPECT_EQ(read_all_code(batch_around(records, 2, 1)), StatusCode::kOk);
  Bytes b = batch_around(records, 3, 2);
  EXPECT_EQ(read_all_code(b), StatusCode::kCorruption);
  EXPECT_EQ(validate_batch(RecordBatchView::parse(b).value(), false).status().code(),
            StatusCode::kCorruption);
}

TEST(RecordBatchTest, RecordCountBelowRecordsIsCorruption) {
  Bytes records = raw_record(0) + raw_record(1);
  Bytes b = batch_around(records, 1, 1);
  EXPECT_EQ(read_all_code(b), StatusCode::kCorruption);
  EXPECT_EQ(validate_batch(RecordBatchView::parse(b).value(), false).status().code(),
            StatusCode::kCorruption);
}

TEST(RecordBatchTest, ZeroRecordBatchFailsValidation) {
  Bytes b = batch_around({}, 0, 0);
  Result<RecordBatchView> view = RecordBatchView::parse(b);
  ASSERT_TRUE(view.ok());
  EXPECT_EQ(validate_batch(*view, false).status().code(), StatusCode::kCorruption);
}

TEST(RecordBatchTest, RepeatedOffsetDeltaIsCorruption) {
  Bytes b = batch_around(raw_record(0) + raw_record(0), 2, 1);
  EXPECT_EQ(read_all_code(b), StatusCode::kCorruption);
}

TEST(RecordBatchTest, DecreasingOffsetDeltaIsCorruption) {
  Bytes b = batch_around(raw_record(1) + raw_record(0), 2, 1);
  EXPECT_EQ(read_all_code(b), StatusCode::kCorruption);
}

TEST(RecordBatchTest, NegativeOffsetDeltaIsCorruption) {
  Bytes b = batch_around(raw_record(-1), 1, 0);
  EXPECT_EQ(read_all_code(b), StatusCode::kCorruption);
}

TEST(RecordBatchTest, OffsetDeltaPastLastOffsetDeltaIsCorruption) {
  Bytes b = batch_around(raw_record(0) + raw_record(2), 2, 1);
  EXPECT_EQ(read_all_code(b), StatusCode::kCorruption);
}

TEST(RecordBatchTest, TrailingBytesInsideRecordAreCorruption) {
  Bytes b = batch_around(raw_record(0, 0, ByteView("\x00\x00", 2)), 1, 0);
  EXPECT_EQ(read_all_code(b), StatusCode::kCorruption);
  EXPECT_EQ(read_all_code(batch_around(raw_record(0), 1, 0)), StatusCode::kOk);
}

TEST(RecordBatchTest, TrailingBytesAfterLastRecordAreCorruption) {
  Bytes b = batch_around(raw_record(0) + Bytes("\x00", 1), 1, 0);
  EXPECT_EQ(read_all_code(b), StatusCode::kCorruption);
}

// --- Validation and in-place rewrites ---

TEST(RecordBatchTest, ValidateRequireDenseAcceptsFreshBatch) {
  Bytes b = build({}, {Record{.value = ByteView("a")}, Record{.value = ByteView("b")},
                       Record{.value = ByteView("c")}});
  EXPECT_EQ(validate_batch(RecordBatchView::parse(b).value(), true).value_or(-1), 3);
}

TEST(RecordBatchTest, ValidateRequireDenseRefusesGapsInOffsetDeltas) {
  RecordBatchBuilder builder;
  builder.add(Record{.value = ByteView("a")}, 0);
  builder.add(Record{.value = ByteView("b")}, 2);  // compaction removed delta 1
  Bytes b = builder.build().value();
  RecordBatchView view = RecordBatchView::parse(b).value();
  EXPECT_EQ(view.header().last_offset_delta, 2);
  EXPECT_EQ(validate_batch(view, false).value_or(-1), 2);
  Result<int32_t> dense = validate_batch(view, true);
  ASSERT_FALSE(dense.ok());
  EXPECT_EQ(dense.status().code(), StatusCode::kInvalidArgument);
  std::vector<Decoded> records = decode_all(b);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].offset, 2);
}

TEST(RecordBatchTest, ValidateRequireDenseRefusesRaisedLastOffsetDelta) {
  RecordBatchBuilder builder;
  builder.add(Record{.value = ByteView("a")});
  builder.add(Record{.value = ByteView("b")});
  builder.set_last_offset_delta(4);  // compaction removed the batch's last three records
  Bytes b = builder.build().value();
  RecordBatchView view = RecordBatchView::parse(b).value();
  EXPECT_EQ(view.header().last_offset_delta, 4);
  EXPECT_EQ(view.header().next_offset(), Offset(5));
  EXPECT_EQ(validate_batch(view, false).value_or(-1), 2);
  EXPECT_EQ(validate_batch(view, true).status().code(), StatusCode::kInvalidArgument);
}

TEST(RecordBatchTest, SetBaseOffsetKeepsCrcValidAndShiftsOffsets) {
  Bytes b(view_of(kHandBatch));
  set_base_offset(b.data(), Offset(5000000000));
  RecordBatchView view = RecordBatchView::parse(b).value();
  EXPECT_EQ(view.header().base_offset, Offset(5000000000));
  EXPECT_TRUE(view.verify_crc().ok());
  EXPECT_EQ(view.header().crc, kHandBatchCrc);
  std::vector<Decoded> records = decode_all(b);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].offset, 5000000000);
  EXPECT_EQ(records[1].offset, 5000000001);
}

TEST(RecordBatchTest, SetLogAppendTimeSetsBitMaxTimestampAndCrc) {
  Bytes b(view_of(kHandBatch));
  set_log_append_time(b.data(), b.size(), Timestamp(1800000000000));
  RecordBatchView view = RecordBatchView::parse(b).value();
  EXPECT_EQ(view.header().attributes, kTimestampTypeBit);
  EXPECT_EQ(view.header().timestamp_type(), TimestampType::kLogAppendTime);
  EXPECT_EQ(view.header().max_timestamp, Timestamp(1800000000000));
  EXPECT_EQ(view.header().base_timestamp, Timestamp(1700000000000));  // untouched
  EXPECT_TRUE(view.verify_crc().ok());
  EXPECT_EQ(view.header().crc, bitwise_crc32c(ByteView(b).substr(kAttributesPos)));
  std::vector<Decoded> records = decode_all(b);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].timestamp, 1800000000000);
  EXPECT_EQ(records[1].timestamp, 1800000000000);
}

TEST(RecordBatchTest, SetLogAppendTimeKeepsOtherAttributes) {
  Bytes b = build({.compression = Compression::kZstd, .transactional = true},
                  sample_records(repetitive_values(3, 10)));
  set_log_append_time(b.data(), b.size(), Timestamp(42));
  RecordBatchView view = RecordBatchView::parse(b).value();
  EXPECT_EQ(view.header().compression(), Compression::kZstd);
  EXPECT_TRUE(view.header().transactional());
  EXPECT_EQ(view.header().timestamp_type(), TimestampType::kLogAppendTime);
  EXPECT_TRUE(view.verify_crc().ok());
  for (const Decoded& d : decode_all(b)) EXPECT_EQ(d.timestamp, 42);
}

TEST(RecordBatchTest, TransactionalAttributeRoundTrips) {
  Bytes b = build({.producer_id = ProducerId(9),
                   .producer_epoch = ProducerEpoch(1),
                   .base_sequence = Sequence(0),
                   .transactional = true},
                  {Record{.value = ByteView("a")}});
  BatchHeader h = parse_batch_header(b).value();
  EXPECT_EQ(h.attributes, kTransactionalBit);
  EXPECT_TRUE(h.transactional());
  EXPECT_FALSE(h.control());
}

// --- Control batches ---

TEST(RecordBatchTest, CommitControlBatchRoundTrips) {
  Bytes b = build_control_batch(ControlType::kCommit, ProducerId(77), ProducerEpoch(5), 9,
                                Timestamp(1700000000000));
  RecordBatchView view = RecordBatchView::parse(b).value();
  const BatchHeader& h = view.header();
  EXPECT_TRUE(view.verify_crc().ok());
  EXPECT_EQ(h.attributes, kTransactionalBit | kControlBit);  // 0x30
  EXPECT_TRUE(h.control());
  EXPECT_TRUE(h.transactional());
  EXPECT_EQ(h.producer_id, ProducerId(77));
  EXPECT_EQ(h.producer_epoch, ProducerEpoch(5));
  EXPECT_EQ(h.base_sequence, kNoSequence);
  EXPECT_EQ(h.record_count, 1);
  EXPECT_EQ(h.last_offset_delta, 0);
  EXPECT_EQ(h.base_timestamp, Timestamp(1700000000000));
  std::vector<Decoded> records = decode_all(b);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(hex(records[0].key.value_or("<null>")), "00 00 00 01");  // version 0, type commit
  EXPECT_EQ(hex(records[0].value.value_or("<null>")), "00 00 00 00 00 09");  // version, epoch 9
  Result<ControlRecord> control = read_control_record(view);
  ASSERT_TRUE(control.ok()) << control.status().to_string();
  EXPECT_EQ(control->type, ControlType::kCommit);
  EXPECT_EQ(control->coordinator_epoch, 9);
}

TEST(RecordBatchTest, AbortControlBatchRoundTrips) {
  Bytes b = build_control_batch(ControlType::kAbort, ProducerId(78), ProducerEpoch(0), 0x01020304,
                                Timestamp(5));
  RecordBatchView view = RecordBatchView::parse(b).value();
  EXPECT_TRUE(view.header().control());
  std::vector<Decoded> records = decode_all(b);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(hex(records[0].key.value_or("<null>")), "00 00 00 00");
  EXPECT_EQ(hex(records[0].value.value_or("<null>")), "00 00 01 02 03 04");
  Result<ControlRecord> control = read_control_record(view);
  ASSERT_TRUE(control.ok());
  EXPECT_EQ(control->type, ControlType::kAbort);
  EXPECT_EQ(control->coordinator_epoch, 0x01020304);
}

TEST(RecordBatchTest, ReadControlRecordRefusesDataBatch) {
  EXPECT_EQ(
      read_control_record(RecordBatchView::parse(view_of(kHandBatch)).value()).status().code(),
      StatusCode::kInvalidArgument);
}

Bytes control_batch_with_key(ByteView key) {
  const char value[6] = {0, 0, 0, 0, 0, 1};
  return build({.transactional = true, .control = true},
               {Record{.key = key, .value = ByteView(value, sizeof(value))}});
}

TEST(RecordBatchTest, ControlRecordWithUnknownTypeIsCorruption) {
  const char key[4] = {0, 0, 0, 2};
  Bytes b = control_batch_with_key(ByteView(key, 4));
  EXPECT_EQ(read_control_record(RecordBatchView::parse(b).value()).status().code(),
            StatusCode::kCorruption);
}

TEST(RecordBatchTest, ControlRecordWithShortKeyIsCorruption) {
  const char key[2] = {0, 0};
  Bytes b = control_batch_with_key(ByteView(key, 2));
  EXPECT_EQ(read_control_record(RecordBatchView::parse(b).value()).status().code(),
            StatusCode::kCorruption);
  Bytes null_key = build({.transactional = true, .control = true}, {Record{.value = ByteView("")}});
  EXPECT_EQ(read_control_record(RecordBatchView::parse(null_key).value()).status().code(),
            StatusCode::kCorruption);
}

// --- Delete horizon ---

TEST(RecordBatchTest, DeleteHorizonLivesInBaseTimestampWithBit6) {
  const Timestamp horizon(1700000900000);
  Bytes b = build(
      {.delete_horizon = horizon},
      {Record{.key = ByteView("k"), .value = std::nullopt, .timestamp = Timestamp(1700000000000)},
       Record{
           .key = ByteView("j"), .value = ByteView("v"), .timestamp = Timestamp(1700000000300)}});
  RecordBatchView view = RecordBatchView::parse(b).value();
  const BatchHeader& h = view.header();
  EXPECT_TRUE(view.verify_crc().ok());
  EXPECT_EQ(h.attributes, kDeleteHorizonBit);
  EXPECT_TRUE(h.has_delete_horizon());
  EXPECT_EQ(h.base_timestamp, horizon);
  EXPECT_EQ(h.max_timestamp, Timestamp(1700000000300));
  // The first record's delta is relative to the horizon: -900000, zig-zag 1799999.
  Bytes expected_delta;
  append_varint(expected_delta, 1700000000000 - 1700000900000);
  EXPECT_EQ(ByteView(b).substr(kHeaderSize + 2, expected_delta.size()), expected_delta);
  std::vector<Decoded> records = decode_all(b);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].timestamp, 1700000000000);
  EXPECT_EQ(records[1].timestamp, 1700000000300);
  EXPECT_EQ(records[0].value, std::nullopt);
}

// --- 5. Varints ---

TEST(RecordBatchTest, ZigZagMinusOneIsOneByte01) {
  EXPECT_EQ(zigzag_encode(-1), 1u);
  Bytes out;
  append_varint(out, -1);
  EXPECT_EQ(hex(out), "01");
  EXPECT_EQ(varint_size(-1), 1);
}

TEST(RecordBatchTest, VarintsEncodeToKnownBytes) {
  const std::vector<std::pair<int64_t, std::string>> cases = {
      {0, "00"},
      {1, "02"},
      {-1, "01"},
      {63, "7e"},
      {-64, "7f"},
      {64, "80 01"},
      {250, "f4 03"},
      {8191, "fe 7f"},
      {8192, "80 80 01"},
      {std::numeric_limits<int32_t>::max(), "fe ff ff ff 0f"},
      {std::numeric_limits<int32_t>::min(), "ff ff ff ff 0f"},
      {std::numeric_limits<int64_t>::max(), "fe ff ff ff ff ff ff ff ff 01"},
      {std::numeric_limits<int64_t>::min(), "ff ff ff ff ff ff ff ff ff 01"},
  };
  for (const auto& [v, bytes] : cases) {
    Bytes out;
    append_varint(out, v);
    EXPECT_EQ(hex(out), bytes) << v;
    EXPECT_EQ(static_cast<size_t>(varint_size(v)), out.size()) << v;
    ByteReader in(out);
    int64_t back = 0;
    ASSERT_TRUE(in.get_varint(back)) << v;
    EXPECT_EQ(back, v);
    EXPECT_EQ(in.remaining(), 0u);
  }
}

TEST(RecordBatchTest, Varint32RefusesValuesOutsideInt32) {
  for (int64_t v : {int64_t{1} << 31, -(int64_t{1} << 31) - 1, int64_t{1} << 40}) {
    Bytes out;
    append_varint(out, v);
    ByteReader in(out);
    int32_t back;
    EXPECT_FALSE(in.get_varint32(back)) << v;
  }
}

TEST(RecordBatchTest, TruncatedOrOverlongVarintIsRefused) {
  ByteReader truncated(ByteView("\x80\x80", 2));
  int64_t v;
  EXPECT_FALSE(truncated.get_varint(v));
  const std::string eleven = std::string(10, '\x80') + '\x01';
  ByteReader overlong(eleven);
  EXPECT_FALSE(overlong.get_varint(v));
}

// The key length varint sits after length, attributes, timestampDelta and offsetDelta.
TEST(RecordBatchTest, KeyLengthVarintGrowsAtSevenBitBoundaries) {
  const std::vector<std::pair<size_t, std::string>> cases = {
      {63, "7e"}, {64, "80 01"}, {8191, "fe 7f"}, {8192, "80 80 01"}};
  for (const auto& [size, key_length_bytes] : cases) {
    const std::string key(size, 'k');
    Bytes b = build(
        {}, {Record{.key = ByteView(key), .value = ByteView("v"), .timestamp = Timestamp(1)}});
    ByteReader in(ByteView(b).substr(kHeaderSize));
    int64_t length;
    ASSERT_TRUE(in.get_varint(length));
    const size_t length_size = static_cast<size_t>(varint_size(length));
    EXPECT_EQ(static_cast<size_t>(length), b.size() - kHeaderSize - length_size);
    const size_t key_length_pos = kHeaderSize + length_size + 3;
    EXPECT_EQ(hex(ByteView(b).substr(key_length_pos, (key_length_bytes.size() + 1) / 3)),
              key_length_bytes)
        << size;
    std::vector<Decoded> records = decode_all(b);
    ASSERT_EQ(records.size(), 1u);
    EXPECT_EQ(records[0].key, key);
    EXPECT_EQ(records[0].value, "v");
  }
}

TEST(RecordBatchTest, RecordLengthVarintGrowsPast63And8191Bytes) {
  // Body = 6 bytes of fields + value length varint + value.
  const std::vector<std::pair<size_t, int>> cases = {{50, 1}, {60, 2}, {8180, 2}, {8190, 3}};
  for (const auto& [value_size, length_size] : cases) {
    const std::string value(value_size, 'v');
    Bytes b = build({}, {Record{.value = ByteView(value), .timestamp = Timestamp(1)}});
    ByteReader in(ByteView(b).substr(kHeaderSize));
    int64_t length;
    ASSERT_TRUE(in.get_varint(length));
    EXPECT_EQ(varint_size(length), length_size) << value_size;
    EXPECT_EQ(static_cast<size_t>(length) + static_cast<size_t>(length_size),
              b.size() - kHeaderSize);
    std::vector<Decoded> records = decode_all(b);
    ASSERT_EQ(records.size(), 1u) << value_size;
    EXPECT_EQ(records[0].value, value);
  }
}

TEST(RecordBatchTest, Int64ExtremeTimestampDeltasRoundTrip) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  // {first timestamp, second timestamp}: deltas INT64_MAX, -INT64_MAX and INT64_MIN.
  const std::vector<std::pair<int64_t, int64_t>> cases = {{0, kMax}, {kMax, 0}, {0, kMin}};
  for (const auto& [t0, t1] : cases) {
    Bytes b = build({}, {Record{.value = ByteView("a"), .timestamp = Timestamp(t0)},
                         Record{.value = ByteView("b"), .timestamp = Timestamp(t1)}});
    BatchHeader h = parse_batch_header(b).value();
    EXPECT_EQ(h.base_timestamp, Timestamp(t0));
    EXPECT_EQ(h.max_timestamp, Timestamp(std::max({t0, t1, int64_t{-1}})));
    std::vector<Decoded> records = decode_all(b);
    ASSERT_EQ(records.size(), 2u);
    EXPECT_EQ(records[0].timestamp, t0);
    EXPECT_EQ(records[1].timestamp, t1) << t0 << " -> " << t1;
  }
}

// A batch from the network or a damaged file may pair any baseTimestamp with any delta; the
// decoder must not compute the sum with signed overflow (undefined behaviour, fatal in the
// sanitizer build). Either refusing it as corruption or wrapping as Java's long arithmetic does
// is acceptable.
TEST(RecordBatchTest, TimestampDeltaOverflowingBaseTimestampIsNotUndefined) {
  Bytes b = batch_around(raw_record(0, std::numeric_limits<int64_t>::max()), 1, 0);
  store_be<int64_t>(b.data() + kBaseTimestampPos, 1000);
  reseal(b);
  Result<RecordBatchView> view = RecordBatchView::parse(b);
  ASSERT_TRUE(view.ok());
  Result<RecordIterator> it = RecordIterator::open(*view);
  ASSERT_TRUE(it.ok());
  RecordView r;
  Result<bool> more = it->next(r);
  if (more.ok()) {
    ASSERT_TRUE(*more);
    const auto wrapped =
        static_cast<int64_t>(static_cast<uint64_t>(1000) + static_cast<uint64_t>(INT64_MAX));
    EXPECT_EQ(r.timestamp, Timestamp(wrapped));
  } else {
    EXPECT_EQ(more.status().code(), StatusCode::kCorruption);
  }
}

// baseOffset is not covered by the CRC, so a damaged file can hold any value there. Record 1 of
// this batch would have offset INT64_MAX + 1: the decoder must refuse it (or at least not compute
// it with signed overflow).
TEST(RecordBatchTest, BaseOffsetWhoseRecordsOverflowInt64IsNotUndefined) {
  Bytes b(view_of(kHandBatch));
  set_base_offset(b.data(), Offset(std::numeric_limits<int64_t>::max()));
  Status s = read_all(b);
  if (!s.ok()) {
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << s.to_string();
  }
}

}  // namespace
}  // namespace sluice::logstore
