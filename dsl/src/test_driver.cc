#include "sluice/dsl/test_driver.h"

#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "sluice/operators/log_record_collector.h"
#include "sluice/operators/partition_queue.h"
#include "sluice/operators/topic_plan.h"

namespace sluice::dsl {
namespace {

using logstore::TopicPartition;

// Records a task processes between two commits (a running job's commit interval).
constexpr int kRecordsPerCommit = 1000;

std::optional<Bytes> copy(std::optional<ByteView> v) {
  return v ? std::optional<Bytes>(Bytes(*v)) : std::nullopt;
}

}  // namespace

struct TopologyTestDriver::Task {
  int subtopology = 0;
  PartitionId partition{0};
  std::unique_ptr<state::TaskState> state;
  std::unique_ptr<operators::LogRecordCollector> collector;
  std::unique_ptr<operators::StreamTask> task;
  operators::TaskInputs inputs;
};

TopologyTestDriver::TopologyTestDriver(operators::Topology topology, TestDriverOptions options)
    : topology_(std::move(topology)),
      options_(std::move(options)),
      clock_(options_.wall_clock_start) {}

TopologyTestDriver::~TopologyTestDriver() {
  tasks_.clear();
  log_.reset();
  if (remove_dir_) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

Result<std::unique_ptr<TopologyTestDriver>> TopologyTestDriver::create(operators::Topology topology,
                                                                       TestDriverOptions options) {
  if (!topology.built()) SLUICE_RETURN_IF_ERROR(topology.build());
  std::unique_ptr<TopologyTestDriver> d(
      new TopologyTestDriver(std::move(topology), std::move(options)));
  SLUICE_RETURN_IF_ERROR(d->start());
  return d;
}

Status TopologyTestDriver::start() {
  dir_ = options_.dir;
  if (dir_.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sluice-driver-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr)
      return errno_status("creating a temporary directory", errno);
    dir_ = tmpl;
    remove_dir_ = true;
  }
  logstore::LogStoreOptions log_options;
  log_options.data_dir = dir_ + "/log";
  log_options.background_maintenance = false;
  log_options.offsets_topic_partitions = 1;
  SLUICE_ASSIGN_OR_RETURN(log_, logstore::LogStore::open(log_options));
  SLUICE_RETURN_IF_ERROR(create_topics());
  if (!topology_.global_tables().empty()) {
    state::TaskStateOptions go;
    go.state_dir = dir_ + "/state/global";
    go.application_id = options_.application_id;
    go.persistent = options_.persistent_stores;
    go.clock = &clock_;
    SLUICE_ASSIGN_OR_RETURN(global_state_, state::TaskState::open(go));
    for (const auto& g : topology_.global_tables()) {
      SLUICE_ASSIGN_OR_RETURN(int32_t n, partitions(g.topic));
      for (int32_t p = 0; p < n; ++p) global_positions_[{g.topic, PartitionId(p)}] = Offset(0);
    }
  }
  auto global_stores = [this](std::string_view name) -> Result<state::KeyValueStore*> {
    for (const auto& g : topology_.global_tables()) {
      if (g.store.name == name) return global_state_->key_value_store(g.store);
    }
    return not_found("no global table store '" + std::string(name) + "'");
  };
  for (const auto& st : topology_.subtopologies()) {
    int32_t n = 0;
    std::vector<std::string> inputs;
    for (const auto& t : st.source_topics) {
      const std::string full = topology_.is_internal(t) ? options_.application_id + "-" + t : t;
      SLUICE_ASSIGN_OR_RETURN(int32_t p, partitions(full));
      n = std::max(n, p);
    }
    for (int32_t p = 0; p < n; ++p) {
      auto t = std::make_unique<Task>();
      t->subtopology = st.id;
      t->partition = PartitionId(p);
      state::TaskStateOptions so;
      so.state_dir = dir_ + "/state/" + std::to_string(st.id) + "_" + std::to_string(p);
      so.application_id = options_.application_id;
      so.partition = PartitionId(p);
      so.changelog_partitions = n;
      so.log = log_.get();
      so.persistent = options_.persistent_stores;
      so.clock = &clock_;
      so.cache_bytes = 1 << 20;
      SLUICE_ASSIGN_OR_RETURN(t->state, state::TaskState::open(so));
      t->collector = std::make_unique<operators::LogRecordCollector>(
          operators::LogRecordCollectorOptions{log_.get(), options_.default_partitions});
      SLUICE_ASSIGN_OR_RETURN(
          t->task, operators::StreamTask::create({.topology = &topology_,
                                                  .subtopology = st.id,
                                                  .partition = PartitionId(p),
                                                  .application_id = options_.application_id,
                                                  .state = t->state.get(),
                                                  .collector = t->collector.get(),
                                                  .clock = &clock_,
                                                  .global_stores = global_stores}));
      // Resume where the last commit left off (a driver reopened on the same directory).
      for (const auto& topic : t->task->input_topics()) {
        SLUICE_ASSIGN_OR_RETURN(auto committed, log_->committed_offset(options_.application_id,
                                                                       {topic, PartitionId(p)}));
        t->inputs.add({topic, PartitionId(p)}, committed ? committed->offset : Offset(0));
      }
      tasks_.push_back(std::move(t));
    }
  }
  return Status();
}

// The driver creates every topic the topology needs, external ones with the configured
// partition counts (a running job refuses missing external topics instead).
Status TopologyTestDriver::create_topics() {
  auto configured = [&](const std::string& t) -> Result<int32_t> {
    auto it = options_.partitions.find(t);
    return it != options_.partitions.end() ? it->second : options_.default_partitions;
  };
  SLUICE_ASSIGN_OR_RETURN(auto plan,
                          operators::plan_topics(topology_, options_.application_id, configured));
  for (const auto& [name, n] : plan.partitions) {
    logstore::TopicConfig config;
    config.partitions = n;
    config.flush_policy = logstore::FlushPolicy::kNever;
    Status s = log_->create_topic(plan.log_name(name), config);
    if (!s.ok() && s.code() != StatusCode::kAlreadyExists) return s;
  }
  return Status();
}

Result<int32_t> TopologyTestDriver::partitions(std::string_view topic) {
  SLUICE_ASSIGN_OR_RETURN(auto d, log_->describe_topic(topic));
  return static_cast<int32_t>(d.partitions.size());
}

Status TopologyTestDriver::pipe_raw(std::string_view topic, std::optional<ByteView> key,
                                    std::optional<ByteView> value, Timestamp ts,
                                    std::optional<PartitionId> partition) {
  RawRecord r{copy(key), copy(value), ts, partition};
  return pipe_raw_batch(topic, {r});
}

Status TopologyTestDriver::pipe_raw_batch(std::string_view topic,
                                          const std::vector<RawRecord>& records) {
  SLUICE_RETURN_IF_ERROR(append_raw(topic, records));
  return run_until_idle();
}

Status TopologyTestDriver::append_raw(std::string_view topic,
                                      const std::vector<RawRecord>& records) {
  SLUICE_ASSIGN_OR_RETURN(int32_t n, partitions(topic));
  for (const RawRecord& r : records) {
    int32_t p = 0;
    if (r.partition) {
      p = r.partition->value();
    } else if (r.key) {
      p = kafka_partition_for_key(*r.key, n);
    }
    logstore::Record rec{.timestamp = r.timestamp};
    if (r.key) rec.key = ByteView(*r.key);
    if (r.value) rec.value = ByteView(*r.value);
    SLUICE_RETURN_IF_ERROR(
        log_->append(TopicPartition{std::string(topic), PartitionId(p)}, {&rec, 1}).status());
  }
  return Status();
}

Result<bool> TopologyTestDriver::run_task_once(Task& t) {
  // Fetch only for inputs whose fetched records are used up.
  SLUICE_RETURN_IF_ERROR(t.inputs.fill(*log_, 1).status());
  SLUICE_ASSIGN_OR_RETURN(auto next, t.inputs.next());
  if (!next.record) return false;
  SLUICE_RETURN_IF_ERROR(t.task->process(next.input->partition.topic, *next.record));
  t.inputs.consume(next);
  return true;
}

Status TopologyTestDriver::update_global_tables() {
  for (auto& [tp, position] : global_positions_) {
    const operators::GlobalTableDef* def = nullptr;
    for (const auto& g : topology_.global_tables()) {
      if (g.topic == tp.topic) def = &g;
    }
    SLUICE_ASSIGN_OR_RETURN(state::KeyValueStore * store,
                            global_state_->key_value_store(def->store));
    for (;;) {
      logstore::FetchRequest req{.partition = tp, .offset = position};
      auto fetched = log_->fetch(req);
      if (!fetched.ok() && fetched.status().code() == StatusCode::kOutOfRange) break;
      SLUICE_RETURN_IF_ERROR(fetched.status());
      if (fetched->batches.empty()) break;
      SLUICE_RETURN_IF_ERROR(logstore::for_each_record(
          *fetched, position, logstore::IsolationLevel::kReadCommitted,
          [&](const logstore::RecordView& r) { return def->apply(*store, r); }));
      position = fetched->next_offset;
    }
  }
  return global_state_ ? global_state_->commit() : Status();
}

Status TopologyTestDriver::run_until_idle() {
  // Global tables first: a task's lookups see every global record appended before its input.
  SLUICE_RETURN_IF_ERROR(update_global_tables());
  for (;;) {
    bool progress = false;
    for (auto& t : tasks_) {
      for (int n = 1;; ++n) {
        SLUICE_ASSIGN_OR_RETURN(bool processed, run_task_once(*t));
        if (!processed) break;
        progress = true;
        // As a running job commits every commit interval: bounded uncommitted state.
        if (n % kRecordsPerCommit == 0) SLUICE_RETURN_IF_ERROR(commit(*t));
      }
    }
    SLUICE_RETURN_IF_ERROR(commit_all());
    if (!progress) return Status();
  }
}

Status TopologyTestDriver::commit_all() {
  for (auto& t : tasks_) SLUICE_RETURN_IF_ERROR(commit(*t));
  return Status();
}

Status TopologyTestDriver::commit(Task& t) {
  SLUICE_RETURN_IF_ERROR(t.task->flush());
  SLUICE_RETURN_IF_ERROR(t.collector->flush(nullptr));
  SLUICE_RETURN_IF_ERROR(t.state->commit());
  logstore::OffsetMap positions;
  for (const auto& in : t.inputs.inputs()) {
    positions[in.partition] = logstore::CommittedOffset{.offset = in.consumed};
  }
  return log_->commit_offsets(options_.application_id, positions);
}

Status TopologyTestDriver::advance_wall_clock(int64_t ms) {
  clock_.advance_ms(ms);
  for (auto& t : tasks_) SLUICE_RETURN_IF_ERROR(t->task->punctuate_wall_clock());
  return run_until_idle();
}

Result<std::vector<TopologyTestDriver::StoredRecord>> TopologyTestDriver::read_topic(
    std::string_view topic, PartitionId partition, Offset from) {
  std::vector<StoredRecord> out;
  SLUICE_ASSIGN_OR_RETURN(auto ends, log_->partition_ends({std::string(topic), partition}));
  Offset position = std::max(from, ends.log_start);
  while (position < ends.high_watermark.offset()) {
    logstore::FetchRequest req{.partition = {std::string(topic), partition}, .offset = position};
    SLUICE_ASSIGN_OR_RETURN(auto fetched, log_->fetch(req));
    if (fetched.batches.empty()) break;
    SLUICE_RETURN_IF_ERROR(logstore::for_each_record(
        fetched, position, logstore::IsolationLevel::kReadCommitted,
        [&](const logstore::RecordView& r) {
          StoredRecord s{partition, r.offset, r.timestamp, copy(r.key), copy(r.value), {}};
          for (const auto& h : r.headers) s.headers.emplace_back(Bytes(h.key), copy(h.value));
          out.push_back(std::move(s));
        }));
    position = fetched.next_offset;
  }
  return out;
}

std::vector<operators::StreamTask*> TopologyTestDriver::tasks() {
  std::vector<operators::StreamTask*> out;
  for (auto& t : tasks_) out.push_back(t->task.get());
  return out;
}

std::vector<std::pair<operators::StreamTask*, state::TaskState*>>
TopologyTestDriver::tasks_with_store(const std::string& store) {
  std::vector<std::pair<operators::StreamTask*, state::TaskState*>> out;
  for (auto& t : tasks_) {
    const auto& stores = topology_.subtopologies()[static_cast<size_t>(t->subtopology)].stores;
    if (std::ranges::find(stores, store) != stores.end()) {
      out.emplace_back(t->task.get(), t->state.get());
    }
  }
  return out;
}

operators::TaskMetrics TopologyTestDriver::metrics() const {
  operators::TaskMetrics sum;
  for (const auto& t : tasks_) {
    const auto& m = t->task->metrics();
    sum.records_processed += m.records_processed;
    sum.records_skipped += m.records_skipped;
    sum.records_dead_lettered += m.records_dead_lettered;
    sum.punctuations += m.punctuations;
    for (const auto& [name, nm] : m.nodes) {
      auto& s = sum.nodes[name];
      s.records_in += nm.records_in;
      s.records_out += nm.records_out;
      s.late_dropped += nm.late_dropped;
    }
  }
  return sum;
}

}  // namespace sluice::dsl
