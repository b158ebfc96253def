#include "in_memory_key_value_store.h"

#include <utility>
#include <vector>

#include "sluice/base/check.h"

namespace sluice::state {
namespace {

// Walks [it, end) of a BytesMap, or, once detached, its copy of what was left.
class MapIterator final : public KeyValueIterator, private DetachableIterator {
 public:
  MapIterator(OpenIterators& open, BytesMap::const_iterator it, BytesMap::const_iterator end)
      : DetachableIterator(open), it_(it), end_(end) {}

  bool valid() const override { return detached_ ? pos_ < rows_.size() : it_ != end_; }
  ByteView key() const override {
    SLUICE_CHECK(valid());
    return detached_ ? rows_[pos_].first : it_->first;
  }
  ByteView value() const override {
    SLUICE_CHECK(valid());
    return detached_ ? rows_[pos_].second : it_->second;
  }
  void next() override {
    if (!valid()) return;
    if (detached_) {
      ++pos_;
    } else {
      ++it_;
    }
  }
  Status status() const override { return Status(); }

 private:
  void detach() override {
    rows_.assign(it_, end_);
    detached_ = true;
  }

  BytesMap::const_iterator it_;
  BytesMap::const_iterator end_;
  bool detached_ = false;
  std::vector<std::pair<Bytes, Bytes>> rows_;  // once detached
  size_t pos_ = 0;
};

// The smallest key greater than every key that starts with `prefix`, or nullopt when there is
// none (the prefix is empty or all 0xFF bytes): drop trailing 0xFF bytes, increment the last.
std::optional<Bytes> prefix_successor(ByteView prefix) {
  Bytes s(prefix);
  while (!s.empty() && static_cast<unsigned char>(s.back()) == 0xFF) s.pop_back();
  if (s.empty()) return std::nullopt;
  s.back() = static_cast<char>(static_cast<unsigned char>(s.back()) + 1);
  return s;
}

}  // namespace

Result<std::optional<Bytes>> InMemoryKeyValueStore::get(ByteView key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::optional<Bytes>();
  return std::optional<Bytes>(it->second);
}

Status InMemoryKeyValueStore::put(ByteView key, ByteView value) {
  open_.detach_all();
  auto it = entries_.lower_bound(key);
  if (it != entries_.end() && it->first == key) {
    it->second.assign(value);
  } else {
    entries_.emplace_hint(it, Bytes(key), Bytes(value));
  }
  return Status();
}

Status InMemoryKeyValueStore::remove(ByteView key) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return Status();
  open_.detach_all();
  entries_.erase(it);
  return Status();
}

Result<std::unique_ptr<KeyValueIterator>> InMemoryKeyValueStore::range(std::optional<ByteView> from,
                                                                       std::optional<ByteView> to) {
  // An inverted range would make begin lie past end: walking it would run off the map.
  if (from && to && *from >= *to) return walk(entries_.end(), entries_.end());
  return walk(from ? entries_.lower_bound(*from) : entries_.begin(),
              to ? entries_.lower_bound(*to) : entries_.end());
}

Result<std::unique_ptr<KeyValueIterator>> InMemoryKeyValueStore::prefix_scan(ByteView prefix) {
  const std::optional<Bytes> end = prefix_successor(prefix);
  return walk(entries_.lower_bound(prefix), end ? entries_.lower_bound(*end) : entries_.end());
}

Result<uint64_t> InMemoryKeyValueStore::approximate_count() {
  return static_cast<uint64_t>(entries_.size());
}

std::unique_ptr<KeyValueIterator> InMemoryKeyValueStore::walk(BytesMap::const_iterator begin,
                                                              BytesMap::const_iterator end) {
  return std::make_unique<MapIterator>(open_, begin, end);
}

}  // namespace sluice::state
