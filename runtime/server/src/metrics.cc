#include "metrics.h"

#include <map>

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

namespace sluice::server {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

// Builds families by name, keeping their order of first use.
class Families {
 public:
  void gauge(const std::string& name, const std::string& help, Labels labels, double value) {
    add(name, help, MetricType::Gauge, std::move(labels), value);
  }
  void counter(const std::string& name, const std::string& help, Labels labels, double value) {
    add(name, help, MetricType::Counter, std::move(labels), value);
  }
  std::vector<MetricFamily> take() { return std::move(families_); }

 private:
  void add(const std::string& name, const std::string& help, MetricType type, Labels labels,
           double value) {
    auto [it, inserted] = index_.try_emplace(name, families_.size());
    if (inserted) families_.push_back({.name = name, .help = help, .type = type});
    ClientMetric m;
    m.label = std::move(labels);
    if (type == MetricType::Counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
    families_[it->second].metric.push_back(std::move(m));
  }

  std::map<std::string, size_t> index_;
  std::vector<MetricFamily> families_;
};

// "running": the enum's name in lower case.
std::string state_label(v1::JobState s) {
  std::string name = v1::JobState_Name(s);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

}  // namespace

std::vector<MetricFamily> ServerMetrics::Collect() const {
  Families f;
  for (const std::string& topic : log_.list_topics()) {
    auto d = log_.describe_topic(topic);
    if (!d.ok()) continue;
    for (size_t p = 0; p < d->partitions.size(); ++p) {
      Labels l = {{"topic", topic}, {"partition", std::to_string(p)}};
      const auto& ends = d->partitions[p];
      f.gauge("sluice_partition_log_start_offset", "First offset still stored", l,
              static_cast<double>(ends.log_start.value()));
      f.gauge("sluice_partition_high_watermark", "End of what readers see", l,
              static_cast<double>(ends.high_watermark.offset().value()));
      f.gauge("sluice_partition_last_stable_offset", "End of what read-committed readers see", l,
              static_cast<double>(ends.stable.offset().value()));
      if (p < d->partition_bytes.size()) {
        f.gauge("sluice_partition_size_bytes", "Bytes on disk", l,
                static_cast<double>(d->partition_bytes[p]));
      }
    }
  }
  for (const std::string& group : log_.list_groups()) {
    auto offsets = log_.group_offsets(group);
    if (!offsets.ok()) continue;
    for (const auto& [tp, committed] : *offsets) {
      Labels l = {{"group", group},
                  {"topic", tp.topic},
                  {"partition", std::to_string(tp.partition.value())}};
      f.gauge("sluice_group_committed_offset", "The group's committed position", l,
              static_cast<double>(committed.offset.value()));
      auto ends = log_.partition_ends(tp);
      if (ends.ok()) {
        f.gauge("sluice_group_lag", "Records between the committed position and the end", l,
                static_cast<double>(std::max<int64_t>(
                    0, ends->high_watermark.offset().value() - committed.offset.value())));
      }
    }
  }

  for (const JobManager::JobMetrics& job : jobs_.metrics()) {
    const std::string& name = job.name;
    for (v1::JobState s : {v1::STARTING, v1::RESTORING, v1::RUNNING, v1::STOPPED, v1::FAILED}) {
      f.gauge("sluice_job_state", "1 for the job's current state",
              {{"job", name}, {"state", state_label(s)}}, job.state == s ? 1 : 0);
    }
    const runtime::RuntimeMetrics& m = job.metrics;
    int64_t records = 0;
    for (const runtime::TaskMetrics& t : m.tasks) {
      Labels tl = {{"job", name}, {"task", t.id}};
      records += t.operators.records_processed;
      f.counter("sluice_task_records_processed_total", "Records a task processed", tl,
                static_cast<double>(t.operators.records_processed));
      f.gauge("sluice_task_process_ns_per_record", "Processing time per record", tl,
              t.process_ns_per_record);
      f.gauge("sluice_task_restoring", "1 while the task restores its stores", tl,
              t.restoring ? 1 : 0);
      f.gauge("sluice_task_stream_time_ms",
              "The largest record timestamp the task processed (-1: none yet)", tl,
              static_cast<double>(t.stream_time_ms));
      f.counter("sluice_task_alignment_wait_seconds_total",
                "Time the task waited for slower tasks of its sub-topology (max.task.drift.ms)", tl,
                static_cast<double>(t.alignment_wait_ms) / 1000.0);
      for (const runtime::InputLag& in : t.inputs) {
        f.gauge("sluice_task_input_lag", "Records of an input partition not yet processed",
                {{"job", name},
                 {"task", t.id},
                 {"topic", in.partition.topic},
                 {"partition", std::to_string(in.partition.partition.value())}},
                static_cast<double>(in.lag()));
      }
      for (const auto& [node, nm] : t.operators.nodes) {
        Labels ol = {{"job", name}, {"task", t.id}, {"operator", node}};
        f.counter("sluice_operator_records_in_total", "Records into an operator", ol,
                  static_cast<double>(nm.records_in));
        f.counter("sluice_operator_records_out_total", "Records out of an operator", ol,
                  static_cast<double>(nm.records_out));
        f.counter("sluice_operator_late_dropped_total",
                  "Records dropped because their window had closed", ol,
                  static_cast<double>(nm.late_dropped));
      }
      for (const state::StoreMetrics& sm : t.state.stores) {
        Labels sl = {{"job", name}, {"task", t.id}, {"store", sm.name}};
        f.gauge("sluice_store_estimated_keys", "Approximate keys in a store", sl,
                static_cast<double>(sm.estimated_keys));
        f.gauge("sluice_store_disk_bytes", "A store's SST files", sl,
                static_cast<double>(sm.disk_bytes));
        f.counter("sluice_store_restored_records_total", "Changelog records replayed", sl,
                  static_cast<double>(sm.restored_records));
      }
      for (const state::RestoreProgress& r : t.restore) {
        Labels rl = {{"job", name}, {"task", t.id}, {"store", r.store}};
        f.gauge("sluice_restore_records", "Records restored so far", rl,
                static_cast<double>(r.records));
        f.gauge("sluice_restore_records_total", "Records to restore (estimate)", rl,
                static_cast<double>(r.records_total));
        f.gauge("sluice_restore_done", "1 once the store is restored", rl, r.done ? 1 : 0);
      }
    }
    f.counter("sluice_job_records_processed_total", "Records the job's tasks processed",
              {{"job", name}}, static_cast<double>(records));
    int64_t commits = 0;
    for (const runtime::ThreadMetrics& t : m.threads) {
      Labels l = {{"job", name}, {"thread", std::to_string(t.thread)}};
      commits += t.commits;
      f.counter("sluice_thread_commits_total", "Commits of a stream thread", l,
                static_cast<double>(t.commits));
      f.gauge("sluice_thread_commit_latency_avg_ms", "Average commit latency", l,
              t.commit_latency_avg_ms);
      f.gauge("sluice_thread_commit_latency_max_ms", "Largest commit latency", l,
              t.commit_latency_max_ms);
    }
    f.counter("sluice_job_commits_total", "Commits of the job's stream threads", {{"job", name}},
              static_cast<double>(commits));
  }
  state::MemoryUsage memory = jobs_.memory_usage();
  f.gauge("sluice_state_memory_bytes", "RocksDB memory of all jobs, charged to the budget",
          {{"kind", "total"}}, static_cast<double>(memory.total()));
  f.gauge("sluice_state_memory_bytes", "", {{"kind", "memtable"}},
          static_cast<double>(memory.memtable_bytes));
  f.gauge("sluice_state_memory_bytes", "", {{"kind", "pinned"}},
          static_cast<double>(memory.pinned_bytes));
  return f.take();
}

Result<std::unique_ptr<prometheus::Exposer>> expose_metrics(
    const std::string& address, const std::shared_ptr<prometheus::Collectable>& collectable) {
  try {
    auto exposer = std::make_unique<prometheus::Exposer>(address, /*num_threads=*/1);
    exposer->RegisterCollectable(collectable);
    return exposer;
  } catch (const std::exception& e) {
    return unavailable("cannot serve metrics on '" + address + "': " + e.what() +
                       " (is the port free? --metrics-listen HOST:PORT)");
  }
}

}  // namespace sluice::server
