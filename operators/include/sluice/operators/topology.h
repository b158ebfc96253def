// Topology: the logical plan of a processing job — a graph of named nodes (sources, operators,
// sinks), the state stores they use and the topics they read and write — plus, for every
// node, the factory that makes its instance in a task.
//
// The DSL (sluice/dsl/) builds one; the low-level processor API can too (add_source,
// add_processor, add_sink, add_store). build() validates it and splits it into
// sub-topologies: the connected parts of the graph, cut at repartition topics (a sink to an
// internal topic and the source reading it are not connected) and joined by shared stores.
// Each sub-topology runs as one task per partition of its source topics.
//
// Names are what keep state across changes of a topology: a store's changelog is
// `<application-id>-<store>-changelog` and a repartition topic `<application-id>-<name>-
// repartition`, so a job whose names are kept finds its state again. Names the user does not
// set are derived from the operation and its position (`filter-3`), which change when
// operators are added before them.
//
// Thread safety: a built Topology is immutable and may be shared by every task of a job.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/base/result.h"
#include "sluice/logstore/record_batch.h"
#include "sluice/operators/node.h"
#include "sluice/state/store_spec.h"

namespace sluice::operators {

enum class NodeKind : int8_t { kSource, kProcessor, kSink };

struct NodeDef {
  std::string name;  // unique in the topology
  NodeKind kind = NodeKind::kProcessor;
  std::string operation;  // what it does, for describe(): "filter", "aggregate", ...
  // Sources: the topics read. Sinks: the topic written.
  std::vector<std::string> topics;
  std::vector<std::string> stores;   // the stores this node uses
  std::string key_type, value_type;  // of its output, for describe() and validation messages
  std::function<std::unique_ptr<Node>()> make;
  std::vector<int> parents, children;  // by index
};

struct TopicDef {
  std::string name;
  // Internal topics are created by the job: `<application-id>-<name>-repartition` (the name
  // recorded here is the full topic name).
  bool internal = false;
  // Partitions of an internal topic: the most of its writing sub-topology's source topics
  // (resolved when the job starts; nullopt here).
  std::optional<int32_t> partitions;
};

struct SubTopology {
  int id = 0;
  std::vector<int> nodes;                  // in the order they were added
  std::vector<std::string> source_topics;  // sorted
  std::vector<std::string> sink_topics;    // sorted
  std::vector<std::string> stores;         // sorted
};

// Groups of source topics whose partitions must line up (joins): each group's topics must
// have equal partition counts.
struct CopartitionGroup {
  std::vector<std::string> topics;
  std::string reason;  // e.g. "join-7 joins them"
};

// A global table: every task sees all of it (for enrichment without co-partitioning). Kept in
// an unlogged key-value store filled from every partition of its topic (the topic is its
// changelog), ahead of the tasks that read it.
struct GlobalTableDef {
  std::string topic;
  state::StoreSpec store;
  // Applies one record of the topic to the store: put (timestamped) or, for null, remove.
  std::function<Status(state::KeyValueStore& store, const logstore::RecordView& record)> apply;
};

// What happens to a record a serde cannot decode, or whose processing throws.
enum class ErrorPolicy : int8_t {
  kFail,        // the task stops with the error
  kSkip,        // the record is skipped and counted
  kDeadLetter,  // the record's original bytes go to the dead-letter topic, error in headers
};

struct ErrorHandling {
  ErrorPolicy on_deserialization_error = ErrorPolicy::kFail;
  ErrorPolicy on_processing_error = ErrorPolicy::kFail;
  std::string dead_letter_topic;  // required when either policy is kDeadLetter
};

class Topology {
 public:
  Topology() = default;
  Topology(Topology&&) = default;
  Topology& operator=(Topology&&) = default;

  // ---- building (the DSL calls these) ----

  // Adds a node; its name must be new. Returns its index.
  int add_node(NodeDef def);
  void connect(int parent, int child);
  void rename_node(int node, std::string name);
  // Declares a store (the nodes that use it name it in NodeDef::stores). `timestamped`: its
  // values carry their timestamp (aggregation stores, aggregate.h), which typed views skip.
  void add_store(state::StoreSpec spec, bool timestamped = false);
  // Declares a topic the topology writes to or reads from that it creates itself.
  void add_internal_topic(std::string name);
  void add_copartition_group(CopartitionGroup group);
  void add_global_table(GlobalTableDef table) { globals_.push_back(std::move(table)); }
  void set_error_handling(ErrorHandling handling) { errors_ = std::move(handling); }
  // Validates and computes the sub-topologies. Errors name the node or store at fault and
  // say what to change.
  Status build();

  // ---- reading (tasks, drivers, the server) ----

  bool built() const { return built_; }
  const std::vector<NodeDef>& nodes() const { return nodes_; }
  const NodeDef& node(int i) const { return nodes_[static_cast<size_t>(i)]; }
  std::optional<int> find_node(std::string_view name) const;
  const std::vector<state::StoreSpec>& stores() const { return stores_; }
  const state::StoreSpec* find_store(std::string_view name) const;
  bool is_timestamped(std::string_view store) const;
  const std::vector<SubTopology>& subtopologies() const { return subtopologies_; }
  // The internal topics, each with the sub-topology that writes it.
  const std::vector<TopicDef>& internal_topics() const { return internal_topics_; }
  bool is_internal(std::string_view topic) const;
  const std::vector<CopartitionGroup>& copartition_groups() const { return copartition_; }
  const std::vector<GlobalTableDef>& global_tables() const { return globals_; }
  const ErrorHandling& error_handling() const { return errors_; }
  // Every topic a source reads that the topology does not create: they must exist.
  std::vector<std::string> external_source_topics() const;

  // Like Kafka Streams' TopologyDescription: sub-topologies, their nodes with what they do,
  // their topics and stores, and where each node's records go.
  std::string describe() const;
  // The same graph in Graphviz dot (render with `dot -Tsvg`).
  std::string to_dot() const;

 private:
  std::vector<NodeDef> nodes_;
  std::vector<state::StoreSpec> stores_;
  std::vector<std::string> timestamped_;
  std::vector<TopicDef> internal_topics_;
  std::vector<CopartitionGroup> copartition_;
  std::vector<GlobalTableDef> globals_;
  std::vector<SubTopology> subtopologies_;
  ErrorHandling errors_;
  bool built_ = false;
};

}  // namespace sluice::operators
