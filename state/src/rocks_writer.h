// RocksWriter: how a task's stores write to its RocksDB instance.
//
// Between commits every write goes into an overlay — per column family, a WriteOverlay holding
// the latest buffered value (or removal) of each key — that get() consults first and that
// iterators merge, in key order, over a DB iterator (the order is built when first needed, then
// kept). commit() hands the overlays to a oneTBB worker, which turns them into one WriteBatch in
// key order (atomic with whatever the caller wrote last: the changelog offsets) and writes it, so
// sorting, encoding and the memtable inserts run beside the next interval's processing; until the
// next commit the committed overlays stay readable behind the new ones. At most one write is in
// flight: the next commit(), a range removal, a bulk restore and the destructor wait for it, and
// report its failure. (RocksDB's WriteBatchWithIndex does the same with a skiplist on every write,
// which cost as much again as the DB write itself; a hash insert is far cheaper, and only column
// families that are scanned keep an ordered index.) During a restore, writes go into a plain batch
// flushed to the DB every few thousand records, with no overlay.
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
#include "write_overlay.h"

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
  // The largest key of the column family — in the DB or buffered, removals included (an upper
  // bound) — or nullopt when it has none.
  Result<std::optional<Bytes>> last_key(rocksdb::ColumnFamilyHandle* cf);
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
  // How many writes to the DB this writer has started (commits, restore batches, range
  // removals). What a read of the DB (not of the buffered writes) found stays current while this
  // is unchanged — but for a commit's write still in flight, which may land after the read.
  uint64_t db_writes() const { return db_writes_; }
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

 public:
  // The buffered writes of one column family in key order. Looked up by key as well
  // (transparent), for Seek.
  struct ByKey {
    using is_transparent = void;
    using Entry = WriteOverlay::Entry;
    bool operator()(const Entry* a, const Entry* b) const { return a->key() < b->key(); }
    bool operator()(const Entry* a, std::string_view k) const { return a->key() < k; }
    bool operator()(std::string_view k, const Entry* b) const { return k < b->key(); }
  };
  using Sorted = std::set<const WriteOverlay::Entry*, ByKey>;

 private:
  struct Overlay {
    rocksdb::ColumnFamilyHandle* cf = nullptr;
    WriteOverlay entries;
    // Built by the first iterator over the column family, then kept up to date by every write
    // of a new key (entries do not move), so that stores which scan as they write (joins,
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
  // Writes the restore batch to the DB and empties it.
  Status write_bulk();
  void detach_iterators();

  // Committed overlays being written, readable until they are in the DB. The worker reads
  // them (and the ordered indexes that existed at commit) while the task may read them too and
  // build ordered indexes of its own for its iterators: nothing writes to them.
  struct InFlight {
    std::unordered_map<uint32_t, Overlay> overlays;
    std::vector<std::pair<const Overlay*, const Sorted*>> to_write;
    rocksdb::Status status;
    std::promise<void> written;
  };
  // The worker's part of a commit: the batch, in key order, and its write.
  rocksdb::Status write(const InFlight& f);

  rocksdb::DB* db_;
  // The buffered writes live in the overlays only (the last value of each key); commit()
  // writes them to RocksDB in key order, which the memtable inserts fastest.
  std::unordered_map<uint32_t, Overlay> overlays_;  // by column family id
  std::unique_ptr<InFlight> in_flight_;
  std::future<void> written_;  // of in_flight_
  std::vector<OpenIterators*> tracked_;
  std::unique_ptr<rocksdb::WriteBatch> bulk_;
  rocksdb::WriteOptions write_options_;
  uint64_t db_writes_ = 0;
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
