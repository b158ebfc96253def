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
// Each entry is one allocation (header, key, value) found through a SwissTable
// (absl::flat_hash_set) of entry pointers that keeps the entry's hash; the entry last looked up
// is remembered, so the put that follows a get of the same key — every aggregation's
// read-modify-write — finds it without hashing again.
//
// Thread safety: thread-confined to the task.
#pragma once

#include <absl/container/flat_hash_set.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "sluice/base/bytes.h"
#include "sluice/base/status.h"

namespace sluice::state {

class RecordCache {
 public:
  // Writes one dirty entry to the store it caches (nullopt: a removal).
  using Writer = std::function<Status(ByteView key, std::optional<ByteView> value)>;

  explicit RecordCache(size_t max_bytes) : max_bytes_(max_bytes) {}
  ~RecordCache();
  RecordCache(const RecordCache&) = delete;
  RecordCache& operator=(const RecordCache&) = delete;

  // Registers a store; returns its id for the calls below.
  int add_store(Writer writer);

  struct Lookup {
    bool hit = false;
    std::optional<ByteView> value;  // when hit; valid until the next call on the cache
  };
  Lookup get(int store, ByteView key);
  // Caches `value` for `key` (dirty: to be written at flush; clean: as read from the store).
  // May evict entries, writing dirty ones to their stores.
  Status put(int store, ByteView key, std::optional<ByteView> value, bool dirty);
  // Writes every dirty entry of `store` (in the order they became dirty) and marks it clean.
  Status flush(int store);
  Status flush_all();
  // Forgets every entry (after an abort: the stores are back at their last commit).
  void clear();

  size_t bytes() const { return bytes_; }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  // One allocation, cache-line aligned: this 48-byte header, then the key's bytes (a short key
  // shares the header's cache line), then room for `capacity` value bytes (a value that
  // outgrows them moves to a buffer of its own, `grown`). A lookup touches the first line.
  struct Entry {
    size_t hash = 0;
    char* value = nullptr;  // inline after the key, or a buffer of its own when `grown`
    uint32_t key_size = 0;
    uint32_t value_size = 0;
    uint32_t capacity = 0;
    int32_t store = 0;
    uint32_t ring_slot = 0;   // its place in ring_
    uint32_t dirty_slot = 0;  // while dirty: its place in StoreState::dirty
    bool has_value = false;
    bool dirty = false;
    bool referenced = true;  // CLOCK: used since the hand last passed
    bool grown = false;

    ByteView key() const { return {reinterpret_cast<const char*>(this + 1), key_size}; }
    std::optional<ByteView> value_view() const {
      if (!has_value) return std::nullopt;
      return ByteView(value, value_size);
    }
  };
  static Entry* make_entry(size_t hash, ByteView key, std::optional<ByteView> value, int store);
  static void destroy(Entry* e);
  static void assign(Entry& e, std::optional<ByteView> value);

  struct Hash {
    using is_transparent = void;
    size_t operator()(const Entry* e) const { return e->hash; }
    size_t operator()(std::string_view key) const;
  };
  struct Eq {
    using is_transparent = void;
    bool operator()(const Entry* a, const Entry* b) const { return a == b; }
    bool operator()(const Entry* a, std::string_view b) const { return a->key() == b; }
    bool operator()(std::string_view a, const Entry* b) const { return a == b->key(); }
  };
  struct StoreState {
    Writer writer;
    absl::flat_hash_set<Entry*, Hash, Eq> entries;
    // The dirty entries, in the order they became dirty (and written back in it). An entry
    // evicted meanwhile is written back and leaves a null in its slot.
    std::vector<Entry*> dirty;
  };
  static constexpr size_t kOverhead = 112;  // entry header, table, ring and dirty slots
  static size_t charge(const Entry& e) { return e.key_size + e.capacity + kOverhead; }
  static void mark_dirty(StoreState& s, Entry& e) {
    e.dirty = true;
    e.dirty_slot = static_cast<uint32_t>(s.dirty.size());
    s.dirty.push_back(&e);
  }
  // The key's entry, or null; a lookup that hashed the key leaves the hash in `*hash`.
  Entry* find(StoreState& s, int store, ByteView key, size_t* hash = nullptr);
  Status evict_if_needed();

  const size_t max_bytes_;
  size_t bytes_ = 0;
  uint64_t hits_ = 0, misses_ = 0;
  std::vector<Entry*> ring_;  // every entry of every store; the CLOCK hand walks it
  size_t hand_ = 0;
  Entry* last_ = nullptr;  // the entry last found or added
  std::vector<StoreState> stores_;
};

}  // namespace sluice::state
