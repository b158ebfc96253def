#include "record_cache.h"

#include <algorithm>

namespace sluice::state {

int RecordCache::add_store(Writer writer) {
  stores_.push_back(StoreState{std::move(writer), {}, {}});
  return static_cast<int>(stores_.size() - 1);
}

RecordCache::Lookup RecordCache::get(int store, ByteView key) {
  StoreState& s = stores_[static_cast<size_t>(store)];
  auto it = s.entries.find(key);
  if (it == s.entries.end()) {
    ++misses_;
    return {};
  }
  ++hits_;
  it->second.referenced = true;
  return {true, &it->second.value};
}

Status RecordCache::put(int store, ByteView key, std::optional<ByteView> value, bool dirty) {
  StoreState& s = stores_[static_cast<size_t>(store)];
  auto it = s.entries.find(key);
  if (it == s.entries.end()) {
    it = s.entries.emplace(Bytes(key), Entry{.store = store}).first;
    it->second.ring_slot = ring_.size();
    ring_.push_back(&*it);
  } else {
    bytes_ -= charge(*it);
  }
  Entry& e = it->second;
  if (!value) {
    e.value.reset();
  } else if (e.value) {
    e.value->assign(value->data(), value->size());  // reuses the buffer of a same-size update
  } else {
    e.value.emplace(*value);
  }
  e.referenced = true;
  bytes_ += charge(*it);
  if (dirty && !e.dirty) mark_dirty(s, *it);
  return evict_if_needed();
}

Status RecordCache::evict_if_needed() {
  // The entry just used is referenced, so a full turn of the hand passes it: a cache smaller
  // than one entry still works.
  size_t passed = 0;
  while (bytes_ > max_bytes_ && ring_.size() > 1 && passed <= ring_.size()) {
    if (hand_ >= ring_.size()) hand_ = 0;
    Node* n = ring_[hand_];
    Entry& e = n->second;
    if (e.referenced) {
      e.referenced = false;
      ++hand_;
      ++passed;
      continue;
    }
    StoreState& s = stores_[static_cast<size_t>(e.store)];
    if (e.dirty) {
      SLUICE_RETURN_IF_ERROR(s.writer(n->first, e.value));
      s.dirty[e.dirty_slot] = nullptr;
    }
    bytes_ -= charge(*n);
    ring_[hand_] = ring_.back();
    ring_[hand_]->second.ring_slot = hand_;
    ring_.pop_back();
    s.entries.erase(n->first);
    passed = 0;
  }
  return Status();
}

Status RecordCache::flush(int store) {
  StoreState& s = stores_[static_cast<size_t>(store)];
  std::erase(s.dirty, nullptr);
  // Key order: the store's writes (and its changelog) come sorted, which RocksDB inserts fastest.
  std::sort(s.dirty.begin(), s.dirty.end(),
            [](const Node* a, const Node* b) { return a->first < b->first; });
  for (size_t done = 0; done < s.dirty.size(); ++done) {
    Node* n = s.dirty[done];
    Status w = s.writer(n->first, n->second.value);
    if (!w.ok()) {
      // The rest stay dirty, in fresh slots.
      s.dirty.erase(s.dirty.begin(), s.dirty.begin() + static_cast<std::ptrdiff_t>(done));
      for (size_t i = 0; i < s.dirty.size(); ++i) s.dirty[i]->second.dirty_slot = i;
      return w;
    }
    n->second.dirty = false;
  }
  s.dirty.clear();
  return Status();
}

Status RecordCache::flush_all() {
  for (size_t i = 0; i < stores_.size(); ++i) SLUICE_RETURN_IF_ERROR(flush(static_cast<int>(i)));
  return Status();
}

void RecordCache::clear() {
  ring_.clear();
  hand_ = 0;
  for (StoreState& s : stores_) {
    s.entries.clear();
    s.dirty.clear();
  }
  bytes_ = 0;
}

}  // namespace sluice::state
