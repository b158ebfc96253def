// Batch compression codecs: lz4 (the LZ4 *frame* format, as Kafka uses) and zstd (a normal
// zstd frame). The records section of a batch is compressed as one blob.
#pragma once

#include "sluice/base/bytes.h"
#include "sluice/base/status.h"
#include "sluice/logstore/record_batch.h"

namespace sluice::logstore {

// Appends `in`, compressed with `codec`, to `out`. kInvalidArgument for gzip/snappy/none.
Status compress(Compression codec, ByteView in, Bytes& out);

// Appends `in`, decompressed with `codec`, to `out`. kCorruption if `in` is not a valid frame
// or inflates past `max_output` bytes; kUnimplemented for gzip/snappy.
Status decompress(Compression codec, ByteView in, Bytes& out, size_t max_output);

}  // namespace sluice::logstore
