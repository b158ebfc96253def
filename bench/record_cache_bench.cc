// The record cache's read-modify-write of hot keys, with no commit: the lookup cost under
// state_bench's cached RMW, against a hand-written absl::flat_hash_map<std::string, std::string>
// doing the same get, copy out, increment and put back.
//
//   build/bench/record_cache_bench [--benchmark_filter=Rmw]
//
// Keys "key-%012llu" (16 bytes) drawn uniformly from N and written into one buffer (as a record's
// key is at hand in the batch just decoded), 100-byte values, every key cached before timing
// starts; N = 10,000 fits the L2 cache, N = 100,000 does not.
#include <absl/container/flat_hash_map.h>
#include <benchmark/benchmark.h>

#include "gbench_main.h"

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "record_cache.h"

namespace sluice::state {
namespace {

constexpr size_t kValueSize = 100;

// "key-%012u" of `k`, written over `key` (16 bytes).
std::string_view format_key(std::string& key, uint32_t k) {
  key.assign("key-000000000000");
  for (size_t at = key.size() - 1; at >= 4; --at) {
    key[at] = static_cast<char>('0' + k % 10);
    k /= 10;
  }
  return key;
}

// The draws, made before timing: the bench measures the cache, not the generator.
std::vector<uint32_t> make_draws(int64_t n) {
  std::mt19937_64 rng(3);
  std::vector<uint32_t> draws(1 << 20);
  for (uint32_t& d : draws) d = static_cast<uint32_t>(rng() % static_cast<uint64_t>(n));
  return draws;
}

uint64_t increment(std::string& value) {
  uint64_t n = 0;
  std::memcpy(&n, value.data(), sizeof(n));
  ++n;
  std::memcpy(value.data(), &n, sizeof(n));
  return n;
}

void BM_RecordCacheRmw(benchmark::State& state) {
  const auto draws = make_draws(state.range(0));
  std::string key;
  RecordCache cache(size_t{1} << 30);
  const int store = cache.add_store([](ByteView, std::optional<ByteView>) { return Status(); });
  std::string value(kValueSize, 'x');
  for (uint32_t k = 0; k < state.range(0); ++k) {
    if (!cache.put(store, format_key(key, k), value, false).ok()) state.SkipWithError("put");
  }
  size_t i = 0;
  for (auto _ : state) {
    const std::string_view k = format_key(key, draws[i++ & (draws.size() - 1)]);
    RecordCache::Lookup hit = cache.get(store, k);
    value.assign(*hit.value);
    increment(value);
    benchmark::DoNotOptimize(cache.put(store, k, value, /*dirty=*/true));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kValueSize));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// The baseline: the same work on a plain hash map (no dirty tracking, no budget, no eviction).
void BM_FlatHashMapRmw(benchmark::State& state) {
  const auto draws = make_draws(state.range(0));
  std::string key;
  absl::flat_hash_map<std::string, std::string> map;
  std::string value(kValueSize, 'x');
  for (uint32_t k = 0; k < state.range(0); ++k) map[std::string(format_key(key, k))] = value;
  size_t i = 0;
  for (auto _ : state) {
    const std::string_view k = format_key(key, draws[i++ & (draws.size() - 1)]);
    auto it = map.find(absl::string_view(k.data(), k.size()));
    value.assign(it->second);
    increment(value);
    it->second.assign(value);
    benchmark::DoNotOptimize(it);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kValueSize));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

BENCHMARK(BM_RecordCacheRmw)->Arg(10'000)->Arg(100'000);
BENCHMARK(BM_FlatHashMapRmw)->Arg(10'000)->Arg(100'000);

SLUICE_BENCH_RATIO(record_cache_rmw_100k_vs_flat_hash_map_ratio, "BM_RecordCacheRmw/100000",
                   "BM_FlatHashMapRmw/100000");

}  // namespace
}  // namespace sluice::state
