// CRC-32C throughput of the portable and hardware paths at a record, a page and a segment chunk.
#include <benchmark/benchmark.h>

#include "gbench_main.h"

#include <cstdint>
#include <random>
#include <string>

#include "sluice/base/crc32c.h"

namespace sluice::crc32c {
namespace {

using ExtendFn = uint32_t (*)(uint32_t, const char*, size_t);

void run(benchmark::State& state, ExtendFn fn) {
  std::string data(static_cast<size_t>(state.range(0)), '\0');
  std::mt19937 rng(42);
  for (char& c : data) c = static_cast<char>(rng());
  uint32_t crc = 0;
  for (auto _ : state) {
    crc = fn(crc, data.data(), data.size());
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_Crc32cPortable(benchmark::State& state) { run(state, &detail::extend_portable); }

void BM_Crc32cHardware(benchmark::State& state) {
  if (!hardware_accelerated()) {
    state.SkipWithError("no SSE4.2 + PCLMULQDQ on this CPU");
    return;
  }
  run(state, &detail::extend_hardware);
}

BENCHMARK(BM_Crc32cPortable)->Arg(64)->Arg(4 << 10)->Arg(1 << 20);
BENCHMARK(BM_Crc32cHardware)->Arg(64)->Arg(4 << 10)->Arg(1 << 20);

// The portable table-driven loop is the in-run baseline.
SLUICE_BENCH_RATIO(crc32c_1mib_hardware_vs_portable_ratio, "BM_Crc32cHardware/1048576",
                   "BM_Crc32cPortable/1048576");

}  // namespace
}  // namespace sluice::crc32c
