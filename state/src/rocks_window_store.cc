// The RocksDB window store (key layouts in rocks_window_stores.h):
//   key-first:    segment id u64 | key length u32 | key | window start u64
//   time-ordered: segment id u64 | window start u64 | key
//
// Key-first: fetch of one key streams from a RocksDB iterator, one seek per segment that holds
// data. fetch_all must return windows by start, then key, but a segment orders its entries by
// key first: it reads one segment at a time (only the entries in range) and sorts it. Segments
// hold disjoint time ranges in ascending order, so segment-by-segment sorting is a total sort,
// and memory is bounded by one segment's entries in range, not the whole result. It still
// visits every key of the segment, with a seek or two each.
//
// Time-ordered: the column family's order is fetch_all's, so fetch_all is one seek and a walk
// over exactly the windows it returns; fetch of one key walks every key's windows of its range.
#include <algorithm>
#include <optional>
#include <tuple>
#include <vector>

#include "rocks_segments.h"
#include "rocks_window_stores.h"
#include "window_point_cache.h"

namespace sluice::state {
namespace {

using segments::append_time;
using segments::floor_div;
using segments::KeySegmentCursor;
using segments::kKeyLengthSize;
using segments::kTimeSize;
using segments::load_time;
using segments::SegmentedTime;

Status malformed(const std::string& store, std::string_view why) {
  return corruption("window store '" + store + "' holds a malformed key: " + std::string(why));
}

// The windows of one key, streamed from a KeySegmentCursor until one starts after `to`; once
// detached, from its copy of what was left.
class KeyWindowIterator final : public WindowIterator, private DetachableIterator {
 public:
  KeyWindowIterator(OpenIterators& open, KeySegmentCursor cursor, ByteView key, int64_t to,
                    int64_t segment_ms, const std::string& store)
      : DetachableIterator(open),
        cursor_(std::move(cursor)),
        key_(key),
        to_(to),
        segment_ms_(segment_ms),
        store_(store) {
    settle();
  }

  bool valid() const override { return detached_ ? pos_ < rows_.size() : valid_; }
  ByteView key() const override { return key_; }
  Timestamp window_start() const override {
    return detached_ ? rows_[pos_].window_start : Timestamp(start_);
  }
  ByteView value() const override { return detached_ ? rows_[pos_].value : cursor_.value(); }
  void next() override {
    if (!valid()) return;
    if (detached_) {
      ++pos_;
      return;
    }
    cursor_.next();
    settle();
  }
  Status status() const override { return valid() ? Status() : status_; }

 private:
  void detach() override {
    for (; valid_; cursor_.next(), settle()) {
      rows_.push_back(
          {.key = Bytes(), .window_start = Timestamp(start_), .value = Bytes(cursor_.value())});
    }
    cursor_.release();
    detached_ = true;
  }

  // Decodes the cursor's entry, or ends the walk with status_ saying why.
  void settle() {
    valid_ = false;
    if (!cursor_.valid()) {
      status_ = cursor_.status();
      return;
    }
    const ByteView suffix = cursor_.suffix();
    if (suffix.size() != kTimeSize) {
      status_ = malformed(store_, "window start of " + std::to_string(suffix.size()) + " bytes");
      return;
    }
    start_ = load_time(suffix.data());
    if (floor_div(start_, segment_ms_) != cursor_.segment()) {
      status_ = malformed(store_, "window start outside its segment");
      return;
    }
    valid_ = start_ <= to_;  // past `to`, the rest start later still
  }

  KeySegmentCursor cursor_;
  const Bytes key_;
  const int64_t to_;
  const int64_t segment_ms_;
  const std::string store_;
  bool valid_ = false;
  int64_t start_ = 0;
  Status status_;
  bool detached_ = false;
  std::vector<WindowedEntry> rows_;  // once detached (keys left empty: all are key_)
  size_t pos_ = 0;
};

// The windows of every key with start in [from, to], one segment at a time, sorted by (start,
// key) within the segment; once detached, every segment left, read at once.
class AllWindowsIterator final : public WindowIterator, private DetachableIterator {
 public:
  AllWindowsIterator(OpenIterators& open, std::unique_ptr<rocksdb::Iterator> it, int64_t from,
                     int64_t to, int64_t segment_ms, const std::string& store)
      : DetachableIterator(open),
        it_(std::move(it)),
        from_(from),
        to_(to),
        segment_ms_(segment_ms),
        store_(store) {
    if (from_ > to_) {
      it_.reset();
      return;
    }
    Bytes first;
    append_time(first, floor_div(from_, segment_ms_));
    it_->Seek(first);
    while (entries_.empty() && read_segment()) {
    }
  }

  bool valid() const override { return pos_ < entries_.size(); }
  ByteView key() const override { return entries_[pos_].key; }
  Timestamp window_start() const override { return entries_[pos_].window_start; }
  ByteView value() const override { return entries_[pos_].value; }
  void next() override {
    if (!valid() || ++pos_ < entries_.size() || !it_) return;
    entries_.clear();
    pos_ = 0;
    while (entries_.empty() && read_segment()) {
    }
  }
  Status status() const override { return valid() ? Status() : status_; }

 private:
  void detach() override {
    entries_.erase(entries_.begin(), entries_.begin() + static_cast<ptrdiff_t>(pos_));
    pos_ = 0;
    if (it_) {
      while (read_segment()) {
      }
    }
    it_.reset();
  }

  // Appends the in-range entries of the next segment, sorted; false at the end or on an error
  // (status_ says which), with nothing of a failed segment appended.
  bool read_segment() {
    if (!it_->Valid()) {
      status_ = from_rocks(it_->status(), "reading store '" + store_ + "'");
      return false;
    }
    if (it_->key().size() < kTimeSize) {
      status_ = malformed(store_, "shorter than a segment id");
      return false;
    }
    const Bytes segment_prefix(it_->key().data(), kTimeSize);
    const int64_t segment = load_time(segment_prefix.data());
    if (segment > floor_div(to_, segment_ms_)) return false;
    const size_t first = entries_.size();
    while (it_->Valid() && it_->key().starts_with(segment_prefix)) {
      const rocksdb::Slice k = it_->key();
      if (!read_entry(k, it_->value(), segment)) {
        entries_.resize(first);
        return false;
      }
      // Within a segment a key's windows are contiguous and by start: seek past the starts out
      // of range instead of reading them (a segment can hold many windows per key).
      const size_t key_prefix = k.size() - kTimeSize;
      const int64_t start = load_time(k.data() + key_prefix);
      if (start < from_) {
        Bytes target(k.data(), key_prefix);
        append_time(target, from_);
        it_->Seek(target);
      } else if (start >= to_) {
        Bytes target(k.data(), key_prefix);
        target.append(kTimeSize + 1, '\xff');  // after every start of this key
        it_->Seek(target);
      } else {
        it_->Next();
      }
    }
    if (!it_->status().ok()) {
      status_ = from_rocks(it_->status(), "reading store '" + store_ + "'");
      entries_.resize(first);
      return false;
    }
    std::sort(entries_.begin() + static_cast<ptrdiff_t>(first), entries_.end(),
              [](const WindowedEntry& a, const WindowedEntry& b) {
                return std::tie(a.window_start, a.key) < std::tie(b.window_start, b.key);
              });
    return true;
  }

  // Adds the entry if its start is in range; false (status_ set) if the key is malformed.
  bool read_entry(rocksdb::Slice k, rocksdb::Slice v, int64_t segment) {
    if (k.size() < kTimeSize + kKeyLengthSize) {
      status_ = malformed(store_, "no key length");
      return false;
    }
    const uint64_t length = load_be<uint32_t>(k.data() + kTimeSize);
    if (k.size() != kTimeSize + kKeyLengthSize + length + kTimeSize) {
      status_ = malformed(store_, "key length does not match");
      return false;
    }
    const int64_t start = load_time(k.data() + kTimeSize + kKeyLengthSize + length);
    if (floor_div(start, segment_ms_) != segment) {
      status_ = malformed(store_, "window start outside its segment");
      return false;
    }
    if (start < from_ || start > to_) return true;
    entries_.push_back(WindowedEntry{
        .key = Bytes(k.data() + kTimeSize + kKeyLengthSize, length),
        .window_start = Timestamp(start),
        .value = Bytes(v.data(), v.size()),
    });
    return true;
  }

  std::unique_ptr<rocksdb::Iterator> it_;  // nullptr once detached
  const int64_t from_;
  const int64_t to_;
  const int64_t segment_ms_;
  const std::string store_;
  std::vector<WindowedEntry> entries_;  // by (start, key): one segment's, or all left once detached
  size_t pos_ = 0;
  Status status_;
};

// The windows with start in [from, to] of a time-ordered store, streamed in column family order
// — by (start, key), as fetch_all returns them — or only those of `only_key` (every other key's
// windows in the range are read and skipped); once detached, from its copy of what was left.
class TimeOrderedIterator final : public WindowIterator, private DetachableIterator {
 public:
  TimeOrderedIterator(OpenIterators& open, std::unique_ptr<rocksdb::Iterator> it,
                      std::optional<Bytes> only_key, int64_t from, int64_t to, int64_t segment_ms,
                      const std::string& store)
      : DetachableIterator(open),
        it_(std::move(it)),
        only_key_(std::move(only_key)),
        to_(to),
        segment_ms_(segment_ms),
        store_(store) {
    if (from > to) return;
    Bytes first;
    append_time(first, floor_div(from, segment_ms_));
    append_time(first, from);
    it_->Seek(first);
    settle();
  }

  bool valid() const override { return detached_ ? pos_ < rows_.size() : valid_; }
  ByteView key() const override { return detached_ ? ByteView(rows_[pos_].key) : key_; }
  Timestamp window_start() const override {
    return detached_ ? rows_[pos_].window_start : Timestamp(start_);
  }
  ByteView value() const override {
    return detached_ ? ByteView(rows_[pos_].value)
                     : ByteView(it_->value().data(), it_->value().size());
  }
  void next() override {
    if (!valid()) return;
    if (detached_) {
      ++pos_;
      return;
    }
    it_->Next();
    settle();
  }
  Status status() const override { return valid() ? Status() : status_; }

 private:
  void detach() override {
    for (; valid_; it_->Next(), settle()) {
      rows_.push_back(
          {.key = Bytes(key_), .window_start = Timestamp(start_), .value = Bytes(value())});
    }
    it_.reset();
    detached_ = true;
  }

  // Leaves the iterator at the next entry to return, or ends the walk with status_ saying why.
  void settle() {
    valid_ = false;
    for (; it_->Valid(); it_->Next()) {
      const rocksdb::Slice k = it_->key();
      if (k.size() < 2 * kTimeSize) {
        status_ = malformed(store_, "shorter than a segment id and a window start");
        return;
      }
      start_ = load_time(k.data() + kTimeSize);
      if (start_ > to_) return;  // the rest start later still
      if (floor_div(start_, segment_ms_) != load_time(k.data())) {
        status_ = malformed(store_, "window start outside its segment");
        return;
      }
      key_ = ByteView(k.data() + 2 * kTimeSize, k.size() - 2 * kTimeSize);
      if (!only_key_ || key_ == ByteView(*only_key_)) {
        valid_ = true;
        return;
      }
    }
    status_ = from_rocks(it_->status(), "reading store '" + store_ + "'");
  }

  std::unique_ptr<rocksdb::Iterator> it_;  // nullptr once detached
  const std::optional<Bytes> only_key_;
  const int64_t to_;
  const int64_t segment_ms_;
  const std::string store_;
  bool valid_ = false;
  int64_t start_ = 0;
  ByteView key_;  // into it_'s current key
  Status status_;
  bool detached_ = false;
  std::vector<WindowedEntry> rows_;  // once detached
  size_t pos_ = 0;
};

class RocksWindowStore final : public WindowStore {
 public:
  RocksWindowStore(const StoreSpec& spec, RocksWriter& writer, rocksdb::ColumnFamilyHandle* cf,
                   size_t cache_bytes)
      : writer_(writer), cf_(cf), time_ordered_(spec.time_ordered), time_(spec, writer, cf) {
    if (cache_bytes == 0) return;
    cache_.emplace(cache_bytes);
    // Windows start before the end of the last segment that holds any; from there on the
    // column family has none. (If that cannot be read, no miss proves anything.)
    auto last = writer_.last_key(cf_);
    if (!last.ok()) return;
    if (!*last || (*last)->size() < kTimeSize) {  // none, or only the stream time's empty key
      cache_->reset(segments::kMinTime);
      return;
    }
    int64_t end;
    if (!__builtin_mul_overflow(load_time((*last)->data()) + 1, time_.segment_ms(), &end)) {
      cache_->reset(end);
    }
  }

  const std::string& name() const override { return time_.store(); }
  int64_t retention_ms() const override { return time_.retention_ms(); }

  Status put(ByteView key, Timestamp window_start, std::optional<ByteView> value) override {
    SLUICE_RETURN_IF_ERROR(time_.load_status());
    SLUICE_RETURN_IF_ERROR(segments::check_key(key, name()));
    // Expired: ignored, removals too (store.h); it may still be on disk but is never read.
    if (time_.expired(window_start.value())) return Status();
    const Bytes& k = key_of(key, window_start.value());
    open_.detach_all();
    SLUICE_RETURN_IF_ERROR(value ? writer_.put(cf_, k, *value) : writer_.remove(cf_, k));
    if (cache_) {
      // A restore writes a batch straight to the DB: its windows stay out of the cache.
      if (writer_.bulk()) {
        cache_->bypassed(window_start.value(), key);
      } else {
        cache_->put(window_start.value(), key, value);
      }
    }
    return Status();
  }

  Result<std::optional<Bytes>> fetch(ByteView key, Timestamp window_start) override {
    SLUICE_RETURN_IF_ERROR(time_.load_status());
    SLUICE_RETURN_IF_ERROR(segments::check_key(key, name()));
    const int64_t start = window_start.value();
    if (time_.expired(start)) return std::optional<Bytes>();
    if (!cache_) return writer_.get(cf_, key_of(key, start));
    if (const std::optional<Bytes>* cached = cache_->find(start, key)) return *cached;
    if (cache_->proves_absent(start)) return std::optional<Bytes>();
    SLUICE_ASSIGN_OR_RETURN(std::optional<Bytes> stored, writer_.get(cf_, key_of(key, start)));
    cache_->put(start, key, stored ? std::optional<ByteView>(*stored) : std::nullopt);
    return stored;
  }

  Result<std::unique_ptr<WindowIterator>> fetch(ByteView key, Timestamp from,
                                                Timestamp to) override {
    SLUICE_RETURN_IF_ERROR(time_.load_status());
    SLUICE_RETURN_IF_ERROR(segments::check_key(key, name()));
    // Expired windows are skipped by starting at the cutoff, whether dropped yet or not.
    const int64_t lo = std::max(from.value(), time_.cutoff());
    if (time_ordered_) {
      return std::unique_ptr<WindowIterator>(std::make_unique<TimeOrderedIterator>(
          open_, writer_.iterator(cf_, rocksdb::ReadOptions()), Bytes(key), lo, to.value(),
          time_.segment_ms(), name()));
    }
    Bytes seek_suffix;
    append_time(seek_suffix, lo);
    KeySegmentCursor cursor(writer_.iterator(cf_, rocksdb::ReadOptions()), key,
                            time_.segment_of(lo), time_.segment_of(to.value()),
                            std::move(seek_suffix), name());
    return std::unique_ptr<WindowIterator>(std::make_unique<KeyWindowIterator>(
        open_, std::move(cursor), key, to.value(), time_.segment_ms(), name()));
  }

  Result<std::unique_ptr<WindowIterator>> fetch_all(Timestamp from, Timestamp to) override {
    SLUICE_RETURN_IF_ERROR(time_.load_status());
    if (time_ordered_) {
      return std::unique_ptr<WindowIterator>(std::make_unique<TimeOrderedIterator>(
          open_, writer_.iterator(cf_, rocksdb::ReadOptions()), std::nullopt,
          std::max(from.value(), time_.cutoff()), to.value(), time_.segment_ms(), name()));
    }
    return std::unique_ptr<WindowIterator>(std::make_unique<AllWindowsIterator>(
        open_, writer_.iterator(cf_, rocksdb::ReadOptions()),
        std::max(from.value(), time_.cutoff()), to.value(), time_.segment_ms(), name()));
  }

  // Open iterators need no detaching: the stream time's key is never walked, and the dropped
  // segments stay visible to them (a RocksDB iterator sees the DB as of its creation).
  Status advance_stream_time(Timestamp stream_time) override {
    SLUICE_RETURN_IF_ERROR(time_.advance(stream_time.value()));
    if (cache_) cache_->drop_expired(time_.cutoff());
    return Status();
  }

  Timestamp stream_time() const override { return time_.stream_time(); }

 private:
  // The column family key of (key, start), in a buffer reused from call to call (a point read or
  // write per record: no allocation each). Valid until the next call.
  const Bytes& key_of(ByteView key, int64_t start) {
    key_buffer_.clear();
    const int64_t segment = time_.segment_of(start);
    append_time(key_buffer_, segment);
    if (time_ordered_) {
      append_time(key_buffer_, start);
      key_buffer_.append(key);
    } else {
      append_be<uint32_t>(key_buffer_, static_cast<uint32_t>(key.size()));
      key_buffer_.append(key);
      append_time(key_buffer_, start);
    }
    return key_buffer_;
  }

  RocksWriter& writer_;
  rocksdb::ColumnFamilyHandle* const cf_;
  const bool time_ordered_;
  SegmentedTime time_;
  std::optional<WindowPointCache> cache_;  // point fetches of recent windows (cache_bytes > 0)
  Bytes key_buffer_;                       // key_of()
  // Declared last, so it goes first: iterators left open copy out while the rest is intact.
  TrackedIterators open_{writer_};
};

}  // namespace

std::unique_ptr<WindowStore> make_rocks_window_store(const StoreSpec& spec, RocksWriter& writer,
                                                     rocksdb::ColumnFamilyHandle* cf,
                                                     size_t cache_bytes) {
  return std::make_unique<RocksWindowStore>(spec, writer, cf, cache_bytes);
}

}  // namespace sluice::state
