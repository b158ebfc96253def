// Batch compression codecs, as Kafka's clients write them: lz4 (the LZ4 *frame* format), zstd (a
// normal zstd frame), gzip (a gzip stream) and snappy (a raw block, or snappy-java's xerial
// framing when reading). The records section of a batch is compressed as one blob. Sluice's own
// producers write lz4 or zstd; batches stored as Kafka clients sent them may use any of the four.
#pragma once

#include "sluice/base/bytes.h"
#include "sluice/base/status.h"
#include "sluice/logstore/record_batch.h"

namespace sluice::logstore {

// Appends `in`, compressed with `codec`, to `out`. kInvalidArgument for none.
Status compress(Compression codec, ByteView in, Bytes& out);

// Appends `in`, decompressed with `codec`, to `out`. kCorruption if `in` is not a valid frame
// or inflates past `max_output` bytes.
Status decompress(Compression codec, ByteView in, Bytes& out, size_t max_output);

}  // namespace sluice::logstore
