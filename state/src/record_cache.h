// RecordCache: the write-back cache in front of a task's key-value stores.
//
// Reads of hot keys are served from memory; repeated updates of a key within a commit interval
// stay in memory and reach the store (and so the changelog) once, when the task commits or when
// the entry is evicted. Entries of all the task's cached stores share one byte budget.
//
// Eviction is CLOCK (second chance), an approximation of LRU: a hit only sets the entry's
// referenced bit, where LRU would relink list nodes — with 100,000 hot keys that relinking, not
// the lookup, was most of the cost of a hit, all of it cache misses.
//
// Thread safety: thread-confined to the task.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
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
  // May evict entries, writing dirty ones to their stores.
  Status put(int store, ByteView key, std::optional<ByteView> value, bool dirty);
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
    std::optional<Bytes> value;
    int store = 0;
    bool dirty = false;
    bool referenced = true;  // CLOCK: used since the hand last passed
    size_t ring_slot = 0;    // its place in ring_
    size_t dirty_slot = 0;   // while dirty: its place in StoreState::dirty
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  // Node-based: an entry's address is stable until it is erased.
  using Entries = std::unordered_map<Bytes, Entry, Hash, std::equal_to<>>;
  using Node = Entries::value_type;
  struct StoreState {
    Writer writer;
    Entries entries;
    // The dirty entries, in the order they became dirty; sorted by key at flush. An entry
    // evicted meanwhile is written back and leaves a null in its slot.
    std::vector<Node*> dirty;
  };
  static constexpr size_t kOverhead = 96;  // hash node, ring and dirty slots
  static size_t charge(const Node& n) {
    return n.first.size() + (n.second.value ? n.second.value->size() : 0) + kOverhead;
  }
  static void mark_dirty(StoreState& s, Node& n) {
    n.second.dirty = true;
    n.second.dirty_slot = s.dirty.size();
    s.dirty.push_back(&n);
  }
  Status evict_if_needed();

  const size_t max_bytes_;
  size_t bytes_ = 0;
  uint64_t hits_ = 0, misses_ = 0;
  std::vector<Node*> ring_;  // every entry of every store; the CLOCK hand walks it
  size_t hand_ = 0;
  std::vector<StoreState> stores_;
};

}  // namespace sluice::state
