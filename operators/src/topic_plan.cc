#include "sluice/operators/topic_plan.h"

#include <algorithm>
#include <set>

namespace sluice::operators {
namespace {

std::set<std::string> external_topics(const Topology& topology) {
  std::set<std::string> out;
  for (const auto& n : topology.nodes()) {
    for (const auto& t : n.topics) {
      if (!topology.is_internal(t)) out.insert(t);
    }
  }
  for (const auto& g : topology.global_tables()) out.insert(g.topic);
  const std::string& dlq = topology.error_handling().dead_letter_topic;
  if (!dlq.empty()) out.insert(dlq);
  return out;
}

// An internal topic gets the most partitions of the inputs of the sub-topology writing it;
// those inputs may be internal themselves, so resolve until nothing changes. A topic the
// sub-topology also reads (one side of a stream repartitioned and merged back into it) takes
// its count from the other inputs.
void resolve_internal(const Topology& topology, TopicPlan& plan) {
  for (bool changed = true; changed;) {
    changed = false;
    for (const auto& st : topology.subtopologies()) {
      int32_t most = 0;
      bool resolved = true;
      for (const auto& src : st.source_topics) {
        if (std::find(st.sink_topics.begin(), st.sink_topics.end(), src) != st.sink_topics.end()) {
          continue;
        }
        auto it = plan.partitions.find(src);
        if (it == plan.partitions.end()) {
          resolved = false;
          break;
        }
        most = std::max(most, it->second);
      }
      if (!resolved || most == 0) continue;
      for (const auto& sink : st.sink_topics) {
        if (topology.is_internal(sink) && !plan.partitions.contains(sink)) {
          plan.partitions[sink] = most;
          changed = true;
        }
      }
    }
  }
}

Status check_copartitioned(const Topology& topology, const TopicPlan& plan) {
  for (const auto& g : topology.copartition_groups()) {
    std::set<int32_t> counts;
    std::string listing;
    for (const auto& t : g.topics) {
      counts.insert(plan.partitions_of(t));
      listing +=
          (listing.empty() ? "" : ", ") + t + " (" + std::to_string(plan.partitions_of(t)) + ")";
    }
    if (counts.size() > 1) {
      return invalid_argument("topics " + listing + " must have the same number of partitions: " +
                              g.reason + " (repartition one side, or create them alike)");
    }
  }
  return Status();
}

}  // namespace

Result<TopicPlan> plan_topics(const Topology& topology, std::string_view application_id,
                              const ExternalPartitions& external) {
  TopicPlan plan;
  for (const auto& t : external_topics(topology)) {
    SLUICE_ASSIGN_OR_RETURN(plan.partitions[t], external(t));
    plan.log_names[t] = t;
  }
  resolve_internal(topology, plan);
  for (const auto& t : topology.internal_topics()) {
    if (!plan.partitions.contains(t.name)) {
      return invalid_argument("repartition topic '" + t.name + "' has no writer");
    }
    plan.internal.insert(t.name);
    plan.log_names[t.name] = std::string(application_id) + "-" + t.name;
  }
  SLUICE_RETURN_IF_ERROR(check_copartitioned(topology, plan));
  return plan;
}

}  // namespace sluice::operators
