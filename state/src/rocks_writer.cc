#include "rocks_writer.h"

#include <rocksdb/comparator.h>

namespace sluice::state {

Status from_rocks(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return Status();
  std::string msg = std::string(context) + ": " + s.ToString();
  if (s.IsCorruption()) return corruption(std::move(msg));
  if (s.IsNotFound()) return not_found(std::move(msg));
  if (s.IsNoSpace()) return Status(StatusCode::kNoSpace, std::move(msg));
  if (s.IsInvalidArgument()) return invalid_argument(std::move(msg));
  if (s.IsIOError()) return io_error(std::move(msg));
  if (s.IsBusy() || s.IsTryAgain() || s.IsIncomplete()) {
    return Status(StatusCode::kUnavailable, std::move(msg));
  }
  return internal_error(std::move(msg));
}

RocksWriter::RocksWriter(rocksdb::DB* db)
    : db_(db), batch_(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true) {}

Status RocksWriter::put(rocksdb::ColumnFamilyHandle* cf, ByteView key, ByteView value) {
  rocksdb::Slice k(key.data(), key.size()), v(value.data(), value.size());
  if (bulk_) {
    SLUICE_RETURN_IF_ERROR(from_rocks(bulk_->Put(cf, k, v), "restore write"));
    return maybe_flush_bulk();
  }
  return from_rocks(batch_.Put(cf, k, v), "buffered write");
}

Status RocksWriter::remove(rocksdb::ColumnFamilyHandle* cf, ByteView key) {
  rocksdb::Slice k(key.data(), key.size());
  if (bulk_) {
    SLUICE_RETURN_IF_ERROR(from_rocks(bulk_->Delete(cf, k), "restore delete"));
    return maybe_flush_bulk();
  }
  return from_rocks(batch_.Delete(cf, k), "buffered delete");
}

Status RocksWriter::remove_range(rocksdb::ColumnFamilyHandle* cf, ByteView from, ByteView to) {
  return from_rocks(db_->DeleteRange(write_options_, cf, rocksdb::Slice(from.data(), from.size()),
                                     rocksdb::Slice(to.data(), to.size())),
                    "dropping expired data");
}

Result<std::optional<Bytes>> RocksWriter::get(rocksdb::ColumnFamilyHandle* cf, ByteView key) {
  std::string value;
  rocksdb::Slice k(key.data(), key.size());
  rocksdb::Status s = bulk_ ? db_->Get(rocksdb::ReadOptions(), cf, k, &value)
                            : batch_.GetFromBatchAndDB(db_, rocksdb::ReadOptions(), cf, k, &value);
  if (s.IsNotFound()) return std::optional<Bytes>();
  SLUICE_RETURN_IF_ERROR(from_rocks(s, "read"));
  return std::optional<Bytes>(std::move(value));
}

std::unique_ptr<rocksdb::Iterator> RocksWriter::iterator(rocksdb::ColumnFamilyHandle* cf,
                                                         const rocksdb::ReadOptions& options) {
  std::unique_ptr<rocksdb::Iterator> base(db_->NewIterator(options, cf));
  if (bulk_) return base;
  return std::unique_ptr<rocksdb::Iterator>(batch_.NewIteratorWithBase(cf, base.release()));
}

Status RocksWriter::commit() {
  if (batch_.GetWriteBatch()->Count() == 0) return Status();
  Status s = from_rocks(db_->Write(write_options_, batch_.GetWriteBatch()), "commit to RocksDB");
  if (s.ok()) batch_.Clear();
  return s;
}

void RocksWriter::discard() { batch_.Clear(); }

bool RocksWriter::empty() { return batch_.GetWriteBatch()->Count() == 0; }

void RocksWriter::begin_bulk() { bulk_ = std::make_unique<rocksdb::WriteBatch>(); }

Status RocksWriter::maybe_flush_bulk() {
  if (bulk_->Count() < kRestoreBatch) return Status();
  Status s = from_rocks(db_->Write(write_options_, bulk_.get()), "restore batch");
  bulk_->Clear();
  return s;
}

Status RocksWriter::end_bulk() {
  Status s;
  if (bulk_ && bulk_->Count() > 0) {
    s = from_rocks(db_->Write(write_options_, bulk_.get()), "restore batch");
  }
  bulk_.reset();
  return s;
}

}  // namespace sluice::state
