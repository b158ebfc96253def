#include "sluice/base/murmur2.h"

namespace sluice {

int32_t murmur2(std::string_view bytes) {
  // Unsigned arithmetic wraps as Java's int does; >>> is a logical shift of the unsigned bits.
  constexpr uint32_t kSeed = 0x9747b28c;
  constexpr uint32_t kM = 0x5bd1e995;
  constexpr int kR = 24;
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t length = bytes.size();
  uint32_t h = kSeed ^ static_cast<uint32_t>(length);
  const size_t whole = length / 4;
  for (size_t i = 0; i < whole; ++i) {
    const unsigned char* p = data + i * 4;
    uint32_t k = uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h *= kM;
    h ^= k;
  }
  const unsigned char* tail = data + whole * 4;
  switch (length % 4) {
    case 3:
      h ^= uint32_t{tail[2]} << 16;
      [[fallthrough]];
    case 2:
      h ^= uint32_t{tail[1]} << 8;
      [[fallthrough]];
    case 1:
      h ^= uint32_t{tail[0]};
      h *= kM;
  }
  h ^= h >> 13;
  h *= kM;
  h ^= h >> 15;
  return static_cast<int32_t>(h);
}

int32_t kafka_partition_for_key(std::string_view key, int32_t partitions) {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

}  // namespace sluice
