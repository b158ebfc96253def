// The workload of the crash tests, shared by the child process that gets killed and the parent
// that checks the log afterwards: batch `b` of round `r` holds records whose keys and values are
// a pure function of (r, b, i), so the parent can regenerate every acknowledged byte.
#pragma once

#include <cstdint>
#include <string>

namespace sluice::testing::crash {

inline constexpr const char* kTopic = "crash";
inline constexpr int kPartitions = 2;

inline uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

inline int records_in_batch(uint64_t seed, int round, int batch) {
  return 1 + static_cast<int>(mix(seed ^ mix(round * 1'000'003ull + batch)) % 40);
}

inline std::string key_of(int round, int batch, int i) {
  return "r" + std::to_string(round) + "-b" + std::to_string(batch) + "-i" + std::to_string(i);
}

inline std::string value_of(uint64_t seed, int round, int batch, int i) {
  uint64_t h = mix(
      seed ^ mix((static_cast<uint64_t>(round) << 40) ^ (static_cast<uint64_t>(batch) << 16) ^ i));
  std::string v(16 + h % 400, '\0');
  for (char& c : v) {
    h = mix(h);
    c = static_cast<char>(h);
  }
  return v;
}

}  // namespace sluice::testing::crash
