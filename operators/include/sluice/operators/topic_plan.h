// TopicPlan: every topic a built topology reads or writes, with its partition count.
//
// External topics (sources, sinks, global tables, the dead-letter topic) have the counts the
// caller reports — the runtime looks them up in the log and refuses missing ones, the test
// driver creates them. An internal (repartition) topic gets the most partitions of the inputs
// of the sub-topology that writes it (resolved through chains of repartitions), and its name in
// the log is `<application-id>-<name>`. Co-partitioned topics (joins) must have equal counts.
//
// Thread safety: a value; plan_topics() is a pure function.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "sluice/base/result.h"
#include "sluice/operators/topology.h"

namespace sluice::operators {

struct TopicPlan {
  // By the topology's name of the topic.
  std::map<std::string, int32_t, std::less<>> partitions;
  // The log's name of each topic (internal ones prefixed with the application id).
  std::map<std::string, std::string, std::less<>> log_names;
  std::set<std::string, std::less<>> internal;  // by the topology's name

  int32_t partitions_of(std::string_view topic) const { return partitions.find(topic)->second; }
  const std::string& log_name(std::string_view topic) const {
    return log_names.find(topic)->second;
  }
};

// The partition count of an external topic; an error (e.g. kNotFound with what to do) stops
// the plan.
using ExternalPartitions = std::function<Result<int32_t>(const std::string& topic)>;

// kInvalidArgument when a repartition topic has no writer or co-partitioned topics differ.
Result<TopicPlan> plan_topics(const Topology& topology, std::string_view application_id,
                              const ExternalPartitions& external);

}  // namespace sluice::operators
