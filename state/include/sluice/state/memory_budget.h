// StateMemoryBudget: one cap on RocksDB memory for the whole process.
//
// Every task's RocksDB instance shares one block cache, and its memtables are charged to that
// same cache through one write-buffer manager, so block cache + memtables of all stores of all
// tasks stay within `bytes`: when memtables reach half of it the written DB flushes its oldest
// memtable, and blocks are evicted to make room for memtable reservations. The cache is sized
// 1/16 under `bytes` (1 to 64 MiB), headroom for blocks pinned by reads and compactions in
// flight, which an LRU cache without a strict limit may hold beyond its capacity. Record caches are
// accounted separately (TaskStateOptions::cache_bytes) and should be planned inside the same
// overall figure.
//
// Thread safety: thread-safe; shared by all tasks (hence held by shared_ptr in TaskState).
#pragma once

#include <cstddef>
#include <memory>

namespace sluice::state {

struct MemoryUsage {
  // Everything charged to the shared cache: data, index and filter blocks (pinned ones
  // included) and the memtables' reservations. This is what the budget caps.
  size_t cache_bytes = 0;
  size_t memtable_bytes = 0;  // of which: write buffers
  size_t pinned_bytes = 0;    // of which: blocks pinned by open iterators or tables
  size_t total() const { return cache_bytes; }
};

class StateMemoryBudget {
 public:
  // A budget of `bytes` (at least 8 MiB); memtables may take up to half of it.
  static std::shared_ptr<StateMemoryBudget> create(size_t bytes);
  virtual ~StateMemoryBudget() = default;

  virtual size_t bytes() const = 0;
  virtual MemoryUsage usage() const = 0;
};

}  // namespace sluice::state
