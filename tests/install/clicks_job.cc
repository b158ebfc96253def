// A job library built against an installed Sluice with sluice_add_job, as a job author would:
// clicks per page, counted.
#include <cstdint>
#include <string>

#include "sluice/dsl/job.h"
#include "sluice/dsl/topology_builder.h"

namespace {

sluice::Result<sluice::dsl::JobDefinition> build(const sluice::dsl::JobConfig& config) {
  SLUICE_ASSIGN_OR_RETURN(int64_t partitions, config.get_int("partitions", 2));
  sluice::dsl::TopologyBuilder b;
  b.stream<std::string, std::string>("clicks")
      .group_by_key()
      .count("clicks-per-page")
      .to_stream()
      .to("clicks-per-page-out");
  SLUICE_ASSIGN_OR_RETURN(auto topology, b.build());
  return sluice::dsl::JobDefinition{
      .topology = std::move(topology),
      .topics = {{"clicks", static_cast<int32_t>(partitions)},
                 {"clicks-per-page-out", static_cast<int32_t>(partitions)}}};
}

}  // namespace

SLUICE_JOB(build)
