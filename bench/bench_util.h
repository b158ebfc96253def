// Small helpers shared by the end-to-end benchmark harnesses: timing, medians, a flat JSON
// results file (build/bench-results/<bench>.json: metric name -> number) and a progress line.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <unistd.h>

namespace sluice::bench {

inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Metric name -> value, written as one flat JSON object.
class Results {
 public:
  void set(const std::string& name, double value) { values_[name] = value; }
  bool write(const std::string& path) const {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream out(path);
    out << "{\n";
    size_t i = 0;
    for (const auto& [k, v] : values_) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%.6g", v);
      out << "  \"" << k << "\": " << buf << (++i < values_.size() ? ",\n" : "\n");
    }
    out << "}\n";
    return static_cast<bool>(out);
  }

 private:
  std::map<std::string, double> values_;
};

// "[ 3/40] label" on a terminal, overwritten in place; plain lines otherwise.
inline void progress(int done, int total, const std::string& label) {
  if (isatty(STDERR_FILENO)) {
    std::fprintf(stderr, "\r[%3d/%d] %-60s", done, total, label.c_str());
  } else {
    std::fprintf(stderr, "[%3d/%d] %s\n", done, total, label.c_str());
  }
  std::fflush(stderr);
}

}  // namespace sluice::bench
