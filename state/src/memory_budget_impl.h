// The RocksDB objects behind StateMemoryBudget, and how a DB is configured to use them.
#pragma once

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_buffer_manager.h>

#include <memory>

#include "sluice/state/memory_budget.h"

namespace sluice::state {

class RocksMemoryBudget final : public StateMemoryBudget {
 public:
  explicit RocksMemoryBudget(size_t bytes);

  size_t bytes() const override { return bytes_; }
  MemoryUsage usage() const override;

  // Points a DB's options at the shared cache and write-buffer manager.
  void configure(rocksdb::DBOptions& db, rocksdb::ColumnFamilyOptions& cf) const;

 private:
  const size_t bytes_;
  std::shared_ptr<rocksdb::Cache> cache_;
  std::shared_ptr<rocksdb::WriteBufferManager> write_buffers_;
};

}  // namespace sluice::state
