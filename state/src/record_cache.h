// RecordCache: the write-back cache in front of a task's key-value stores.
//
// Reads of hot keys are served from memory; repeated updates of a key within a commit interval
// stay in memory and reach the store (and so the changelog) once, when the task commits or when
// the entry is evicted. Entries of all the task's cached stores share one byte budget and one LRU
// order.
//
// Thread safety: thread-confined to the task.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sluice/base/bytes.h"
#include "sluice/base/status.h"

namespace sluice::state {

class RecordCache {
 public:
  // Writes one dirty entry to the store it caches (nullopt: a removal).
  using Writer = std::function<Status(ByteView key, const std::optional<Bytes>& value)>;

  explicit RecordCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  // Registers a store; returns its id for the calls below.
  int add_store(Writer writer);

  struct Lookup {
    bool hit = false;
    const std::optional<Bytes>* value = nullptr;  // valid until the next call on the cache
  };
  Lookup get(int store, ByteView key);
  // Caches `value` for `key` (dirty: to be written at flush; clean: as read from the store).
  // May evict least recently used entries, writing dirty ones to their stores.
  Status put(int store, ByteView key, std::optional<Bytes> value, bool dirty);
  // Writes every dirty entry of `store` (in key order) and marks it clean.
  Status flush(int store);
  Status flush_all();
  // Forgets every entry (after an abort: the stores are back at their last commit).
  void clear();

  size_t bytes() const { return bytes_; }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  struct Entry {
    int store;
    Bytes key;
    std::optional<Bytes> value;
    bool dirty = false;
    size_t charge() const { return key.size() + (value ? value->size() : 0) + kOverhead; }
  };
  using List = std::list<Entry>;
  // Per-store index from key to entry; transparent so lookups need no copy of the key.
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct StoreState {
    Writer writer;
    std::unordered_map<Bytes, List::iterator, Hash, std::equal_to<>> index;
    std::map<Bytes, List::iterator, std::less<>> dirty;  // key order, for flush
  };
  static constexpr size_t kOverhead = 96;  // list node, index and dirty-map entries

  Status evict_if_needed();
  Status write_back(StoreState& s, Entry& e);

  const size_t max_bytes_;
  size_t bytes_ = 0;
  uint64_t hits_ = 0, misses_ = 0;
  List lru_;  // front: most recently used
  std::vector<StoreState> stores_;
};

}  // namespace sluice::state
