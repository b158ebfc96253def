// Runtime: runs a topology for real — many partitions, several stream threads, crash-safe
// commits — over a LogClient (the built-in log in embedded mode).
//
// The topology's sub-topologies (split at repartition topics) become tasks, one per input
// partition; tasks are spread over `threads` stream threads (std::jthread), each running the
// poll loop: fetch batches from its tasks' inputs (bounded per partition: back-pressure), pick
// each task's next record by timestamp across its inputs, push it through the task, and commit
// every commit interval. A task is only ever run by one thread.
//
// Exactly-once (the default) follows docs/EXACTLY-ONCE.md: each stream thread has a
// transactional producer (`<application-id>-<thread>`); a commit puts the thread's outputs,
// changelog records and consumed positions in one transaction, commits it, then applies the
// stores' buffered writes to RocksDB. After a kill -9 at any point and a restart, read-committed
// output equals a run without the crash. At-least-once appends and commits without the
// transaction: faster, and a crash may repeat the outputs of the last interval.
//
// Start-up: topics are checked (external ones must exist; repartition topics are created),
// stale transactional producers of the application are fenced, then tasks open on a small pool
// (oneTBB) — restoring their stores from checkpoints and changelogs, progress through
// RuntimeConfig::on_restore — and each task starts processing as soon as it is restored, while
// others still restore.
//
// Which tasks: on the built-in log, every task of the topology. On a log that shares
// partitions between processes (LogClient::join_group: Kafka), the runtime joins the consumer
// group named by the application id, subscribed to every input topic, and runs the tasks of
// the partitions assigned to it: the range assignor gives a task's co-partitioned inputs to one
// member. On revocation the affected tasks are committed and closed before the partitions go;
// on assignment new tasks restore from their changelogs, then process. Many instances of one
// application on many machines share the work this way.
//
// Thread safety: every public method is thread-safe. Interactive queries run on the thread
// that owns the task, between two records, so they are safe while tasks process; they see the
// task's latest writes, committed or not.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/base/clock.h"
#include "sluice/base/result.h"
#include "sluice/logstore/log_client.h"
#include "sluice/operators/stream_task.h"
#include "sluice/operators/topology.h"
#include "sluice/operators/typed_store.h"
#include "sluice/state/memory_budget.h"
#include "sluice/state/task_state.h"

namespace sluice::runtime {

enum class ProcessingGuarantee : int8_t { kExactlyOnce, kAtLeastOnce };
enum class OffsetReset : int8_t {
  kEarliest,  // an input without a committed position is read from its log start
  kLatest,    // ... from its end: only records appended after the start are processed
};

std::string_view guarantee_name(ProcessingGuarantee g);
Result<ProcessingGuarantee> parse_guarantee(std::string_view name);  // exactly_once|at_least_once

struct RuntimeConfig {
  // The job's name (required): its consumer group, the prefix of its transactional ids and of
  // its internal topics (`<id>-<store>-changelog`, `<id>-<name>-repartition`).
  std::string application_id;
  // Where tasks keep RocksDB (required): <state_dir>/<subtopology>_<partition>.
  std::string state_dir;
  int threads = 1;
  int64_t commit_interval_ms = 100;
  ProcessingGuarantee guarantee = ProcessingGuarantee::kExactlyOnce;
  // For external inputs without a committed position (repartition topics always start at
  // their beginning).
  OffsetReset offset_reset = OffsetReset::kEarliest;
  // RocksDB block cache and memtables of every task of the runtime, all stores together.
  size_t memory_budget_bytes = 256 << 20;
  // A budget shared with other runtimes of the process (a server's jobs), used instead of one
  // of memory_budget_bytes.
  std::shared_ptr<state::StateMemoryBudget> shared_memory_budget;
  // Record caches of all tasks together (split evenly between tasks); 0 disables caching.
  size_t record_cache_bytes = 10 << 20;
  // false: stores are kept in memory (still changelogged and restored).
  bool persistent_stores = true;
  // Fetched, unprocessed bytes held per input partition before fetching stops (back-pressure).
  size_t max_buffered_bytes_per_partition = 1 << 20;
  // Output records a thread holds before it commits early (outputs wait for the commit).
  size_t max_uncommitted_records = 200'000;
  // How far (ms of stream time) a task may run ahead of the slowest task of its sub-topology
  // that still has records to process before it waits for it, as Flink's watermark alignment
  // does. It bounds how much the tasks that write a repartition topic interleave out of order,
  // so that a backlog replayed faster by one thread than by another does not make the
  // downstream windows drop the slower one's records as late: keep windows' grace above this
  // plus a commit interval's worth of event time. Tasks in other processes are not seen.
  // Negative (-1): no bound, Kafka Streams' behaviour.
  int64_t max_task_drift_ms = 30'000;
  // Tasks opened (and restored) at once.
  int restore_parallelism = 2;
  // Restore progress of every store (called from the restore pool's threads).
  state::RestoreListener on_restore;
  // On a log whose partitions are shared by a consumer group (Kafka): this instance's name in
  // its transactional ids (`<application-id>-<instance>-<thread>`), stable across restarts so
  // that a restart aborts what a crash left open. Empty: a name generated once and kept in
  // the state directory.
  std::string instance_id;
  Clock* clock = nullptr;  // nullptr: the system clock
};

enum class RuntimeState : int8_t { kCreated, kRunning, kStopping, kStopped, kFailed };
std::string_view state_name(RuntimeState s);

struct RuntimeStatus {
  RuntimeState state = RuntimeState::kCreated;
  Status error;  // what stopped a kFailed runtime
  int tasks = 0;
  int tasks_restoring = 0;  // not yet processing
};

// One input partition of a task: how far behind its end the task is.
struct InputLag {
  logstore::TopicPartition partition;
  Offset consumed;  // the next offset to process
  Offset end;       // the partition's high watermark at the last fetch
  int64_t lag() const { return std::max<int64_t>(0, end.value() - consumed.value()); }
};

struct TaskMetrics {
  std::string id;  // "<subtopology>_<partition>"
  int thread = 0;
  bool restoring = true;
  operators::TaskMetrics operators;  // records processed, per-operator in/out, late drops
  std::vector<InputLag> inputs;
  double process_ns_per_record = 0;  // over the last commit interval
  int64_t stream_time_ms = -1;       // the largest timestamp processed (-1: none)
  int64_t alignment_wait_ms = 0;     // held back by max_task_drift_ms so far (wall clock)
  std::vector<state::RestoreProgress> restore;  // last report per store
  state::StateMetrics state;
};

struct ThreadMetrics {
  int thread = 0;
  int64_t records = 0;  // processed by this thread
  int64_t commits = 0;
  double commit_latency_avg_ms = 0;
  double commit_latency_max_ms = 0;
};

struct RuntimeMetrics {
  std::vector<TaskMetrics> tasks;  // by id; as of each thread's last commit
  std::vector<ThreadMetrics> threads;
  state::MemoryUsage memory;  // of the shared RocksDB budget
};

// A task's state, lent to an interactive query on the task's thread.
struct StoreAccess : operators::TaskStore {
  std::string task_id;
  PartitionId partition;
};

class Runtime {
 public:
  // A runtime over `log`, which outlives it. kInvalidArgument for a bad config or topology.
  static Result<std::unique_ptr<Runtime>> create(operators::Topology topology,
                                                 logstore::LogClient& log, RuntimeConfig config);
  // Embedded mode: opens (and owns) the built-in log in `log_dir`.
  static Result<std::unique_ptr<Runtime>> open(operators::Topology topology, std::string log_dir,
                                               RuntimeConfig config);
  // Stops (committing) if still running.
  virtual ~Runtime() = default;

  // Checks and creates topics, fences stale producers and starts the threads; restores go on
  // in the background. kNotFound (saying how to create it) for a missing external topic;
  // kFailedPrecondition if already started.
  virtual Status start() = 0;
  // Asks every thread to finish its current batch, commit and close. Returns at once.
  virtual void stop() = 0;
  // Blocks until the runtime has stopped; returns what made it fail, if anything.
  virtual Status wait() = 0;
  // start(), then run until SIGINT or SIGTERM (blocked in the runtime's threads and received
  // here) or until the runtime stops by itself; then stop() and wait().
  virtual Status run_until_signal() = 0;

  virtual RuntimeStatus status() const = 0;
  virtual RuntimeMetrics metrics() const = 0;
  // Whether the runtime is running, every task is restored and the committed position of
  // every input partition of every task is at the partition's end (read-committed): all input
  // so far is processed and its results committed. A snapshot: input may arrive a moment later.
  virtual bool caught_up() = 0;
  virtual const operators::Topology& topology() const = 0;
  // The log the runtime runs on (the owned one in embedded mode).
  virtual logstore::LogClient& log() = 0;

  // Runs `fn` on the owning thread of each running task that has `store`, one task after the
  // other. kNotFound for an unknown store; kUnavailable when the runtime is not running or a
  // task with the store is still restoring.
  virtual Status for_each_store(std::string_view store,
                                const std::function<Status(const StoreAccess&)>& fn) = 0;

  // ---- typed interactive queries ----

  // The value of `key` in a key-value store (tables, aggregations), if present.
  template <typename K, typename V>
  Result<std::optional<V>> query(std::string_view store, const K& key);
  // Entries of a key-value store with keys in [from, to) (all when unset), across all tasks,
  // in the order of the keys' serialized bytes.
  template <typename K, typename V>
  Result<std::vector<std::pair<K, V>>> query_range(std::string_view store, std::optional<K> from,
                                                   std::optional<K> to);
  // A window store's windows of `key` starting in [from, to]: (window start, value).
  template <typename K, typename V>
  Result<std::vector<std::pair<Timestamp, V>>> query_windows(std::string_view store, const K& key,
                                                             Timestamp from, Timestamp to);

 private:
  // for_each_store() as the typed queries of typed_store.h walk a store's tasks.
  auto stores(std::string_view store) {
    return [this, store](const std::function<Status(const operators::TaskStore&)>& fn) {
      return for_each_store(store, [&fn](const StoreAccess& a) { return fn(a); });
    };
  }
};

// ---- templates ----

template <typename K, typename V>
Result<std::optional<V>> Runtime::query(std::string_view store, const K& key) {
  return operators::query_key<K, V>(stores(store), key);
}

template <typename K, typename V>
Result<std::vector<std::pair<K, V>>> Runtime::query_range(std::string_view store,
                                                          std::optional<K> from,
                                                          std::optional<K> to) {
  return operators::query_key_range<K, V>(stores(store), from, to);
}

template <typename K, typename V>
Result<std::vector<std::pair<Timestamp, V>>> Runtime::query_windows(std::string_view store,
                                                                    const K& key, Timestamp from,
                                                                    Timestamp to) {
  return operators::query_key_windows<K, V>(stores(store), key, from, to);
}

}  // namespace sluice::runtime
