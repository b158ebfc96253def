// The on-disk and on-wire record batch format: Kafka's RecordBatch v2 (magic 2), byte for byte.
//
// This header is the one place the layout is written down in code; the encoder, the decoder,
// crash recovery and (later) the Kafka protocol listener all use these constants. The prose
// specification is docs/LOG-FORMAT.md.
//
//   offset  size  field                 covered by CRC
//   0       8     baseOffset            no  (assigned by the log on append)
//   8       4     batchLength           no  (bytes after this field: whole batch = length + 12)
//   12      4     partitionLeaderEpoch  no
//   16      1     magic (= 2)           no
//   17      4     crc (CRC-32C)         -
//   21      2     attributes            yes (from here to the end of the batch)
//   23      4     lastOffsetDelta       yes
//   27      8     baseTimestamp         yes
//   35      8     maxTimestamp          yes
//   43      8     producerId            yes
//   51      2     producerEpoch         yes
//   53      4     baseSequence          yes
//   57      4     recordCount           yes
//   61      ...   records (compressed as one blob when attributes say so)
//
// All fixed-width integers are big-endian. Records use zig-zag varints (see bytes.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::logstore::format {

inline constexpr int8_t kMagic = 2;

inline constexpr size_t kBaseOffsetPos = 0;
inline constexpr size_t kBatchLengthPos = 8;
inline constexpr size_t kPartitionLeaderEpochPos = 12;
inline constexpr size_t kMagicPos = 16;
inline constexpr size_t kCrcPos = 17;
inline constexpr size_t kAttributesPos = 21;
inline constexpr size_t kLastOffsetDeltaPos = 23;
inline constexpr size_t kBaseTimestampPos = 27;
inline constexpr size_t kMaxTimestampPos = 35;
inline constexpr size_t kProducerIdPos = 43;
inline constexpr size_t kProducerEpochPos = 51;
inline constexpr size_t kBaseSequencePos = 53;
inline constexpr size_t kRecordCountPos = 57;
inline constexpr size_t kHeaderSize = 61;

// The fields before batchLength's end are not counted by batchLength.
inline constexpr size_t kLogOverhead = 12;  // baseOffset + batchLength
// Smallest batchLength a valid batch can have (a header with no records).
inline constexpr int32_t kMinBatchLength = static_cast<int32_t>(kHeaderSize - kLogOverhead);
// Largest batch the log accepts (matches Kafka's default message.max.bytes of about 1 MiB,
// raised for bulk loads; a larger length in a file is treated as corruption).
inline constexpr int32_t kMaxBatchLength = 64 * 1024 * 1024;

// Attribute bits.
inline constexpr int16_t kCompressionMask = 0x07;
inline constexpr int16_t kTimestampTypeBit = 0x08;  // 0 = create time, 1 = log-append time
inline constexpr int16_t kTransactionalBit = 0x10;
inline constexpr int16_t kControlBit = 0x20;
inline constexpr int16_t kDeleteHorizonBit = 0x40;  // baseTimestamp holds the delete horizon

// Control record key: version int16 (0) | type int16; value: version int16 (0) | coordinator
// epoch int32.
inline constexpr int16_t kControlAbort = 0;
inline constexpr int16_t kControlCommit = 1;
inline constexpr size_t kControlKeySize = 4;
inline constexpr size_t kControlValueSize = 6;

}  // namespace sluice::logstore::format
