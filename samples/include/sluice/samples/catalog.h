// The samples as jobs: each one's topology and topics, built from a job config, by name. The
// server runs them for `sluice job submit --sample <name>`; samples/jobs/ packages them as job
// libraries too.
//
// Config keys every sample takes: partitions (of the topics it creates, default 4).
//
// Thread safety: immutable after first use.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "sluice/dsl/job.h"

namespace sluice::samples {

struct SampleJob {
  std::string name;  // "page-views"
  std::string description;
  dsl::JobBuildFunction build;
};

const std::vector<SampleJob>& sample_jobs();
// nullptr for an unknown name.
const SampleJob* find_sample(std::string_view name);

Result<dsl::JobDefinition> page_views_job(const dsl::JobConfig& config);
Result<dsl::JobDefinition> sessions_job(const dsl::JobConfig& config);
Result<dsl::JobDefinition> ad_clicks_job(const dsl::JobConfig& config);
Result<dsl::JobDefinition> yahoo_job(const dsl::JobConfig& config);
Result<dsl::JobDefinition> host_alerts_job(const dsl::JobConfig& config);
// Nexmark query `query` (see nexmark.h for the ones built).
Result<dsl::JobDefinition> nexmark_job(int query, const dsl::JobConfig& config);

}  // namespace sluice::samples
