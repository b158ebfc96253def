// PartitionQueue: the fetched, not yet processed records of one input partition of a task.
//
// A task's owner (the runtime's stream threads, the topology test driver) fetches whole batches
// from the log and adds them here; the records are decoded lazily, one at a time, straight out
// of the fetched bytes — no copy per record. head() is the next record to process, pop() moves
// past it. Control batches, and for read-committed queues aborted transactional data, are never
// shown.
//
// Thread safety: thread-confined to the task's owner.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "sluice/base/result.h"
#include "sluice/logstore/log_client.h"
#include "sluice/logstore/log_types.h"
#include "sluice/logstore/record_batch.h"

namespace sluice::operators {

class PartitionQueue {
 public:
  explicit PartitionQueue(
      logstore::IsolationLevel isolation = logstore::IsolationLevel::kReadCommitted)
      : isolation_(isolation) {}
  PartitionQueue(PartitionQueue&&) = default;
  PartitionQueue& operator=(PartitionQueue&&) = default;

  // Queues `result`, whose records below `from` are skipped (a fetch returns whole batches,
  // the first of which may begin before the requested offset).
  void add(logstore::FetchResult result, Offset from);

  // The next record, or nullptr when nothing is queued. Valid until pop(), add() or clear().
  // kCorruption (or kUnimplemented for a codec we cannot read) when a batch fails to decode.
  Result<const logstore::RecordView*> head();
  // Moves past the record head() returned.
  void pop() { current_.reset(); }

  // Drops everything queued.
  void clear();

  // Bytes of fetched batches held (back-pressure: fetch more only below a limit).
  size_t buffered_bytes() const { return buffered_bytes_; }

 private:
  struct Fetched {
    logstore::FetchResult result;
    Offset from;
  };
  // Decodes the next visible record into current_; false when everything queued is consumed.
  Result<bool> advance();
  Status open_next_batch(bool& opened);

  logstore::IsolationLevel isolation_;
  std::deque<Fetched> fetched_;  // front: being read
  size_t buffered_bytes_ = 0;
  ByteView rest_;  // the front fetch's batches not yet opened
  bool front_started_ = false;
  std::optional<logstore::RecordIterator> records_;  // the batch being read
  std::optional<logstore::RecordView> current_;
};

// TaskInputs: one task's input partitions — where each is fetched from, what was fetched, and
// the position consumed so far — and the choice of the next record across them by timestamp
// (ties go to the input added first), as Kafka Streams' PartitionGroup does.
//
// Thread safety: thread-confined to the task's owner.
class TaskInputs {
 public:
  struct Input {
    logstore::TopicPartition partition;  // the log's topic name
    Offset fetch_position;               // the next offset to fetch
    Offset consumed;                     // the next offset to process (the committed position)
    PartitionQueue queue;
    logstore::HighWatermark end;  // the partition's end at the last fetch (for lag)
    logstore::StableEnd stable;   // what a read-committed fetch could return at the last fetch
  };
  struct Next {
    Input* input = nullptr;  // nullptr: nothing fetched is waiting
    const logstore::RecordView* record = nullptr;
  };

  // Adds an input partition, to be read from `start`.
  void add(logstore::TopicPartition partition, Offset start);

  // Fetches more for every input that holds less than `max_buffered_bytes` (back-pressure).
  // A position below the log start (records removed by retention) moves up to it, with a
  // warning. Returns the number of bytes fetched.
  Result<size_t> fill(logstore::LogClient& log, size_t max_buffered_bytes);

  // The fetched record with the lowest timestamp across the inputs. Nothing while an input has
  // used up what was fetched but the log holds more for it (its next record may be the
  // earliest): the caller fills first, so inputs are processed in timestamp order even when one
  // of them was fetched less far (as Kafka Streams waits for a lagging input).
  Result<Next> next();
  // Whether records wait: fetched and not processed yet, or in the log past what was fetched
  // (as of the last fetch).
  Result<bool> pending();
  // Marks next's record processed: it leaves the queue and the consumed position moves past it.
  void consume(const Next& next) {
    next.input->consumed = next.record->offset.next();
    next.input->queue.pop();
  }

  std::vector<Input>& inputs() { return inputs_; }
  const std::vector<Input>& inputs() const { return inputs_; }

 private:
  std::vector<Input> inputs_;
};

}  // namespace sluice::operators
