#include "sluice/base/crc32c.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace sluice::crc32c {
namespace {

// Bit at a time, straight from the definition: the yardstick for both real implementations.
uint32_t bitwise_reference(uint32_t crc, const char* data, size_t n) {
  uint32_t r = ~crc;
  for (size_t i = 0; i < n; ++i) {
    r ^= static_cast<uint8_t>(data[i]);
    for (int bit = 0; bit < 8; ++bit) r = (r >> 1) ^ ((r & 1) ? 0x82F63B78u : 0);
  }
  return ~r;
}

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Checks `expected` against extend(), value() and both implementations.
void expect_checksum(const std::string& data, uint32_t expected) {
  EXPECT_EQ(value(data), expected);
  EXPECT_EQ(extend(0, data.data(), data.size()), expected);
  EXPECT_EQ(detail::extend_portable(0, data.data(), data.size()), expected);
  if (hardware_accelerated()) {
    EXPECT_EQ(detail::extend_hardware(0, data.data(), data.size()), expected);
  }
}

std::string bytes_from(std::vector<int> values) {
  std::string s;
  for (int v : values) s.push_back(static_cast<char>(v));
  return s;
}

TEST(Crc32cTest, MatchesStandardCheckValueFor123456789) {
  expect_checksum("123456789", 0xE3069283);
}

TEST(Crc32cTest, EmptyInputHasChecksumZero) { expect_checksum("", 0); }

TEST(Crc32cTest, ExtendingByNothingLeavesChecksumUnchanged) {
  EXPECT_EQ(extend(0xE3069283, nullptr, 0), 0xE3069283u);
  EXPECT_EQ(detail::extend_portable(0x12345678, nullptr, 0), 0x12345678u);
  if (hardware_accelerated()) {
    EXPECT_EQ(detail::extend_hardware(0x12345678, nullptr, 0), 0x12345678u);
  }
}

TEST(Crc32cTest, MatchesRfc3720VectorFor32ZeroBytes) {
  expect_checksum(std::string(32, '\0'), 0x8A9136AA);
}

TEST(Crc32cTest, MatchesRfc3720VectorFor32OnesBytes) {
  expect_checksum(std::string(32, '\xFF'), 0x62A8AB43);
}

TEST(Crc32cTest, MatchesRfc3720VectorForAscendingBytes) {
  std::vector<int> ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(i);
  expect_checksum(bytes_from(ascending), 0x46DD794E);
}

TEST(Crc32cTest, MatchesRfc3720VectorForDescendingBytes) {
  std::vector<int> descending;
  for (int i = 31; i >= 0; --i) descending.push_back(i);
  expect_checksum(bytes_from(descending), 0x113FDB5C);
}

TEST(Crc32cTest, MatchesRfc3720VectorForIscsiReadCommand) {
  expect_checksum(
      bytes_from({0x01, 0xC0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                  0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
                  0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
                  0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}),
      0xD9963A56);
}

TEST(Crc32cTest, PortableMatchesBitwiseReferenceForShortInputs) {
  std::string data = random_bytes(300, 1);
  for (size_t n = 0; n <= data.size(); ++n) {
    ASSERT_EQ(detail::extend_portable(0x5A5A5A5A, data.data(), n),
              bitwise_reference(0x5A5A5A5A, data.data(), n))
        << "length " << n;
  }
}

TEST(Crc32cTest, HardwarePathIsChosenWhenCpuHasSse42AndPclmul) {
#if defined(__x86_64__)
  if (!__builtin_cpu_supports("sse4.2") || !__builtin_cpu_supports("pclmul")) {
    GTEST_SKIP() << "this CPU lacks SSE4.2 or PCLMULQDQ";
  }
  EXPECT_TRUE(hardware_accelerated());
#else
  EXPECT_FALSE(hardware_accelerated());
#endif
}

TEST(Crc32cTest, HardwareMatchesPortableForEveryLengthUpTo1024AtEveryAlignment) {
  if (!hardware_accelerated()) GTEST_SKIP() << "no hardware path on this CPU";
  std::string buffer = random_bytes(1024 + 8, 2);
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t n = 0; n <= 1024; ++n) {
      const char* p = buffer.data() + offset;
      uint32_t seed = static_cast<uint32_t>(n * 2654435761u);
      ASSERT_EQ(detail::extend_hardware(seed, p, n), detail::extend_portable(seed, p, n))
          << "offset " << offset << " length " << n;
    }
  }
}

TEST(Crc32cTest, HardwareMatchesPortableOnLargeBuffersAndBlockBoundaries) {
  if (!hardware_accelerated()) GTEST_SKIP() << "no hardware path on this CPU";
  // The hardware path switches strategy at multiples of 3 * 64, 3 * 512 and 3 * 4096 bytes.
  std::vector<size_t> lengths = {1 << 20,
                                 (1 << 20) + 13,
                                 3 * 4096 - 1,
                                 3 * 4096,
                                 3 * 4096 + 1,
                                 2 * 3 * 4096 + 3 * 512 + 3 * 64 + 7,
                                 3 * 512 + 3 * 64 - 1,
                                 100'003};
  std::string buffer = random_bytes((1 << 20) + 13 + 8, 3);
  for (size_t n : lengths) {
    for (size_t offset : {0, 1, 3, 7}) {
      const char* p = buffer.data() + offset;
      ASSERT_EQ(detail::extend_hardware(0, p, n), detail::extend_portable(0, p, n))
          << "offset " << offset << " length " << n;
    }
  }
}

TEST(Crc32cTest, ExtendOfSplitInputEqualsValueOfWhole) {
  std::string data = random_bytes(40'000, 4);
  uint32_t whole = value(data);
  ASSERT_EQ(whole, detail::extend_portable(0, data.data(), data.size()));
  for (size_t split = 0; split <= data.size(); split += 997) {
    uint32_t head = value(std::string_view(data).substr(0, split));
    EXPECT_EQ(extend(head, data.data() + split, data.size() - split), whole) << "split " << split;
    uint32_t portable_head = detail::extend_portable(0, data.data(), split);
    EXPECT_EQ(detail::extend_portable(portable_head, data.data() + split, data.size() - split),
              whole)
        << "split " << split;
  }
}

TEST(Crc32cTest, ExtendingOneByteAtATimeEqualsValueOfWhole) {
  std::string data = random_bytes(100, 5);
  uint32_t crc = 0;
  for (char c : data) crc = extend(crc, &c, 1);
  EXPECT_EQ(crc, value(data));
}

TEST(Crc32cTest, DetectsEverySingleBitFlip) {
  std::string data = random_bytes(64, 6);
  uint32_t original = value(data);
  for (size_t bit = 0; bit < data.size() * 8; ++bit) {
    std::string flipped = data;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    EXPECT_NE(value(flipped), original) << "bit " << bit;
  }
}

}  // namespace
}  // namespace sluice::crc32c
