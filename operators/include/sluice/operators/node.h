// The processing model inside a task: typed records flowing through a chain of nodes.
//
// A topology (topology.h) is a graph of node definitions. For each task the graph is
// instantiated: every node gets its own instance, wired to its children with their real C++
// types, so a record passes from operator to operator as a plain C++ object — moved along a
// chain, copied only where the graph fans out. Serdes are applied only at the edges: sources,
// sinks, stores and repartition topics.
//
// Errors: process() returns a Status for failures of the machinery (a store that cannot be
// written, a sink that cannot append) — those stop the task. A user function that throws is
// not caught here: the exception unwinds to the task boundary (stream_task.h), where the
// topology's error handler decides (fail, skip and count, dead-letter topic).
//
// Thread safety: a node instance is thread-confined to its task.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/base/check.h"
#include "sluice/base/ids.h"
#include "sluice/base/murmur2.h"
#include "sluice/base/result.h"
#include "sluice/logstore/record_batch.h"
#include "sluice/operators/windows.h"

namespace sluice::state {
class TaskState;
class KeyValueStore;
class WindowStore;
class SessionStore;
}  // namespace sluice::state

namespace sluice::operators {

// A typed record between operators.
template <typename K, typename V>
struct Record {
  K key;
  V value;
  Timestamp timestamp;
};

// Where the record being processed came from. For records a punctuation produces, topic is
// empty and offset is -1.
struct RecordMetadata {
  std::string_view topic;
  PartitionId partition{0};
  Offset offset{-1};
  Timestamp timestamp = kNoTimestamp;
  std::span<const logstore::RecordHeader> headers;
};

// Where a task's output records go: buffered, and appended when the task commits (through a
// transaction under exactly-once).
class RecordCollector {
 public:
  virtual ~RecordCollector() = default;
  // The number of partitions of `topic`; kNotFound when there is no such topic.
  virtual Result<int32_t> partitions(std::string_view topic) = 0;
  virtual Status send(std::string_view topic, PartitionId partition, std::optional<ByteView> key,
                      std::optional<ByteView> value, Timestamp timestamp,
                      std::span<const logstore::RecordHeader> headers) = 0;
};

enum class PunctuationType : int8_t {
  kStreamTime,  // fires as the task's stream time passes each interval
  kWallClock,   // fires as wall-clock time (the task's Clock) passes each interval
};

// Per-node counters, readable through the task.
struct NodeMetrics {
  int64_t records_in = 0;
  int64_t records_out = 0;
  int64_t late_dropped = 0;  // windowed operators: records after their window closed
};

// What a task gives its nodes.
class TaskContext {
 public:
  virtual ~TaskContext() = default;

  virtual const std::string& application_id() const = 0;
  // The task's partition of its input topics.
  virtual PartitionId partition() const = 0;
  virtual const RecordMetadata& record() const = 0;
  // The largest timestamp this task has seen (kNoTimestamp before the first record).
  virtual Timestamp stream_time() const = 0;
  virtual Timestamp wall_clock_time() const = 0;
  // Sources report each record's timestamp before forwarding it; stream time is the largest.
  virtual void observe_timestamp(Timestamp t) = 0;

  // The stores the topology declared, opened (and restored) on first use.
  virtual Result<state::KeyValueStore*> key_value_store(std::string_view name) = 0;
  virtual Result<state::WindowStore*> window_store(std::string_view name) = 0;
  virtual Result<state::SessionStore*> session_store(std::string_view name) = 0;
  // The store of a global table (all partitions of its topic), shared by every task.
  virtual Result<state::KeyValueStore*> global_store(std::string_view name) = 0;

  virtual RecordCollector& collector() = 0;
  // The name in the log of a topic the topology names: internal topics (repartition) get the
  // application id in front, `<application-id>-<name>`; others are as they are.
  virtual std::string topic_name(std::string_view topology_name) const = 0;
  // Calls `fn(time)` every `interval_ms` of the given time, first after one interval. The
  // callback runs on the task's thread between records; a Status error from it stops the task.
  virtual void schedule(PunctuationType type, int64_t interval_ms,
                        std::function<Status(Timestamp)> fn) = 0;
  // The counters of the node called `node`.
  virtual NodeMetrics& metrics(std::string_view node) = 0;
};

// Kafka's default partition for a record: murmur2 of its key bytes; records without a key
// stay in the task's partition (modulo the topic's partition count).
inline int32_t default_partition(const std::optional<Bytes>& key, int32_t partitions,
                                 const TaskContext& context) {
  return key ? kafka_partition_for_key(*key, partitions) : context.partition().value() % partitions;
}

// Sends encoded key and value (nullopt: null) through the task's collector, with the input
// record's headers.
inline Status send_encoded(TaskContext& context, std::string_view topic, PartitionId partition,
                           const std::optional<Bytes>& key, const std::optional<Bytes>& value,
                           Timestamp timestamp) {
  std::optional<ByteView> k, v;
  if (key) k = ByteView(*key);
  if (value) v = ByteView(*value);
  return context.collector().send(topic, partition, k, v, timestamp, context.record().headers);
}

// One node of a task's graph.
class Node {
 public:
  virtual ~Node() = default;
  // Set by the task before init(): the node's name in the topology.
  void set_name(std::string name) { name_ = std::move(name); }
  const std::string& name() const { return name_; }
  // Opens stores and schedules punctuations; called once before the first record. Overrides
  // call this first.
  virtual Status init(TaskContext& context) {
    context_ = &context;
    metrics_ = &context.metrics(name_);
    return Status();
  }
  // Connects `child`, whose input type must be this node's output type (the topology builder
  // guarantees it; a mismatch is a bug and aborts).
  virtual void add_child(Node& child) = 0;
  // Called when the task commits, before its stores are flushed.
  virtual Status flush() { return Status(); }

 protected:
  std::string name_;
  TaskContext* context_ = nullptr;
  NodeMetrics* metrics_ = nullptr;
};

// The input side of a node that takes records of type <K, V>.
template <typename K, typename V>
class Input : public virtual Node {
 public:
  virtual Status process(Record<K, V>&& record) = 0;
};

// The output side: forwards to every child; moves into the last, copies for the others.
template <typename K, typename V>
class Emitter {
 public:
  void add(Node& child) {
    auto* input = dynamic_cast<Input<K, V>*>(&child);
    SLUICE_CHECK_MSG(input != nullptr, "topology wiring: a child takes another record type");
    children_.push_back(input);
  }
  Status forward(Record<K, V>&& r) {
    const size_t n = children_.size();
    for (size_t i = 0; i + 1 < n; ++i) {
      SLUICE_RETURN_IF_ERROR(children_[i]->process(Record<K, V>(r)));
    }
    if (n > 0) return children_.back()->process(std::move(r));
    return Status();
  }
  bool empty() const { return children_.empty(); }

 private:
  std::vector<Input<K, V>*> children_;
};

// A node with one typed output: the base of most operators.
template <typename KOut, typename VOut>
class OutputNode : public virtual Node {
 public:
  void add_child(Node& child) override { out_.add(child); }

 protected:
  Emitter<KOut, VOut> out_;
};

// A node with no output (sinks, foreach).
class TerminalNode : public virtual Node {
 public:
  void add_child(Node&) override { SLUICE_CHECK_MSG(false, "a terminal node has no children"); }
};

// A user function taking (key, value) or just (value).
template <typename F, typename K, typename V>
decltype(auto) call_kv(F& f, const K& key, const V& value) {
  if constexpr (std::is_invocable_v<F&, const K&, const V&>) {
    return std::invoke(f, key, value);
  } else {
    return std::invoke(f, value);
  }
}

// call_kv for a node that forwards nothing of the record's value: a function that takes the
// value by value (or as V&&) gets it moved in rather than copied.
template <typename F, typename K, typename V>
decltype(auto) call_kv_taking_value(F& f, const K& key, V&& value) {
  if constexpr (std::is_invocable_v<F&, const K&, V&&>) {
    return std::invoke(f, key, std::move(value));
  } else {
    return std::invoke(f, std::move(value));
  }
}

template <typename F, typename K, typename V>
using CallKvResult =
    decltype(call_kv(std::declval<F&>(), std::declval<const K&>(), std::declval<const V&>()));

template <typename F, typename K, typename V>
concept KvFunction =
    std::is_invocable_v<F&, const K&, const V&> || std::is_invocable_v<F&, const V&>;

}  // namespace sluice::operators
