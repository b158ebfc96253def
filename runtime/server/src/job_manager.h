// JobManager: the jobs a server runs, persisted under `<data_dir>/jobs/<name>/`.
//
// Each job directory holds `job.json` (spec, config, whether it should run, the stores its
// topology has), the uploaded library (`lib-<time>.so`, for library jobs) and `state/` (the
// runtime's RocksDB per task). A job runs on the server's log through a runtime::Runtime with
// the job's name as application id, so its checkpoints, changelogs and committed offsets make
// a restart (clean or after SIGKILL) resume exactly where the last commit left off.
//
// Thread safety: all methods may be called concurrently (one mutex; runtimes are started and
// stopped outside it only where noted).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "job_library.h"
#include "sluice/base/mutex.h"
#include "sluice/logstore/log_store.h"
#include "sluice/runtime/runtime.h"
#include "sluice/state/memory_budget.h"
#include "sluice/v1/jobs.pb.h"

namespace sluice::server {

struct JobManagerOptions {
  std::string jobs_dir;  // <data_dir>/jobs
  std::string cli;       // the `sluice` binary, for checking libraries in a child process
  std::shared_ptr<state::StateMemoryBudget> memory;  // shared by every job
  int64_t commit_interval_ms = 100;
};

// What is persisted per job.
struct JobRecord {
  std::string name;
  std::string sample;        // a built-in sample, or
  std::string library_file;  // the library in the job's directory
  std::string library_name;  // as uploaded
  std::map<std::string, std::string> config;
  bool should_run = true;
  int64_t submitted_ms = 0;
  std::vector<std::string> stores;
  std::vector<std::string> internal_topics;
  std::string topology;
};

class JobManager {
 public:
  JobManager(logstore::LogStore& log, JobManagerOptions options);
  ~JobManager();

  // Loads the persisted jobs and starts those that were running. A job that fails to start is
  // kept, FAILED, with the reason.
  Status recover();

  // `library` holds the uploaded bytes for a library job (empty for a sample).
  Result<v1::JobDescription> submit(const v1::JobSpec& spec, const std::string& library);
  std::vector<v1::JobSummary> list();
  Result<v1::JobDescription> describe(const std::string& name);
  Result<v1::JobDescription> stop(const std::string& name);
  Result<v1::JobDescription> restart(const std::string& name);
  Status remove(const std::string& name, bool reset_state);
  Result<v1::QueryStoreResponse> query(const v1::QueryStoreRequest& request);

  // Stops every job (each commits); their persisted state says they should run, so the next
  // start resumes them.
  void shutdown();

  // Every running job's runtime metrics, for the metrics endpoint.
  struct JobMetrics {
    std::string name;
    v1::JobState state;
    runtime::RuntimeMetrics metrics;
  };
  std::vector<JobMetrics> metrics();
  // The RocksDB memory all jobs share, and its cap.
  state::MemoryUsage memory_usage() const { return options_.memory->usage(); }

 private:
  struct Job {
    JobRecord record;
    std::shared_ptr<JobLibrary> library;
    std::unique_ptr<runtime::Runtime> runtime;
    Status failure;  // why it could not start
  };

  std::string job_dir(const std::string& name) const;
  Status persist(const JobRecord& record);
  // Builds the job's topology, creates its topics and starts its runtime.
  Status start(Job& job) SLUICE_REQUIRES(mu_);
  void stop_runtime(Job& job) SLUICE_REQUIRES(mu_);
  // Deletes the job's state directory and internal topics, and rewinds its group.
  Status reset_state(const std::string& name) SLUICE_REQUIRES(mu_);
  v1::JobSummary summary(const Job& job) const SLUICE_REQUIRES(mu_);
  v1::JobDescription description(const Job& job) const SLUICE_REQUIRES(mu_);

  logstore::LogStore& log_;
  JobManagerOptions options_;
  Mutex mu_;
  std::map<std::string, std::unique_ptr<Job>> jobs_ SLUICE_GUARDED_BY(mu_);
};

}  // namespace sluice::server
