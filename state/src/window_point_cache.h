// WindowPointCache: the recent windows of one RocksDB window store, for its point fetches.
//
// A windowed aggregation reads the window of each record's key and writes it back. Most of those
// reads ask for a window nobody has written yet (a new key, or a new window of a known one), and
// the rest for one written a moment ago; from RocksDB each is a memtable walk and a bloom filter
// probe per table file. The store writes every window through this cache as well (so evicting is
// free) and answers from it: a cached window by its value, and a window the cache proves absent
// without reading RocksDB at all.
//
// The proof: the cache knows which windows it holds completely. A window that starts at or after
// `complete_from` (past every window on disk when the store was made) and after every window it
// has dropped can only have been written through the store, so through the cache. Memory is
// bounded by dropping whole windows, oldest start first — the windows a stream has moved past —
// where a per-entry LRU or CLOCK would also drop entries of the window being filled, and with
// them the proof for that window.
//
// Thread safety: thread-confined to the store's task.
#pragma once

#include <absl/container/flat_hash_map.h>
#include <absl/hash/hash.h>

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/base/bytes.h"

namespace sluice::state {

class WindowPointCache {
 public:
  static constexpr int64_t kMinTime = std::numeric_limits<int64_t>::min();

  // `max_bytes`: keys, values and a per-entry overhead; 0 caches nothing (every window dropped
  // right after it is written, so no proof holds and every fetch reads).
  explicit WindowPointCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  // The cached value of (key, window start): nullptr when the window is not cached; an empty
  // optional when it is cached as absent. Valid until the next put or drop.
  const std::optional<Bytes>* find(int64_t start, ByteView key) const {
    auto w = windows_.find(start);
    if (w == windows_.end()) return nullptr;
    auto e = w->second.entries.find(key);
    return e == w->second.entries.end() ? nullptr : &e->second;
  }

  // Whether a window that find() does not hold is absent from the store.
  bool proves_absent(int64_t start) const { return start >= complete_from_ && start > dropped_; }

  void put(int64_t start, ByteView key, std::optional<ByteView> value) {
    Window& w = windows_[start];
    auto [it, inserted] = w.entries.try_emplace(key);
    const size_t before = inserted ? 0 : charge(it->first, it->second);
    if (value) {
      if (it->second) {
        it->second->assign(*value);
      } else {
        it->second.emplace(*value);
      }
    } else {
      it->second.reset();
    }
    const size_t after = charge(it->first, it->second);
    w.bytes += after - before;
    bytes_ += after - before;
    while (bytes_ > max_bytes_ && !windows_.empty()) drop_oldest();
  }

  // Windows starting before `cutoff` are expired: the store never reads them again, so they go
  // without weakening the proof.
  void drop_expired(int64_t cutoff) {
    while (!windows_.empty() && windows_.begin()->first < cutoff) {
      bytes_ -= windows_.begin()->second.bytes;
      windows_.erase(windows_.begin());
    }
  }

  // Forgets everything; windows from `complete_from` on are known to be absent from the store.
  void reset(int64_t complete_from) {
    windows_.clear();
    bytes_ = 0;
    complete_from_ = complete_from;
    dropped_ = kMinTime;
  }

  // (key, start) was written around the cache (a restore writes straight to the DB): the cache
  // forgets it, and proves nothing about windows up to `start` any more.
  void bypassed(int64_t start, ByteView key) {
    dropped_ = std::max(dropped_, start);
    auto w = windows_.find(start);
    if (w == windows_.end()) return;
    auto e = w->second.entries.find(key);
    if (e == w->second.entries.end()) return;
    const size_t charged = charge(e->first, e->second);
    w->second.bytes -= charged;
    bytes_ -= charged;
    w->second.entries.erase(e);
  }

  size_t bytes() const { return bytes_; }
  size_t windows() const { return windows_.size(); }

 private:
  // The table slot, the two strings' heap blocks when long, and the tree node per window.
  static constexpr size_t kOverhead = 96;
  static size_t charge(const Bytes& key, const std::optional<Bytes>& value) {
    return key.size() + (value ? value->size() : 0) + kOverhead;
  }

  void drop_oldest() {
    auto oldest = windows_.begin();
    dropped_ = std::max(dropped_, oldest->first);
    bytes_ -= oldest->second.bytes;
    windows_.erase(oldest);
  }

  // Transparent over std::string_view (Debian's abseil has a string_view of its own).
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view k) const { return absl::Hash<std::string_view>{}(k); }
  };
  struct Eq {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const { return a == b; }
  };
  struct Window {
    absl::flat_hash_map<Bytes, std::optional<Bytes>, Hash, Eq> entries;
    size_t bytes = 0;
  };

  const size_t max_bytes_;
  size_t bytes_ = 0;
  std::map<int64_t, Window> windows_;  // by window start
  int64_t complete_from_ = std::numeric_limits<int64_t>::max();
  int64_t dropped_ = kMinTime;  // the latest start of a window dropped (or written around)
};

}  // namespace sluice::state
