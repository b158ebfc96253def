#include "stream_thread.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "sluice/base/sync_point.h"
#include "stream_time_alignment.h"

namespace sluice::runtime {
namespace {

// Records a task processes before the thread turns to its next task (fairness between tasks,
// and a bound on how long a query or a commit waits).
constexpr int64_t kRecordsPerTaskRound = 1000;
// An idle thread looks for new records this often (and wakes at once for queries and tasks).
constexpr auto kIdleWait = std::chrono::milliseconds(1);
// A task held back this long by stream-time alignment gets a warning (once per wait).
constexpr int64_t kHeldWarningMs = 30'000;
// Store metrics (RocksDB properties, directory sizes) are refreshed at most this often.
constexpr int64_t kStateMetricsIntervalMs = 1000;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

StreamThread::StreamThread(Options options)
    : options_(std::move(options)),
      env_(*options_.env),
      clock_(env_.clock ? *env_.clock : Clock::system()) {
  published_thread_.thread = options_.index;
  if (!options_.globals) return;
  for (const auto& g : env_.topology->global_tables()) {
    auto store = options_.globals->key_value_store(g.store);
    if (store.ok()) global_stores_[g.store.name] = *store;
    const int32_t n = env_.plan->partitions_of(g.topic);
    for (int32_t p = 0; p < n; ++p) global_positions_[{g.topic, PartitionId(p)}] = Offset(0);
  }
}

StreamThread::~StreamThread() {
  request_stop();
  join();
}

void StreamThread::start() {
  {
    MutexLock lock(mu_);
    accepting_queries_ = true;
  }
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

void StreamThread::request_stop() {
  thread_.request_stop();
  MutexLock lock(mu_);
  wake_.notify_all();
}

void StreamThread::join() {
  if (thread_.joinable()) thread_.join();
}

void StreamThread::adopt(std::unique_ptr<Task> task) {
  MutexLock lock(mu_);
  adopted_.push_back(std::move(task));
  wake_.notify_all();
}

Result<state::KeyValueStore*> StreamThread::global_store(std::string_view name) const {
  auto it = global_stores_.find(name);
  if (it == global_stores_.end()) {
    return not_found("no global table store '" + std::string(name) + "'");
  }
  return it->second;
}

Status StreamThread::call(std::function<Status(std::vector<Task*>&)> fn) {
  auto q = std::make_shared<Query>();
  q->fn = std::move(fn);
  std::future<Status> done = q->done.get_future();
  {
    MutexLock lock(mu_);
    if (!accepting_queries_)
      return unavailable("stream thread " + std::to_string(options_.index) + " has stopped");
    queries_.push_back(q);
    wake_.notify_all();
  }
  return done.get();
}

Status StreamThread::release(std::function<bool(const TaskId&)> which, bool commit) {
  auto r = std::make_shared<Release>();
  r->which = std::move(which);
  r->commit = commit;
  std::future<Status> done = r->done.get_future();
  {
    MutexLock lock(mu_);
    if (!accepting_queries_)
      return unavailable("stream thread " + std::to_string(options_.index) + " has stopped");
    releases_.push_back(r);
    wake_.notify_all();
  }
  return done.get();
}

Status StreamThread::answer_releases() {
  std::deque<std::shared_ptr<Release>> releases;
  std::deque<std::unique_ptr<Task>> adopted;
  {
    // Tasks handed over before the release was asked for are among those it may close.
    MutexLock lock(mu_);
    releases.swap(releases_);
    adopted.swap(adopted_);
  }
  start_tasks(std::move(adopted));
  if (releases.empty()) return Status();
  // Everything processed so far is committed: the next owner resumes where this one stopped.
  // Lost partitions are another member's already: nothing more may be committed for them.
  const bool commit_first = std::ranges::any_of(releases, [](const auto& r) { return r->commit; });
  Status committed = commit_first ? commit() : Status();
  if (committed.ok()) {
    for (size_t i = 0; i < tasks_.size();) {
      Task& t = *tasks_[i];
      if (!std::ranges::any_of(releases, [&](const auto& r) { return r->which(t.id); })) {
        ++i;
        continue;
      }
      spdlog::info("task {} leaves stream thread {}{}", t.id.to_string(), options_.index,
                   commit_first ? "" : " (lost: its uncommitted work is dropped)");
      for (const auto& in : t.inputs.inputs()) committed_positions_.erase(in.partition);
      if (env_.alignment) env_.alignment->publish(t.id, std::nullopt);
      Status closed = t.state->close();
      if (!closed.ok()) spdlog::warn("closing task {}: {}", t.id.to_string(), closed.to_string());
      std::erase(task_ptrs_, &t);
      tasks_.erase(tasks_.begin() + static_cast<std::ptrdiff_t>(i));
    }
    running_.store(static_cast<int>(tasks_.size()));
    if (tasks_.empty()) {  // what was dropped leaves nothing to commit
      records_at_commit_ = records_;
      punctuations_at_commit_ = punctuations();
    }
    publish_metrics();
  }
  for (auto& r : releases) r->done.set_value(committed);
  return committed;
}

void StreamThread::run(std::stop_token stop) {
  // Named for top -H, perf and gdb (at most 15 characters).
  pthread_setname_np(pthread_self(), ("sluice-stream-" + std::to_string(options_.index)).c_str());
  Status s = loop(stop);
  if (!s.ok()) {
    spdlog::error("stream thread {} stopped: {}", options_.index, s.to_string());
    if (options_.producer) {
      // Best effort: an open transaction would otherwise hold back read-committed readers
      // until it times out (a restart aborts it too).
      Status aborted = options_.producer->abort_transaction();
      (void)aborted;
    }
  }
  answer_queries(/*stopping=*/true);
  take_adopted();
  close_tasks();
  std::deque<std::shared_ptr<Release>> releases;
  {
    MutexLock lock(mu_);
    releases.swap(releases_);
  }
  for (auto& r : releases) r->done.set_value(unavailable("the stream thread has stopped"));
  if (!s.ok() && options_.on_failure) options_.on_failure(s);
}

Status StreamThread::loop(std::stop_token stop) {
  SLUICE_RETURN_IF_ERROR(update_globals(/*to_end=*/true));
  last_commit_ms_ = clock_.monotonic_ms();
  while (!stop.stop_requested()) {
    // New tasks, and the releases of a rebalance (taken together: see answer_releases()).
    SLUICE_RETURN_IF_ERROR(answer_releases());
    answer_queries(/*stopping=*/false);
    SLUICE_RETURN_IF_ERROR(update_globals(/*to_end=*/false));
    SLUICE_ASSIGN_OR_RETURN(int64_t processed, process_round());
    for (Task* t : task_ptrs_) SLUICE_RETURN_IF_ERROR(t->stream->punctuate_wall_clock());
    const int64_t now = clock_.monotonic_ms();
    if (now - last_commit_ms_ >= env_.config->commit_interval_ms ||
        uncommitted_outputs() >= env_.config->max_uncommitted_records) {
      SLUICE_RETURN_IF_ERROR(commit());
    }
    if (processed == 0) {
      MutexLock lock(mu_);
      if (adopted_.empty() && queries_.empty() && releases_.empty() && !stop.stop_requested()) {
        wake_.wait_for(mu_, kIdleWait);
      }
    }
  }
  // A clean stop: what was processed is committed.
  take_adopted();
  return commit();
}

void StreamThread::take_adopted() {
  std::deque<std::unique_ptr<Task>> adopted;
  {
    MutexLock lock(mu_);
    adopted.swap(adopted_);
  }
  start_tasks(std::move(adopted));
}

void StreamThread::start_tasks(std::deque<std::unique_ptr<Task>> adopted) {
  for (auto& t : adopted) {
    spdlog::info("task {} is running on stream thread {}", t->id.to_string(), options_.index);
    task_ptrs_.push_back(t.get());
    tasks_.push_back(std::move(t));
    running_.store(static_cast<int>(tasks_.size()));
  }
  if (!adopted.empty()) publish_metrics();
}

void StreamThread::answer_queries(bool stopping) {
  std::deque<std::shared_ptr<Query>> queries;
  {
    MutexLock lock(mu_);
    queries.swap(queries_);
    if (stopping) accepting_queries_ = false;
  }
  for (auto& q : queries) {
    q->done.set_value(stopping ? unavailable("the runtime is stopping") : q->fn(task_ptrs_));
  }
}

Status StreamThread::update_globals(bool to_end) {
  if (!options_.globals) return Status();
  bool applied = false;
  for (auto& [tp, position] : global_positions_) {
    const operators::GlobalTableDef* def = nullptr;
    for (const auto& g : env_.topology->global_tables()) {
      if (g.topic == tp.topic) def = &g;
    }
    state::KeyValueStore* store = global_stores_.at(def->store.name);
    do {
      logstore::FetchRequest req{.partition = tp, .offset = position};
      SLUICE_ASSIGN_OR_RETURN(auto fetched, env_.log->fetch(req));
      if (fetched.batches.empty()) break;
      SLUICE_RETURN_IF_ERROR(logstore::for_each_record(
          fetched, position, logstore::IsolationLevel::kReadCommitted,
          [&](const logstore::RecordView& r) { return def->apply(*store, r); }));
      position = fetched.next_offset;
      applied = true;
    } while (to_end);
  }
  return applied ? options_.globals->commit() : Status();
}

Result<int64_t> StreamThread::process_round() {
  int64_t processed = 0;
  for (Task* t : task_ptrs_) {
    SLUICE_RETURN_IF_ERROR(
        t->inputs.fill(*env_.log, env_.config->max_buffered_bytes_per_partition).status());
    // Before and after: the slower tasks of other threads see this one waiting as soon as its
    // records arrive, and its progress while this thread runs its other tasks.
    SLUICE_ASSIGN_OR_RETURN(bool pending, publish_stream_time(*t));
    const Timestamp limit =
        env_.alignment ? env_.alignment->limit(t->id) : StreamTimeAlignment::kUnbounded;
    int64_t n = 0;
    const int64_t start = now_ns();
    SLUICE_RETURN_IF_ERROR(process_task(*t, kRecordsPerTaskRound, limit, n));
    if (n > 0) {
      t->busy_ns += now_ns() - start;
      t->busy_records += n;
      SLUICE_ASSIGN_OR_RETURN(pending, publish_stream_time(*t));
    }
    note_held(*t, pending && t->stream->stream_time() > limit, limit);
    processed += n;
  }
  records_ += processed;
  return processed;
}

Result<bool> StreamThread::publish_stream_time(Task& task) {
  if (!env_.alignment) return false;
  SLUICE_ASSIGN_OR_RETURN(bool pending, task.inputs.pending());
  env_.alignment->publish(task.id,
                          pending ? std::optional(task.stream->stream_time()) : std::nullopt);
  return pending;
}

// A record timestamped far in the future holds its task back until the other tasks get there:
// worth a word when it lasts.
void StreamThread::note_held(Task& task, bool held, Timestamp limit) {
  if (!held && !task.held_since_ms) return;  // the usual case: no clock read
  const int64_t now = clock_.monotonic_ms();
  if (!held) {
    task.held_total_ms += now - *task.held_since_ms;
    task.held_since_ms.reset();
    return;
  }
  if (!task.held_since_ms) task.held_since_ms = now;
  if (now - *task.held_since_ms < kHeldWarningMs || task.held_warned_ms == *task.held_since_ms) {
    return;
  }
  task.held_warned_ms = *task.held_since_ms;
  spdlog::warn(
      "task {} has waited {} s for slower tasks of its sub-topology: its stream time {} is more "
      "than max_task_drift_ms ({} ms) past theirs (it may run to {}); a record timestamped far "
      "ahead of the others does this. It goes on as they catch up or run out of records "
      "(max_task_drift_ms -1, or a job's --config max.task.drift.ms=-1, turns the bound off)",
      task.id.to_string(), (now - *task.held_since_ms) / 1000, task.stream->stream_time().value(),
      env_.config->max_task_drift_ms, limit.value());
}

Status StreamThread::process_task(Task& task, int64_t max_records, Timestamp limit,
                                  int64_t& processed) {
  while (processed < max_records) {
    // Too far ahead of a slower task of the sub-topology: it waits (see StreamTimeAlignment).
    if (task.stream->stream_time() > limit) return Status();
    SLUICE_ASSIGN_OR_RETURN(auto next, task.inputs.next());
    if (!next.record) return Status();
    SLUICE_RETURN_IF_ERROR(task.stream->process(next.input->partition.topic, *next.record));
    task.inputs.consume(next);
    ++processed;
  }
  return Status();
}

// Something to commit: records processed, punctuations run (they may write), or positions
// moved without records (a new task's starting point, markers skipped).
bool StreamThread::dirty(const logstore::OffsetMap& positions) const {
  return records_ != records_at_commit_ || punctuations() != punctuations_at_commit_ ||
         positions != committed_positions_;
}

int64_t StreamThread::punctuations() const {
  int64_t n = 0;
  for (Task* t : task_ptrs_) n += t->stream->metrics().punctuations;
  return n;
}

size_t StreamThread::uncommitted_outputs() const {
  size_t n = 0;
  for (Task* t : task_ptrs_) n += t->collector->buffered();
  return n;
}

Status StreamThread::commit() {
  last_commit_ms_ = clock_.monotonic_ms();
  logstore::OffsetMap consumed = positions();
  if (!dirty(consumed)) return Status();
  const int64_t start = now_ns();
  Status committed =
      options_.producer ? commit_exactly_once(consumed) : commit_at_least_once(consumed);
  if (committed.code() == StatusCode::kProducerFenced) {
    return committed.with_context(
        "another instance of '" + env_.config->application_id +
        "' started and took over stream thread " + std::to_string(options_.index) +
        "'s transactional id, so this instance stops (its uncommitted work is dropped; every "
        "instance needs its own state directory, and on the built-in log one application id "
        "runs as one instance)");
  }
  SLUICE_RETURN_IF_ERROR(committed);
  SLUICE_RETURN_IF_ERROR(purge_repartition_inputs());
  records_at_commit_ = records_;
  // (positions a rebalance kept from being committed stay dirty: the next commit sends them)
  committed_positions_ = offsets_uncommitted_ ? logstore::OffsetMap{} : std::move(consumed);
  punctuations_at_commit_ = punctuations();
  const double ms = static_cast<double>(now_ns() - start) / 1e6;
  {
    MutexLock lock(mu_);
    auto& m = published_thread_;
    m.commit_latency_avg_ms = (m.commit_latency_avg_ms * static_cast<double>(m.commits) + ms) /
                              static_cast<double>(m.commits + 1);
    m.commit_latency_max_ms = std::max(m.commit_latency_max_ms, ms);
    ++m.commits;
    m.records = records_;
  }
  publish_metrics();
  return Status();
}

// docs/EXACTLY-ONCE.md: outputs, changelog records and consumed positions in one transaction;
// once it is committed, the stores' buffered writes are applied to RocksDB.
Status StreamThread::commit_exactly_once(const logstore::OffsetMap& consumed) {
  logstore::Producer& producer = *options_.producer;
  SLUICE_RETURN_IF_ERROR(producer.begin_transaction());
  for (Task* t : task_ptrs_) {
    SLUICE_RETURN_IF_ERROR(t->stream->flush());
    SLUICE_RETURN_IF_ERROR(t->state->flush(&producer));
    SLUICE_RETURN_IF_ERROR(t->collector->flush(&producer));
  }
  SLUICE_RETURN_IF_ERROR(
      producer.send_offsets_to_transaction(env_.config->application_id, consumed));
  SLUICE_SYNC_POINT("StreamThread::BeforeCommitTransaction");
  SLUICE_RETURN_IF_ERROR(producer.commit_transaction());
  SLUICE_SYNC_POINT("StreamThread::AfterCommitTransaction");
  for (Task* t : task_ptrs_) SLUICE_RETURN_IF_ERROR(t->state->apply());
  return Status();
}

// Outputs and changelogs first, then the stores, then the positions: a crash in between
// repeats work, never loses it.
Status StreamThread::commit_at_least_once(const logstore::OffsetMap& consumed) {
  for (Task* t : task_ptrs_) {
    SLUICE_RETURN_IF_ERROR(t->stream->flush());
    SLUICE_RETURN_IF_ERROR(t->collector->flush(nullptr));
    SLUICE_SYNC_POINT("StreamThread::AfterOutputsAppended");
    SLUICE_RETURN_IF_ERROR(t->state->commit());
  }
  SLUICE_SYNC_POINT("StreamThread::BeforeCommitOffsets");
  Status s = env_.log->commit_offsets(env_.config->application_id, consumed);
  offsets_uncommitted_ = s.code() == StatusCode::kUnavailable;
  if (offsets_uncommitted_) {
    // The group is rebalancing, or its coordinator moving: outputs and stores are written, the
    // positions wait for the next commit (at-least-once: a new owner may redo this work).
    spdlog::warn("stream thread {}: positions not committed this time: {}", options_.index,
                 s.to_string());
    return Status();
  }
  return s;
}

logstore::OffsetMap StreamThread::positions() const {
  logstore::OffsetMap out;
  for (Task* t : task_ptrs_) {
    for (const auto& in : t->inputs.inputs()) {
      out[in.partition] = logstore::CommittedOffset{.offset = in.consumed};
    }
  }
  return out;
}

// Records of repartition topics are needed by nobody once consumed and committed.
Status StreamThread::purge_repartition_inputs() {
  if (!purge_supported_) return Status();
  for (Task* t : task_ptrs_) {
    auto& inputs = t->inputs.inputs();
    for (size_t i = 0; i < inputs.size(); ++i) {
      if (!t->purge_input[i] || inputs[i].consumed <= t->purged[i]) continue;
      Status purged = env_.log->delete_records(inputs[i].partition, inputs[i].consumed);
      if (purged.code() == StatusCode::kUnimplemented) {
        spdlog::warn(
            "stream thread {}: the log cannot delete consumed records of repartition topics ({}); "
            "they keep growing (Sluice creates them without retention): give them a retention "
            "on the broker (retention.ms) or delete old records with its tools",
            options_.index, purged.to_string());
        purge_supported_ = false;
        return Status();
      }
      if (!purged.ok()) {
        // Housekeeping only: the records stay a little longer, the next commit tries again.
        spdlog::warn("stream thread {}: purging consumed records of {}: {}", options_.index,
                     inputs[i].partition.to_string(), purged.to_string());
        continue;
      }
      t->purged[i] = inputs[i].consumed;
    }
  }
  return Status();
}

void StreamThread::publish_metrics() {
  const int64_t now = clock_.monotonic_ms();
  std::vector<TaskMetrics> out;
  for (Task* t : task_ptrs_) {
    TaskMetrics m;
    m.id = t->id.to_string();
    m.thread = options_.index;
    m.restoring = false;
    m.operators = t->stream->metrics();
    for (const auto& in : t->inputs.inputs()) {
      m.inputs.push_back({in.partition, in.consumed, in.end.offset()});
    }
    if (t->busy_records > 0) {
      t->ns_per_record = static_cast<double>(t->busy_ns) / static_cast<double>(t->busy_records);
      t->busy_ns = t->busy_records = 0;
    }
    m.process_ns_per_record = t->ns_per_record;
    m.stream_time_ms = t->stream->stream_time().value();
    m.alignment_wait_ms = t->held_total_ms + (t->held_since_ms ? now - *t->held_since_ms : 0);
    if (!t->state_metrics_ms || now - *t->state_metrics_ms >= kStateMetricsIntervalMs) {
      t->state_metrics = t->state->metrics();
      t->state_metrics_ms = now;
    }
    m.state = t->state_metrics;
    out.push_back(std::move(m));
  }
  MutexLock lock(mu_);
  published_tasks_ = std::move(out);
}

std::vector<TaskMetrics> StreamThread::task_metrics() const {
  MutexLock lock(mu_);
  return published_tasks_;
}

ThreadMetrics StreamThread::thread_metrics() const {
  MutexLock lock(mu_);
  return published_thread_;
}

void StreamThread::close_tasks() {
  publish_metrics();
  for (auto& t : tasks_) {
    if (env_.alignment) env_.alignment->publish(t->id, std::nullopt);
    Status s = t->state->close();
    if (!s.ok()) spdlog::warn("closing task {}: {}", t->id.to_string(), s.to_string());
  }
  task_ptrs_.clear();
  tasks_.clear();
  running_.store(0);
}

}  // namespace sluice::runtime
