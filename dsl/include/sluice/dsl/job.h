// Jobs: a topology packaged as a shared library that a Sluice server loads and runs.
//
// A job library exports one registration function that builds its topology from a config map
// (the `--config k=v` pairs of `sluice job submit`). Write it with SLUICE_JOB:
//
//   #include "sluice/dsl/job.h"
//   #include "sluice/dsl/topology_builder.h"
//
//   sluice::Result<sluice::dsl::JobDefinition> build(const sluice::dsl::JobConfig& config) {
//     SLUICE_ASSIGN_OR_RETURN(int64_t window_ms, config.get_int("window.ms", 60'000));
//     sluice::dsl::TopologyBuilder b;
//     ... b.stream<std::string, std::string>("clicks") ... .to("clicks-per-minute");
//     SLUICE_ASSIGN_OR_RETURN(auto topology, b.build());
//     return sluice::dsl::JobDefinition{.topology = std::move(topology),
//                                       .topics = {{"clicks", 4}, {"clicks-per-minute", 4}}};
//   }
//   SLUICE_JOB(build)
//
// and build it with `sluice_add_job(myjob myjob.cc)` (CMake, after find_package(Sluice)).
//
// The server checks a library in a short-lived child process first (it loads, its ABI version
// matches, the symbol is there, the topology builds and validates), so a library that crashes
// or misbehaves on load cannot take the server down. The library runs inside the server: it is
// built with the same compiler and Sluice headers as the server (the ABI version says which).
//
// Thread safety: the registration function may be called from any thread, more than once.
#pragma once

#include <charconv>
#include <cstdint>
#include <exception>
#include <map>
#include <string>
#include <string_view>
#include <utility>

#include "sluice/base/result.h"
#include "sluice/operators/topology.h"

namespace sluice::dsl {

// Bumped whenever what crosses the library boundary (Topology and everything it holds, the
// node and context interfaces, this header) changes layout. The server refuses a library
// built for another one.
inline constexpr int kJobAbiVersion = 1;

// A job's settings: string keys and values, with typed accessors whose errors name the key.
class JobConfig {
 public:
  JobConfig() = default;
  explicit JobConfig(std::map<std::string, std::string> values) : values_(std::move(values)) {}

  const std::map<std::string, std::string>& values() const { return values_; }
  bool contains(std::string_view key) const { return values_.contains(std::string(key)); }

  std::string get_string(std::string_view key, std::string fallback) const {
    auto it = values_.find(std::string(key));
    return it == values_.end() ? std::move(fallback) : it->second;
  }

  // kInvalidArgument when the value is not an integer.
  Result<int64_t> get_int(std::string_view key, int64_t fallback) const {
    auto it = values_.find(std::string(key));
    if (it == values_.end()) return fallback;
    const std::string& v = it->second;
    int64_t out = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc() || end != v.data() + v.size()) {
      return invalid_argument("config " + std::string(key) + "='" + v + "' is not an integer");
    }
    return out;
  }

  // kInvalidArgument unless the value is true/false.
  Result<bool> get_bool(std::string_view key, bool fallback) const {
    auto it = values_.find(std::string(key));
    if (it == values_.end()) return fallback;
    if (it->second == "true") return true;
    if (it->second == "false") return false;
    return invalid_argument("config " + std::string(key) + "='" + it->second +
                            "' is not true or false");
  }

 private:
  std::map<std::string, std::string> values_;
};

struct JobDefinition {
  operators::Topology topology;  // built (TopologyBuilder::build())
  // Topics the job reads or writes that the server creates, with these partition counts,
  // when they do not exist yet. Internal topics (repartition, changelogs) need no entry.
  std::map<std::string, int32_t> topics;
};

using JobBuildFunction = Result<JobDefinition> (*)(const JobConfig&);

// The symbols a job library exports (what SLUICE_JOB defines).
inline constexpr const char* kJobAbiSymbol = "sluice_job_abi_version";
inline constexpr const char* kJobBuildSymbol = "sluice_job_build";
using JobAbiVersionSymbol = int (*)();
using JobBuildSymbol = void (*)(const JobConfig*, Result<JobDefinition>*);

// Runs `fn`, turning an escaping exception into kInvalidArgument: nothing is thrown across the
// library boundary.
inline void call_job_build(JobBuildFunction fn, const JobConfig* config,
                           Result<JobDefinition>* out) {
  try {
    *out = fn(*config);
  } catch (const std::exception& e) {
    *out = invalid_argument(std::string("the job's build function threw: ") + e.what());
  } catch (...) {
    *out = invalid_argument("the job's build function threw a non-standard exception");
  }
}

}  // namespace sluice::dsl

// Exports `build_function` (Result<JobDefinition>(const JobConfig&)) as the library's job.
#define SLUICE_JOB(build_function)                                                 \
  extern "C" __attribute__((visibility("default"))) int sluice_job_abi_version() { \
    return ::sluice::dsl::kJobAbiVersion;                                          \
  }                                                                                \
  extern "C" __attribute__((visibility("default"))) void sluice_job_build(         \
      const ::sluice::dsl::JobConfig* config,                                      \
      ::sluice::Result<::sluice::dsl::JobDefinition>* out) {                       \
    ::sluice::dsl::call_job_build(&build_function, config, out);                   \
  }
