// StreamTask: one sub-topology instantiated for one partition — its nodes, its stores (through
// a state::TaskState), its stream time and punctuations — driven one record at a time by its
// owner: the topology test driver (sluice/dsl/test_driver.h) or the runtime's stream threads.
//
// process() decodes a record at its source, pushes it through the chain, and handles what goes
// wrong with the record itself — bytes a serde cannot decode, an invalid timestamp, a user
// function that throws — by the topology's ErrorHandling (fail, skip and count, or dead-letter
// topic). Any other failure (a store, a sink) is returned and stops the task.
//
// The owner commits: flush() (nodes), then the state's flush/apply and the collector's
// appends, in the order the commit protocol wants (see docs/EXACTLY-ONCE.md).
//
// Thread safety: thread-confined to the thread that drives it.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/base/clock.h"
#include "sluice/base/result.h"
#include "sluice/logstore/record_batch.h"
#include "sluice/operators/node.h"
#include "sluice/operators/topology.h"
#include "sluice/state/task_state.h"

namespace sluice::operators {

// The source nodes' raw side: decode, then process.
class SourceInput : public virtual Node {
 public:
  struct Outcome {
    Status status;
    // status concerns the record's bytes (undecodable key or value, invalid timestamp):
    // the error handler decides. Otherwise a non-OK status stops the task.
    bool bad_record = false;
  };
  virtual Outcome process_raw(const logstore::RecordView& record) = 0;
};

struct StreamTaskOptions {
  const Topology* topology = nullptr;  // built; outlives the task
  int subtopology = 0;
  PartitionId partition{0};
  std::string application_id;
  state::TaskState* state = nullptr;     // the task's stores; outlives the task
  RecordCollector* collector = nullptr;  // outlives the task
  Clock* clock = nullptr;                // nullptr: the system clock
  // The global tables' stores, by store name (kept up to date by the task's owner).
  std::function<Result<state::KeyValueStore*>(std::string_view store)> global_stores;
};

struct TaskMetrics {
  int64_t records_processed = 0;
  int64_t records_skipped = 0;        // by a kSkip error policy
  int64_t records_dead_lettered = 0;  // by a kDeadLetter error policy
  int64_t punctuations = 0;
  std::map<std::string, NodeMetrics, std::less<>> nodes;
};

class StreamTask {
 public:
  static Result<std::unique_ptr<StreamTask>> create(StreamTaskOptions options);
  virtual ~StreamTask() = default;

  // The topics whose partition `partition()` this task reads.
  virtual const std::vector<std::string>& input_topics() const = 0;
  virtual PartitionId partition() const = 0;
  virtual int subtopology() const = 0;

  // Processes one record of `topic`. OK also when the record was skipped or dead-lettered.
  virtual Status process(std::string_view topic, const logstore::RecordView& record) = 0;
  // Runs the wall-clock punctuations that are due.
  virtual Status punctuate_wall_clock() = 0;
  // Nodes write what they buffer; call before committing the state and the collector.
  virtual Status flush() = 0;

  virtual Timestamp stream_time() const = 0;
  virtual const TaskMetrics& metrics() const = 0;
  virtual TaskContext& context() = 0;
};

}  // namespace sluice::operators
