#include "derived_file.h"

#include <string>

#include "log_files.h"
#include "sluice/base/crc32c.h"

namespace sluice::logstore {

void append_trailer(Bytes& file, uint32_t magic, uint32_t count) {
  uint32_t crc = crc32c::value(file);
  append_be<uint32_t>(file, magic);
  append_be<uint32_t>(file, files::kFormatVersion);
  append_be<uint32_t>(file, count);
  append_be<uint32_t>(file, crc);
}

Result<DerivedFileBody> check_derived_file(ByteView file, uint32_t magic, size_t header_size,
                                           size_t entry_size) {
  if (file.size() < files::kTrailerSize + header_size) return corruption("file is too short");
  const char* t = file.data() + file.size() - files::kTrailerSize;
  if (load_be<uint32_t>(t) != magic) return corruption("bad magic number");
  if (load_be<uint32_t>(t + 4) != files::kFormatVersion) {
    return corruption("unknown format version " + std::to_string(load_be<uint32_t>(t + 4)));
  }
  uint32_t count = load_be<uint32_t>(t + 8);
  ByteView body = file.substr(0, file.size() - files::kTrailerSize);
  if (body.size() != header_size + static_cast<uint64_t>(count) * entry_size) {
    return corruption("size does not match its entry count");
  }
  if (crc32c::value(body) != load_be<uint32_t>(t + 12)) return corruption("CRC mismatch");
  return DerivedFileBody{body.substr(0, header_size), body.substr(header_size), count};
}

}  // namespace sluice::logstore
