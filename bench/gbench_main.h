// The main() of our Google Benchmark binaries: the console table as usual, plus the flat JSON
// results file that `make bench` collects (--out=build/bench-results/<bench>.json). A bench
// declares ratios against its in-run baseline with SLUICE_BENCH_RATIO.
#pragma once

#include <string>

namespace sluice::bench {

// Registers "<name>" = bytes/s of `run` / bytes/s of `baseline` (full run names, e.g.
// "BM_Crc32cHardware/1048576").
bool register_ratio(std::string name, std::string run, std::string baseline);

}  // namespace sluice::bench

#define SLUICE_BENCH_RATIO(name, run, baseline) \
  static const bool sluice_ratio_##name = ::sluice::bench::register_ratio(#name, run, baseline)
