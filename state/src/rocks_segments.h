// What the RocksDB window and session stores share (their key layouts are in
// rocks_window_stores.h): the order-preserving encoding of times and segment ids, the stream time
// a store keeps under the empty key with the expiry it implies, and a cursor that walks one key's
// entries across time segments.
//
// Thread safety: thread-confined to the store's task, like the stores.
#pragma once

#include <rocksdb/db.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "detachable_iterator.h"
#include "rocks_writer.h"
#include "sluice/base/bytes.h"
#include "sluice/base/ids.h"
#include "sluice/base/result.h"
#include "sluice/state/store_spec.h"

namespace sluice::state::segments {

// A time or segment id: u64 big-endian, offset by 2^63 so that negative values sort first.
inline constexpr size_t kTimeSize = 8;
// The key length that follows the segment id: u32 big-endian.
inline constexpr size_t kKeyLengthSize = 4;
inline constexpr int64_t kMinTime = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kMaxTime = std::numeric_limits<int64_t>::max();
// Where a store keeps its stream time: the empty key, which sorts before every entry. (Not a
// default ByteView: its null data() trips RocksDB's assertions.)
inline constexpr ByteView kStreamTimeKey("", 0);

inline uint64_t to_ordered(int64_t t) { return static_cast<uint64_t>(t) ^ (uint64_t{1} << 63); }
inline int64_t from_ordered(uint64_t u) { return static_cast<int64_t>(u ^ (uint64_t{1} << 63)); }
inline void append_time(Bytes& out, int64_t t) { append_be<uint64_t>(out, to_ordered(t)); }
inline int64_t load_time(const char* p) { return from_ordered(load_be<uint64_t>(p)); }

// floor(t / width) for width > 0: times before the epoch fall in negative segments, so that a
// segment always covers [id * width, (id + 1) * width).
inline int64_t floor_div(int64_t t, int64_t width) {
  const int64_t q = t / width;
  return t % width < 0 ? q - 1 : q;
}

// [segment][key length][key]: where the entries of one key in one segment begin. The length
// makes the prefix unique to the key: no other key's entries start with it.
inline Bytes key_prefix(int64_t segment, ByteView key) {
  Bytes out;
  out.reserve(kTimeSize + kKeyLengthSize + key.size() + 2 * kTimeSize);
  append_time(out, segment);
  append_be<uint32_t>(out, static_cast<uint32_t>(key.size()));
  out.append(key);
  return out;
}

// Keys longer than the u32 length field are refused rather than silently mis-encoded.
inline Status check_key(ByteView key, const std::string& store) {
  if (key.size() <= std::numeric_limits<uint32_t>::max()) return Status();
  return invalid_argument("store '" + store + "': key of " + std::to_string(key.size()) +
                          " bytes is too long");
}

// The stream time, retention and time segments of one window or session store's column family.
// The stream time starts at kNoTimestamp (as the in-memory stores') unless the column family
// holds one under the empty key; advance() writes it there through the RocksWriter, so it
// commits with the data, and drops whole expired segments with one range deletion.
//
// A range deletion reaches the DB at once (RocksWriter::remove_range), ahead of the buffered
// stream time that expires the segments. Were the buffered writes then discarded (an aborted
// transaction, a crash before the commit), the state would be back at its last commit minus
// segments still live there. So a drop covers only what the *committed* stream time (read from
// the DB, not the buffer) expires; what only the buffered one expires is dropped by a later
// advance(), after the commit. Reads hide every expired entry meanwhile.
class SegmentedTime {
 public:
  SegmentedTime(const StoreSpec& spec, RocksWriter& writer, rocksdb::ColumnFamilyHandle* cf)
      : store_(spec.name),
        retention_ms_(spec.retention_ms),
        segment_ms_(spec.effective_segment_ms()),
        writer_(writer),
        cf_(cf) {
    load();
  }

  // Why the stored stream time could not be read; every fallible operation of the store
  // returns it (the factories cannot fail).
  const Status& load_status() const { return load_status_; }
  const std::string& store() const { return store_; }
  int64_t retention_ms() const { return retention_ms_; }
  int64_t segment_ms() const { return segment_ms_; }
  Timestamp stream_time() const { return Timestamp(stream_time_); }

  int64_t segment_of(int64_t t) const { return floor_div(t, segment_ms_); }
  // Entries (window starts, session ends) before this are expired.
  int64_t cutoff() const { return cutoff_at(stream_time_); }
  bool expired(int64_t t) const { return t < cutoff(); }

  // Moves stream time forward (a time not after it is a no-op), buffers it, and drops the
  // segments that the committed stream time expires, if any are left.
  Status advance(int64_t t) {
    SLUICE_RETURN_IF_ERROR(load_status_);
    if (t <= stream_time_) return Status();
    Bytes stored;
    append_time(stored, t);
    SLUICE_RETURN_IF_ERROR(writer_.put(cf_, kStreamTimeKey, stored));
    stream_time_ = t;
    if (segment_of(cutoff()) <= dropped_) return Status();
    // The committed stream time changes only with a write to the DB: read once per write, not
    // once per advance (a commit in flight is seen at the next one, a drop an interval later).
    if (writer_.db_writes() == checked_at_) return Status();
    return drop_committed();
  }

 private:
  // Saturates instead of overflowing for stream times near the minimum.
  int64_t cutoff_at(int64_t stream_time) const {
    int64_t c;
    return __builtin_sub_overflow(stream_time, retention_ms_, &c) ? kMinTime : c;
  }

  Status drop_committed() {
    checked_at_ = writer_.db_writes();
    std::string stored;
    const rocksdb::Status s =
        writer_.db()->Get(rocksdb::ReadOptions(), cf_, rocksdb::Slice(kStreamTimeKey), &stored);
    if (s.IsNotFound()) return Status();
    SLUICE_RETURN_IF_ERROR(
        from_rocks(s, "reading committed stream time of store '" + store_ + "'"));
    if (stored.size() != kTimeSize) return malformed_stream_time(stored.size());
    const int64_t first_live = segment_of(cutoff_at(load_time(stored.data())));
    if (first_live <= dropped_) return Status();
    // From the smallest segment prefix: the empty key (stream time) sorts before it and stays.
    const Bytes from(kTimeSize, '\0');
    Bytes to;
    append_time(to, first_live);
    Status dropped = writer_.remove_range(cf_, from, to);
    if (!dropped.ok()) return dropped.with_context("store '" + store_ + "'");
    dropped_ = first_live;
    return Status();
  }

  void load() {
    auto stored = writer_.get(cf_, kStreamTimeKey);
    if (!stored.ok()) {
      load_status_ = stored.status().with_context("reading stream time of store '" + store_ + "'");
    } else if (*stored && (*stored)->size() != kTimeSize) {
      load_status_ = malformed_stream_time((*stored)->size());
    } else if (*stored) {
      stream_time_ = load_time((*stored)->data());
    }
  }

  Status malformed_stream_time(size_t size) const {
    return corruption("store '" + store_ + "': stored stream time has " + std::to_string(size) +
                      " bytes, not 8");
  }

  const std::string store_;
  const int64_t retention_ms_;
  const int64_t segment_ms_;
  RocksWriter& writer_;
  rocksdb::ColumnFamilyHandle* const cf_;
  int64_t stream_time_ = kNoTimestamp.value();
  // Segments before this one are dropped. Not known at open (a crash may have come between a
  // commit and its drop), so the first drop after an open starts from the smallest id again.
  int64_t dropped_ = floor_div(kMinTime, segment_ms_);
  // writer_.db_writes() when drop_committed() last read the committed stream time.
  uint64_t checked_at_ = std::numeric_limits<uint64_t>::max();
  Status load_status_;
};

// Walks the entries of one key in segments [first, last] in column family order: in each
// segment from [segment][key length][key][seek suffix] on. A segment without entries of the key
// costs at most one seek, and whole runs of empty segments are skipped by jumping to the
// segment the last seek landed in, so a wide time range costs seeks per segment that holds
// data, not per segment id in the range.
class KeySegmentCursor {
 public:
  // `seek_suffix` is where to start within the first segment; in later segments every entry of
  // the key sorts after it (their times are larger), so the same seek target works there.
  KeySegmentCursor(std::unique_ptr<rocksdb::Iterator> it, ByteView key, int64_t first, int64_t last,
                   Bytes seek_suffix, const std::string& store)
      : it_(std::move(it)),
        prefix_(key_prefix(first, key)),
        seek_suffix_(std::move(seek_suffix)),
        segment_(first),
        last_(last),
        store_(store) {
    if (first > last) return;
    seek();
    settle();
  }

  bool valid() const { return valid_; }
  int64_t segment() const { return segment_; }
  // What follows the key in the current entry: window start, or session end and start.
  ByteView suffix() const {
    return {it_->key().data() + prefix_.size(), it_->key().size() - prefix_.size()};
  }
  ByteView value() const { return {it_->value().data(), it_->value().size()}; }
  void next() {
    it_->Next();
    settle();
  }
  // Why the walk ended, once valid() is false.
  Status status() const {
    if (!status_.ok()) return status_;
    return from_rocks(it_->status(), "reading store '" + store_ + "'");
  }
  // Lets go of the RocksDB iterator (and the DB state it pins); the cursor is done.
  void release() {
    valid_ = false;
    it_.reset();
  }

 private:
  void seek() {
    store_be<uint64_t>(prefix_.data(), to_ordered(segment_));
    it_->Seek(prefix_ + seek_suffix_);
  }

  // Leaves the iterator at an entry of the key, or ends the walk.
  void settle() {
    valid_ = false;
    while (it_->Valid()) {
      const rocksdb::Slice k = it_->key();
      if (k.starts_with(rocksdb::Slice(prefix_))) {
        valid_ = true;
        return;
      }
      if (k.size() < kTimeSize) {
        status_ = corruption("store '" + store_ + "' holds a malformed key of " +
                             std::to_string(k.size()) + " bytes");
        return;
      }
      // Past this key's entries of this segment: on to the next segment that holds anything.
      int64_t next = from_ordered(load_be<uint64_t>(k.data()));
      if (next <= segment_) {
        if (segment_ == last_) return;
        next = segment_ + 1;
      }
      if (next > last_) return;
      segment_ = next;
      seek();
    }
  }

  std::unique_ptr<rocksdb::Iterator> it_;
  Bytes prefix_;  // [segment_][key length][key]
  const Bytes seek_suffix_;
  int64_t segment_;
  const int64_t last_;
  const std::string store_;
  bool valid_ = false;
  Status status_;
};

}  // namespace sluice::state::segments
