// The RocksDB key-value store: one column family of the task's RocksDB instance; writes go
// through the task's RocksWriter (buffered until commit, reads see them).
#pragma once

#include <rocksdb/db.h>

#include <string>

#include "rocks_segments.h"
#include "rocks_writer.h"
#include "sluice/state/store.h"
#include "sluice/state/store_spec.h"

namespace sluice::state {

// A RocksDB iterator as a KeyValueIterator, bounded above by `to` (exclusive) if set. Detached
// (see DetachableIterator) before its store is written: it then walks a copy of what
// it had left.
class RocksKeyValueIterator final : public KeyValueIterator, DetachableIterator {
 public:
  RocksKeyValueIterator(OpenIterators& open, std::unique_ptr<rocksdb::Iterator> it,
                        std::optional<Bytes> to);
  bool valid() const override;
  ByteView key() const override;
  ByteView value() const override;
  void next() override;
  Status status() const override { return status_; }

 private:
  void detach() override;
  bool rocks_valid() const;

  std::unique_ptr<rocksdb::Iterator> it_;  // nullptr once detached
  std::optional<Bytes> to_;
  Status status_;
  std::vector<std::pair<Bytes, Bytes>> rest_;  // once detached
  size_t pos_ = 0;
};

class RocksKeyValueStore final : public KeyValueStore {
 public:
  RocksKeyValueStore(StoreSpec spec, RocksWriter& writer, rocksdb::ColumnFamilyHandle* cf)
      : spec_(std::move(spec)), writer_(writer), cf_(cf) {}

  const std::string& name() const override { return spec_.name; }
  Result<std::optional<Bytes>> get(ByteView key) override { return writer_.get(cf_, key); }
  Status put(ByteView key, ByteView value) override {
    open_.detach_all();
    return writer_.put(cf_, key, value);
  }
  Status remove(ByteView key) override {
    open_.detach_all();
    return writer_.remove(cf_, key);
  }
  Result<std::unique_ptr<KeyValueIterator>> range(std::optional<ByteView> from,
                                                  std::optional<ByteView> to) override;
  Result<std::unique_ptr<KeyValueIterator>> prefix_scan(ByteView prefix) override;
  Result<uint64_t> approximate_count() override;

 private:
  StoreSpec spec_;
  RocksWriter& writer_;
  rocksdb::ColumnFamilyHandle* cf_;
  TrackedIterators open_{writer_};
};

// The smallest key greater than every key starting with `prefix`; nullopt when there is none
// (the prefix is empty or all 0xFF).
std::optional<Bytes> prefix_successor(ByteView prefix);

}  // namespace sluice::state
