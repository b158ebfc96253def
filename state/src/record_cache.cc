#include "record_cache.h"

namespace sluice::state {

int RecordCache::add_store(Writer writer) {
  stores_.push_back(StoreState{std::move(writer), {}, {}});
  return static_cast<int>(stores_.size() - 1);
}

RecordCache::Lookup RecordCache::get(int store, ByteView key) {
  StoreState& s = stores_[static_cast<size_t>(store)];
  auto it = s.index.find(key);
  if (it == s.index.end()) {
    ++misses_;
    return {};
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return {true, &it->second->value};
}

Status RecordCache::put(int store, ByteView key, std::optional<Bytes> value, bool dirty) {
  StoreState& s = stores_[static_cast<size_t>(store)];
  auto it = s.index.find(key);
  if (it != s.index.end()) {
    Entry& e = *it->second;
    bytes_ -= e.charge();
    e.value = std::move(value);
    bytes_ += e.charge();
    lru_.splice(lru_.begin(), lru_, it->second);
    if (dirty && !e.dirty) s.dirty.emplace(e.key, it->second);
    e.dirty = e.dirty || dirty;
  } else {
    lru_.push_front(Entry{store, Bytes(key), std::move(value), dirty});
    bytes_ += lru_.front().charge();
    s.index.emplace(lru_.front().key, lru_.begin());
    if (dirty) s.dirty.emplace(lru_.front().key, lru_.begin());
  }
  return evict_if_needed();
}

Status RecordCache::write_back(StoreState& s, Entry& e) {
  SLUICE_RETURN_IF_ERROR(s.writer(e.key, e.value));
  e.dirty = false;
  s.dirty.erase(e.key);
  return Status();
}

Status RecordCache::evict_if_needed() {
  // Never evict the entry just used (the front): a cache smaller than one entry still works.
  while (bytes_ > max_bytes_ && lru_.size() > 1) {
    Entry& e = lru_.back();
    StoreState& s = stores_[static_cast<size_t>(e.store)];
    if (e.dirty) SLUICE_RETURN_IF_ERROR(write_back(s, e));
    bytes_ -= e.charge();
    s.index.erase(e.key);
    lru_.pop_back();
  }
  return Status();
}

Status RecordCache::flush(int store) {
  StoreState& s = stores_[static_cast<size_t>(store)];
  for (auto& [key, entry] : s.dirty) {
    SLUICE_RETURN_IF_ERROR(s.writer(entry->key, entry->value));
    entry->dirty = false;
  }
  s.dirty.clear();
  return Status();
}

Status RecordCache::flush_all() {
  for (size_t i = 0; i < stores_.size(); ++i) SLUICE_RETURN_IF_ERROR(flush(static_cast<int>(i)));
  return Status();
}

void RecordCache::clear() {
  lru_.clear();
  for (StoreState& s : stores_) {
    s.index.clear();
    s.dirty.clear();
  }
  bytes_ = 0;
}

}  // namespace sluice::state
