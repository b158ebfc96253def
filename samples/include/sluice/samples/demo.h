// The samples as demos: generate a sample's events onto an embedded log, run its job on the
// runtime (exactly-once), check the output against the sample's oracle, and print a readable
// summary with the throughput. `make demo` (sluice-demo) and `sluice demo <name>` run these.
//
// Thread safety: run one demo at a time per data directory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sluice::samples {

struct DemoOptions {
  std::string sample = "page-views";  // see demo_names()
  int64_t events = 0;                 // 0: the sample's default
  uint64_t seed = 1;
  int threads = 2;
  int top = 3;           // rows shown per window / longest sessions shown
  std::string data_dir;  // empty: a temporary directory, removed at the end
  bool keep = false;     // keep the temporary directory
};

std::vector<std::string> demo_names();

// Prints to stdout (progress on stderr when it is a terminal). Returns the exit code: 0 when
// the job's output equals the oracle.
int run_demo(const DemoOptions& options);

}  // namespace sluice::samples
