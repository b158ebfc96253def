// The trailer that protects every derived file (indexes, snapshots): see log_files.h.
#pragma once

#include <cstdint>

#include "sluice/base/bytes.h"
#include "sluice/base/result.h"

namespace sluice::logstore {

// Appends the trailer (magic, version, count, CRC of `file` so far) to `file`.
void append_trailer(Bytes& file, uint32_t magic, uint32_t count);

struct DerivedFileBody {
  ByteView header;   // the first `header_size` bytes
  ByteView entries;  // count * entry_size bytes
  uint32_t count = 0;
};

// Checks a derived file: trailer magic and version, CRC, and that its size is exactly
// header_size + count * entry_size. kCorruption says which check failed.
Result<DerivedFileBody> check_derived_file(ByteView file, uint32_t magic, size_t header_size,
                                           size_t entry_size);

}  // namespace sluice::logstore
