// Tables: a compacted topic read as the latest value per key, and the joins that look tables
// up — stream-table (each stream record joins the table's current value for its key) and
// table-table (each update of either side joins the other side's current value).
//
// A table's updates flow downstream as std::optional values: std::nullopt is a deletion (a
// tombstone in the topic). Table stores hold [timestamp int64 BE][value] like aggregation
// stores, so every table's store reads the same way.
//
// Thread safety: thread-confined to the task, like every node.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "sluice/operators/aggregate.h"
#include "sluice/operators/node.h"
#include "sluice/operators/serde.h"
#include "sluice/operators/stream_task.h"
#include "sluice/state/store.h"

namespace sluice::operators {

// The value a table's store holds for a table of (possibly optional) values.
template <typename T>
struct StoredValue {
  using type = T;
};
template <typename T>
struct StoredValue<std::optional<T>> {
  using type = T;
};
template <typename T>
using StoredValueT = typename StoredValue<T>::type;

// Reads a topic into a table: each record replaces its key's value, a null value deletes it.
template <typename K, typename V>
class TableSourceNode final : public SourceInput, public OutputNode<K, std::optional<V>> {
 public:
  explicit TableSourceNode(std::string store) : store_name_(std::move(store)) {}

  Status init(TaskContext& context) override {
    SLUICE_RETURN_IF_ERROR(Node::init(context));
    SLUICE_ASSIGN_OR_RETURN(store_, context.key_value_store(store_name_));
    return Status();
  }

  Outcome process_raw(const logstore::RecordView& r) override {
    Result<K> key = decode<K>(r.key);
    if (!key.ok()) return {key.status().with_context("decoding the key"), true};
    std::optional<V> value;
    if (r.value) {
      Result<V> v = decode<V>(r.value);
      if (!v.ok()) return {v.status().with_context("decoding the value"), true};
      value = std::move(v).value();
    }
    if (r.timestamp.value() < 0) {
      return {invalid_argument("invalid timestamp " + std::to_string(r.timestamp.value())), true};
    }
    this->context_->observe_timestamp(r.timestamp);
    ++this->metrics_->records_in;
    Bytes k;
    Serde<K>::serialize(*key, k);
    Status s = value ? store_->put(k, encode_timestamped(*value, r.timestamp)) : store_->remove(k);
    if (!s.ok()) return {s, false};
    ++this->metrics_->records_out;
    return {this->out_.forward({std::move(key).value(), std::move(value), r.timestamp}), false};
  }

 private:
  const std::string store_name_;
  state::KeyValueStore* store_ = nullptr;
};

// Looks a key up in a table's store.
template <typename K, typename T>
Result<std::optional<T>> lookup(state::KeyValueStore& store, const Bytes& key) {
  SLUICE_ASSIGN_OR_RETURN(auto bytes, store.get(key));
  if (!bytes) return std::optional<T>();
  SLUICE_ASSIGN_OR_RETURN(auto v, decode_timestamped<T>(*bytes, store.name()));
  return std::optional<T>(std::move(v.first));
}

// Stream-table join: a stream record joins the table's current value for its key (inner: only
// when there is one; left: with std::nullopt when there is none). Table updates emit nothing.
template <typename K, typename V, typename T, typename VOut>
class StreamTableJoinNode final : public Input<K, V>, public OutputNode<K, VOut> {
 public:
  using Joiner = std::function<VOut(const V&, const std::optional<T>&)>;
  StreamTableJoinNode(std::string table_store, bool left, Joiner joiner)
      : store_name_(std::move(table_store)), left_(left), joiner_(std::move(joiner)) {}

  Status init(TaskContext& context) override {
    SLUICE_RETURN_IF_ERROR(Node::init(context));
    SLUICE_ASSIGN_OR_RETURN(table_, context.key_value_store(store_name_));
    return Status();
  }
  Status process(Record<K, V>&& r) override {
    ++this->metrics_->records_in;
    if (is_null_key(r.key)) return Status();
    Bytes k;
    Serde<K>::serialize(r.key, k);
    SLUICE_ASSIGN_OR_RETURN(std::optional<T> t, (lookup<K, T>(*table_, k)));
    if (!t && !left_) return Status();
    ++this->metrics_->records_out;
    return this->out_.forward({std::move(r.key), joiner_(r.value, t), r.timestamp});
  }

 private:
  const std::string store_name_;
  const bool left_;
  Joiner joiner_;
  state::KeyValueStore* table_ = nullptr;
};

// One side of a table-table join: an update of this side's key joins the other side's current
// value. Inner: a result when both exist; left: when the left one exists; outer: when either
// does. Otherwise the key's result is deleted (std::nullopt).
template <typename K, typename VThis, typename VOther, typename VOut>
class TableTableJoinNode final : public Input<K, std::optional<VThis>>,
                                 public OutputNode<K, std::optional<VOut>> {
 public:
  // Called as (this side, other side); the DSL adapts the user's (left, right) function.
  using Joiner =
      std::function<std::optional<VOut>(const std::optional<VThis>&, const std::optional<VOther>&)>;
  TableTableJoinNode(std::string other_store, Joiner joiner)
      : store_name_(std::move(other_store)), joiner_(std::move(joiner)) {}

  Status init(TaskContext& context) override {
    SLUICE_RETURN_IF_ERROR(Node::init(context));
    SLUICE_ASSIGN_OR_RETURN(other_, context.key_value_store(store_name_));
    return Status();
  }
  Status process(Record<K, std::optional<VThis>>&& r) override {
    ++this->metrics_->records_in;
    Bytes k;
    Serde<K>::serialize(r.key, k);
    SLUICE_ASSIGN_OR_RETURN(std::optional<VOther> other, (lookup<K, VOther>(*other_, k)));
    ++this->metrics_->records_out;
    return this->out_.forward({std::move(r.key), joiner_(r.value, other), r.timestamp});
  }

 private:
  const std::string store_name_;
  Joiner joiner_;
  state::KeyValueStore* other_ = nullptr;
};

// Stream-global-table join: each stream record looks up key_selector(key, value) in the
// global table (inner: only when found; left: with std::nullopt when not).
template <typename K, typename V, typename GK, typename T, typename VOut>
class GlobalTableJoinNode final : public Input<K, V>, public OutputNode<K, VOut> {
 public:
  using KeySelector = std::function<GK(const K&, const V&)>;
  using Joiner = std::function<VOut(const V&, const std::optional<T>&)>;
  GlobalTableJoinNode(std::string store, bool left, KeySelector select, Joiner joiner)
      : store_name_(std::move(store)),
        left_(left),
        select_(std::move(select)),
        joiner_(std::move(joiner)) {}

  Status init(TaskContext& context) override {
    SLUICE_RETURN_IF_ERROR(Node::init(context));
    SLUICE_ASSIGN_OR_RETURN(table_, context.global_store(store_name_));
    return Status();
  }
  Status process(Record<K, V>&& r) override {
    ++this->metrics_->records_in;
    Bytes k;
    Serde<GK>::serialize(select_(r.key, r.value), k);
    SLUICE_ASSIGN_OR_RETURN(std::optional<T> t, (lookup<GK, T>(*table_, k)));
    if (!t && !left_) return Status();
    ++this->metrics_->records_out;
    return this->out_.forward({std::move(r.key), joiner_(r.value, t), r.timestamp});
  }

 private:
  const std::string store_name_;
  const bool left_;
  KeySelector select_;
  Joiner joiner_;
  state::KeyValueStore* table_ = nullptr;
};

// Applies one record of a global table's topic to its store.
template <typename K, typename V>
Status apply_to_global_table(state::KeyValueStore& store, const logstore::RecordView& r) {
  Result<K> key = decode<K>(r.key);
  if (!key.ok()) return key.status().with_context("global table record key");
  Bytes k;
  Serde<K>::serialize(*key, k);
  if (!r.value) return store.remove(k);
  Result<V> value = decode<V>(r.value);
  if (!value.ok()) return value.status().with_context("global table record value");
  return store.put(k, encode_timestamped(*value, r.timestamp));
}

}  // namespace sluice::operators
