#include "job_manager.h"

#include <spdlog/spdlog.h>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sluice/base/file_system.h"
#include "sluice/operators/typed_store.h"
#include "sluice/samples/catalog.h"

namespace sluice::server {

namespace fs = std::filesystem;

namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status check_name(const std::string& name) {
  if (name.empty() || name.size() > 100) {
    return invalid_argument("a job name is 1 to 100 characters long");
  }
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return invalid_argument("job name '" + name +
                              "' may only hold letters, digits, '.', '_' and '-' (it prefixes "
                              "the job's internal topics)");
    }
  }
  if (name == "." || name == "..") return invalid_argument("a job cannot be named '.' or '..'");
  return Status();
}

nlohmann::json to_json(const JobRecord& r) {
  return {{"name", r.name},
          {"sample", r.sample},
          {"library_file", r.library_file},
          {"library_name", r.library_name},
          {"config", r.config},
          {"should_run", r.should_run},
          {"submitted_ms", r.submitted_ms},
          {"stores", r.stores},
          {"internal_topics", r.internal_topics},
          {"topology", r.topology}};
}

Result<JobRecord> record_from_json(const std::string& path) {
  try {
    std::ifstream in(path);
    if (!in) return not_found("cannot read " + path);
    auto j = nlohmann::json::parse(in);
    JobRecord r;
    r.name = j.at("name").get<std::string>();
    r.sample = j.at("sample").get<std::string>();
    r.library_file = j.at("library_file").get<std::string>();
    r.library_name = j.at("library_name").get<std::string>();
    r.config = j.at("config").get<std::map<std::string, std::string>>();
    r.should_run = j.at("should_run").get<bool>();
    r.submitted_ms = j.at("submitted_ms").get<int64_t>();
    r.stores = j.at("stores").get<std::vector<std::string>>();
    r.internal_topics = j.at("internal_topics").get<std::vector<std::string>>();
    r.topology = j.at("topology").get<std::string>();
    return r;
  } catch (const nlohmann::json::exception& e) {
    return corruption(path + " is not a job record: " + e.what());
  }
}

}  // namespace

JobManager::JobManager(logstore::LogStore& log, JobManagerOptions options)
    : log_(log), options_(std::move(options)) {}

JobManager::~JobManager() { shutdown(); }

std::string JobManager::job_dir(const std::string& name) const {
  return options_.jobs_dir + "/" + name;
}

Status JobManager::persist(const JobRecord& record) {
  // Synced and renamed into place: a crash leaves the old record or the new one.
  return write_file_atomically(FileSystem::posix(), job_dir(record.name) + "/job.json",
                               to_json(record).dump(2) + "\n");
}

Status JobManager::recover() {
  std::error_code ec;
  fs::create_directories(options_.jobs_dir, ec);
  if (ec) return io_error("cannot create " + options_.jobs_dir + ": " + ec.message());
  MutexLock lock(mu_);
  for (const auto& entry : fs::directory_iterator(options_.jobs_dir)) {
    if (!entry.is_directory()) continue;
    const std::string path = entry.path().string() + "/job.json";
    if (!fs::exists(path)) continue;  // an upload that never completed
    auto record = record_from_json(path);
    if (!record.ok()) {
      spdlog::error("skipping job directory {}: {}", entry.path().string(),
                    record.status().to_string());
      continue;
    }
    auto job = std::make_unique<Job>();
    job->record = std::move(*record);
    if (job->record.should_run) {
      spdlog::info("job '{}' resuming from its checkpoints", job->record.name);
      start(*job).ignore_error();  // recorded in job->failure and logged
    }
    std::string name = job->record.name;
    jobs_[name] = std::move(job);
  }
  return Status();
}

Status JobManager::start(Job& job) {
  job.failure = Status();
  auto fail = [&](const Status& s) {
    job.failure = s;
    spdlog::error("job '{}' failed to start: {}", job.record.name, s.to_string());
    return s;
  };
  dsl::JobConfig job_config;
  auto settings = split_config(job.record.config, job_config);
  if (!settings.ok()) return fail(settings.status());

  Result<dsl::JobDefinition> definition = internal_error("no job source");
  if (!job.record.sample.empty()) {
    const samples::SampleJob* sample = samples::find_sample(job.record.sample);
    if (sample == nullptr) return fail(not_found("unknown sample '" + job.record.sample + "'"));
    definition = sample->build(job_config);
  } else {
    if (job.library == nullptr) {
      auto library = JobLibrary::open(job_dir(job.record.name) + "/" + job.record.library_file);
      if (!library.ok()) return fail(library.status());
      job.library = std::move(*library);
    }
    definition = job.library->build(job_config);
  }
  if (!definition.ok()) return fail(definition.status());

  for (const auto& [topic, partitions] : definition->topics) {
    auto existing = log_.describe_topic(topic);
    if (existing.ok()) continue;
    if (existing.status().code() != StatusCode::kNotFound) return fail(existing.status());
    logstore::TopicConfig tc;
    tc.partitions = partitions;
    Status created = log_.create_topic(topic, tc);
    if (!created.ok() && created.code() != StatusCode::kAlreadyExists) return fail(created);
    spdlog::info("job '{}' created topic '{}' with {} partition(s)", job.record.name, topic,
                 partitions);
  }

  runtime::RuntimeConfig rc;
  rc.application_id = job.record.name;
  rc.state_dir = job_dir(job.record.name) + "/state";
  rc.threads = settings->threads;
  rc.commit_interval_ms =
      settings->commit_interval_ms > 0 ? settings->commit_interval_ms : options_.commit_interval_ms;
  rc.guarantee = settings->guarantee;
  rc.offset_reset = settings->offset_reset;
  if (settings->max_task_drift_ms) rc.max_task_drift_ms = *settings->max_task_drift_ms;
  rc.shared_memory_budget = options_.memory;
  const std::string name = job.record.name;
  rc.on_restore = [name](const state::RestoreProgress& p) {
    if (p.done) {
      spdlog::info("job '{}' restored store {} from {}: {} records", name, p.store,
                   p.changelog.to_string(), p.records);
    }
  };
  auto rt = runtime::Runtime::create(std::move(definition->topology), log_, std::move(rc));
  if (!rt.ok()) return fail(rt.status());
  if (Status s = (*rt)->start(); !s.ok()) return fail(s);
  job.runtime = std::move(*rt);
  spdlog::info("job '{}' started ({} thread(s), {})", job.record.name, settings->threads,
               runtime::guarantee_name(settings->guarantee));
  return Status();
}

void JobManager::stop_runtime(Job& job) {
  if (job.runtime == nullptr) return;
  job.runtime->stop();
  Status s = job.runtime->wait();
  if (!s.ok()) spdlog::warn("job '{}' stopped with: {}", job.record.name, s.to_string());
  job.runtime.reset();
  spdlog::info("job '{}' stopped", job.record.name);
}

Status JobManager::reset_state(const std::string& name) {
  auto it = jobs_.find(name);
  std::error_code ec;
  fs::remove_all(job_dir(name) + "/state", ec);
  if (ec) return io_error("cannot delete the state of job " + name + ": " + ec.message());
  if (it != jobs_.end()) {
    std::vector<std::string> internal = it->second->record.internal_topics;
    for (const auto& store : it->second->record.stores) {
      internal.push_back(name + "-" + store + "-changelog");
    }
    for (const auto& topic : internal) {
      Status s = log_.delete_topic(topic);
      if (!s.ok() && s.code() != StatusCode::kNotFound) return s;
    }
  }
  // Rewind the job's group to the start of its inputs: with its state gone it starts over.
  auto offsets = log_.group_offsets(name);
  if (!offsets.ok()) return offsets.status();
  logstore::OffsetMap rewind;
  for (const auto& [tp, committed] : *offsets) {
    auto ends = log_.partition_ends(tp);
    if (!ends.ok()) continue;  // a deleted internal topic
    rewind[tp] = {.offset = ends->log_start};
  }
  if (!rewind.empty()) SLUICE_RETURN_IF_ERROR(log_.commit_offsets(name, rewind));
  spdlog::info("job '{}': state, internal topics and input positions reset", name);
  return Status();
}

Result<v1::JobDescription> JobManager::submit(const v1::JobSpec& spec, const std::string& library) {
  SLUICE_RETURN_IF_ERROR(check_name(spec.name()));
  const bool is_sample = spec.source_case() == v1::JobSpec::kSample;
  if (!is_sample && spec.source_case() != v1::JobSpec::kLibraryName) {
    return invalid_argument(
        "a job needs a library (sluice job submit LIB.so) or a sample "
        "(--sample NAME)");
  }
  if (is_sample && samples::find_sample(spec.sample()) == nullptr) {
    std::string names;
    for (const auto& s : samples::sample_jobs()) names += (names.empty() ? "" : ", ") + s.name;
    return not_found("there is no sample '" + spec.sample() + "' (samples: " + names + ")");
  }
  if (!is_sample && library.empty()) {
    return invalid_argument("the job library " + spec.library_name() + " is empty");
  }
  std::map<std::string, std::string> config(spec.config().begin(), spec.config().end());
  dsl::JobConfig job_config;
  SLUICE_RETURN_IF_ERROR(split_config(config, job_config).status());

  MutexLock lock(mu_);
  auto existing = jobs_.find(spec.name());
  if (existing != jobs_.end() && !spec.replace()) {
    return already_exists("job '" + spec.name() +
                          "' exists: pick another name, or pass --replace to replace it (its "
                          "state is kept)");
  }
  if (spec.reset_state() && existing == jobs_.end()) {
    return invalid_argument("--reset-state goes with --replace of an existing job");
  }

  const std::string dir = job_dir(spec.name());
  const bool new_dir = !fs::exists(dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return io_error("cannot create " + dir + ": " + ec.message());
  auto discard = [&](const std::string& file) {
    if (!file.empty()) fs::remove(dir + "/" + file, ec);
    if (new_dir) fs::remove_all(dir, ec);
  };

  JobRecord record;
  record.name = spec.name();
  record.config = config;
  record.submitted_ms = now_ms();
  Result<JobCheck> check = internal_error("unchecked");
  if (is_sample) {
    record.sample = spec.sample();
    auto definition = samples::find_sample(spec.sample())->build(job_config);
    check = definition.ok() ? describe_job(*definition) : Result<JobCheck>(definition.status());
  } else {
    record.library_name = spec.library_name();
    record.library_file = "lib-" + std::to_string(record.submitted_ms) + ".so";
    // Durable before job.json names it: a restart must find it.
    if (Status s =
            write_file_atomically(FileSystem::posix(), dir + "/" + record.library_file, library);
        !s.ok()) {
      discard(record.library_file);
      return s.with_context("storing the job library in " + dir);
    }
    check = check_job_library(options_.cli, dir + "/" + record.library_file, job_config);
  }
  if (!check.ok()) {
    discard(record.library_file);
    return check.status().with_context("job '" + spec.name() + "' refused");
  }
  record.stores = check->stores;
  record.internal_topics = check->internal_topics;
  record.topology = check->topology;

  if (existing != jobs_.end()) {
    Job& old = *existing->second;
    std::vector<std::string> orphaned;
    for (const auto& store : old.record.stores) {
      if (!std::binary_search(record.stores.begin(), record.stores.end(), store)) {
        orphaned.push_back(store);
      }
    }
    if (!orphaned.empty() && !spec.reset_state()) {
      discard(record.library_file);
      std::string list;
      for (const auto& s : orphaned) list += (list.empty() ? "" : ", ") + s;
      return failed_precondition("the new topology of job '" + spec.name() + "' drops store(s) " +
                                 list +
                                 " that hold its state: keep their names, or pass --reset-state "
                                 "to delete the old state and start over");
    }
    stop_runtime(old);
    if (spec.reset_state()) SLUICE_RETURN_IF_ERROR(reset_state(spec.name()));
    if (!old.record.library_file.empty()) fs::remove(dir + "/" + old.record.library_file, ec);
    jobs_.erase(existing);
  }

  SLUICE_RETURN_IF_ERROR(persist(record));
  auto job = std::make_unique<Job>();
  job->record = std::move(record);
  Job& j = *job;
  jobs_[spec.name()] = std::move(job);
  spdlog::info("job '{}' submitted ({})", spec.name(),
               is_sample ? "sample " + spec.sample() : "library " + spec.library_name());
  SLUICE_RETURN_IF_ERROR(start(j));
  return description(j);
}

std::vector<v1::JobSummary> JobManager::list() {
  MutexLock lock(mu_);
  std::vector<v1::JobSummary> out;
  for (const auto& [name, job] : jobs_) out.push_back(summary(*job));
  return out;
}

Result<v1::JobDescription> JobManager::describe(const std::string& name) {
  MutexLock lock(mu_);
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return not_found("there is no job '" + name + "' (see `sluice job list`)");
  return description(*it->second);
}

Result<v1::JobDescription> JobManager::stop(const std::string& name) {
  MutexLock lock(mu_);
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return not_found("there is no job '" + name + "' (see `sluice job list`)");
  Job& job = *it->second;
  if (job.runtime == nullptr && !job.record.should_run) {
    return failed_precondition("job '" + name + "' is already stopped");
  }
  stop_runtime(job);
  job.record.should_run = false;
  SLUICE_RETURN_IF_ERROR(persist(job.record));
  return description(job);
}

Result<v1::JobDescription> JobManager::restart(const std::string& name) {
  MutexLock lock(mu_);
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return not_found("there is no job '" + name + "' (see `sluice job list`)");
  Job& job = *it->second;
  stop_runtime(job);
  job.record.should_run = true;
  SLUICE_RETURN_IF_ERROR(persist(job.record));
  SLUICE_RETURN_IF_ERROR(start(job));
  return description(job);
}

Status JobManager::remove(const std::string& name, bool reset) {
  MutexLock lock(mu_);
  auto it = jobs_.find(name);
  if (it == jobs_.end()) return not_found("there is no job '" + name + "' (see `sluice job list`)");
  stop_runtime(*it->second);
  if (reset) SLUICE_RETURN_IF_ERROR(reset_state(name));
  jobs_.erase(it);
  std::error_code ec;
  fs::remove_all(job_dir(name), ec);
  if (ec) return io_error("cannot delete " + job_dir(name) + ": " + ec.message());
  spdlog::info("job '{}' deleted{}", name, reset ? " with its state" : "");
  return Status();
}

Result<v1::QueryStoreResponse> JobManager::query(const v1::QueryStoreRequest& request) {
  MutexLock lock(mu_);
  auto it = jobs_.find(request.job());
  if (it == jobs_.end()) {
    return not_found("there is no job '" + request.job() + "' (see `sluice job list`)");
  }
  runtime::Runtime* rt = it->second->runtime.get();
  if (rt == nullptr || rt->status().state != runtime::RuntimeState::kRunning) {
    return failed_precondition("job '" + request.job() +
                               "' is not running: its stores answer queries while it runs "
                               "(sluice job restart " +
                               request.job() + ")");
  }
  const state::StoreSpec* spec = rt->topology().find_store(request.store());
  if (spec == nullptr) {
    std::string names;
    for (const auto& s : rt->topology().stores()) names += (names.empty() ? "" : ", ") + s.name;
    return not_found("job '" + request.job() + "' has no store '" + request.store() +
                     "' (its stores: " + (names.empty() ? "none" : names) + ")");
  }
  // Keys and values as raw bytes: the std::string serde is the identity.
  using Raw = std::string;
  auto each = [&](const std::function<Status(const operators::TaskStore&)>& fn) {
    return rt->for_each_store(request.store(),
                              [&fn](const runtime::StoreAccess& a) { return fn(a); });
  };
  v1::QueryStoreResponse response;
  const bool windowed = spec->kind == state::StoreKind::kWindow;
  const bool key_value = spec->kind == state::StoreKind::kKeyValue;
  response.set_kind(key_value ? "key-value" : windowed ? "window" : "session");
  switch (request.query_case()) {
    case v1::QueryStoreRequest::kKey: {
      if (!key_value) {
        return invalid_argument("store '" + request.store() + "' is a " + response.kind() +
                                " store: ask for a key's windows (--window-from/--window-to)");
      }
      SLUICE_ASSIGN_OR_RETURN(auto value, (operators::query_key<Raw, Raw>(each, request.key())));
      if (value) {
        v1::StoreEntry* e = response.add_entries();
        e->set_key(request.key());
        e->set_value(std::move(*value));
      }
      break;
    }
    case v1::QueryStoreRequest::kRange: {
      if (!key_value) {
        return invalid_argument("store '" + request.store() + "' is a " + response.kind() +
                                " store: ranges of keys are for key-value stores");
      }
      const v1::KeyRange& r = request.range();
      std::optional<Raw> from, to;
      if (r.has_from()) from = r.from();
      if (r.has_to()) to = r.to();
      SLUICE_ASSIGN_OR_RETURN(auto entries, (operators::query_key_range<Raw, Raw>(each, from, to)));
      const size_t limit = r.limit() > 0 ? static_cast<size_t>(r.limit()) : 10'000;
      for (auto& [k, v] : entries) {
        if (static_cast<size_t>(response.entries_size()) == limit) {
          response.set_truncated(true);
          break;
        }
        v1::StoreEntry* e = response.add_entries();
        e->set_key(std::move(k));
        e->set_value(std::move(v));
      }
      break;
    }
    case v1::QueryStoreRequest::kWindows: {
      if (!windowed) {
        return invalid_argument("store '" + request.store() + "' is a " + response.kind() +
                                " store: windows are for window stores");
      }
      const v1::WindowRange& w = request.windows();
      SLUICE_ASSIGN_OR_RETURN(auto windows,
                              (operators::query_key_windows<Raw, Raw>(
                                  each, w.key(), Timestamp(w.from_ms()), Timestamp(w.to_ms()))));
      for (auto& [start, v] : windows) {
        v1::StoreEntry* e = response.add_entries();
        e->set_key(w.key());
        e->set_value(std::move(v));
        e->set_window_start_ms(start.value());
      }
      break;
    }
    case v1::QueryStoreRequest::QUERY_NOT_SET:
      return invalid_argument("a store query asks for a key, a range or a key's windows");
  }
  return response;
}

void JobManager::shutdown() {
  MutexLock lock(mu_);
  for (auto& [name, job] : jobs_) stop_runtime(*job);
}

std::vector<JobManager::JobMetrics> JobManager::metrics() {
  MutexLock lock(mu_);
  std::vector<JobMetrics> out;
  for (const auto& [name, job] : jobs_) {
    JobMetrics m{.name = name, .state = summary(*job).state()};
    if (job->runtime) m.metrics = job->runtime->metrics();
    out.push_back(std::move(m));
  }
  return out;
}

v1::JobSummary JobManager::summary(const Job& job) const {
  v1::JobSummary s;
  s.set_name(job.record.name);
  s.set_source(job.record.sample.empty() ? "library " + job.record.library_name
                                         : "sample " + job.record.sample);
  s.set_submitted_ms(job.record.submitted_ms);
  if (job.runtime == nullptr) {
    s.set_state(job.failure.ok() ? v1::STOPPED : v1::FAILED);
    if (!job.failure.ok()) s.set_error(job.failure.to_string());
    return s;
  }
  runtime::RuntimeStatus status = job.runtime->status();
  switch (status.state) {
    case runtime::RuntimeState::kCreated:
      s.set_state(v1::STARTING);
      break;
    case runtime::RuntimeState::kRunning:
      s.set_state(status.tasks_restoring > 0 ? v1::RESTORING : v1::RUNNING);
      break;
    case runtime::RuntimeState::kStopping:
    case runtime::RuntimeState::kStopped:
      s.set_state(v1::STOPPED);
      break;
    case runtime::RuntimeState::kFailed:
      s.set_state(v1::FAILED);
      s.set_error(status.error.to_string());
      break;
  }
  return s;
}

v1::JobDescription JobManager::description(const Job& job) const {
  v1::JobDescription d;
  *d.mutable_summary() = summary(job);
  d.mutable_config()->insert(job.record.config.begin(), job.record.config.end());
  d.set_topology(job.record.topology);
  if (job.runtime == nullptr) return d;
  runtime::RuntimeMetrics m = job.runtime->metrics();
  int64_t records = 0, lag = 0;
  for (const runtime::TaskMetrics& t : m.tasks) {
    v1::TaskMetrics* tm = d.add_tasks();
    tm->set_id(t.id);
    tm->set_thread(t.thread);
    tm->set_restoring(t.restoring);
    tm->set_records_processed(t.operators.records_processed);
    tm->set_process_ns_per_record(t.process_ns_per_record);
    tm->set_stream_time_ms(t.stream_time_ms);
    tm->set_alignment_wait_ms(t.alignment_wait_ms);
    records += t.operators.records_processed;
    for (const runtime::InputLag& in : t.inputs) {
      v1::InputLag* l = tm->add_inputs();
      l->set_topic(in.partition.topic);
      l->set_partition(in.partition.partition.value());
      l->set_consumed(in.consumed.value());
      l->set_end(in.end.value());
      l->set_lag(in.lag());
      lag += in.lag();
    }
    for (const auto& [node, nm] : t.operators.nodes) {
      v1::OperatorMetrics* om = tm->add_operators();
      om->set_name(node);
      om->set_records_in(nm.records_in);
      om->set_records_out(nm.records_out);
      om->set_late_dropped(nm.late_dropped);
    }
    for (const state::StoreMetrics& sm : t.state.stores) {
      v1::StoreMetrics* st = tm->add_stores();
      st->set_name(sm.name);
      st->set_estimated_keys(static_cast<int64_t>(sm.estimated_keys));
      st->set_disk_bytes(static_cast<int64_t>(sm.disk_bytes));
      st->set_restored_records(sm.restored_records);
    }
    for (const state::RestoreProgress& rp : t.restore) {
      v1::RestoreProgress* r = tm->add_restore();
      r->set_store(rp.store);
      r->set_records(rp.records);
      r->set_records_total(rp.records_total);
      r->set_records_per_s(rp.records_per_s);
      r->set_eta_s(rp.eta_s);
      r->set_done(rp.done);
    }
  }
  int64_t commits = 0;
  double latency_sum = 0;
  for (const runtime::ThreadMetrics& t : m.threads) {
    commits += t.commits;
    latency_sum += t.commit_latency_avg_ms * static_cast<double>(t.commits);
  }
  d.set_records_processed(records);
  d.set_total_lag(lag);
  d.set_commits(commits);
  d.set_commit_latency_avg_ms(commits > 0 ? latency_sum / static_cast<double>(commits) : 0);
  return d;
}

}  // namespace sluice::server
