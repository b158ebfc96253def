// RocksWriter: how a task's stores write to its RocksDB instance.
//
// Between commits every write goes into an overlay — per column family, a hash map from key to
// its latest buffered value (or removal) — that get() consults first and that iterators merge,
// in key order, over a DB iterator (the order is built when first needed, then kept). commit()
// turns the overlays into one WriteBatch in key order (atomic with whatever the caller wrote last:
// the changelog offsets) and hands it to a oneTBB worker, so the memtable inserts run beside the
// next interval's processing; until the next commit the batch's overlays stay readable behind the
// new ones. At most one write is in flight: the next commit(), a range removal, a bulk restore and
// the destructor wait for it, and report its failure. (RocksDB's WriteBatchWithIndex does the same
// with a skiplist on every write, which cost as much again as the DB write itself; a hash insert is
// far cheaper, and only column families that are scanned keep an ordered index.) During a restore,
// writes go into a plain batch flushed to the DB every few thousand records, with no overlay.
//
// Thread safety: thread-confined to the task.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <cstdint>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "detachable_iterator.h"
#include "sluice/base/bytes.h"
#include "sluice/base/result.h"

namespace sluice::state {

// A RocksDB status as ours: kCorruption, kNoSpace, kIOError, ... with `context` in front.
Status from_rocks(const rocksdb::Status& s, std::string_view context);

class RocksWriter {
 public:
  explicit RocksWriter(rocksdb::DB* db);
  // Waits for a write in flight.
  ~RocksWriter();

  rocksdb::DB* db() const { return db_; }

  Status put(rocksdb::ColumnFamilyHandle* cf, ByteView key, ByteView value);
  Status remove(rocksdb::ColumnFamilyHandle* cf, ByteView key);
  // Drops the keys in [from, to) straight from the DB (window retention). Not buffered:
  // WriteBatchWithIndex cannot hold range deletions, and expired data is never read anyway.
  Status remove_range(rocksdb::ColumnFamilyHandle* cf, ByteView from, ByteView to);

  Result<std::optional<Bytes>> get(rocksdb::ColumnFamilyHandle* cf, ByteView key);
  // An iterator over the DB with the buffered writes merged in. Forward only (Seek,
  // SeekToFirst, Next; the others report NotSupported). Valid until the next commit() or
  // discard(), and it sees the buffered writes as of its creation only as long as nothing is
  // written to its column family (the stores detach their iterators before writing).
  std::unique_ptr<rocksdb::Iterator> iterator(rocksdb::ColumnFamilyHandle* cf,
                                              const rocksdb::ReadOptions& options);

  // Starts applying the buffered writes to the DB in one atomic write (in the background) and
  // starts a new buffer. The stores' open iterators are detached first: they keep what they
  // saw. Returns the failure of the previous commit's write, if it failed.
  Status commit();
  // Waits until the last commit's write is in the DB; its status.
  Status wait_for_commit();
  // Drops the buffered writes (detaching the open iterators first).
  void discard();

  // The open iterators of a store over this writer, detached before every commit() and
  // discard(), which free the buffered writes those iterators may point into.
  void track(OpenIterators* open) { tracked_.push_back(open); }
  void untrack(OpenIterators* open) { std::erase(tracked_, open); }
  bool empty();

  // Restore mode: writes go to a plain batch, committed every `kRestoreBatch` records.
  void begin_bulk();
  Status end_bulk();
  bool bulk() const { return bulk_ != nullptr; }

 private:
  static constexpr int kRestoreBatch = 20'000;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Entries = std::unordered_map<Bytes, std::optional<Bytes>, Hash, std::equal_to<>>;

 public:
  // The buffered writes of one column family in key order (nullopt value: a removal). Looked up
  // by key as well (transparent), for Seek.
  struct ByKey {
    using is_transparent = void;
    using Entry = Entries::value_type;
    bool operator()(const Entry* a, const Entry* b) const { return a->first < b->first; }
    bool operator()(const Entry* a, std::string_view k) const { return a->first < k; }
    bool operator()(std::string_view k, const Entry* b) const { return k < b->first; }
  };
  using Sorted = std::set<const Entries::value_type*, ByKey>;

 private:
  struct Overlay {
    rocksdb::ColumnFamilyHandle* cf = nullptr;
    Entries entries;
    // Built by the first iterator over the column family, then kept up to date by every write
    // of a new key (map nodes do not move), so that stores which scan as they write (joins,
    // sessions) pay a set insert per key rather than a sort per scan. Stores that never scan
    // never build it: their writes are sorted once, at commit.
    std::unique_ptr<Sorted> sorted;
    const Sorted& sorted_entries();
  };
  Overlay& overlay(rocksdb::ColumnFamilyHandle* cf) {
    Overlay& o = overlays_[cf->GetID()];
    o.cf = cf;
    return o;
  }
  void buffer(rocksdb::ColumnFamilyHandle* cf, ByteView key, std::optional<ByteView> value);
  Status maybe_flush_bulk();
  void detach_iterators();

  // A committed batch being written, and the overlays that show it until it is in the DB.
  struct InFlight {
    std::unordered_map<uint32_t, Overlay> overlays;
    rocksdb::WriteBatch batch;
    rocksdb::Status status;
    std::promise<void> written;
  };

  rocksdb::DB* db_;
  // The buffered writes live in the overlays only (the last value of each key); commit()
  // writes them to RocksDB in key order, which the memtable inserts fastest.
  std::unordered_map<uint32_t, Overlay> overlays_;  // by column family id
  std::unique_ptr<InFlight> in_flight_;
  std::future<void> written_;  // of in_flight_
  std::vector<OpenIterators*> tracked_;
  std::unique_ptr<rocksdb::WriteBatch> bulk_;
  rocksdb::WriteOptions write_options_;
};

// A store's open iterators, registered with its writer for as long as the store lives.
class TrackedIterators : public OpenIterators {
 public:
  explicit TrackedIterators(RocksWriter& writer) : writer_(writer) { writer_.track(this); }
  ~TrackedIterators() { writer_.untrack(this); }

 private:
  RocksWriter& writer_;
};

}  // namespace sluice::state
