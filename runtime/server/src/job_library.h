// Loading job libraries (sluice/dsl/job.h) and checking them safely.
//
// `JobLibrary::open` loads a library into this process; it is what `sluice job validate` and
// the server (after the check) do. `check_job_library` runs `sluice job validate --json` in a
// child process with a time limit, so that a library that crashes, hangs or exits while
// loading or building its topology costs a child, never the server.
//
// Libraries are never unloaded: code of a job may still be referenced (thread-local
// destructors, static objects) after its runtime stops. A replaced job's old library stays
// mapped until the server restarts.
//
// Thread safety: JobLibrary is immutable after open().
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/base/result.h"
#include "sluice/dsl/job.h"
#include "sluice/runtime/runtime.h"

namespace sluice::server {

class JobLibrary {
 public:
  // kInvalidArgument (saying what to do) when the file is not a loadable shared library, does
  // not export the job symbols, or was built for another job ABI.
  static Result<std::shared_ptr<JobLibrary>> open(const std::string& path);

  Result<dsl::JobDefinition> build(const dsl::JobConfig& config) const;
  const std::string& path() const { return path_; }

 private:
  JobLibrary() = default;
  std::string path_;
  dsl::JobBuildSymbol build_ = nullptr;
};

// What a check found out about a job, from its built topology.
struct JobCheck {
  std::string topology;                      // Topology::describe()
  std::vector<std::string> stores;           // names, sorted
  std::vector<std::string> internal_topics;  // repartition topics (full names)
  std::map<std::string, int32_t> topics;     // JobDefinition::topics
};

// The check's result as JSON, and back: what `sluice job validate --json` prints.
std::string job_check_to_json(const Result<JobCheck>& check);
Result<JobCheck> job_check_from_json(const std::string& json);

// What a built job consists of (and its topics' partition counts checked).
Result<JobCheck> describe_job(const dsl::JobDefinition& definition);

// Loads the library and builds its topology from `config`, in this process.
Result<JobCheck> check_job_in_process(const std::string& library, const dsl::JobConfig& config);

// The same in a child process: `<cli> job validate --json <library> --config k=v ...`, killed
// after `timeout`. kInvalidArgument when the library fails the check or the child dies.
Result<JobCheck> check_job_library(const std::string& cli, const std::string& library,
                                   const dsl::JobConfig& config,
                                   std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The config keys the runtime takes (threads, commit.interval.ms, processing.guarantee,
// offset.reset, max.task.drift.ms); the rest go to the job.
struct RuntimeSettings {
  int threads = 1;
  int64_t commit_interval_ms = 0;            // 0: the caller's default
  std::optional<int64_t> max_task_drift_ms;  // RuntimeConfig's default when unset
  runtime::ProcessingGuarantee guarantee = runtime::ProcessingGuarantee::kExactlyOnce;
  runtime::OffsetReset offset_reset = runtime::OffsetReset::kEarliest;
};

// Splits a job's config into the runtime's settings (checked) and `job_config` (the rest).
// kInvalidArgument names a bad runtime value.
Result<RuntimeSettings> split_config(const std::map<std::string, std::string>& all,
                                     dsl::JobConfig& job_config);

}  // namespace sluice::server
