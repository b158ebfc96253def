// The Prometheus endpoint: every scrape reads the numbers fresh from the log and the jobs (a
// prometheus::Collectable), so nothing is sampled in the background and nothing goes stale.
//
// Families (all prefixed sluice_): topic partitions (log start, high watermark, stable end,
// bytes), consumer groups (committed offset, lag), jobs (state, records, commits, commit
// latency), tasks (records, input lag, ns per record), operators (records in/out, late drops),
// stores (keys, disk bytes, restored records, restore progress), and the shared RocksDB memory.
//
// Thread safety: Collect() runs on the HTTP server's threads; the log and job manager are
// thread-safe.
#pragma once

#include <memory>
#include <string>

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include "job_manager.h"
#include "sluice/logstore/log_store.h"

namespace sluice::server {

class ServerMetrics : public prometheus::Collectable {
 public:
  ServerMetrics(logstore::LogStore& log, JobManager& jobs) : log_(log), jobs_(jobs) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  logstore::LogStore& log_;
  JobManager& jobs_;
};

// Serves `collectable` at http://<address>/metrics. kUnavailable when the address cannot be
// bound.
Result<std::unique_ptr<prometheus::Exposer>> expose_metrics(
    const std::string& address, const std::shared_ptr<prometheus::Collectable>& collectable);

}  // namespace sluice::server
