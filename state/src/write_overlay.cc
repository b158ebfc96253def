#include "write_overlay.h"

#include <absl/hash/hash.h>

#include <algorithm>
#include <cstring>
#include <new>

namespace sluice::state {

size_t WriteOverlay::hash_of(std::string_view key) { return absl::Hash<std::string_view>{}(key); }

char* WriteOverlay::allocate(size_t n) {
  n = (n + 7) & ~size_t{7};
  if (n > static_cast<size_t>(end_ - next_)) {
    // A large value gets a block of its own, leaving the current block's free space in use.
    const size_t size = std::max(n, kBlockBytes);
    auto block = std::make_unique<char[]>(size);
    char* start = block.get();
    arena_bytes_ += size;
    if (size > kBlockBytes) {
      blocks_.insert(blocks_.begin(), std::move(block));
      return start;
    }
    blocks_.push_back(std::move(block));
    next_ = start;
    end_ = start + size;
  }
  char* p = next_;
  next_ += n;
  return p;
}

std::pair<const WriteOverlay::Entry*, bool> WriteOverlay::write(
    std::string_view key, std::optional<std::string_view> value) {
  const size_t hash = hash_of(key);
  auto found = index_.find(key, hash);
  if (found != index_.end()) {
    Entry* e = *found;
    if (!value) {
      e->removed_ = true;
      return {e, false};
    }
    if (value->size() > e->capacity_) {
      const size_t capacity = std::max(value->size(), size_t{e->capacity_} * 2);
      e->value_ = allocate(capacity);
      e->capacity_ = static_cast<uint32_t>(capacity);
    }
    if (!value->empty()) std::memcpy(e->value_, value->data(), value->size());
    e->value_size_ = static_cast<uint32_t>(value->size());
    e->removed_ = false;
    return {e, false};
  }
  const size_t value_size = value ? value->size() : 0;
  char* space = allocate(sizeof(Entry) + key.size() + value_size);
  Entry* e = new (space) Entry();
  e->hash_ = hash;
  e->key_size_ = static_cast<uint32_t>(key.size());
  if (!key.empty()) std::memcpy(space + sizeof(Entry), key.data(), key.size());
  e->value_ = space + sizeof(Entry) + key.size();
  e->capacity_ = static_cast<uint32_t>(value_size);
  e->value_size_ = static_cast<uint32_t>(value_size);
  e->removed_ = !value;
  if (value_size > 0) std::memcpy(e->value_, value->data(), value_size);
  index_.insert(e);
  if (ascending_ && !order_.empty() && !(order_.back()->key() < key)) ascending_ = false;
  order_.push_back(e);
  return {e, true};
}

const WriteOverlay::Entry* WriteOverlay::find(std::string_view key) const {
  auto found = index_.find(key);
  return found == index_.end() ? nullptr : *found;
}

std::vector<const WriteOverlay::Entry*> WriteOverlay::sorted() const {
  std::vector<const Entry*> out(order_);
  if (ascending_ || out.size() < 2) return out;
  // Sorting the pointers compared keys through them: a cache miss or two per comparison, the
  // entries being scattered over the arena. Instead sort (8 key bytes, entry) pairs, the bytes
  // taken big-endian right after the prefix every key shares, and compare whole keys only when
  // those are equal. Both passes below walk the arena in the order it was written.
  size_t shared = out.front()->key().size();
  const std::string_view first = out.front()->key();
  for (const Entry* e : out) {
    const std::string_view key = e->key();
    const size_t n = std::min(shared, key.size());
    size_t i = 0;
    while (i < n && key[i] == first[i]) ++i;
    shared = i;
  }
  struct Keyed {
    uint64_t prefix;
    const Entry* entry;
  };
  std::vector<Keyed> keyed;
  keyed.reserve(out.size());
  for (const Entry* e : out) {
    const std::string_view key = e->key();
    uint64_t prefix = 0;
    for (size_t i = 0; i < 8; ++i) {
      const size_t at = shared + i;
      prefix = (prefix << 8) | (at < key.size() ? static_cast<uint8_t>(key[at]) : 0);
    }
    keyed.push_back({prefix, e});
  }
  // A key shorter than the prefix's end pads with zeros: equal prefixes fall back to the keys.
  std::sort(keyed.begin(), keyed.end(), [](const Keyed& a, const Keyed& b) {
    if (a.prefix != b.prefix) return a.prefix < b.prefix;
    return a.entry->key() < b.entry->key();
  });
  for (size_t i = 0; i < keyed.size(); ++i) out[i] = keyed[i].entry;
  return out;
}

}  // namespace sluice::state
