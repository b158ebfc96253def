// WriteOverlay: the writes buffered for one column family between two commits — the latest value
// (or removal) of each key.
//
// Keys and values are copied into an arena of large blocks, so a write allocates nothing of its
// own and the whole overlay is freed at once. Entries are found through a SwissTable
// (absl::flat_hash_set) of entry pointers that keeps each entry's hash: a lookup that misses —
// the common case, a store reading a key it has not written since the last commit — compares
// a few control bytes and touches no entry. (A std::unordered_map of strings cost a node, a key
// and a value allocation per new key and a pointer chase per probe: ~20% of a windowed count.)
//
// Entries never move: pointers to them stay valid for the overlay's life.
//
// Thread safety: none; concurrent const use is safe.
#pragma once

#include <absl/container/flat_hash_set.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::state {

class WriteOverlay {
 public:
  class Entry {
   public:
    std::string_view key() const { return {reinterpret_cast<const char*>(this + 1), key_size_}; }
    // nullopt: the key was removed.
    std::optional<std::string_view> value() const {
      if (removed_) return std::nullopt;
      return std::string_view(value_, value_size_);
    }

   private:
    friend class WriteOverlay;
    size_t hash_ = 0;
    char* value_ = nullptr;
    uint32_t key_size_ = 0;
    uint32_t value_size_ = 0;
    uint32_t capacity_ = 0;
    bool removed_ = false;
    // The key's bytes follow the entry, then (at first) the value's.
  };

  WriteOverlay() = default;
  // The moved-from overlay is left empty and usable (its arena pointers are not shared).
  WriteOverlay(WriteOverlay&& other) noexcept { *this = std::move(other); }
  WriteOverlay& operator=(WriteOverlay&& other) noexcept {
    blocks_ = std::move(other.blocks_);
    next_ = std::exchange(other.next_, nullptr);
    end_ = std::exchange(other.end_, nullptr);
    arena_bytes_ = std::exchange(other.arena_bytes_, 0);
    index_ = std::move(other.index_);
    order_ = std::move(other.order_);
    ascending_ = std::exchange(other.ascending_, true);
    other.blocks_.clear();
    other.index_.clear();
    other.order_.clear();
    return *this;
  }

  // Records `value` (nullopt: a removal) as the key's latest write. Returns its entry and
  // whether the key is new to the overlay.
  std::pair<const Entry*, bool> write(std::string_view key, std::optional<std::string_view> value);
  // The key's entry, or null.
  const Entry* find(std::string_view key) const;

  size_t size() const { return order_.size(); }
  bool empty() const { return order_.empty(); }
  // Room for `keys` keys without rehashing.
  void reserve(size_t keys) {
    index_.reserve(keys);
    order_.reserve(keys);
  }
  // Bytes held by the arena.
  size_t arena_bytes() const { return arena_bytes_; }

  // Every entry, in the order the keys were first written.
  template <typename F>
  void for_each(F&& f) const {
    for (const Entry* e : order_) f(*e);
  }
  // Every entry, in key order: sorted here unless the keys were first written in order.
  std::vector<const Entry*> sorted() const;

 private:
  static size_t hash_of(std::string_view key);
  struct Hash {
    using is_transparent = void;
    size_t operator()(const Entry* e) const { return e->hash_; }
    size_t operator()(std::string_view key) const { return hash_of(key); }
  };
  struct Eq {
    using is_transparent = void;
    bool operator()(const Entry* a, const Entry* b) const { return a == b; }
    bool operator()(const Entry* a, std::string_view b) const { return a->key() == b; }
    bool operator()(std::string_view a, const Entry* b) const { return a == b->key(); }
  };

  // `n` bytes, 8-aligned, valid for the overlay's life.
  char* allocate(size_t n);

  static constexpr size_t kBlockBytes = 256 << 10;
  std::vector<std::unique_ptr<char[]>> blocks_;
  char* next_ = nullptr;  // free space of the last block
  char* end_ = nullptr;
  size_t arena_bytes_ = 0;
  absl::flat_hash_set<Entry*, Hash, Eq> index_;
  std::vector<const Entry*> order_;  // by first write
  bool ascending_ = true;            // order_ is in key order
};

}  // namespace sluice::state
