// StreamThread: one std::jthread running the poll loop over the tasks it was given, and
// committing them together — in one log transaction per commit under exactly-once.
//
// Tasks arrive from the restore pool (adopt()) once their stores are restored, and leave
// (release()) when their partitions move to another member of the group; the thread first
// brings its own copy of the global tables up to date. Interactive queries reach the
// thread's tasks through call(), which runs a function on the thread between two records.
//
// Thread safety: adopt(), call(), release(), request_stop(), snapshot() and the accessors are
// thread-safe; everything else is confined to the thread.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "sluice/base/mutex.h"
#include "task.h"

namespace sluice::runtime {

class StreamThread {
 public:
  struct Options {
    int index = 0;
    const TaskEnvironment* env = nullptr;
    // Transactional (exactly-once) or nullptr (at-least-once); owned by the thread.
    std::unique_ptr<logstore::Producer> producer;
    // The thread's copy of the global tables (nullptr: the topology has none).
    std::unique_ptr<state::TaskState> globals;
    // Told once when the loop ends with an error (the runtime then stops every thread).
    std::function<void(const Status&)> on_failure;
  };

  explicit StreamThread(Options options);
  ~StreamThread();

  void start();
  void request_stop();
  // Waits for the loop to end (it commits and closes its tasks first).
  void join();

  // Hands over a restored task.
  void adopt(std::unique_ptr<Task> task);
  // The thread's global table stores, by store name (fixed once constructed).
  Result<state::KeyValueStore*> global_store(std::string_view name) const;

  // Runs `fn` on the thread with its running tasks. kUnavailable once the thread has stopped.
  Status call(std::function<Status(std::vector<Task*>&)> fn);
  // Commits the thread's tasks, then closes and drops those `which` selects (their partitions
  // move to another group member); with `commit` false (the partitions were lost) their
  // uncommitted work is dropped instead. Blocks until done; the commit's error if it failed
  // (the thread then stops), kUnavailable if the thread is not running (never started, or
  // stopped — committing and closing every task as it did).
  Status release(std::function<bool(const TaskId&)> which, bool commit);

  // The latest published metrics (refreshed at every commit).
  std::vector<TaskMetrics> task_metrics() const;
  ThreadMetrics thread_metrics() const;
  int running_tasks() const { return running_.load(); }

 private:
  struct Query {
    std::function<Status(std::vector<Task*>&)> fn;
    std::promise<Status> done;
  };
  struct Release {
    std::function<bool(const TaskId&)> which;
    bool commit = true;
    std::promise<Status> done;
  };

  void run(std::stop_token stop);
  Status loop(std::stop_token stop);
  Status update_globals(bool to_end);
  void take_adopted();
  void start_tasks(std::deque<std::unique_ptr<Task>> adopted);
  void answer_queries(bool stopping);
  Status answer_releases();
  Result<int64_t> process_round();
  // Processes up to `max_records` of the task's records, stopping early once its stream time
  // passes `limit` (StreamTimeAlignment).
  Status process_task(Task& task, int64_t max_records, Timestamp limit, int64_t& processed);
  // Tells the other threads' tasks whether this one has records waiting (returned), and how
  // far it is.
  Result<bool> publish_stream_time(Task& task);
  // Tracks how long the task has been held back by alignment; warns when it lasts.
  void note_held(Task& task, bool held, Timestamp limit);
  Status commit();
  // `consumed`: every task's consumed positions, committed with the interval's work.
  Status commit_exactly_once(const logstore::OffsetMap& consumed);
  Status commit_at_least_once(const logstore::OffsetMap& consumed);
  logstore::OffsetMap positions() const;
  Status purge_repartition_inputs();
  void close_tasks();
  void publish_metrics();
  bool dirty(const logstore::OffsetMap& positions) const;
  int64_t punctuations() const;
  size_t uncommitted_outputs() const;

  Options options_;
  const TaskEnvironment& env_;
  Clock& clock_;
  std::map<std::string, state::KeyValueStore*, std::less<>> global_stores_;
  std::map<logstore::TopicPartition, Offset> global_positions_;

  // Thread-confined.
  std::vector<std::unique_ptr<Task>> tasks_;
  std::vector<Task*> task_ptrs_;
  int64_t last_commit_ms_ = 0;
  int64_t records_at_commit_ = 0, punctuations_at_commit_ = 0;
  int64_t records_ = 0;
  logstore::OffsetMap committed_positions_;
  bool purge_supported_ = true;       // false once the log said it cannot delete records
  bool offsets_uncommitted_ = false;  // the last at-least-once commit could not send them

  std::atomic<int> running_{0};
  mutable Mutex mu_;
  CondVar wake_;
  std::deque<std::unique_ptr<Task>> adopted_ SLUICE_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<Query>> queries_ SLUICE_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<Release>> releases_ SLUICE_GUARDED_BY(mu_);
  bool accepting_queries_ SLUICE_GUARDED_BY(mu_) = false;  // from start() until stopping
  std::vector<TaskMetrics> published_tasks_ SLUICE_GUARDED_BY(mu_);
  ThreadMetrics published_thread_ SLUICE_GUARDED_BY(mu_);
  std::jthread thread_;
};

}  // namespace sluice::runtime
