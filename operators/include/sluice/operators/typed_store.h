// Typed views of the byte stores (state/), through serdes: what custom processors and
// interactive queries use.
//
// Aggregation stores hold each value with its timestamp ([int64 BE][value], aggregate.h); a
// view created with `timestamped = true` reads (and writes) that layout and shows the value.
//
// Thread safety: as the store under it — thread-confined to its task.
#pragma once

#include <algorithm>
#include <functional>
#include <optional>
#include <utility>
#include <vector>

#include "sluice/operators/aggregate.h"
#include "sluice/operators/serde.h"
#include "sluice/state/store.h"
#include "sluice/state/task_state.h"

namespace sluice::operators {

template <typename T>
Bytes serialized(const T& v) {
  Bytes b;
  Serde<T>::serialize(v, b);
  return b;
}

// A stored value: its serde's bytes, after a timestamp when the store is timestamped.
template <typename V>
Result<V> stored_value(ByteView bytes, bool timestamped, const std::string& store) {
  if (!timestamped) return Serde<V>::deserialize(bytes);
  SLUICE_ASSIGN_OR_RETURN(auto v, decode_timestamped<V>(bytes, store));
  return std::move(v.first);
}

template <typename K, typename V>
class KeyValueStoreView {
 public:
  KeyValueStoreView(state::KeyValueStore* store, bool timestamped = false)
      : store_(store), timestamped_(timestamped) {}

  Result<std::optional<V>> get(const K& key) {
    SLUICE_ASSIGN_OR_RETURN(auto bytes, store_->get(key_bytes(key)));
    if (!bytes) return std::optional<V>();
    SLUICE_ASSIGN_OR_RETURN(V v, value_of(*bytes));
    return std::optional<V>(std::move(v));
  }
  Status put(const K& key, const V& value, Timestamp ts = kNoTimestamp) {
    Bytes v;
    if (timestamped_) append_be<int64_t>(v, ts.value());
    Serde<V>::serialize(value, v);
    return store_->put(key_bytes(key), v);
  }
  Status remove(const K& key) { return store_->remove(key_bytes(key)); }
  // Entries with keys in [from, to) — in the order of the keys' bytes — or all of them.
  Result<std::vector<std::pair<K, V>>> range(std::optional<K> from, std::optional<K> to) {
    std::optional<Bytes> f, t;
    if (from) f = key_bytes(*from);
    if (to) t = key_bytes(*to);
    std::optional<ByteView> fv, tv;
    if (f) fv = ByteView(*f);
    if (t) tv = ByteView(*t);
    SLUICE_ASSIGN_OR_RETURN(auto it, store_->range(fv, tv));
    std::vector<std::pair<K, V>> out;
    for (; it->valid(); it->next()) {
      SLUICE_ASSIGN_OR_RETURN(K k, Serde<K>::deserialize(it->key()));
      SLUICE_ASSIGN_OR_RETURN(V v, value_of(it->value()));
      out.emplace_back(std::move(k), std::move(v));
    }
    SLUICE_RETURN_IF_ERROR(it->status());
    return out;
  }
  Result<std::vector<std::pair<K, V>>> all() { return range(std::nullopt, std::nullopt); }
  Result<uint64_t> approximate_count() { return store_->approximate_count(); }

 private:
  static Bytes key_bytes(const K& key) { return serialized(key); }
  Result<V> value_of(ByteView bytes) const {
    return stored_value<V>(bytes, timestamped_, store_->name());
  }

  state::KeyValueStore* store_;
  bool timestamped_;
};

template <typename K, typename V>
class WindowStoreView {
 public:
  WindowStoreView(state::WindowStore* store, bool timestamped = false)
      : store_(store), timestamped_(timestamped) {}

  Result<std::optional<V>> fetch(const K& key, Timestamp window_start) {
    SLUICE_ASSIGN_OR_RETURN(auto bytes, store_->fetch(key_bytes(key), window_start));
    if (!bytes) return std::optional<V>();
    SLUICE_ASSIGN_OR_RETURN(V v, value_of(*bytes));
    return std::optional<V>(std::move(v));
  }
  // The windows of `key` starting in [from, to], by start.
  Result<std::vector<std::pair<Timestamp, V>>> fetch(const K& key, Timestamp from, Timestamp to) {
    SLUICE_ASSIGN_OR_RETURN(auto it, store_->fetch(key_bytes(key), from, to));
    std::vector<std::pair<Timestamp, V>> out;
    for (; it->valid(); it->next()) {
      SLUICE_ASSIGN_OR_RETURN(V v, value_of(it->value()));
      out.emplace_back(it->window_start(), std::move(v));
    }
    SLUICE_RETURN_IF_ERROR(it->status());
    return out;
  }
  // Every key's windows starting in [from, to], by start then key bytes.
  Result<std::vector<std::pair<std::pair<K, Timestamp>, V>>> fetch_all(Timestamp from,
                                                                       Timestamp to) {
    SLUICE_ASSIGN_OR_RETURN(auto it, store_->fetch_all(from, to));
    std::vector<std::pair<std::pair<K, Timestamp>, V>> out;
    for (; it->valid(); it->next()) {
      SLUICE_ASSIGN_OR_RETURN(K k, Serde<K>::deserialize(it->key()));
      SLUICE_ASSIGN_OR_RETURN(V v, value_of(it->value()));
      out.emplace_back(std::pair<K, Timestamp>(std::move(k), it->window_start()), std::move(v));
    }
    SLUICE_RETURN_IF_ERROR(it->status());
    return out;
  }
  Status put(const K& key, Timestamp window_start, const V& value, Timestamp ts = kNoTimestamp) {
    Bytes v;
    if (timestamped_) append_be<int64_t>(v, ts.value());
    Serde<V>::serialize(value, v);
    return store_->put(key_bytes(key), window_start, ByteView(v));
  }

 private:
  static Bytes key_bytes(const K& key) { return serialized(key); }
  Result<V> value_of(ByteView bytes) const {
    return stored_value<V>(bytes, timestamped_, store_->name());
  }

  state::WindowStore* store_;
  bool timestamped_;
};

// ---- typed queries over a store whose contents are split between tasks ----
//
// `each_store(fn)` calls `fn(const TaskStore&)` for every task holding the store and returns
// the first error: the test driver walks its tasks, the runtime runs `fn` on each owning
// thread. These are what both offer as query(), query_range() and query_windows().

struct TaskStore {
  state::TaskState* state = nullptr;
  const state::StoreSpec* spec = nullptr;
  bool timestamped = false;
};

template <typename EachStore>
concept TaskStoreWalker = requires(EachStore each, std::function<Status(const TaskStore&)> fn) {
  { each(fn) } -> std::same_as<Status>;
};

// The value of `key` in a key-value store, if present (a key lives in one task).
template <typename K, typename V, TaskStoreWalker EachStore>
Result<std::optional<V>> query_key(EachStore&& each_store, const K& key) {
  std::optional<V> found;
  SLUICE_RETURN_IF_ERROR(each_store([&](const TaskStore& t) -> Status {
    if (found) return Status();
    SLUICE_ASSIGN_OR_RETURN(state::KeyValueStore * kv, t.state->key_value_store(*t.spec));
    KeyValueStoreView<K, V> view(kv, t.timestamped);
    SLUICE_ASSIGN_OR_RETURN(found, view.get(key));
    return Status();
  }));
  return found;
}

// Entries with keys in [from, to) (all when unset) from every task, in the order of the keys'
// serialized bytes.
template <typename K, typename V, TaskStoreWalker EachStore>
Result<std::vector<std::pair<K, V>>> query_key_range(EachStore&& each_store,
                                                     const std::optional<K>& from,
                                                     const std::optional<K>& to) {
  std::vector<std::pair<Bytes, std::pair<K, V>>> merged;
  SLUICE_RETURN_IF_ERROR(each_store([&](const TaskStore& t) -> Status {
    SLUICE_ASSIGN_OR_RETURN(state::KeyValueStore * kv, t.state->key_value_store(*t.spec));
    KeyValueStoreView<K, V> view(kv, t.timestamped);
    SLUICE_ASSIGN_OR_RETURN(auto entries, view.range(from, to));
    for (auto& e : entries) {
      Bytes k = serialized(e.first);
      merged.emplace_back(std::move(k), std::move(e));
    }
    return Status();
  }));
  std::sort(merged.begin(), merged.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::pair<K, V>> out;
  for (auto& m : merged) out.push_back(std::move(m.second));
  return out;
}

// A window store's windows of `key` starting in [from, to]: (window start, value), by start.
template <typename K, typename V, TaskStoreWalker EachStore>
Result<std::vector<std::pair<Timestamp, V>>> query_key_windows(EachStore&& each_store, const K& key,
                                                               Timestamp from, Timestamp to) {
  std::vector<std::pair<Timestamp, V>> out;
  SLUICE_RETURN_IF_ERROR(each_store([&](const TaskStore& t) -> Status {
    SLUICE_ASSIGN_OR_RETURN(state::WindowStore * ws, t.state->window_store(*t.spec));
    WindowStoreView<K, V> view(ws, t.timestamped);
    SLUICE_ASSIGN_OR_RETURN(auto found, view.fetch(key, from, to));
    out.insert(out.end(), found.begin(), found.end());
    return Status();
  }));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

}  // namespace sluice::operators
