// The RocksDB session store (key layout in rocks_window_stores.h):
//   segment id of end u64 | key length u32 | key | end u64 | start u64
//
// find_sessions streams one key's sessions from a RocksDB iterator: within a segment they are
// in (end, start) order, and segments follow in time order, so the column family order is the
// order find_sessions returns. Its scan has no upper time bound: a session that starts at or
// before `latest_start` may end arbitrarily late (the operator merges sessions and puts back the
// merged one, whose end is the latest event's). So the walk goes from the segment of
// max(earliest_end, cutoff) to the last segment id there could be, and ends when the RocksDB
// iterator runs off the column family. The cursor jumps straight to the next segment that holds
// any entry, so this costs one or two seeks per segment that holds data after earliest_end —
// about retention / segment width of them, plus any ahead of stream time — without keeping a
// "largest end written" that would need persisting and restoring with the data.
#include <algorithm>
#include <utility>
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

Bytes session_key(int64_t segment, ByteView key, SessionWindow window) {
  Bytes out = segments::key_prefix(segment, key);
  append_time(out, window.end.value());
  append_time(out, window.start.value());
  return out;
}

// The same rule, and message, as the in-memory session store (in_memory_stores.h).
Status check_window(SessionWindow window) {
  if (window.end >= window.start) return Status();
  return invalid_argument("a session window cannot end before it starts: [" +
                          std::to_string(window.start.value()) + ", " +
                          std::to_string(window.end.value()) + "]");
}

// One key's sessions from a KeySegmentCursor, skipping those that start after `latest_start`
// (sessions are in end order, so such a one may precede one that qualifies); once detached,
// from its copy of what was left.
class KeySessionIterator final : public SessionIterator, private DetachableIterator {
 public:
  KeySessionIterator(OpenIterators& open, KeySegmentCursor cursor, ByteView key,
                     int64_t latest_start, int64_t segment_ms, const std::string& store)
      : DetachableIterator(open),
        cursor_(std::move(cursor)),
        key_(key),
        latest_start_(latest_start),
        segment_ms_(segment_ms),
        store_(store) {
    settle();
  }

  bool valid() const override { return detached_ ? pos_ < rows_.size() : valid_; }
  ByteView key() const override { return key_; }
  SessionWindow window() const override { return detached_ ? rows_[pos_].first : window_; }
  ByteView value() const override { return detached_ ? rows_[pos_].second : cursor_.value(); }
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
    for (; valid_; cursor_.next(), settle()) rows_.emplace_back(window_, cursor_.value());
    cursor_.release();
    detached_ = true;
  }

  // Stops at the next session that qualifies, or ends the walk with status_ saying why.
  void settle() {
    valid_ = false;
    for (; cursor_.valid(); cursor_.next()) {
      const ByteView suffix = cursor_.suffix();
      if (suffix.size() != 2 * kTimeSize) {
        status_ = malformed("end and start of " + std::to_string(suffix.size()) + " bytes");
        return;
      }
      window_.end = Timestamp(load_time(suffix.data()));
      window_.start = Timestamp(load_time(suffix.data() + kTimeSize));
      if (floor_div(window_.end.value(), segment_ms_) != cursor_.segment() ||
          window_.end < window_.start) {
        status_ = malformed("session end outside its segment, or before its start");
        return;
      }
      if (window_.start.value() <= latest_start_) {
        valid_ = true;
        return;
      }
    }
    status_ = cursor_.status();
  }

  Status malformed(std::string_view why) const {
    return corruption("session store '" + store_ + "' holds a malformed key: " + std::string(why));
  }

  KeySegmentCursor cursor_;
  const Bytes key_;
  const int64_t latest_start_;
  const int64_t segment_ms_;
  const std::string store_;
  bool valid_ = false;
  SessionWindow window_{};
  Status status_;
  bool detached_ = false;
  std::vector<std::pair<SessionWindow, Bytes>> rows_;  // once detached
  size_t pos_ = 0;
};

class RocksSessionStore final : public SessionStore {
 public:
  RocksSessionStore(const StoreSpec& spec, RocksWriter& writer, rocksdb::ColumnFamilyHandle* cf)
      : writer_(writer), cf_(cf), time_(spec, writer, cf) {}

  const std::string& name() const override { return time_.store(); }
  int64_t retention_ms() const override { return time_.retention_ms(); }

  Status put(ByteView key, SessionWindow window, ByteView value) override {
    SLUICE_RETURN_IF_ERROR(check(key, window));
    // Expired: ignored, like expired windows; it may still be on disk but is never read.
    if (time_.expired(window.end.value())) return Status();
    open_.detach_all();
    return writer_.put(cf_, key_of(key, window), value);
  }

  Status remove(ByteView key, SessionWindow window) override {
    SLUICE_RETURN_IF_ERROR(check(key, window));
    // An expired session is never read again; no tombstone needed in a segment being dropped.
    if (time_.expired(window.end.value())) return Status();
    open_.detach_all();
    return writer_.remove(cf_, key_of(key, window));
  }

  Result<std::optional<Bytes>> fetch(ByteView key, SessionWindow window) override {
    SLUICE_RETURN_IF_ERROR(check(key, window));
    if (time_.expired(window.end.value())) return std::optional<Bytes>();
    return writer_.get(cf_, key_of(key, window));
  }

  Result<std::unique_ptr<SessionIterator>> find_sessions(ByteView key, Timestamp earliest_end,
                                                         Timestamp latest_start) override {
    SLUICE_RETURN_IF_ERROR(time_.load_status());
    SLUICE_RETURN_IF_ERROR(segments::check_key(key, name()));
    // Expired sessions are skipped by starting at the cutoff, whether dropped yet or not.
    const int64_t lo = std::max(earliest_end.value(), time_.cutoff());
    Bytes seek_suffix;  // an end alone sorts before every (end, start) with that end
    append_time(seek_suffix, lo);
    KeySegmentCursor cursor(writer_.iterator(cf_, rocksdb::ReadOptions()), key,
                            time_.segment_of(lo), time_.segment_of(segments::kMaxTime),
                            std::move(seek_suffix), name());
    return std::unique_ptr<SessionIterator>(std::make_unique<KeySessionIterator>(
        open_, std::move(cursor), key, latest_start.value(), time_.segment_ms(), name()));
  }

  // Open iterators need no detaching: the stream time's key is never walked, and the dropped
  // segments stay visible to them (a RocksDB iterator sees the DB as of its creation).
  Status advance_stream_time(Timestamp stream_time) override {
    return time_.advance(stream_time.value());
  }

  Timestamp stream_time() const override { return time_.stream_time(); }

 private:
  Status check(ByteView key, SessionWindow window) const {
    SLUICE_RETURN_IF_ERROR(time_.load_status());
    SLUICE_RETURN_IF_ERROR(check_window(window));
    return segments::check_key(key, name());
  }

  Bytes key_of(ByteView key, SessionWindow window) const {
    return session_key(time_.segment_of(window.end.value()), key, window);
  }

  RocksWriter& writer_;
  rocksdb::ColumnFamilyHandle* const cf_;
  SegmentedTime time_;
  // Declared last, so it goes first: iterators left open copy out while the rest is intact.
  TrackedIterators open_{writer_};
};

}  // namespace

std::unique_ptr<SessionStore> make_rocks_session_store(const StoreSpec& spec, RocksWriter& writer,
                                                       rocksdb::ColumnFamilyHandle* cf) {
  return std::make_unique<RocksSessionStore>(spec, writer, cf);
}

}  // namespace sluice::state
