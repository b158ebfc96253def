// TopologyTestDriver: runs a topology in-process, deterministically, over the real log store
// and the real state stores in a temporary directory — for tests of the job's logic.
//
//   auto driver = TopologyTestDriver::create(std::move(topology), {.partitions = {{"in", 4}}});
//   auto in = (*driver)->input_topic<std::string, int64_t>("in");
//   auto out = (*driver)->output_topic<std::string, int64_t>("out");
//   in.pipe("a", 1, Timestamp(1000));         // appended to "in", then processed to the end
//   auto records = out.read_records();        // what the topology wrote
//
// Unlike Kafka Streams' driver it runs every task of every sub-topology: topics have as many
// partitions as configured, records are partitioned by Kafka's murmur2 of their key bytes,
// repartition topics are real topics in between, and each task has its own RocksDB stores and
// changelogs. After every pipe() the driver processes everything that became readable — in
// each task, the next record by timestamp across its inputs — until nothing is left, then
// commits every task (at-least-once: node flush, output appends, store flush and apply,
// consumed positions), and every 1,000 records of a task on the way.
// Wall-clock time is a ManualClock the test advances; stream time comes from the records.
//
// Thread safety: one thread.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/base/clock.h"
#include "sluice/base/murmur2.h"
#include "sluice/base/result.h"
#include "sluice/logstore/log_store.h"
#include "sluice/operators/aggregate.h"
#include "sluice/operators/serde.h"
#include "sluice/operators/stream_task.h"
#include "sluice/operators/topology.h"
#include "sluice/operators/typed_store.h"

namespace sluice::dsl {

struct TestDriverOptions {
  std::string application_id = "test-app";
  // Partitions of the topics the topology reads or writes (created by the driver); others
  // get default_partitions. Repartition topics get the most of their writers' inputs.
  std::map<std::string, int32_t> partitions;
  int32_t default_partitions = 1;
  // RocksDB stores (true) or in-memory ones.
  bool persistent_stores = true;
  // Where the log and state live; empty: a fresh temporary directory, removed at the end.
  std::string dir;
  Timestamp wall_clock_start = Timestamp(0);
};

// A record read back from an output topic.
template <typename K, typename V>
struct TestRecord {
  K key;
  V value;
  Timestamp timestamp;
  PartitionId partition{0};
  friend bool operator==(const TestRecord&, const TestRecord&) = default;
};

class TopologyTestDriver;

template <typename K, typename V>
class TestInputTopic {
 public:
  TestInputTopic(TopologyTestDriver& driver, std::string topic)
      : driver_(driver), topic_(std::move(topic)) {}
  // Appends (key, value) at `ts` to the partition Kafka's partitioner picks for the key, then
  // processes it (and everything it causes).
  Status pipe(const K& key, const V& value, Timestamp ts);
  // Into a chosen partition.
  Status pipe_to(PartitionId partition, const K& key, const V& value, Timestamp ts);

 private:
  TopologyTestDriver& driver_;
  std::string topic_;
};

template <typename K, typename V>
class TestOutputTopic {
 public:
  TestOutputTopic(TopologyTestDriver& driver, std::string topic)
      : driver_(driver), topic_(std::move(topic)) {}
  // The records written since the last read, partition by partition in offset order.
  Result<std::vector<TestRecord<K, V>>> read_records();
  // The last value of every key written since the last read (a table's final state).
  Result<std::map<K, V>> read_key_value_map();

 private:
  TopologyTestDriver& driver_;
  std::string topic_;
  std::map<int32_t, Offset> positions_;
};

class TopologyTestDriver {
 public:
  static Result<std::unique_ptr<TopologyTestDriver>> create(operators::Topology topology,
                                                            TestDriverOptions options = {});
  ~TopologyTestDriver();

  template <typename K, typename V>
  TestInputTopic<K, V> input_topic(std::string topic) {
    return TestInputTopic<K, V>(*this, std::move(topic));
  }
  template <typename K, typename V>
  TestOutputTopic<K, V> output_topic(std::string topic) {
    return TestOutputTopic<K, V>(*this, std::move(topic));
  }

  // Appends one raw record to `topic` (partition: explicit, or by key as Kafka's default
  // partitioner) and processes everything until no task has input left; then commits.
  Status pipe_raw(std::string_view topic, std::optional<ByteView> key,
                  std::optional<ByteView> value, Timestamp ts,
                  std::optional<PartitionId> partition = std::nullopt);
  // Appends many records first and processes them together (ordering across input
  // partitions then follows the timestamps, as in a running job).
  struct RawRecord {
    std::optional<Bytes> key, value;
    Timestamp timestamp;
    std::optional<PartitionId> partition;
  };
  Status pipe_raw_batch(std::string_view topic, const std::vector<RawRecord>& records);
  // Appends records without processing them; process_all() then runs every task until no
  // input is left (records of several topics appended first interleave by timestamp).
  Status append_raw(std::string_view topic, const std::vector<RawRecord>& records);
  Status process_all() { return run_until_idle(); }

  // Moves wall-clock time forward, runs the wall-clock punctuations due, commits.
  Status advance_wall_clock(int64_t ms);

  // The records of a topic as stored (any topic, including internal ones by their full name).
  struct StoredRecord {
    PartitionId partition{0};
    Offset offset{0};
    Timestamp timestamp;
    std::optional<Bytes> key, value;
    std::vector<std::pair<Bytes, std::optional<Bytes>>> headers;
  };
  Result<std::vector<StoredRecord>> read_topic(std::string_view topic, PartitionId partition,
                                               Offset from = Offset(0));
  Result<int32_t> partitions(std::string_view topic);

  // The key -> value contents of a key-value store of an aggregation, per task partition.
  template <typename K, typename V>
  Result<std::map<int32_t, std::map<K, V>>> key_value_store_by_task(const std::string& store);
  // Merged over all tasks.
  template <typename K, typename V>
  Result<std::map<K, V>> key_value_store(const std::string& store);
  // A windowed aggregation's store: (key, window start) -> value, merged over all tasks.
  template <typename K, typename V>
  Result<std::map<std::pair<K, Timestamp>, V>> window_store(const std::string& store,
                                                            Timestamp from = Timestamp(0),
                                                            Timestamp to = Timestamp(INT64_MAX /
                                                                                     2));

  // Interactive queries: read-only, typed lookups into a store of the running topology, over
  // all its tasks (each key lives in one).
  template <typename K, typename V>
  Result<std::optional<V>> query(const std::string& store, const K& key);
  // Entries with keys in [from, to) (by key bytes), or all of them; merged over the tasks.
  template <typename K, typename V>
  Result<std::vector<std::pair<K, V>>> query_range(const std::string& store,
                                                   std::optional<K> from = std::nullopt,
                                                   std::optional<K> to = std::nullopt);
  // A window store: the windows of `key` starting in [from, to].
  template <typename K, typename V>
  Result<std::vector<std::pair<Timestamp, V>>> query_windows(const std::string& store, const K& key,
                                                             Timestamp from, Timestamp to);

  const operators::Topology& topology() const { return topology_; }
  logstore::LogStore& log() { return *log_; }
  // Every task, by sub-topology then partition.
  std::vector<operators::StreamTask*> tasks();
  // The tasks that hold `store`.
  std::vector<std::pair<operators::StreamTask*, state::TaskState*>> tasks_with_store(
      const std::string& store);
  // Summed over tasks.
  operators::TaskMetrics metrics() const;
  ManualClock& clock() { return clock_; }

 private:
  struct Task;
  explicit TopologyTestDriver(operators::Topology topology, TestDriverOptions options);
  Status start();
  Status create_topics();
  Status run_until_idle();
  Result<bool> run_task_once(Task& t);
  Status commit_all();
  Status commit(Task& t);
  // Reads what is new in the global tables' topics into their stores.
  Status update_global_tables();
  // The tasks holding `store`, as the typed queries of typed_store.h walk them.
  auto stores(const std::string& store) {
    return [this, store](const std::function<Status(const operators::TaskStore&)>& fn) {
      const state::StoreSpec* spec = topology_.find_store(store);
      if (!spec) return not_found("no store named '" + store + "'");
      for (auto [task, state] : tasks_with_store(store)) {
        SLUICE_RETURN_IF_ERROR(fn({state, spec, topology_.is_timestamped(store)}));
      }
      return Status();
    };
  }

  operators::Topology topology_;
  TestDriverOptions options_;
  std::string dir_;
  bool remove_dir_ = false;
  ManualClock clock_;
  std::unique_ptr<logstore::LogStore> log_;
  std::vector<std::unique_ptr<Task>> tasks_;
  std::unique_ptr<state::TaskState> global_state_;  // the global tables' stores
  std::map<logstore::TopicPartition, Offset> global_positions_;
};

// ---- templates ----

template <typename K, typename V>
Status TestInputTopic<K, V>::pipe(const K& key, const V& value, Timestamp ts) {
  const auto k = operators::encode(key);
  const auto v = operators::encode(value);
  std::optional<ByteView> kv, vv;
  if (k) kv = ByteView(*k);
  if (v) vv = ByteView(*v);
  return driver_.pipe_raw(topic_, kv, vv, ts);
}

template <typename K, typename V>
Status TestInputTopic<K, V>::pipe_to(PartitionId partition, const K& key, const V& value,
                                     Timestamp ts) {
  const auto k = operators::encode(key);
  const auto v = operators::encode(value);
  std::optional<ByteView> kv, vv;
  if (k) kv = ByteView(*k);
  if (v) vv = ByteView(*v);
  return driver_.pipe_raw(topic_, kv, vv, ts, partition);
}

template <typename K, typename V>
Result<std::vector<TestRecord<K, V>>> TestOutputTopic<K, V>::read_records() {
  SLUICE_ASSIGN_OR_RETURN(int32_t n, driver_.partitions(topic_));
  std::vector<TestRecord<K, V>> out;
  for (int32_t p = 0; p < n; ++p) {
    Offset& from = positions_.try_emplace(p, Offset(0)).first->second;
    SLUICE_ASSIGN_OR_RETURN(auto records, driver_.read_topic(topic_, PartitionId(p), from));
    for (auto& r : records) {
      std::optional<ByteView> k, v;
      if (r.key) k = ByteView(*r.key);
      if (r.value) v = ByteView(*r.value);
      SLUICE_ASSIGN_OR_RETURN(K key, operators::decode<K>(k));
      SLUICE_ASSIGN_OR_RETURN(V value, operators::decode<V>(v));
      out.push_back({std::move(key), std::move(value), r.timestamp, PartitionId(p)});
      from = r.offset.next();
    }
  }
  return out;
}

template <typename K, typename V>
Result<std::map<K, V>> TestOutputTopic<K, V>::read_key_value_map() {
  SLUICE_ASSIGN_OR_RETURN(auto records, read_records());
  std::map<K, V> out;
  for (auto& r : records) out.insert_or_assign(std::move(r.key), std::move(r.value));
  return out;
}

template <typename K, typename V>
Result<std::map<int32_t, std::map<K, V>>> TopologyTestDriver::key_value_store_by_task(
    const std::string& store) {
  std::map<int32_t, std::map<K, V>> out;
  const state::StoreSpec* spec = topology_.find_store(store);
  if (!spec) return not_found("no store named '" + store + "'");
  for (auto [task, state] : tasks_with_store(store)) {
    SLUICE_ASSIGN_OR_RETURN(state::KeyValueStore * kv, state->key_value_store(*spec));
    operators::KeyValueStoreView<K, V> view(kv, topology_.is_timestamped(store));
    SLUICE_ASSIGN_OR_RETURN(auto entries, view.all());
    auto& contents = out[task->partition().value()];
    for (auto& [k, v] : entries) contents.emplace(std::move(k), std::move(v));
  }
  return out;
}

template <typename K, typename V>
Result<std::map<K, V>> TopologyTestDriver::key_value_store(const std::string& store) {
  SLUICE_ASSIGN_OR_RETURN(auto by_task, (key_value_store_by_task<K, V>(store)));
  std::map<K, V> out;
  for (auto& [p, contents] : by_task) out.merge(contents);
  return out;
}

template <typename K, typename V>
Result<std::map<std::pair<K, Timestamp>, V>> TopologyTestDriver::window_store(
    const std::string& store, Timestamp from, Timestamp to) {
  std::map<std::pair<K, Timestamp>, V> out;
  const state::StoreSpec* spec = topology_.find_store(store);
  if (!spec) return not_found("no store named '" + store + "'");
  for (auto [task, state] : tasks_with_store(store)) {
    SLUICE_ASSIGN_OR_RETURN(state::WindowStore * ws, state->window_store(*spec));
    operators::WindowStoreView<K, V> view(ws, topology_.is_timestamped(store));
    SLUICE_ASSIGN_OR_RETURN(auto entries, view.fetch_all(from, to));
    for (auto& [k, v] : entries) out.emplace(std::move(k), std::move(v));
  }
  return out;
}

template <typename K, typename V>
Result<std::optional<V>> TopologyTestDriver::query(const std::string& store, const K& key) {
  return operators::query_key<K, V>(stores(store), key);
}

template <typename K, typename V>
Result<std::vector<std::pair<K, V>>> TopologyTestDriver::query_range(const std::string& store,
                                                                     std::optional<K> from,
                                                                     std::optional<K> to) {
  return operators::query_key_range<K, V>(stores(store), from, to);
}

template <typename K, typename V>
Result<std::vector<std::pair<Timestamp, V>>> TopologyTestDriver::query_windows(
    const std::string& store, const K& key, Timestamp from, Timestamp to) {
  return operators::query_key_windows<K, V>(stores(store), key, from, to);
}

}  // namespace sluice::dsl
