#include <benchmark/benchmark.h>

#include <cstring>
#include <map>
#include <vector>

#include "bench_util.h"
#include "gbench_main.h"

namespace sluice::bench {
namespace {

struct Ratio {
  std::string name, run, baseline;
};

std::vector<Ratio>& ratios() {
  static std::vector<Ratio> r;
  return r;
}

// The console table, and every run's throughput remembered for the JSON file.
class CollectingReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred) continue;
      const std::string name = run.benchmark_name();
      for (const char* counter : {"bytes_per_second", "items_per_second"}) {
        auto it = run.counters.find(counter);
        if (it != run.counters.end()) values[name][counter] = it->second.value;
      }
    }
  }
  std::map<std::string, std::map<std::string, double>> values;
};

std::string metric_name(std::string s) {
  if (s.rfind("BM_", 0) == 0) s = s.substr(3);
  for (char& c : s) {
    if (c == '/' || c == ':' || c == '<' || c == '>') c = '_';
  }
  return s;
}

}  // namespace

bool register_ratio(std::string name, std::string run, std::string baseline) {
  ratios().push_back({std::move(name), std::move(run), std::move(baseline)});
  return true;
}

}  // namespace sluice::bench

int main(int argc, char** argv) {
  std::string out;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--out=", 6) == 0) {
      out = argv[i] + 6;
    } else {
      args.push_back(argv[i]);
    }
  }
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, args.data());
  sluice::bench::CollectingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  if (out.empty()) return 0;
  sluice::bench::Results results;
  for (const auto& [name, counters] : reporter.values) {
    for (const auto& [counter, value] : counters) {
      const char* unit =
          std::strcmp(counter.c_str(), "bytes_per_second") == 0 ? "_mb_s" : "_items_s";
      results.set(sluice::bench::metric_name(name) + unit, unit[1] == 'm' ? value / 1e6 : value);
    }
  }
  for (const auto& r : sluice::bench::ratios()) {
    auto a = reporter.values.find(r.run), b = reporter.values.find(r.baseline);
    if (a == reporter.values.end() || b == reporter.values.end()) continue;
    double base = b->second["bytes_per_second"];
    if (base > 0) results.set(r.name, a->second["bytes_per_second"] / base);
  }
  return results.write(out) ? 0 : 1;
}
