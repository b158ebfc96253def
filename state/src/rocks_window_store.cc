// The RocksDB window store (key layout in rocks_window_stores.h):
//   segment id u64 | key length u32 | key | window start u64
//
// fetch of one key streams from a RocksDB iterator, one seek per segment that holds data.
// fetch_all must return windows by start, then key, but a segment orders its entries by key
// first: a SegmentScan (rocks_segments.h) reads and sorts one segment at a time.
#include <algorithm>
#include <vector>

#include "rocks_segments.h"
#include "rocks_window_stores.h"

namespace sluice::state {
namespace {

using segments::append_time;
using segments::floor_div;
using segments::KeySegmentCursor;
using segments::kTimeSize;
using segments::load_time;
using segments::SegmentedTime;
using segments::SegmentScan;

Bytes window_key(int64_t segment, ByteView key, int64_t start) {
  Bytes out = segments::key_prefix(segment, key);
  append_time(out, start);
  return out;
}

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

// The windows of every key with start in [from, to], by (start, key), from a SegmentScan; once
// detached, from every segment left, read at once.
class AllWindowsIterator final : public WindowIterator, private DetachableIterator {
 public:
  AllWindowsIterator(OpenIterators& open, SegmentScan scan)
      : DetachableIterator(open), scan_(std::move(scan)) {}

  bool valid() const override { return scan_.valid(); }
  ByteView key() const override { return scan_.entry().key; }
  Timestamp window_start() const override { return Timestamp(scan_.entry().time); }
  ByteView value() const override { return scan_.entry().value; }
  void next() override { scan_.next(); }
  Status status() const override { return scan_.status(); }

 private:
  void detach() override { scan_.read_all(); }

  SegmentScan scan_;
};

class RocksWindowStore final : public WindowStore {
 public:
  RocksWindowStore(const StoreSpec& spec, RocksWriter& writer, rocksdb::ColumnFamilyHandle* cf)
      : writer_(writer), cf_(cf), time_(spec, writer, cf) {}

  const std::string& name() const override { return time_.store(); }
  int64_t retention_ms() const override { return time_.retention_ms(); }

  Status put(ByteView key, Timestamp window_start, std::optional<ByteView> value) override {
    SLUICE_RETURN_IF_ERROR(time_.load_status());
    SLUICE_RETURN_IF_ERROR(segments::check_key(key, name()));
    // Expired: ignored, removals too (store.h); it may still be on disk but is never read.
    if (time_.expired(window_start.value())) return Status();
    const Bytes k = key_of(key, window_start.value());
    open_.detach_all();
    return value ? writer_.put(cf_, k, *value) : writer_.remove(cf_, k);
  }

  Result<std::optional<Bytes>> fetch(ByteView key, Timestamp window_start) override {
    SLUICE_RETURN_IF_ERROR(time_.load_status());
    SLUICE_RETURN_IF_ERROR(segments::check_key(key, name()));
    if (time_.expired(window_start.value())) return std::optional<Bytes>();
    return writer_.get(cf_, key_of(key, window_start.value()));
  }

  Result<std::unique_ptr<WindowIterator>> fetch(ByteView key, Timestamp from,
                                                Timestamp to) override {
    SLUICE_RETURN_IF_ERROR(time_.load_status());
    SLUICE_RETURN_IF_ERROR(segments::check_key(key, name()));
    // Expired windows are skipped by starting at the cutoff, whether dropped yet or not.
    const int64_t lo = std::max(from.value(), time_.cutoff());
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
    return std::unique_ptr<WindowIterator>(std::make_unique<AllWindowsIterator>(
        open_, SegmentScan(writer_.iterator(cf_, rocksdb::ReadOptions()),
                           std::max(from.value(), time_.cutoff()), to.value(), time_.segment_ms(),
                           /*second_time=*/false, name(), "window start")));
  }

  // Open iterators need no detaching: the stream time's key is never walked, and the dropped
  // segments stay visible to them (a RocksDB iterator sees the DB as of its creation).
  Status advance_stream_time(Timestamp stream_time) override {
    return time_.advance(stream_time.value());
  }

  Timestamp stream_time() const override { return time_.stream_time(); }

 private:
  Bytes key_of(ByteView key, int64_t start) const {
    return window_key(time_.segment_of(start), key, start);
  }

  RocksWriter& writer_;
  rocksdb::ColumnFamilyHandle* const cf_;
  SegmentedTime time_;
  // Declared last, so it goes first: iterators left open copy out while the rest is intact.
  TrackedIterators open_{writer_};
};

}  // namespace

std::unique_ptr<WindowStore> make_rocks_window_store(const StoreSpec& spec, RocksWriter& writer,
                                                     rocksdb::ColumnFamilyHandle* cf) {
  return std::make_unique<RocksWindowStore>(spec, writer, cf);
}

}  // namespace sluice::state
