// RocksWriter: how a task's stores write to its RocksDB instance.
//
// Between commits every write goes into one WriteBatchWithIndex (reads see it: get() and
// iterators merge it over the DB), and reaches the DB only in commit(), atomically with
// whatever the caller adds last (the changelog offsets). During a restore, writes go into a
// plain WriteBatch instead — no index to maintain — flushed to the DB every few thousand records.
//
// Thread safety: thread-confined to the task.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include <memory>
#include <optional>
#include <string>

#include "sluice/base/bytes.h"
#include "sluice/base/result.h"

namespace sluice::state {

// A RocksDB status as ours: kCorruption, kNoSpace, kIOError, ... with `context` in front.
Status from_rocks(const rocksdb::Status& s, std::string_view context);

class RocksWriter {
 public:
  explicit RocksWriter(rocksdb::DB* db);

  rocksdb::DB* db() const { return db_; }

  Status put(rocksdb::ColumnFamilyHandle* cf, ByteView key, ByteView value);
  Status remove(rocksdb::ColumnFamilyHandle* cf, ByteView key);
  // Drops the keys in [from, to) straight from the DB (window retention). Not buffered:
  // WriteBatchWithIndex cannot hold range deletions, and expired data is never read anyway.
  Status remove_range(rocksdb::ColumnFamilyHandle* cf, ByteView from, ByteView to);

  Result<std::optional<Bytes>> get(rocksdb::ColumnFamilyHandle* cf, ByteView key);
  // An iterator over the DB with the buffered writes merged in.
  std::unique_ptr<rocksdb::Iterator> iterator(rocksdb::ColumnFamilyHandle* cf,
                                              const rocksdb::ReadOptions& options);

  // Applies the buffered writes to the DB in one atomic write and starts a new buffer.
  Status commit();
  // Drops the buffered writes.
  void discard();
  bool empty();

  // Restore mode: writes go to a plain batch, committed every `kRestoreBatch` records.
  void begin_bulk();
  Status end_bulk();
  bool bulk() const { return bulk_ != nullptr; }

 private:
  static constexpr int kRestoreBatch = 20'000;
  Status maybe_flush_bulk();

  rocksdb::DB* db_;
  rocksdb::WriteBatchWithIndex batch_;
  std::unique_ptr<rocksdb::WriteBatch> bulk_;
  rocksdb::WriteOptions write_options_;
};

}  // namespace sluice::state
