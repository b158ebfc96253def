#include "sluice/runtime/runtime.h"

#include <pthread.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <tbb/parallel_for_each.h>
#include <tbb/task_arena.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "sluice/base/mutex.h"
#include "sluice/logstore/log_store.h"
#include "stream_thread.h"
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

Status write_thread_count(const std::string& state_dir, int n) {
  const std::string path = state_dir + "/" + std::string(kThreadsFile);
  std::ofstream out(path + ".tmp", std::ios::trunc);
  out << n << "\n";
  out.close();
  if (!out) return io_error("cannot write " + path);
  std::error_code ec;
  std::filesystem::rename(path + ".tmp", path, ec);
  return ec ? io_error("cannot write " + path + ": " + ec.message()) : Status();
}

class RuntimeImpl final : public Runtime {
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
  Status plan_and_create_topics();
  Result<std::vector<std::unique_ptr<logstore::Producer>>> fence_and_create_producers();
  Status create_threads(std::vector<std::unique_ptr<logstore::Producer>> producers);
  void schedule_tasks();
  void open_one(TaskId id, int thread);
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
  std::vector<std::pair<TaskId, int>> tasks_;  // with the thread that runs each
  std::vector<std::unique_ptr<StreamThread>> threads_;
  // Opens every task, restore_parallelism at a time (a oneTBB arena it joins as master, so
  // it works even where oneTBB has no worker threads to spare).
  std::jthread opener_;
  Mutex join_mu_;  // one joiner at a time

  mutable Mutex mu_;
  CondVar changed_;
  RuntimeState state_ SLUICE_GUARDED_BY(mu_) = RuntimeState::kCreated;
  Status error_ SLUICE_GUARDED_BY(mu_);
  std::map<std::string, std::map<std::string, state::RestoreProgress>> restore_
      SLUICE_GUARDED_BY(mu_);
};

Status RuntimeImpl::start() {
  {
    MutexLock lock(mu_);
    if (state_ != RuntimeState::kCreated) {
      return failed_precondition("the runtime was already started");
    }
  }
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
  for (const auto& st : topology_.subtopologies()) {
    for (int32_t p = 0; p < task_count(topology_, plan_, st.id); ++p) {
      tasks_.push_back(
          {TaskId{st.id, PartitionId(p)}, static_cast<int>(tasks_.size()) % config_.threads});
    }
  }
  env_.cache_bytes_per_task = tasks_.empty() ? 0 : config_.record_cache_bytes / tasks_.size();
  SLUICE_ASSIGN_OR_RETURN(auto producers, fence_and_create_producers());
  SLUICE_RETURN_IF_ERROR(create_threads(std::move(producers)));
  {
    MutexLock lock(mu_);
    state_ = RuntimeState::kRunning;
  }
  spdlog::info("{}: {} tasks on {} stream threads, {}, commit every {} ms", config_.application_id,
               tasks_.size(), config_.threads, guarantee_name(config_.guarantee),
               config_.commit_interval_ms);
  for (auto& t : threads_) t->start();
  schedule_tasks();
  return Status();
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
Result<std::vector<std::unique_ptr<logstore::Producer>>> RuntimeImpl::fence_and_create_producers() {
  const int before = read_thread_count(config_.state_dir);
  const int ids = std::max(before, config_.threads);
  std::vector<std::unique_ptr<logstore::Producer>> out;
  for (int i = 0; i < ids; ++i) {
    logstore::ProducerConfig pc;
    pc.transactional_id = config_.application_id + "-" + std::to_string(i);
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

void RuntimeImpl::schedule_tasks() {
  opener_ = std::jthread([this] {
    tbb::task_arena arena(config_.restore_parallelism);
    arena.execute([this] {
      tbb::parallel_for_each(tasks_.begin(), tasks_.end(),
                             [this](const auto& task) { open_one(task.first, task.second); });
    });
  });
}

void RuntimeImpl::open_one(TaskId id, int thread) {
  {
    MutexLock lock(mu_);
    if (state_ != RuntimeState::kRunning) return;
  }
  const std::string name = id.to_string();
  StreamThread* owner = threads_[static_cast<size_t>(thread)].get();
  auto task = open_task(
      env_, id, thread, [this, name](const state::RestoreProgress& p) { record_restore(name, p); },
      [owner](std::string_view store) { return owner->global_store(store); });
  if (!task.ok()) {
    fail(Status(task.status().code(), "opening task " + name + ": " + task.status().message()));
    return;
  }
  owner->adopt(std::move(*task));
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
  out.tasks = static_cast<int>(tasks_.size());
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
  for (const auto& [id, thread] : tasks_) {
    const std::string name = id.to_string();
    if (std::ranges::find(out.tasks, name, &TaskMetrics::id) == out.tasks.end()) {
      out.tasks.push_back(TaskMetrics{.id = name, .thread = thread, .restoring = true});
    }
  }
  {
    MutexLock lock(mu_);
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
  int expected = 0;
  for (const auto& st : topology_.subtopologies()) {
    if (std::ranges::find(st.stores, spec->name) == st.stores.end()) continue;
    holders.insert(st.id);
    expected += task_count(topology_, plan_, st.id);
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
