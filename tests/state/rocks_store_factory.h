// RocksStoreFactory: the RocksDB stores for the store contract suite (store_factory.h). One
// RocksDB instance in a temporary directory per factory (so per test), one column family per
// store, all written through one RocksWriter as in a TaskState — and never committed, so the
// suite runs every read through the merge of buffered writes over the DB.
//
// Header-only, like store_factory.h. Needs state/src on the include path (the state tests
// have it).
#pragma once

#include <rocksdb/db.h>

#include <memory>
#include <string>
#include <vector>

#include "rocks_key_value_store.h"
#include "rocks_window_stores.h"
#include "rocks_writer.h"
#include "store_factory.h"
#include "temp_dir.h"

namespace sluice::testing {

class RocksStoreFactory final : public StoreFactory {
 public:
  // `time_ordered_windows`: window stores are made time-ordered whatever the spec says.
  // `window_cache_bytes`: window stores answer point fetches from a cache of recent windows.
  explicit RocksStoreFactory(bool time_ordered_windows = false, size_t window_cache_bytes = 0)
      : time_ordered_windows_(time_ordered_windows), window_cache_bytes_(window_cache_bytes) {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    open_status_ = state::from_rocks(rocksdb::DB::Open(options, dir_ / "rocksdb", &db), "open");
    db_.reset(db);
    if (db_) writer_ = std::make_unique<state::RocksWriter>(db);
  }

  ~RocksStoreFactory() override {
    key_value_.clear();
    window_.clear();
    session_.clear();
    writer_.reset();
    for (rocksdb::ColumnFamilyHandle* h : handles_) {
      db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    }
  }

  std::string name() const override {
    return std::string(time_ordered_windows_ ? "RocksDB (time-ordered windows)" : "RocksDB") +
           (window_cache_bytes_ > 0 ? " (cached windows)" : "");
  }

  Result<state::KeyValueStore*> key_value(const state::StoreSpec& spec) override {
    SLUICE_ASSIGN_OR_RETURN(rocksdb::ColumnFamilyHandle * cf, family(spec));
    key_value_.push_back(std::make_unique<state::RocksKeyValueStore>(spec, *writer_, cf));
    return key_value_.back().get();
  }
  Result<state::WindowStore*> window(const state::StoreSpec& given) override {
    state::StoreSpec spec = given;
    spec.time_ordered = spec.time_ordered || time_ordered_windows_;
    SLUICE_ASSIGN_OR_RETURN(rocksdb::ColumnFamilyHandle * cf, family(spec));
    window_.push_back(state::make_rocks_window_store(spec, *writer_, cf, window_cache_bytes_));
    return window_.back().get();
  }
  Result<state::SessionStore*> session(const state::StoreSpec& spec) override {
    SLUICE_ASSIGN_OR_RETURN(rocksdb::ColumnFamilyHandle * cf, family(spec));
    session_.push_back(state::make_rocks_session_store(spec, *writer_, cf));
    return session_.back().get();
  }

 private:
  // A new column family named after the store.
  Result<rocksdb::ColumnFamilyHandle*> family(const state::StoreSpec& spec) {
    SLUICE_RETURN_IF_ERROR(open_status_);
    rocksdb::ColumnFamilyHandle* cf = nullptr;
    SLUICE_RETURN_IF_ERROR(state::from_rocks(
        db_->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), spec.name, &cf), spec.name));
    handles_.push_back(cf);
    return cf;
  }

  const bool time_ordered_windows_;
  const size_t window_cache_bytes_;
  TempDir dir_;
  Status open_status_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::unique_ptr<state::RocksWriter> writer_;
  std::vector<std::unique_ptr<state::KeyValueStore>> key_value_;
  std::vector<std::unique_ptr<state::WindowStore>> window_;
  std::vector<std::unique_ptr<state::SessionStore>> session_;
};

}  // namespace sluice::testing
