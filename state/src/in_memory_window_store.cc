#include "in_memory_window_store.h"

#include <utility>
#include <vector>

#include "sluice/base/check.h"

namespace sluice::state {
namespace {

using Windows = InMemoryWindowStore::Windows;

// Walks the windows of the starts in [window, end) — every key of each (fetch_all), or only
// one key (fetch) — or, once detached, its copy of what was left.
class WindowsIterator final : public WindowIterator, private DetachableIterator {
 public:
  WindowsIterator(OpenIterators& open, Windows::const_iterator window, Windows::const_iterator end,
                  std::optional<Bytes> only_key)
      : DetachableIterator(open), window_(window), end_(end), only_key_(std::move(only_key)) {
    settle();
  }

  bool valid() const override { return detached_ ? pos_ < rows_.size() : window_ != end_; }
  ByteView key() const override {
    SLUICE_CHECK(valid());
    return detached_ ? rows_[pos_].key : entry_->first;
  }
  Timestamp window_start() const override {
    SLUICE_CHECK(valid());
    return detached_ ? rows_[pos_].window_start : window_->first;
  }
  ByteView value() const override {
    SLUICE_CHECK(valid());
    return detached_ ? rows_[pos_].value : entry_->second;
  }
  void next() override {
    if (!valid()) return;
    if (detached_) {
      ++pos_;
    } else {
      next_live();
    }
  }
  Status status() const override { return Status(); }

 private:
  void detach() override {
    for (; window_ != end_; next_live()) {
      rows_.push_back({entry_->first, window_->first, entry_->second});
    }
    detached_ = true;
  }

  void next_live() {
    if (!only_key_ && ++entry_ != window_->second.end()) return;
    ++window_;
    settle();
  }

  // Points entry_ at the first entry to return at or after window_.
  void settle() {
    for (; window_ != end_; ++window_) {
      const BytesMap& keys = window_->second;
      entry_ = only_key_ ? keys.find(*only_key_) : keys.begin();
      if (entry_ != keys.end()) return;
    }
  }

  Windows::const_iterator window_;
  const Windows::const_iterator end_;
  BytesMap::const_iterator entry_;  // within window_->second while window_ != end_
  const std::optional<Bytes> only_key_;
  bool detached_ = false;
  std::vector<WindowedEntry> rows_;  // once detached
  size_t pos_ = 0;
};

}  // namespace

InMemoryWindowStore::InMemoryWindowStore(std::string name, int64_t retention_ms)
    : name_(std::move(name)), retention_ms_(retention_ms) {
  SLUICE_CHECK(retention_ms_ >= 1);  // the factory validates the spec
}

Status InMemoryWindowStore::put(ByteView key, Timestamp window_start,
                                std::optional<ByteView> value) {
  if (window_start < cutoff()) return Status();  // expired: ignored, as store.h says
  if (value) {
    open_.detach_all();
    BytesMap& keys = windows_[window_start];
    auto it = keys.lower_bound(key);
    if (it != keys.end() && it->first == key) {
      it->second.assign(*value);
    } else {
      keys.emplace_hint(it, Bytes(key), Bytes(*value));
    }
    return Status();
  }
  auto window = windows_.find(window_start);
  if (window == windows_.end()) return Status();
  auto it = window->second.find(key);
  if (it == window->second.end()) return Status();
  open_.detach_all();
  window->second.erase(it);
  if (window->second.empty()) windows_.erase(window);
  return Status();
}

Result<std::optional<Bytes>> InMemoryWindowStore::fetch(ByteView key, Timestamp window_start) {
  auto window = windows_.find(window_start);
  if (window == windows_.end()) return std::optional<Bytes>();
  auto it = window->second.find(key);
  if (it == window->second.end()) return std::optional<Bytes>();
  return std::optional<Bytes>(it->second);
}

Result<std::unique_ptr<WindowIterator>> InMemoryWindowStore::fetch(ByteView key, Timestamp from,
                                                                   Timestamp to) {
  auto [begin, end] = starts_between(from, to);
  return std::unique_ptr<WindowIterator>(
      std::make_unique<WindowsIterator>(open_, begin, end, Bytes(key)));
}

Result<std::unique_ptr<WindowIterator>> InMemoryWindowStore::fetch_all(Timestamp from,
                                                                       Timestamp to) {
  auto [begin, end] = starts_between(from, to);
  return std::unique_ptr<WindowIterator>(
      std::make_unique<WindowsIterator>(open_, begin, end, std::nullopt));
}

Status InMemoryWindowStore::advance_stream_time(Timestamp stream_time) {
  if (stream_time <= stream_time_) return Status();  // never back
  stream_time_ = stream_time;
  // Exactly the expired windows go; nothing waits for its whole segment to expire.
  auto first_kept = windows_.lower_bound(cutoff());
  if (first_kept == windows_.begin()) return Status();
  open_.detach_all();
  windows_.erase(windows_.begin(), first_kept);
  return Status();
}

std::pair<Windows::const_iterator, Windows::const_iterator> InMemoryWindowStore::starts_between(
    Timestamp from, Timestamp to) const {
  // An inverted range would make begin lie past end: walking it would run off the map.
  if (from > to) return {windows_.end(), windows_.end()};
  return {windows_.lower_bound(from), windows_.upper_bound(to)};
}

}  // namespace sluice::state
