// Stateless operators, sources and sinks: the nodes the DSL's record-at-a-time operations make.
//
// User functions take (key, value) or just (value) where that reads naturally (see call_kv);
// what they return decides the output types. They may throw: the task's error handler deals
// with it (node.h).
//
// Thread safety: thread-confined to the task, like every node.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "sluice/base/murmur2.h"
#include "sluice/operators/node.h"
#include "sluice/operators/serde.h"
#include "sluice/operators/stream_task.h"

namespace sluice::operators {

// A record's event time from its key, value and the timestamp stored with it.
template <typename K, typename V>
using TimestampExtractor = std::function<Timestamp(const K&, const V&, Timestamp stored)>;

// Reads records from its topics: decodes key and value with their serdes, takes the record's
// timestamp (or the extractor's), and forwards.
template <typename K, typename V>
class SourceNode final : public SourceInput, public OutputNode<K, V> {
 public:
  explicit SourceNode(TimestampExtractor<K, V> extractor = nullptr)
      : extractor_(std::move(extractor)) {}

  Outcome process_raw(const logstore::RecordView& r) override {
    Result<K> key = decode<K>(r.key);
    if (!key.ok()) return {key.status().with_context("decoding the key"), true};
    Result<V> value = decode<V>(r.value);
    if (!value.ok()) return {value.status().with_context("decoding the value"), true};
    const Timestamp ts = extractor_ ? extractor_(*key, *value, r.timestamp) : r.timestamp;
    if (ts.value() < 0) {
      return {invalid_argument("invalid timestamp " + std::to_string(ts.value()) +
                               " (a timestamp extractor can supply one)"),
              true};
    }
    this->context_->observe_timestamp(ts);
    ++this->metrics_->records_in;
    ++this->metrics_->records_out;
    return {this->out_.forward({std::move(key).value(), std::move(value).value(), ts}), false};
  }

 private:
  TimestampExtractor<K, V> extractor_;
};

// Chooses the partition of an output record: (key, value, partition count) -> partition.
template <typename K, typename V>
using Partitioner = std::function<int32_t(const K&, const V&, int32_t partitions)>;

// Writes records to a topic through the task's collector, with the input record's headers.
// Partition: the partitioner's choice; else Kafka's default for the key's bytes (murmur2);
// records without a key stay in the task's partition (modulo the topic's partitions).
template <typename K, typename V>
class SinkNode final : public Input<K, V>, public TerminalNode {
 public:
  SinkNode(std::string topic, Partitioner<K, V> partitioner)
      : topic_(std::move(topic)), partitioner_(std::move(partitioner)) {}

  Status init(TaskContext& context) override {
    SLUICE_RETURN_IF_ERROR(Node::init(context));
    topic_ = context.topic_name(topic_);
    return Status();
  }

  Status process(Record<K, V>&& r) override {
    ++this->metrics_->records_in;
    if (partitions_ == 0) {
      SLUICE_ASSIGN_OR_RETURN(partitions_, this->context_->collector().partitions(topic_));
    }
    // Encoded into buffers kept from record to record (strings are their own encoding): the
    // collector copies the bytes.
    const std::optional<ByteView> key = encoded_view(r.key, key_);
    const std::optional<ByteView> value = encoded_view(r.value, value_);
    int32_t p = 0;
    if (partitioner_) {
      p = partitioner_(r.key, r.value, partitions_);
      if (p < 0 || p >= partitions_) {
        return invalid_argument("the partitioner of sink '" + this->name() + "' chose partition " +
                                std::to_string(p) + " of " + std::to_string(partitions_));
      }
    } else {
      p = key ? kafka_partition_for_key(*key, partitions_)
              : this->context_->partition().value() % partitions_;
    }
    ++this->metrics_->records_out;
    return this->context_->collector().send(topic_, PartitionId(p), key, value, r.timestamp,
                                            this->context_->record().headers);
  }

 private:
  Bytes key_, value_;
  std::string topic_;  // as the topology names it, then as the log does
  Partitioner<K, V> partitioner_;
  int32_t partitions_ = 0;
};

// Forwards what it receives: merge points and branch outputs.
template <typename K, typename V>
class PassThroughNode final : public Input<K, V>, public OutputNode<K, V> {
 public:
  Status process(Record<K, V>&& r) override {
    ++this->metrics_->records_in;
    ++this->metrics_->records_out;
    return this->out_.forward(std::move(r));
  }
};

template <typename K, typename V, typename F>
class FilterNode final : public Input<K, V>, public OutputNode<K, V> {
 public:
  FilterNode(F f, bool keep_matching) : f_(std::move(f)), keep_(keep_matching) {}
  Status process(Record<K, V>&& r) override {
    ++this->metrics_->records_in;
    if (static_cast<bool>(call_kv(f_, r.key, r.value)) != keep_) return Status();
    ++this->metrics_->records_out;
    return this->out_.forward(std::move(r));
  }

 private:
  F f_;
  const bool keep_;
};

// map: (key, value) -> std::pair<K2, V2>.
template <typename K, typename V, typename F>
class MapNode final
    : public Input<K, V>,
      public OutputNode<typename std::invoke_result_t<F&, const K&, const V&>::first_type,
                        typename std::invoke_result_t<F&, const K&, const V&>::second_type> {
 public:
  explicit MapNode(F f) : f_(std::move(f)) {}
  Status process(Record<K, V>&& r) override {
    ++this->metrics_->records_in;
    // The record is the node's: a function taking key or value by value gets them moved in.
    auto [k, v] = std::invoke(f_, std::move(r.key), std::move(r.value));
    ++this->metrics_->records_out;
    return this->out_.forward({std::move(k), std::move(v), r.timestamp});
  }

 private:
  F f_;
};

// map_values: (value) or (key, value) -> V2; the key is kept.
template <typename K, typename V, typename F>
class MapValuesNode final : public Input<K, V>,
                            public OutputNode<K, std::decay_t<CallKvResult<F, K, V>>> {
 public:
  explicit MapValuesNode(F f) : f_(std::move(f)) {}
  Status process(Record<K, V>&& r) override {
    ++this->metrics_->records_in;
    auto v = call_kv_taking_value(f_, r.key, std::move(r.value));
    ++this->metrics_->records_out;
    return this->out_.forward({std::move(r.key), std::move(v), r.timestamp});
  }

 private:
  F f_;
};

// select_key: (key, value) or (value) -> K2; the value is kept.
template <typename K, typename V, typename F>
class SelectKeyNode final : public Input<K, V>,
                            public OutputNode<std::decay_t<CallKvResult<F, K, V>>, V> {
 public:
  explicit SelectKeyNode(F f) : f_(std::move(f)) {}
  Status process(Record<K, V>&& r) override {
    ++this->metrics_->records_in;
    auto k = call_kv(f_, r.key, r.value);
    ++this->metrics_->records_out;
    return this->out_.forward({std::move(k), std::move(r.value), r.timestamp});
  }

 private:
  F f_;
};

// flat_map: (key, value) -> a range of std::pair<K2, V2>.
template <typename K, typename V, typename F>
class FlatMapNode final
    : public Input<K, V>,
      public OutputNode<typename std::ranges::range_value_t<
                            std::invoke_result_t<F&, const K&, const V&>>::first_type,
                        typename std::ranges::range_value_t<
                            std::invoke_result_t<F&, const K&, const V&>>::second_type> {
 public:
  explicit FlatMapNode(F f) : f_(std::move(f)) {}
  Status process(Record<K, V>&& r) override {
    ++this->metrics_->records_in;
    for (auto&& [k, v] : std::invoke(f_, r.key, r.value)) {
      ++this->metrics_->records_out;
      SLUICE_RETURN_IF_ERROR(this->out_.forward({std::move(k), std::move(v), r.timestamp}));
    }
    return Status();
  }

 private:
  F f_;
};

// flat_map_values: (value) or (key, value) -> a range of V2; the key is kept.
template <typename K, typename V, typename F>
class FlatMapValuesNode final
    : public Input<K, V>,
      public OutputNode<K, std::ranges::range_value_t<std::decay_t<CallKvResult<F, K, V>>>> {
 public:
  explicit FlatMapValuesNode(F f) : f_(std::move(f)) {}
  Status process(Record<K, V>&& r) override {
    ++this->metrics_->records_in;
    for (auto&& v : call_kv(f_, r.key, r.value)) {
      ++this->metrics_->records_out;
      SLUICE_RETURN_IF_ERROR(this->out_.forward({r.key, std::move(v), r.timestamp}));
    }
    return Status();
  }

 private:
  F f_;
};

// peek (forwards) and foreach (terminal): (key, value) or (value) -> void.
template <typename K, typename V, typename F>
class PeekNode final : public Input<K, V>, public OutputNode<K, V> {
 public:
  explicit PeekNode(F f) : f_(std::move(f)) {}
  Status process(Record<K, V>&& r) override {
    ++this->metrics_->records_in;
    call_kv(f_, r.key, r.value);
    ++this->metrics_->records_out;
    return this->out_.forward(std::move(r));
  }

 private:
  F f_;
};

template <typename K, typename V, typename F>
class ForeachNode final : public Input<K, V>, public TerminalNode {
 public:
  explicit ForeachNode(F f) : f_(std::move(f)) {}
  Status process(Record<K, V>&& r) override {
    ++this->metrics_->records_in;
    call_kv(f_, r.key, r.value);
    return Status();
  }

 private:
  F f_;
};

// branch: each record goes to the first branch whose predicate holds (or nowhere). The
// children, in order, are the branches' pass-through nodes.
template <typename K, typename V>
class BranchNode final : public Input<K, V>, public virtual Node {
 public:
  using Predicate = std::function<bool(const K&, const V&)>;
  explicit BranchNode(std::vector<Predicate> predicates) : predicates_(std::move(predicates)) {}
  void add_child(Node& child) override {
    branches_.emplace_back();
    branches_.back().add(child);
  }
  Status process(Record<K, V>&& r) override {
    ++this->metrics_->records_in;
    for (size_t i = 0; i < predicates_.size() && i < branches_.size(); ++i) {
      if (predicates_[i](r.key, r.value)) {
        ++this->metrics_->records_out;
        return branches_[i].forward(std::move(r));
      }
    }
    return Status();
  }

 private:
  std::vector<Predicate> predicates_;
  std::vector<Emitter<K, V>> branches_;
};

}  // namespace sluice::operators
