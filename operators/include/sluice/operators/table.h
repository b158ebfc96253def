// Tables: a compacted topic read as the latest value per key, and the joins that look tables
// up — stream-table (each stream record joins the table's current value for its key) and
// table-table (each update of either side joins the other side's current value) — and the
// re-grouping of a table by a new key, whose aggregations subtract a key's old value from its
// group and add the new one.
//
// A table's updates flow downstream as std::optional values: std::nullopt is a deletion (a
// tombstone in the topic). Table stores hold [timestamp int64 BE][value] like aggregation
// stores, so every table's store reads the same way.
//
// Thread safety: thread-confined to the task, like every node.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>

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

// ---- re-grouping a table (KTable::group_by) ----

// A table update on its way to a re-grouped aggregation: the value to take out of the group
// (the key's previous value, mapped) and the value to put in (its new one); either may be
// absent. Crosses the repartition topic as [flags u8: 1 old, 2 new][old length u32 BE][old][new].
template <typename V>
struct Change {
  std::optional<V> old_value;
  std::optional<V> new_value;
  friend bool operator==(const Change&, const Change&) = default;
};

template <typename V>
requires HasSerde<V>
struct Serde<Change<V>> {
  static void serialize(const Change<V>& c, Bytes& out) {
    out.push_back(static_cast<char>((c.old_value ? 1 : 0) | (c.new_value ? 2 : 0)));
    if (c.old_value) {
      const size_t at = out.size();
      append_be<uint32_t>(out, 0);
      Serde<V>::serialize(*c.old_value, out);
      store_be<uint32_t>(out.data() + at, static_cast<uint32_t>(out.size() - at - 4));
    }
    if (c.new_value) Serde<V>::serialize(*c.new_value, out);
  }
  static Result<Change<V>> deserialize(ByteView in) {
    if (in.empty() || static_cast<uint8_t>(in[0]) > 3) {
      return invalid_argument("not a table change: no flags byte, or unknown flags");
    }
    const auto flags = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    Change<V> c;
    if (flags & 1) {
      if (in.size() < 4 || in.size() - 4 < load_be<uint32_t>(in.data())) {
        return invalid_argument("a table change with a truncated old value");
      }
      const uint32_t n = load_be<uint32_t>(in.data());
      SLUICE_ASSIGN_OR_RETURN(c.old_value, Serde<V>::deserialize(in.substr(4, n)));
      in.remove_prefix(4 + n);
    }
    if (flags & 2) {
      SLUICE_ASSIGN_OR_RETURN(c.new_value, Serde<V>::deserialize(in));
    } else if (!in.empty()) {
      return invalid_argument("a table change with bytes after its last value");
    }
    return c;
  }
};

// Re-keys a table: selector(key, value) -> (new key, new value). Each update of a key takes its
// previous value out of the group that value mapped to and puts the new one into its group, as
// a Change: one record when both map to the same key, else two (old first). Previous values are
// kept in the node's own store, so any table can be re-grouped, materialized or not.
template <typename K, typename V, typename U, typename K1, typename V1>
class TableGroupByNode final : public Input<K, U>, public OutputNode<K1, Change<V1>> {
 public:
  using Selector = std::function<std::pair<K1, V1>(const K&, const V&)>;

  TableGroupByNode(std::string store, Selector select)
      : store_name_(std::move(store)), select_(std::move(select)) {}

  Status init(TaskContext& context) override {
    SLUICE_RETURN_IF_ERROR(Node::init(context));
    SLUICE_ASSIGN_OR_RETURN(store_, context.key_value_store(store_name_));
    return Status();
  }

  Status process(Record<K, U>&& r) override {
    ++this->metrics_->records_in;
    std::optional<V> now = std::move(r.value);  // U is V or std::optional<V>
    if constexpr (IsOptional<V>::value) {
      if (now && !now->has_value()) now.reset();  // a table of optional values: a deletion
    }
    key_bytes_.clear();
    Serde<K>::serialize(r.key, key_bytes_);
    SLUICE_ASSIGN_OR_RETURN(const bool stored, store_->get_into(key_bytes_, stored_bytes_));
    std::optional<V> before;
    if (stored) {
      auto decoded = Serde<V>::deserialize(stored_bytes_);
      if (!decoded.ok()) return decoded.status().with_context("store '" + store_name_ + "'");
      before = std::move(decoded).value();
    }
    if (now) {
      value_bytes_.clear();
      Serde<V>::serialize(*now, value_bytes_);
      SLUICE_RETURN_IF_ERROR(store_->put(key_bytes_, value_bytes_));
    } else if (before) {
      SLUICE_RETURN_IF_ERROR(store_->remove(key_bytes_));
    }
    std::optional<std::pair<K1, V1>> out, in;
    if (before) out = select_(r.key, *before);
    if (now) in = select_(r.key, *now);
    if (out && is_null_key(out->first)) out.reset();  // null keys are not aggregated
    if (in && is_null_key(in->first)) in.reset();
    if (out && in && out->first == in->first) {
      return forward(std::move(in->first), {std::move(out->second), std::move(in->second)},
                     r.timestamp);
    }
    if (out) {
      SLUICE_RETURN_IF_ERROR(
          forward(std::move(out->first), {std::move(out->second), std::nullopt}, r.timestamp));
    }
    if (in) {
      SLUICE_RETURN_IF_ERROR(
          forward(std::move(in->first), {std::nullopt, std::move(in->second)}, r.timestamp));
    }
    return Status();
  }

 private:
  Status forward(K1 key, Change<V1> change, Timestamp ts) {
    ++this->metrics_->records_out;
    return this->out_.forward({std::move(key), std::move(change), ts});
  }

  const std::string store_name_;
  Selector select_;
  state::KeyValueStore* store_ = nullptr;
  Bytes key_bytes_, value_bytes_, stored_bytes_;  // reused from record to record
};

// Aggregates a re-grouped table: agg = subtractor(key, old, agg) for the value leaving the group,
// then adder(key, new, agg) for the one joining it, from initializer() for a new key (or,
// without one — a reduce — from the first value added). Forwards the key's new aggregate.
template <typename K, typename V, typename Agg>
class TableAggregateNode final : public Input<K, Change<V>>, public OutputNode<K, Agg> {
 public:
  using Initializer = std::function<Agg()>;
  using Adder = std::function<Agg(const K&, const V&, Agg)>;

  TableAggregateNode(std::string store, Initializer init, Adder add, Adder subtract)
      : store_name_(std::move(store)),
        init_(std::move(init)),
        add_(std::move(add)),
        subtract_(std::move(subtract)) {}

  Status init(TaskContext& context) override {
    SLUICE_RETURN_IF_ERROR(Node::init(context));
    SLUICE_ASSIGN_OR_RETURN(store_, context.key_value_store(store_name_));
    return Status();
  }

  Status process(Record<K, Change<V>>&& r) override {
    ++this->metrics_->records_in;
    if (is_null_key(r.key)) return Status();
    key_bytes_.clear();
    Serde<K>::serialize(r.key, key_bytes_);
    SLUICE_ASSIGN_OR_RETURN(const bool stored, store_->get_into(key_bytes_, stored_bytes_));
    std::optional<Agg> agg;
    Timestamp ts = r.timestamp;
    if (stored) {
      SLUICE_ASSIGN_OR_RETURN(auto old, decode_timestamped<Agg>(stored_bytes_, store_name_));
      agg = std::move(old.first);
      ts = std::max(ts, old.second);
    } else if (init_) {
      agg = init_();
    }
    // A reduce with nothing yet has nothing to subtract from.
    if (r.value.old_value && agg) agg = subtract_(r.key, *r.value.old_value, std::move(*agg));
    if (r.value.new_value) {
      if (agg) {
        agg = add_(r.key, *r.value.new_value, std::move(*agg));
      } else if constexpr (std::is_convertible_v<const V&, Agg>) {
        agg = Agg(*r.value.new_value);
      }
    }
    if (!agg) return Status();
    SLUICE_RETURN_IF_ERROR(store_->put(key_bytes_, encode_timestamped(*agg, ts)));
    ++this->metrics_->records_out;
    return this->out_.forward({std::move(r.key), std::move(*agg), ts});
  }

 private:
  const std::string store_name_;
  Initializer init_;
  Adder add_;
  Adder subtract_;
  state::KeyValueStore* store_ = nullptr;
  Bytes key_bytes_, stored_bytes_;  // reused from record to record
};

}  // namespace sluice::operators
