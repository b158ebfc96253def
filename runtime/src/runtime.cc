#include "sluice/runtime/runtime.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <tbb/parallel_for_each.h>
#include <tbb/task_arena.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "sluice/base/mutex.h"
#include "sluice/logstore/log_store.h"
#include "stream_thread.h"
#include "stream_time_alignment.h"
#include "task.h"

namespace sluice::runtime {

std::string_view guarantee_name(ProcessingGuarantee g) {
  return g == ProcessingGuarantee::kExactlyOnce ? "exactly_once" : "at_least_once";
}

Result<ProcessingGuarantee> parse_guarantee(std::string_view name) {
  if (name == "exactly_once") return ProcessingGuarantee::kExactlyOnce;
  if (name == "at_least_once") return ProcessingGuarantee::kAtLeastOnce;
  return invalid_argument("unknown processing guarantee '" + std::string(name) +
                          "' (exactly_once or at_least_once)");
}

std::string_view state_name(RuntimeState s) {
  switch (s) {
    case RuntimeState::kCreated:
      return "created";
    case RuntimeState::kRunning:
      return "running";
    case RuntimeState::kStopping:
      return "stopping";
    case RuntimeState::kStopped:
      return "stopped";
    case RuntimeState::kFailed:
      return "failed";
  }
  return "unknown";
}

namespace {

Status validate(const RuntimeConfig& c) {
  if (c.application_id.empty()) return invalid_argument("the runtime needs an application id");
  for (char ch : c.application_id) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_' && ch != '.') {
      return invalid_argument("application id '" + c.application_id +
                              "' may only hold letters, digits, '.', '_' and '-'");
    }
  }
  if (c.state_dir.empty()) return invalid_argument("the runtime needs a state directory");
  if (c.threads < 1) return invalid_argument("threads must be at least 1");
  if (c.commit_interval_ms < 1) return invalid_argument("commit interval must be at least 1 ms");
  if (c.restore_parallelism < 1) return invalid_argument("restore parallelism must be at least 1");
  return Status();
}

// The stream threads ever used by this application in this state directory: their
// transactional ids are fenced at start even when fewer threads run now.
constexpr std::string_view kThreadsFile = "stream-threads";

int read_thread_count(const std::string& state_dir) {
  std::ifstream in(state_dir + "/" + std::string(kThreadsFile));
  int n = 0;
  return (in >> n) ? n : 0;
}

Status write_small_file(const std::string& path, const std::string& content) {
  std::ofstream out(path + ".tmp", std::ios::trunc);
  out << content << "\n";
  out.close();
  if (!out) return io_error("cannot write " + path);
  std::error_code ec;
  std::filesystem::rename(path + ".tmp", path, ec);
  return ec ? io_error("cannot write " + path + ": " + ec.message()) : Status();
}

Status write_thread_count(const std::string& state_dir, int n) {
  return write_small_file(state_dir + "/" + std::string(kThreadsFile), std::to_string(n));
}

// The instance's generated name, kept so that its transactional ids survive restarts.
constexpr std::string_view kInstanceFile = "instance-id";

Result<std::string> instance_id(const std::string& state_dir) {
  const std::string path = state_dir + "/" + std::string(kInstanceFile);
  std::string id;
  if (std::ifstream in(path); in >> id && !id.empty()) return id;
  std::random_device rd;
  id = fmt::format("{:08x}", rd());
  SLUICE_RETURN_IF_ERROR(write_small_file(path, id));
  return id;
}

class RuntimeImpl final : public Runtime, private logstore::RebalanceListener {
 public:
  RuntimeImpl(operators::Topology topology, logstore::LogClient& log, RuntimeConfig config,
              std::unique_ptr<logstore::LogStore> owned)
      : owned_log_(std::move(owned)),
        topology_(std::move(topology)),
        log_(log),
        config_(std::move(config)) {}

  ~RuntimeImpl() override {
    stop();
    Status s = wait();
    (void)s;  // reported by wait() to whoever asked; nothing more to do while destroying
  }

  Status start() override;
  void stop() override;
  Status wait() override;
  Status run_until_signal() override;
  RuntimeStatus status() const override;
  RuntimeMetrics metrics() const override;
  bool caught_up() override;
  const operators::Topology& topology() const override { return topology_; }
  logstore::LogClient& log() override { return log_; }
  Status for_each_store(std::string_view store,
                        const std::function<Status(const StoreAccess&)>& fn) override;

 private:
  Status start_impl();
  Status plan_and_create_topics();
  Status join_group();
  Result<std::vector<std::unique_ptr<logstore::Producer>>> fence_and_create_producers();
  Status create_threads(std::vector<std::unique_ptr<logstore::Producer>> producers);
  struct ToOpen {
    TaskId id;
    int thread = 0;
    int64_t epoch = 0;  // of the assignment that asked for it
  };
  void open_tasks();
  void open_one(const ToOpen& t);
  // The tasks with an input among the partitions (`whole`: only those with all of them).
  std::vector<TaskId> tasks_of(const std::vector<logstore::TopicPartition>& partitions,
                               bool whole) const;
  void add_tasks(const std::vector<TaskId>& ids) SLUICE_REQUIRES(mu_);
  int total_tasks() const;
  // logstore::RebalanceListener (the group's thread).
  void on_revoked(const std::vector<logstore::TopicPartition>& partitions, bool lost) override;
  void on_assigned(const std::vector<logstore::TopicPartition>& partitions) override;
  void on_failed(const Status& error) override;
  void fail(const Status& s);
  void join_all();
  void record_restore(const std::string& task, const state::RestoreProgress& p);

  // Declared first: the owned log is closed after the threads and tasks are gone.
  std::unique_ptr<logstore::LogStore> owned_log_;
  operators::Topology topology_;
  logstore::LogClient& log_;
  RuntimeConfig config_;
  operators::TopicPlan plan_;
  TaskEnvironment env_;
  std::unique_ptr<StreamTimeAlignment> alignment_;  // env_.alignment
  std::vector<std::unique_ptr<StreamThread>> threads_;
  // Opens tasks as they come, restore_parallelism at a time (a oneTBB arena it joins as
  // master, so it works even where oneTBB has no worker threads to spare).
  std::jthread opener_;
  Mutex join_mu_;  // one joiner at a time
  // The log topics of each sub-topology's inputs (a group member's subscription).
  std::map<std::string, int> subtopology_of_topic_;
  // Set when the log shares partitions through a consumer group: which tasks run here
  // follows the group's assignment. Left (reset) once the threads are joined: it calls
  // on_revoked() as it leaves. `grouped_` says whether there was one (fixed at start).
  std::unique_ptr<logstore::GroupMembership> membership_;
  bool grouped_ = false;

  mutable Mutex mu_;
  CondVar changed_;
  RuntimeState state_ SLUICE_GUARDED_BY(mu_) = RuntimeState::kCreated;
  Status error_ SLUICE_GUARDED_BY(mu_);
  std::map<std::string, std::map<std::string, state::RestoreProgress>> restore_
      SLUICE_GUARDED_BY(mu_);
  // The tasks this runtime owns (opening or running), with the thread that runs each.
  std::vector<std::pair<TaskId, int>> tasks_ SLUICE_GUARDED_BY(mu_);
  // Each owned task's assignment: an open that finishes for an older one (the task was
  // revoked, and maybe assigned again, meanwhile) closes what it opened instead of running it.
  std::map<TaskId, int64_t> epochs_ SLUICE_GUARDED_BY(mu_);
  int64_t next_epoch_ SLUICE_GUARDED_BY(mu_) = 0;
  std::vector<ToOpen> to_open_ SLUICE_GUARDED_BY(mu_);  // not yet picked up by the opener
  int next_thread_ SLUICE_GUARDED_BY(mu_) = 0;
};

Status RuntimeImpl::start() {
  {
    MutexLock lock(mu_);
    if (state_ != RuntimeState::kCreated) {
      return failed_precondition("the runtime was already started");
    }
  }
  Status s = start_impl();
  if (!s.ok() && membership_) {
    {
      // The group's thread may wait in on_assigned() for the start: it gives up now.
      MutexLock lock(mu_);
      state_ = RuntimeState::kFailed;
      error_ = s;
      changed_.notify_all();
    }
    membership_.reset();
  }
  return s;
}

Status RuntimeImpl::start_impl() {
  SLUICE_RETURN_IF_ERROR(validate(config_));
  if (!topology_.built()) SLUICE_RETURN_IF_ERROR(topology_.build());
  std::error_code ec;
  std::filesystem::create_directories(config_.state_dir, ec);
  if (ec)
    return io_error("cannot create state directory " + config_.state_dir + ": " + ec.message());
  SLUICE_RETURN_IF_ERROR(plan_and_create_topics());
  env_ = TaskEnvironment{.topology = &topology_,
                         .plan = &plan_,
                         .config = &config_,
                         .log = &log_,
                         .clock = config_.clock,
                         .budget = config_.shared_memory_budget ? config_.shared_memory_budget
                                                                : state::StateMemoryBudget::create(
                                                                      config_.memory_budget_bytes)};
  // Split as if every task ran here: a group member may take over any of them.
  env_.cache_bytes_per_task =
      config_.record_cache_bytes / static_cast<size_t>(std::max(1, total_tasks()));
  std::vector<std::pair<int, int32_t>> tasks;
  for (const auto& st : topology_.subtopologies()) {
    tasks.emplace_back(st.id, task_count(topology_, plan_, st.id));
  }
  alignment_ = std::make_unique<StreamTimeAlignment>(tasks, config_.max_task_drift_ms);
  env_.alignment = alignment_.get();
  SLUICE_RETURN_IF_ERROR(join_group());
  SLUICE_ASSIGN_OR_RETURN(auto producers, fence_and_create_producers());
  SLUICE_RETURN_IF_ERROR(create_threads(std::move(producers)));
  {
    MutexLock lock(mu_);
    state_ = RuntimeState::kRunning;
    if (!grouped_) {
      std::vector<TaskId> all;
      for (const auto& st : topology_.subtopologies()) {
        for (int32_t p = 0; p < task_count(topology_, plan_, st.id); ++p) {
          all.push_back(TaskId{st.id, PartitionId(p)});
        }
      }
      add_tasks(all);
    }
    changed_.notify_all();
  }
  if (grouped_) {
    spdlog::info(
        "{}: member of consumer group {} on {} stream threads, {}, commit every {} ms; "
        "tasks follow the group's assignment",
        config_.application_id, config_.application_id, config_.threads,
        guarantee_name(config_.guarantee), config_.commit_interval_ms);
  } else {
    spdlog::info("{}: {} tasks on {} stream threads, {}, commit every {} ms",
                 config_.application_id, total_tasks(), config_.threads,
                 guarantee_name(config_.guarantee), config_.commit_interval_ms);
  }
  for (auto& t : threads_) t->start();
  opener_ = std::jthread([this] { open_tasks(); });
  return Status();
}

int RuntimeImpl::total_tasks() const {
  int n = 0;
  for (const auto& st : topology_.subtopologies()) n += task_count(topology_, plan_, st.id);
  return n;
}

// On a log that shares partitions between processes, this runtime is one member of the
// application's group; elsewhere (kUnimplemented) it runs every task.
Status RuntimeImpl::join_group() {
  std::vector<std::string> topics;
  std::string unequal;  // a sub-topology whose inputs differ in partition count
  for (const auto& st : topology_.subtopologies()) {
    for (const auto& t : st.source_topics) {
      if (plan_.partitions_of(t) != plan_.partitions_of(st.source_topics.front())) {
        unequal = "sub-topology " + std::to_string(st.id) + " reads topics with different " +
                  "partition counts (" + plan_.log_name(st.source_topics.front()) + " and " +
                  plan_.log_name(t) + ")";
      }
      subtopology_of_topic_[plan_.log_name(t)] = st.id;
      topics.push_back(plan_.log_name(t));
    }
  }
  auto joined = log_.join_group(config_.application_id, topics, *this);
  if (joined.status().code() == StatusCode::kUnimplemented) {
    subtopology_of_topic_.clear();
    return Status();  // one runtime owns every task: any partition counts do
  }
  if (!joined.ok())
    return joined.status().with_context("joining consumer group " + config_.application_id);
  membership_ = std::move(*joined);
  grouped_ = true;
  if (!unequal.empty()) {
    return failed_precondition(unequal +
                               ": in a consumer group their partitions could go to different "
                               "members; give them the same number of partitions");
  }
  return Status();
}

std::vector<TaskId> RuntimeImpl::tasks_of(const std::vector<logstore::TopicPartition>& partitions,
                                          bool whole) const {
  std::map<TaskId, size_t> inputs;  // of each task among the partitions
  for (const auto& tp : partitions) {
    auto it = subtopology_of_topic_.find(tp.topic);
    if (it != subtopology_of_topic_.end()) ++inputs[TaskId{it->second, tp.partition}];
  }
  std::vector<TaskId> out;
  for (const auto& [id, n] : inputs) {
    const auto& sources =
        topology_.subtopologies()[static_cast<size_t>(id.subtopology)].source_topics;
    if (!whole || n == sources.size()) out.push_back(id);
  }
  return out;
}

void RuntimeImpl::add_tasks(const std::vector<TaskId>& ids) {
  for (const TaskId& id : ids) {
    const bool owned = std::ranges::any_of(tasks_, [&](const auto& t) { return t.first == id; });
    if (owned) continue;
    const int thread = next_thread_++ % config_.threads;
    tasks_.push_back({id, thread});
    epochs_[id] = ++next_epoch_;
    to_open_.push_back({id, thread, next_epoch_});
  }
}

void RuntimeImpl::on_assigned(const std::vector<logstore::TopicPartition>& partitions) {
  // A task runs where all its inputs are: the range assignor keeps them together.
  const std::vector<TaskId> ids = tasks_of(partitions, /*whole=*/true);
  MutexLock lock(mu_);
  while (state_ == RuntimeState::kCreated) changed_.wait(mu_);  // start() is still on its way
  if (state_ != RuntimeState::kRunning) return;
  std::string names;
  for (const TaskId& id : ids) names += (names.empty() ? "" : " ") + id.to_string();
  spdlog::info("{}: assigned tasks {}", config_.application_id, names.empty() ? "(none)" : names);
  add_tasks(ids);
  changed_.notify_all();
}

// Before the partitions go, everything done on them is committed and their tasks closed: the
// next owner resumes from the committed positions and restores the stores from the changelogs
// this member wrote. Lost partitions are another's already: their uncommitted work is dropped.
// A task still being opened is not waited for: the open sees it was revoked and closes it.
void RuntimeImpl::on_revoked(const std::vector<logstore::TopicPartition>& partitions, bool lost) {
  const std::vector<TaskId> ids = tasks_of(partitions, /*whole=*/false);
  const std::set<TaskId> revoked(ids.begin(), ids.end());
  {
    MutexLock lock(mu_);
    std::erase_if(to_open_, [&](const ToOpen& t) { return revoked.contains(t.id); });
    std::erase_if(tasks_, [&](const auto& t) { return revoked.contains(t.first); });
    for (const TaskId& id : revoked) epochs_.erase(id);
  }
  for (auto& thread : threads_) {
    Status s = thread->release([&](const TaskId& id) { return revoked.contains(id); }, !lost);
    if (!s.ok() && s.code() != StatusCode::kUnavailable) {
      spdlog::error("{}: committing tasks before giving up their partitions: {}",
                    config_.application_id, s.to_string());
    }
  }
  if (!revoked.empty()) {
    spdlog::info("{}: gave up {} tasks{}", config_.application_id, revoked.size(),
                 lost ? " (lost: the group had already dropped this member)" : "");
  }
}

Status RuntimeImpl::plan_and_create_topics() {
  auto external = [this](const std::string& topic) -> Result<int32_t> {
    auto d = log_.describe_topic(topic);
    if (d.status().code() == StatusCode::kNotFound) {
      return not_found("topic '" + topic + "' does not exist: create it first (sluice topic " +
                       "create " + topic + " --partitions N)");
    }
    SLUICE_RETURN_IF_ERROR(d.status());
    return static_cast<int32_t>(d->partitions.size());
  };
  SLUICE_ASSIGN_OR_RETURN(plan_,
                          operators::plan_topics(topology_, config_.application_id, external));
  for (const auto& name : plan_.internal) {
    logstore::TopicConfig tc;
    tc.partitions = plan_.partitions_of(name);
    // Records leave once consumed (purged after each commit), never by age: their timestamps
    // are the events' own, which may be far in the past.
    tc.retention_ms = -1;
    Status s = log_.create_topic(plan_.log_name(name), tc);
    if (s.code() == StatusCode::kAlreadyExists) {
      SLUICE_ASSIGN_OR_RETURN(auto d, log_.describe_topic(plan_.log_name(name)));
      if (static_cast<int32_t>(d.partitions.size()) != tc.partitions) {
        return failed_precondition(
            "repartition topic " + plan_.log_name(name) + " has " +
            std::to_string(d.partitions.size()) + " partitions but the job needs " +
            std::to_string(tc.partitions) + " (its inputs changed): delete it and the " +
            "job's state to start over");
      }
    } else {
      SLUICE_RETURN_IF_ERROR(s);
    }
  }
  return Status();
}

// Every transactional id this application used is re-initialised: that aborts (or completes)
// transactions a crashed or replaced instance left open and fences it, before any task reads.
//
// In a consumer group every instance has its own ids, `<application-id>-<instance>-<thread>`:
// instances fence only their own earlier lives, never each other.
Result<std::vector<std::unique_ptr<logstore::Producer>>> RuntimeImpl::fence_and_create_producers() {
  const int before = read_thread_count(config_.state_dir);
  const int ids = std::max(before, config_.threads);
  std::string prefix = config_.application_id + "-";
  if (grouped_) {
    std::string instance = config_.instance_id;
    if (instance.empty()) {
      SLUICE_ASSIGN_OR_RETURN(instance, instance_id(config_.state_dir));
    }
    prefix += instance + "-";
  }
  std::vector<std::unique_ptr<logstore::Producer>> out;
  for (int i = 0; i < ids; ++i) {
    logstore::ProducerConfig pc;
    pc.transactional_id = prefix + std::to_string(i);
    SLUICE_ASSIGN_OR_RETURN(auto producer, log_.create_producer(pc));
    if (i < config_.threads && config_.guarantee == ProcessingGuarantee::kExactlyOnce) {
      out.push_back(std::move(producer));
    }
  }
  if (ids != before) SLUICE_RETURN_IF_ERROR(write_thread_count(config_.state_dir, ids));
  return out;
}

Status RuntimeImpl::create_threads(std::vector<std::unique_ptr<logstore::Producer>> producers) {
  for (int i = 0; i < config_.threads; ++i) {
    StreamThread::Options o;
    o.index = i;
    o.env = &env_;
    if (!producers.empty()) o.producer = std::move(producers[static_cast<size_t>(i)]);
    if (!topology_.global_tables().empty()) {
      state::TaskStateOptions go;
      go.state_dir = config_.state_dir + "/global-" + std::to_string(i);
      go.application_id = config_.application_id;
      go.persistent = config_.persistent_stores;
      go.budget = env_.budget;
      go.clock = config_.clock;
      SLUICE_ASSIGN_OR_RETURN(o.globals, state::TaskState::open(go));
    }
    o.on_failure = [this](const Status& s) { fail(s); };
    threads_.push_back(std::make_unique<StreamThread>(std::move(o)));
  }
  return Status();
}

// Batches one after the other: a task revoked and assigned again while it opens is opened
// again only once that first open is over (and has closed what it opened).
void RuntimeImpl::open_tasks() {
  tbb::task_arena arena(config_.restore_parallelism);
  for (;;) {
    std::vector<ToOpen> batch;
    {
      MutexLock lock(mu_);
      while (to_open_.empty() && state_ == RuntimeState::kRunning) changed_.wait(mu_);
      if (state_ != RuntimeState::kRunning) return;
      batch.swap(to_open_);
    }
    arena.execute([&] {
      tbb::parallel_for_each(batch.begin(), batch.end(), [this](const ToOpen& t) { open_one(t); });
    });
  }
}

void RuntimeImpl::open_one(const ToOpen& t) {
  auto current = [&]() SLUICE_REQUIRES(mu_) {
    auto it = epochs_.find(t.id);
    return state_ == RuntimeState::kRunning && it != epochs_.end() && it->second == t.epoch;
  };
  {
    MutexLock lock(mu_);
    if (!current()) return;
  }
  const std::string name = t.id.to_string();
  StreamThread* owner = threads_[static_cast<size_t>(t.thread)].get();
  auto task = open_task(
      env_, t.id, t.thread,
      [this, name](const state::RestoreProgress& p) { record_restore(name, p); },
      [owner](std::string_view store) { return owner->global_store(store); });
  bool revoked = false;
  {
    MutexLock lock(mu_);
    revoked = !current();
    if (!revoked && task.ok()) {
      // Under the lock: a revocation after this finds the task among the thread's.
      owner->adopt(std::move(*task));
      return;
    }
  }
  if (revoked) {  // while it opened: nothing was written to it since it was restored
    if (task.ok()) {
      Status closed = (*task)->state->close();
      if (!closed.ok()) spdlog::warn("closing revoked task {}: {}", name, closed.to_string());
    }
    return;
  }
  fail(Status(task.status().code(), "opening task " + name + ": " + task.status().message()));
}

void RuntimeImpl::record_restore(const std::string& task, const state::RestoreProgress& p) {
  if (config_.on_restore) config_.on_restore(p);
  MutexLock lock(mu_);
  restore_[task][p.store] = p;
}

void RuntimeImpl::fail(const Status& s) {
  {
    MutexLock lock(mu_);
    if (state_ == RuntimeState::kFailed) return;
    if (error_.ok()) error_ = s;
    state_ = RuntimeState::kFailed;
    changed_.notify_all();
  }
  spdlog::error("{} failed: {}", config_.application_id, s.to_string());
  for (auto& t : threads_) t->request_stop();
}

void RuntimeImpl::stop() {
  {
    MutexLock lock(mu_);
    if (state_ != RuntimeState::kRunning) return;
    state_ = RuntimeState::kStopping;
    changed_.notify_all();
  }
  spdlog::info("{}: stopping (committing what was processed)", config_.application_id);
  for (auto& t : threads_) t->request_stop();
}

void RuntimeImpl::join_all() {
  MutexLock lock(join_mu_);
  if (opener_.joinable()) opener_.join();
  for (auto& t : threads_) t->join();
  // A stopped runtime leaves the group: its partitions go to the other members at once.
  membership_.reset();
}

void RuntimeImpl::on_failed(const Status& error) {
  {
    MutexLock lock(mu_);
    while (state_ == RuntimeState::kCreated) changed_.wait(mu_);  // the threads exist then
  }
  // The partitions may be another member's already: drop the uncommitted work rather than
  // let the stop that follows commit it.
  for (auto& thread : threads_) {
    Status s = thread->release([](const TaskId&) { return true; }, /*commit=*/false);
    (void)s;  // a stopped thread has nothing left to drop
  }
  fail(error.with_context("consumer group " + config_.application_id));
}

Status RuntimeImpl::wait() {
  {
    MutexLock lock(mu_);
    if (state_ == RuntimeState::kCreated) return Status();
    while (state_ == RuntimeState::kRunning) changed_.wait(mu_);
  }
  join_all();
  MutexLock lock(mu_);
  if (state_ == RuntimeState::kStopping) {
    state_ = RuntimeState::kStopped;
    spdlog::info("{}: stopped", config_.application_id);
  }
  return error_;
}

Status RuntimeImpl::run_until_signal() {
  sigset_t signals, previous;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  // Blocked before the threads exist, so they inherit it and the signal comes to us.
  pthread_sigmask(SIG_BLOCK, &signals, &previous);
  Status s = start();
  if (s.ok()) {
    for (;;) {
      timespec timeout{0, 100'000'000};
      const int sig = sigtimedwait(&signals, nullptr, &timeout);
      if (sig > 0) {
        spdlog::info("{}: received {}", config_.application_id, strsignal(sig));
        break;
      }
      if (status().state != RuntimeState::kRunning) break;
    }
    stop();
    s = wait();
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return s;
}

RuntimeStatus RuntimeImpl::status() const {
  RuntimeStatus out;
  {
    MutexLock lock(mu_);
    out.state = state_;
    out.error = error_;
  }
  {
    MutexLock lock(mu_);
    out.tasks = static_cast<int>(tasks_.size());
  }
  int running = 0;
  for (const auto& t : threads_) running += t->running_tasks();
  out.tasks_restoring = out.state == RuntimeState::kRunning ? out.tasks - running : 0;
  return out;
}

RuntimeMetrics RuntimeImpl::metrics() const {
  RuntimeMetrics out;
  for (const auto& t : threads_) {
    auto tasks = t->task_metrics();
    out.tasks.insert(out.tasks.end(), tasks.begin(), tasks.end());
    out.threads.push_back(t->thread_metrics());
  }
  {
    MutexLock lock(mu_);
    // Tasks still opening, and none that left this member since the threads published.
    std::set<std::string> owned;
    for (const auto& t : tasks_) owned.insert(t.first.to_string());
    std::erase_if(out.tasks, [&](const TaskMetrics& m) { return !owned.contains(m.id); });
    for (const auto& [id, thread] : tasks_) {
      const std::string name = id.to_string();
      if (std::ranges::find(out.tasks, name, &TaskMetrics::id) == out.tasks.end()) {
        out.tasks.push_back(TaskMetrics{.id = name, .thread = thread, .restoring = true});
      }
    }
    for (auto& m : out.tasks) {
      auto it = restore_.find(m.id);
      if (it == restore_.end()) continue;
      for (const auto& [store, p] : it->second) m.restore.push_back(p);
    }
  }
  std::ranges::sort(out.tasks, {}, &TaskMetrics::id);
  if (env_.budget) out.memory = env_.budget->usage();
  return out;
}

bool RuntimeImpl::caught_up() {
  const RuntimeStatus st = status();
  if (st.state != RuntimeState::kRunning || st.tasks_restoring > 0) return false;
  if (st.tasks == 0 && grouped_) return false;  // no assignment yet
  for (const auto& t : metrics().tasks) {
    for (const auto& in : t.inputs) {
      auto committed = log_.committed_offset(config_.application_id, in.partition);
      auto ends = log_.partition_ends(in.partition);
      if (!committed.ok() || !ends.ok() || !*committed ||
          (*committed)->offset < ends->stable.offset()) {
        return false;
      }
    }
  }
  return true;
}

Status RuntimeImpl::for_each_store(std::string_view store,
                                   const std::function<Status(const StoreAccess&)>& fn) {
  const state::StoreSpec* spec = topology_.find_store(store);
  if (!spec) return not_found("the topology has no store named '" + std::string(store) + "'");
  if (status().state != RuntimeState::kRunning) {
    return unavailable("the runtime is not running (" + std::string(state_name(status().state)) +
                       ")");
  }
  std::set<int> holders;  // sub-topologies with the store
  for (const auto& st : topology_.subtopologies()) {
    if (std::ranges::find(st.stores, spec->name) != st.stores.end()) holders.insert(st.id);
  }
  int expected = 0;  // of this runtime's tasks
  {
    MutexLock lock(mu_);
    for (const auto& t : tasks_) expected += holders.contains(t.first.subtopology) ? 1 : 0;
  }
  int visited = 0;
  for (auto& thread : threads_) {
    SLUICE_RETURN_IF_ERROR(thread->call([&](std::vector<Task*>& tasks) -> Status {
      for (Task* t : tasks) {
        if (!holders.contains(t->id.subtopology)) continue;
        ++visited;
        StoreAccess access;
        access.state = t->state.get();
        access.spec = spec;
        access.timestamped = topology_.is_timestamped(store);
        access.task_id = t->id.to_string();
        access.partition = t->id.partition;
        SLUICE_RETURN_IF_ERROR(fn(access));
      }
      return Status();
    }));
  }
  if (visited < expected) {
    return unavailable("store '" + std::string(store) +
                       "' is not queryable yet: " + std::to_string(expected - visited) +
                       " of its " + std::to_string(expected) + " tasks are still restoring");
  }
  return Status();
}

}  // namespace

Result<std::unique_ptr<Runtime>> Runtime::create(operators::Topology topology,
                                                 logstore::LogClient& log, RuntimeConfig config) {
  SLUICE_RETURN_IF_ERROR(validate(config));
  if (!topology.built()) SLUICE_RETURN_IF_ERROR(topology.build());
  return std::unique_ptr<Runtime>(
      new RuntimeImpl(std::move(topology), log, std::move(config), nullptr));
}

Result<std::unique_ptr<Runtime>> Runtime::open(operators::Topology topology, std::string log_dir,
                                               RuntimeConfig config) {
  SLUICE_RETURN_IF_ERROR(validate(config));
  if (!topology.built()) SLUICE_RETURN_IF_ERROR(topology.build());
  logstore::LogStoreOptions options;
  options.data_dir = std::move(log_dir);
  SLUICE_ASSIGN_OR_RETURN(auto log, logstore::LogStore::open(options));
  logstore::LogClient& client = *log;
  return std::unique_ptr<Runtime>(
      new RuntimeImpl(std::move(topology), client, std::move(config), std::move(log)));
}

}  // namespace sluice::runtime
