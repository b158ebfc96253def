// TaskState: the state of one task — its RocksDB instance, its stores, their changelogs and
// record caches — and the commit protocol that keeps all of them consistent.
//
// One RocksDB instance per task, under the task's state directory, with one column family per
// store and one for metadata (the changelog offset each store reflects). Writes between two
// commits are buffered in a RocksDB WriteBatchWithIndex (reads see them) and reach RocksDB only
// at commit, atomically with the changelog offsets they reflect: after a crash the local state
// is exactly at its last commit, and only the changelog tail after that commit is replayed.
//
// A commit has two phases, so the runtime can put the changelog writes in its transaction:
//
//   state->flush(&producer);  // caches -> stores; pending changelog records -> changelog topics
//   producer.commit_transaction();  // (exactly-once) the commit point
//   state->apply();           // buffered writes + changelog offsets -> RocksDB, one atomic write
//
// After an aborted transaction, abort() drops the buffered writes: the stores are back at their
// last commit. commit() does flush + apply for at-least-once processing.
//
// Opening a store restores it: from the changelog offset stored with the local state to the
// end of the changelog (read-committed); if the local state is missing or unreadable, from the
// start of the changelog alone. Progress (records, bytes, rate, ETA) goes to the listener and
// the log.
//
// Thread safety: thread-confined to the task's stream thread, like its stores.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "sluice/base/clock.h"
#include "sluice/base/ids.h"
#include "sluice/base/result.h"
#include "sluice/logstore/log_client.h"
#include "sluice/state/memory_budget.h"
#include "sluice/state/store.h"
#include "sluice/state/store_spec.h"

namespace sluice::state {

struct RestoreProgress {
  std::string store;
  logstore::TopicPartition changelog;
  int64_t records = 0;  // restored so far
  int64_t bytes = 0;
  int64_t records_total = 0;  // estimate: the changelog offsets to cover
  double records_per_s = 0;
  double eta_s = 0;
  bool done = false;
};
using RestoreListener = std::function<void(const RestoreProgress&)>;

struct TaskStateOptions {
  // This task's directory (created if missing); the RocksDB instance lives in <dir>/rocksdb.
  std::string state_dir;
  // The changelog of store S is `<application_id>-<S>-changelog`.
  std::string application_id;
  // This task's partition of every changelog topic.
  PartitionId partition{0};
  // Partition count used when a changelog topic has to be created.
  int32_t changelog_partitions = 1;
  // Where changelogs live. Required when any store is logged.
  logstore::LogClient* log = nullptr;
  // The process-wide RocksDB memory cap; nullptr: a private 64 MiB budget.
  std::shared_ptr<StateMemoryBudget> budget;
  // false: stores are in memory (still logged and restored like RocksDB ones).
  bool persistent = true;
  // Bytes of record cache shared by this task's cached key-value stores; each cached RocksDB
  // window store keeps up to as many of its recent windows for point fetches.
  size_t cache_bytes = 10 << 20;
  // Time for key-value TTLs; nullptr: the system clock.
  Clock* clock = nullptr;
  RestoreListener on_restore;
};

struct StoreMetrics {
  std::string name;
  StoreKind kind = StoreKind::kKeyValue;
  uint64_t disk_bytes = 0;      // its column family's SST files (0 in memory)
  uint64_t memtable_bytes = 0;  // its column family's memtables
  uint64_t estimated_keys = 0;  // key-value stores: approximate_count(); others: RocksDB's estimate
  int64_t restored_records = 0;  // changelog records replayed since the task opened
  int64_t expired_records = 0;   // key-value stores with a TTL: entries removed as expired
};

struct StateMetrics {
  uint64_t disk_bytes = 0;      // the task's RocksDB directory: SST, WAL and manifest files
  uint64_t estimated_keys = 0;  // over all stores
  MemoryUsage memory;           // of the shared budget (all tasks)
  uint64_t cache_bytes = 0;     // this task's record cache in use
  uint64_t cache_hits = 0, cache_misses = 0;
  int64_t restored_records = 0;
  std::vector<StoreMetrics> stores;  // by name
};

class TaskState {
 public:
  static Result<std::unique_ptr<TaskState>> open(TaskStateOptions options);
  virtual ~TaskState() = default;

  // Creates or reopens a store (restoring it first). The store lives as long as the TaskState.
  // kInvalidArgument if `spec` names a store of another kind or is malformed.
  virtual Result<KeyValueStore*> key_value_store(const StoreSpec& spec) = 0;
  virtual Result<WindowStore*> window_store(const StoreSpec& spec) = 0;
  virtual Result<SessionStore*> session_store(const StoreSpec& spec) = 0;

  // Commit phase 1: caches flushed into their stores, changelog records appended through
  // `producer` (nullptr: plain appends through the LogClient).
  virtual Status flush(logstore::Producer* producer) = 0;
  // Commit phase 2: buffered writes and changelog offsets applied to RocksDB in one write.
  virtual Status apply() = 0;
  // Drops everything since the last apply(): caches, buffered writes, pending changelog records.
  virtual Status abort() = 0;
  Status commit() {
    SLUICE_RETURN_IF_ERROR(flush(nullptr));
    return apply();
  }

  virtual StateMetrics metrics() const = 0;
  // Closes RocksDB; uncommitted writes are dropped.
  virtual Status close() = 0;
};

}  // namespace sluice::state
